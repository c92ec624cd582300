"""kube-prometheus-stack in the observability namespace: Prometheus, Alertmanager, Grafana and the
prometheus-operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule) other components depend on.

Only the foundation of the observability layer: OpenTelemetry, Langfuse, dashboards and alert rules plug in later.
"""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from config.observability import ObservabilityConfig
from kit.helm import HelmValues, release
from kit.shared import Shared


def prometheus_url(namespace: str) -> str:
    """The Prometheus the chart's release serves (release kube-prometheus-stack, service <release>-prometheus)."""
    return f"http://kube-prometheus-stack-prometheus.{namespace}.svc:9090"


class _GrafanaAdmin(HelmValues):
    existing_secret: str
    user_key: str
    password_key: str


class _Grafana(HelmValues):
    enabled: bool
    admin: _GrafanaAdmin


class _AlertmanagerSpec(HelmValues):
    replicas: int


class _Alertmanager(HelmValues):
    alertmanager_spec: _AlertmanagerSpec


class _PrometheusSpec(HelmValues):
    replicas: int
    retention: str
    # Pick up every ServiceMonitor/PodMonitor/PrometheusRule, not only the chart's own.
    service_monitor_selector_nil_uses_helm_values: bool = False
    pod_monitor_selector_nil_uses_helm_values: bool = False
    rule_selector_nil_uses_helm_values: bool = False
    storage_spec: dict[str, Any]


class _Prometheus(HelmValues):
    prometheus_spec: _PrometheusSpec


class PrometheusStackValues(HelmValues):
    grafana: _Grafana
    alertmanager: _Alertmanager
    prometheus: _Prometheus


def prometheus_stack_values(cfg: ObservabilityConfig, ha: bool) -> PrometheusStackValues:
    storage = {"volumeClaimTemplate": {"spec": {
        "storageClassName": "gp3", "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "100Gi" if ha else "20Gi"}}}}}
    return PrometheusStackValues(
        grafana=_Grafana(enabled=cfg.grafana, admin=_GrafanaAdmin(
            existing_secret="grafana-admin", user_key="admin-user", password_key="admin-password")),
        alertmanager=_Alertmanager(alertmanager_spec=_AlertmanagerSpec(replicas=2 if ha else 1)),
        prometheus=_Prometheus(prometheus_spec=_PrometheusSpec(
            replicas=2 if ha else 1, retention=cfg.retention, storage_spec=storage)),
    )


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: ObservabilityConfig, shared: Shared):
        super().__init__("agentic:k8s:Monitoring", name, None, shared.k8s_opts())
        namespace = shared.namespaces["observability"]
        scope = shared.scope(self, name, namespace, depends_on=(shared.namespace_resources["observability"],))
        self.release = release(
            f"{name}-kube-prometheus-stack", versions.KUBE_PROMETHEUS_STACK, release_name="kube-prometheus-stack",
            namespace=namespace, values=prometheus_stack_values(cfg, shared.high_availability), opts=scope.opts(),
        )
        self.register_outputs({})
