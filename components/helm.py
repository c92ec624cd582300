"""One way to install a pinned chart: ``helm.v3.Release`` (works on a first preview, atomic upgrades)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.versions import Chart


def release(
    name: str,
    chart: Chart,
    *,
    release_name: str,
    namespace: str,
    values: dict[str, Any] | None = None,
    opts: pulumi.ResourceOptions,
    skip_crds: bool = False,
) -> k8s.helm.v3.Release:
    """A Helm release of ``chart`` at its pinned version; OCI charts are addressed by URL, others by repository."""
    kwargs: dict[str, Any] = {}
    if chart.is_oci:
        chart_ref = f"{chart.repository}/{chart.name}"
    else:
        chart_ref = chart.name
        kwargs["repository_opts"] = k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository)
    return k8s.helm.v3.Release(
        name,
        name=release_name,
        chart=chart_ref,
        version=chart.version,
        namespace=namespace,
        values=values or {},
        skip_crds=skip_crds,
        atomic=True,
        cleanup_on_fail=True,
        opts=opts,
        **kwargs,
    )
