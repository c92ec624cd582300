"""Builders for prometheus-operator objects (monitoring.coreos.com/v1): the one shape of a ServiceMonitor,
PodMonitor and PrometheusRule in the platform. Pure functions returning manifests."""

from __future__ import annotations

from typing import Any

from catalog.versions import PROMETHEUS_OPERATOR_API
from kit.labels import metadata


def service_monitor(
    name: str,
    namespace: str,
    selector: dict[str, str],
    port: str,
    *,
    path: str = "/metrics",
    interval: str = "30s",
    scrape_timeout: str | None = None,
    target_namespaces: list[str] | None = None,
) -> dict[str, Any]:
    """Scrape the Services labelled ``selector`` (in ``target_namespaces``, default the monitor's own) on ``port``."""
    endpoint: dict[str, Any] = {"port": port, "path": path, "interval": interval}
    if scrape_timeout:
        endpoint["scrapeTimeout"] = scrape_timeout
    return {
        "apiVersion": PROMETHEUS_OPERATOR_API,
        "kind": "ServiceMonitor",
        "metadata": metadata(name, namespace),
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": list(target_namespaces or [namespace])},
            "endpoints": [endpoint],
        },
    }


def pod_monitor(
    name: str,
    namespace: str,
    selector: dict[str, str],
    port: str,
    *,
    path: str = "/metrics",
    interval: str = "30s",
    target_namespaces: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": PROMETHEUS_OPERATOR_API,
        "kind": "PodMonitor",
        "metadata": metadata(name, namespace),
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": list(target_namespaces or [namespace])},
            "podMetricsEndpoints": [{"port": port, "path": path, "interval": interval}],
        },
    }


def prometheus_rule(name: str, namespace: str, groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": PROMETHEUS_OPERATOR_API,
        "kind": "PrometheusRule",
        "metadata": metadata(name, namespace),
        "spec": {"groups": groups},
    }
