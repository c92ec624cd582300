"""One way to install a pinned chart, and typed values for the keys the platform sets.

``helm.v3.Release`` works on a first ``pulumi preview`` against a cluster that does not exist yet and upgrades
atomically. Values are pydantic models (camelCase on the wire, unknown keys refused), so a typo in a values key
fails a test instead of being ignored by the chart; only the keys the platform sets are typed.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from catalog.versions import Chart


class HelmValues(BaseModel):
    """Base of every typed values model: camelCase keys, unknown keys rejected, unset keys left to the chart."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", arbitrary_types_allowed=True
    )

    def render(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class ServiceAccountValues(HelmValues):
    """The ``serviceAccount`` block most charts share: create it, under this name (what Pod Identity binds to)."""

    create: bool
    name: str


def release(
    name: str,
    chart: Chart,
    *,
    release_name: str,
    namespace: str,
    values: HelmValues | dict[str, Any] | None = None,
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
    rendered = values.render() if isinstance(values, HelmValues) else (values or {})
    return k8s.helm.v3.Release(
        name,
        name=release_name,
        chart=chart_ref,
        version=chart.version,
        namespace=namespace,
        values=rendered,
        skip_crds=skip_crds,
        atomic=True,
        cleanup_on_fail=True,
        opts=opts,
        **kwargs,
    )
