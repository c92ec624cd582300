"""kube-prometheus-stack in the observability namespace: Prometheus, Alertmanager, Grafana and the
prometheus-operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule) other components depend on.

Only the foundation of the observability layer: OpenTelemetry, Langfuse, dashboards and alert rules plug in later.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.helm import release
from stacks import versions
from stacks.config import ObservabilityConfig


@dataclass(frozen=True)
class MonitoringArgs:
    config: ObservabilityConfig
    namespace: str
    high_availability: bool


def prometheus_stack_values(cfg: ObservabilityConfig, ha: bool) -> dict:
    return {
        "grafana": {"enabled": cfg.grafana, "admin": {"existingSecret": "grafana-admin",
                                                      "userKey": "admin-user", "passwordKey": "admin-password"}},
        "alertmanager": {"alertmanagerSpec": {"replicas": 2 if ha else 1}},
        "prometheus": {
            "prometheusSpec": {
                "replicas": 2 if ha else 1,
                "retention": cfg.retention,
                # Pick up every ServiceMonitor/PodMonitor/PrometheusRule, not only the chart's own.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": "100Gi" if ha else "20Gi"}}}
                    }
                },
            }
        },
    }


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:k8s:Monitoring", name, None, opts)
        self.release = release(
            f"{name}-kube-prometheus-stack", versions.KUBE_PROMETHEUS_STACK, release_name="kube-prometheus-stack",
            namespace=args.namespace, values=prometheus_stack_values(args.config, args.high_availability),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
