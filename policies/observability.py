"""Observability guardrails (issue #12): every alert rule carries severity and a runbook; monitors exist only where
the monitoring stack does; no workload breaks the Pod Security level of its namespace. Plain functions over resource
properties, importing nothing from the project (the pack installs alone)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:  # in-process: the policies package; `pulumi preview --policy-pack policies`: this directory on sys.path
    from policies.common import get as _get
    from policies.common import pod_templates
except ImportError:  # pragma: no cover
    from common import get as _get  # type: ignore[no-redef]
    from common import pod_templates  # type: ignore[no-redef]

try:  # in-process: the policies package; `pulumi preview --policy-pack policies`: this directory on sys.path
    from policies.pod_security import LEVELS, required_level, violations
except ImportError:  # pragma: no cover
    from pod_security import LEVELS, required_level, violations  # type: ignore[no-redef]

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
MONITOR_KINDS = {
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    RULE,
}
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
ENFORCE = "pod-security.kubernetes.io/enforce"


def check_rules_annotated(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != RULE:
        return []
    out = []
    for group in _get(props, "spec", "groups") or []:
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            if (rule.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                out.append(f"alert {rule['alert']} has no severity label (critical, warning or info)")
            if not (rule.get("annotations") or {}).get("runbook_url"):
                out.append(f"alert {rule['alert']} has no runbook_url annotation")
    return out


def check_monitors_need_monitoring(resources: list[Any]) -> list[tuple[str, str]]:
    """ServiceMonitors, PodMonitors and PrometheusRules only where the monitoring stack (their CRDs) is installed."""
    if any(r.type == RELEASE and r.props.get("chart") == "kube-prometheus-stack" for r in resources):
        return []
    return [
        (r.name, "monitoring is off (no kube-prometheus-stack release): this object's CRD does not exist")
        for r in resources
        if r.type in MONITOR_KINDS
    ]


def _pod_specs(r: Any) -> list[dict[str, Any]]:
    if not r.type.startswith("kubernetes:"):
        return []
    kind = r.type.rsplit(":", 1)[-1]
    if kind == "Agent" and _get(r.props, "spec", "type") == "BYO":
        dep = _get(r.props, "spec", "byo", "deployment") or {}
        return [
            {
                "securityContext": dep.get("podSecurityContext"),
                "volumes": dep.get("volumes"),
                "containers": [{"name": "kagent", "securityContext": dep.get("securityContext")}],
            }
        ]
    return [t["spec"] for t in pod_templates(kind, r.props) if isinstance(t.get("spec"), dict)]


def check_pod_security(resources: list[Any]) -> list[tuple[str, str]]:
    """Every workload the stack renders is admitted by its namespace's enforced Pod Security level."""
    levels = {
        _get(r.props, "metadata", "name"): _get(r.props, "metadata", "labels", ENFORCE)
        for r in resources
        if r.type == NAMESPACE
    }
    out = []
    for r in resources:
        ns = _get(r.props, "metadata", "namespace")
        level = levels.get(ns)
        if level not in LEVELS:
            continue
        for spec in _pod_specs(r):
            need = required_level(spec)
            if LEVELS.index(need) > LEVELS.index(level):
                found = violations(spec)["restricted" if level == "restricted" else "baseline"]
                out.append(
                    (
                        r.name,
                        f"needs Pod Security '{need}' but namespace {ns} enforces '{level}': {'; '.join(found[:3])}",
                    )
                )
                break
    return out
