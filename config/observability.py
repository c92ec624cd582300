"""Observability: metrics (kube-prometheus-stack), dashboards, GPU metrics, traces."""

from __future__ import annotations

from pydantic import Field

from config.base import Strict


class ObservabilityConfig(Strict):
    prometheus: bool = True
    grafana: bool = True
    otel_collector: bool = True
    langfuse: bool = False
    dcgm_exporter: bool = True
    retention: str = Field(default="15d", pattern=r"^[0-9]+(h|d|w)$", description="Prometheus retention")
