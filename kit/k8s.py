"""One way to turn a Kubernetes manifest into a Pulumi resource.

A :class:`Scope` holds what every object of a component shares: the cluster's provider, the parent component, the
name prefix and (optionally) the namespace and what the objects must wait for. Builders return plain manifests
(dicts, unit-tested and schema-validated without the engine); components hand them to :meth:`Scope.apply`, which
registers the manifest under the kubernetes provider's own type token (``kubernetes:core/v1:Namespace``,
``kubernetes:karpenter.sh/v1:NodePool``), sets ``parent``, ``provider`` and ``depends_on``, and derives the resource
name from the component's name. A newcomer finds where any object comes from by its parent: the component that
applied it.

The manifest is the resource's input as is: the same properties the generated pulumi-kubernetes classes would send,
without importing those classes (thousands of them; their import dominated a fresh ``agentic plan``). Secrets keep
the typed class, which marks their data as secret outputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

#: apiVersion group -> pulumi_kubernetes module for core (non-CRD) kinds.
_CORE_GROUPS = {
    "": "core",
    "apps": "apps",
    "batch": "batch",
    "policy": "policy",
    "autoscaling": "autoscaling",
    "networking.k8s.io": "networking",
    "rbac.authorization.k8s.io": "rbac",
    "storage.k8s.io": "storage",
    "admissionregistration.k8s.io": "admissionregistration",
    "scheduling.k8s.io": "scheduling",
    "apiextensions.k8s.io": "apiextensions",
}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def resource_class(api_version: str) -> Any | None:
    """The typed pulumi-kubernetes module for a core apiVersion (``apps/v1`` -> ``k8s.apps.v1``), or None for CRDs."""
    group, _, version = api_version.rpartition("/")
    module = _CORE_GROUPS.get(group)
    if module is None:
        return None
    return getattr(getattr(k8s, module), version)


def type_token(api_version: str, kind: str) -> str:
    """The kubernetes provider's type token: ``v1`` -> ``core/v1``, groups as they are."""
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


def is_namespaced(manifest: dict[str, Any]) -> bool:
    return bool((manifest.get("metadata") or {}).get("namespace"))


@dataclass(frozen=True)
class Scope:
    """What a component's Kubernetes objects share; derive narrower scopes with :meth:`with_`."""

    provider: k8s.Provider
    parent: pulumi.Resource
    prefix: str
    namespace: str | None = None
    depends_on: tuple[pulumi.Resource, ...] = field(default_factory=tuple)

    def with_(self, **changes: Any) -> Scope:
        if "depends_on" in changes:
            changes["depends_on"] = tuple(changes["depends_on"])
        return replace(self, **changes)

    def opts(self, depends_on: Sequence[pulumi.Resource] = (), **extra: Any) -> pulumi.ResourceOptions:
        """Resource options for a child of this scope's component (Helm releases, raw resources)."""
        return pulumi.ResourceOptions(
            parent=self.parent, provider=self.provider, depends_on=[*self.depends_on, *depends_on], **extra
        )

    def apply(
        self,
        manifest: dict[str, Any],
        *,
        name: str | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        **extra_opts: Any,
    ) -> pulumi.CustomResource:
        """Register ``manifest``. Its namespace defaults to the scope's; the resource is named
        ``<prefix>-<name>`` (``name`` defaults to ``<kind>-<metadata.name>``, lower-cased)."""
        body = dict(manifest)
        api_version, kind = body["apiVersion"], body["kind"]
        meta = dict(body.get("metadata", {}) or {})
        if self.namespace and "namespace" not in meta and not _cluster_scoped(kind):
            meta["namespace"] = self.namespace
        body["metadata"] = meta
        suffix = name or f"{kind.lower()}-{meta.get('name', '')}"
        rname = f"{self.prefix}-{suffix}"
        opts = self.opts(depends_on, **extra_opts)
        if kind == "Secret" and api_version == "v1":
            rest = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")}
            return k8s.core.v1.Secret(  # type: ignore[call-overload]  # keyword arguments built from the manifest
                rname, metadata=meta, opts=opts, **{_snake(k): v for k, v in rest.items()}
            )
        return pulumi.CustomResource(type_token(api_version, kind), rname, body, opts)


#: Kinds without a namespace, so a scope's namespace is never added to them.
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "NodePool",
    "EC2NodeClass",
    "PriorityClass",
    "CustomResourceDefinition",
    "ClusterSecretStore",
    "GatewayClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


def _cluster_scoped(kind: str) -> bool:
    return kind in CLUSTER_SCOPED
