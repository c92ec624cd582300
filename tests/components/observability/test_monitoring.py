"""kube-prometheus-stack values: typed, and every key one the chart knows."""

from __future__ import annotations

from components.observability.monitoring import prometheus_stack_values
from config.observability import ObservabilityConfig
from tests.helm_values import chart_defaults, unknown_keys


def test_values_keys_exist_in_the_chart_and_follow_config():
    values = prometheus_stack_values(ObservabilityConfig(retention="30d", grafana=False), ha=True).render()
    # Subchart keys kube-prometheus-stack's own values.yaml does not repeat: podAnnotations and persistence of
    # grafana/helm-charts charts/grafana/values.yaml, tolerations of prometheus-community's prometheus-node-exporter.
    assert sorted(unknown_keys(values, chart_defaults("kube-prometheus-stack"))) == [
        "grafana.persistence",
        "grafana.podAnnotations",
        "prometheus-node-exporter.tolerations",
    ]
    spec = values["prometheus"]["prometheusSpec"]
    assert (
        spec["retention"] == "30d"
        and spec["replicas"] == 2
        and spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    )
    assert values["grafana"]["enabled"] is False
    assert values["alertmanager"]["alertmanagerSpec"]["replicas"] == 2
