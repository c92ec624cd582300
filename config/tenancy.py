"""Layer namespaces and tenants: Pod Security level, quota, LimitRange, groups; with their cross-field rules."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from config.base import ROOT, DnsLabel, Problem, Quantity, Strict, duplicates

if TYPE_CHECKING:
    from config.platform import Platform

Layer = Literal["gateway", "agents", "inference", "data", "observability"]
LAYERS: tuple[str, ...] = ("gateway", "agents", "inference", "data", "observability")
PodSecurity = Literal["privileged", "baseline", "restricted"]


class Quota(Strict):
    requests_cpu: Quantity
    requests_memory: Quantity
    limits_cpu: Quantity
    limits_memory: Quantity
    gpus: int = Field(default=0, ge=0, description="requests.nvidia.com/gpu")
    pods: int = Field(default=100, ge=1)
    services: int = Field(default=50, ge=0)
    persistentvolumeclaims: int = Field(default=20, ge=0)


class LimitRange(Strict):
    default_cpu: Quantity = "500m"
    default_memory: Quantity = "512Mi"
    default_request_cpu: Quantity = "100m"
    default_request_memory: Quantity = "128Mi"
    max_cpu: Quantity = "16"
    max_memory: Quantity = "64Gi"


class LayerNamespace(Strict):
    name: DnsLabel
    layer: Layer
    pod_security: PodSecurity
    quota: Quota
    limit_range: LimitRange = LimitRange()
    labels: dict[str, str] = Field(default_factory=dict)


class Tenant(Strict):
    name: DnsLabel = Field(description="Namespace is tenant-<name>")
    quota: Quota
    limit_range: LimitRange = LimitRange()
    admin_groups: list[str] = Field(default_factory=list, description="Kubernetes groups bound to tenant admin")
    viewer_groups: list[str] = Field(default_factory=list)
    pod_security: PodSecurity = "baseline"

    @property
    def namespace(self) -> str:
        return f"tenant-{self.name}"


def check_namespaces(cfg: "Platform") -> list[Problem]:
    out = duplicates(cfg.namespaces, "name", f"{ROOT}.namespaces")
    out += duplicates(cfg.tenants, "name", f"{ROOT}.tenants")
    layers = Counter(ns.layer for ns in cfg.namespaces)
    for i, ns in enumerate(cfg.namespaces):
        if layers[ns.layer] > 1:
            out.append(Problem(f"{ROOT}.namespaces[{i}].layer", f"layer '{ns.layer}' has more than one namespace"))
        if ns.name.startswith("tenant-"):
            out.append(Problem(f"{ROOT}.namespaces[{i}].name", "the 'tenant-' prefix is reserved for tenant namespaces"))
        if ns.quota.gpus and ns.layer != "inference":
            out.append(
                Problem(f"{ROOT}.namespaces[{i}].quota.gpus", "only the inference layer runs GPU workloads: set 0")
            )
    for missing in sorted(set(LAYERS) - set(layers)):
        out.append(Problem(f"{ROOT}.namespaces", f"no namespace for layer '{missing}': add one"))
    for i, t in enumerate(cfg.tenants):
        if len(t.namespace) > 63:
            out.append(Problem(f"{ROOT}.tenants[{i}].name", f"namespace '{t.namespace}' would exceed 63 characters"))
    return out
