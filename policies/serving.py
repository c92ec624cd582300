"""Serving guardrails (issue #9): GPU pods only where GPUs are meant to run, model pods pinned and protected from
consolidation, one way into the cluster, route weights that add up. Plain functions over resource properties,
importing nothing from the project (the pack installs alone)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

try:  # in-process: the policies package; `pulumi preview --policy-pack policies`: this directory on sys.path
    from policies.common import WORKLOAD_KINDS, pod_templates
    from policies.common import get as _get
except ImportError:  # pragma: no cover
    from common import WORKLOAD_KINDS, pod_templates  # type: ignore[no-redef]
    from common import get as _get  # type: ignore[no-redef]

GPU = "nvidia.com/gpu"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
LAYER = "agentic.platform/layer"
TENANT = "agentic.platform/tenant"


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _containers(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = template.get("spec") or {}
    return [c for key in ("initContainers", "containers") for c in (spec.get(key) or []) if isinstance(c, Mapping)]


def gpu_count(template: Mapping[str, Any]) -> int:
    total = 0
    for c in _containers(template):
        for part in ("limits", "requests"):
            value = _get(c, "resources", part, GPU)
            if value not in (None, "", "0", 0):
                try:
                    total = max(total, int(str(value)))
                except ValueError:
                    total = max(total, 1)
    return total


def gpu_workloads(resources: Iterable[Any]) -> Iterable[tuple[Any, Mapping[str, Any]]]:
    """(resource, pod template) of every Kubernetes workload that requests GPUs."""
    for r in resources:
        kind = _kind(r.type)
        if kind in WORKLOAD_KINDS and r.type.startswith("kubernetes:"):
            for template in pod_templates(kind, r.props):
                if gpu_count(template):
                    yield r, template


def check_gpu_pods(resources: Iterable[Any]) -> list[tuple[str, str]]:
    """Pods requesting GPUs tolerate the GPU taint and run only in the inference namespace or in tenant namespaces
    whose quota allows GPUs; in other tenant namespaces no pod tolerates the taint."""
    resources = list(resources)
    inference = {
        _get(r.props, "metadata", "name")
        for r in resources
        if r.type == "kubernetes:core/v1:Namespace"
        and (_get(r.props, "metadata", "labels") or {}).get(LAYER) == "inference"
    }
    gpu_quota = {
        _get(r.props, "metadata", "namespace")
        for r in resources
        if r.type == "kubernetes:core/v1:ResourceQuota"
        and str((_get(r.props, "spec", "hard") or {}).get(f"requests.{GPU}", "0")) not in ("0", "")
    }
    out = []
    tenants = {
        _get(r.props, "metadata", "name")
        for r in resources
        if r.type == "kubernetes:core/v1:Namespace" and TENANT in (_get(r.props, "metadata", "labels") or {})
    }
    for r in resources:  # a tenant's pods reach GPU nodes only where the platform allowed the tenant GPUs
        kind = _kind(r.type)
        ns = _get(r.props, "metadata", "namespace")
        if kind in WORKLOAD_KINDS and r.type.startswith("kubernetes:") and ns in tenants and ns not in gpu_quota:
            tolerations = [
                t for tpl in pod_templates(kind, r.props) for t in ((tpl.get("spec") or {}).get("tolerations") or [])
            ]
            if any(t.get("key") == GPU or (not t.get("key") and t.get("operator") == "Exists") for t in tolerations):
                out.append(
                    (
                        r.name,
                        f"tolerates the GPU nodes' taint in tenant namespace '{ns}', whose quota allows "
                        "no GPUs: remove the toleration (or the platform raises tenants[].quota.gpus)",
                    )
                )
    for r, template in gpu_workloads(resources):
        ns = _get(r.props, "metadata", "namespace")
        if ns not in inference and ns not in gpu_quota:
            out.append(
                (
                    r.name,
                    f"requests GPUs in namespace '{ns}', which is neither the inference namespace nor a "
                    "tenant allowed GPUs",
                )
            )
        tolerations = (template.get("spec") or {}).get("tolerations") or []
        if not any(t.get("key") == GPU and t.get("operator") in ("Exists", "Equal") for t in tolerations):
            out.append((r.name, "requests GPUs but does not tolerate the nvidia.com/gpu taint: it can never schedule"))
    return out


def check_model_pods(resources: Iterable[Any]) -> list[tuple[str, str]]:
    """GPU workloads carry karpenter.sh/do-not-disrupt and are covered by a PodDisruptionBudget."""
    resources = list(resources)
    pdbs = [
        (_get(r.props, "metadata", "namespace"), _get(r.props, "spec", "selector", "matchLabels") or {})
        for r in resources
        if r.type == "kubernetes:policy/v1:PodDisruptionBudget"
    ]
    out = []
    for r, template in gpu_workloads(resources):
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        if str(annotations.get(DO_NOT_DISRUPT)) != "true":
            out.append(
                (
                    r.name,
                    f'GPU pods must carry {DO_NOT_DISRUPT}: "true" (consolidation would kill a '
                    "loading or serving replica)",
                )
            )
        labels = (template.get("metadata") or {}).get("labels") or {}
        ns = _get(r.props, "metadata", "namespace")
        if not any(pns == ns and sel and all(labels.get(k) == v for k, v in sel.items()) for pns, sel in pdbs):
            out.append((r.name, "no PodDisruptionBudget selects these GPU pods"))
    return out


def check_load_balancers(resources: Iterable[Any]) -> list[tuple[str, str]]:
    """The gateway's Service is the only LoadBalancer: none outside the gateway namespace."""
    resources = list(resources)
    gateway = {
        _get(r.props, "metadata", "name")
        for r in resources
        if r.type == "kubernetes:core/v1:Namespace"
        and (_get(r.props, "metadata", "labels") or {}).get(LAYER) == "gateway"
    }
    return [
        (
            r.name,
            f"Service of type LoadBalancer in '{_get(r.props, 'metadata', 'namespace')}': only the gateway "
            "namespace may expose one",
        )
        for r in resources
        if r.type == "kubernetes:core/v1:Service"
        and _get(r.props, "spec", "type") == "LoadBalancer"
        and _get(r.props, "metadata", "namespace") not in gateway
    ]


def check_route_weights(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every HTTPRoute rule with several weighted backends splits exactly 100 percent."""
    if resource_type != "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute":
        return []
    out = []
    for i, rule in enumerate(_get(props, "spec", "rules") or []):
        refs = rule.get("backendRefs") or []
        if len(refs) > 1:
            total = sum(int(b.get("weight", 1)) for b in refs)
            if total != 100:
                out.append(f"rule {i}: backend weights sum to {total}, not 100")
    return out
