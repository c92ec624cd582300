"""Observability: metrics (kube-prometheus-stack), alert rules and routes, dashboards, GPU metrics, traces, logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from config.base import ROOT, Hostname, HttpUrl, NonEmpty, Problem, Strict
from config.secrets import SecretRef

if TYPE_CHECKING:
    from config.platform import Platform


class AlertThresholds(Strict):
    """Seed 000/002 thresholds; every alert reads its threshold from here."""

    error_rate_percent: float = Field(default=5, gt=0, le=100, description="AgentHighErrorRate (critical, 5 m)")
    p99_latency_seconds: float = Field(default=30, gt=0, description="AgentHighLatency critical (seed 000)")
    p95_latency_seconds: float = Field(default=10, gt=0, description="AgentHighLatency warning (seed 002)")
    ready_ratio_percent: float = Field(default=50, gt=0, le=100, description="AgentPodNotReady below this")
    llm_cost_usd_per_hour: float = Field(default=100, gt=0, description="HighLLMCost")
    gpu_memory_percent: float = Field(default=95, gt=0, le=100, description="GpuMemoryPressure")
    vllm_queue_depth: int = Field(default=20, ge=1, description="VllmQueueSaturated: waiting requests per model")


class SlackReceiver(Strict):
    channel: NonEmpty
    webhook: SecretRef = Field(description="The Slack webhook URL (a credential)")


class EmailReceiver(Strict):
    to: list[NonEmpty] = Field(min_length=1)
    sender: NonEmpty = Field(alias="from")
    smarthost: str = Field(pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
    username: NonEmpty
    password: SecretRef


class AlertRouting(Strict):
    slack: SlackReceiver | None = None
    email: EmailReceiver | None = None
    critical_to: list[Literal["slack", "email"]] | None = Field(default=None, description="Default: every receiver")
    warning_to: list[Literal["slack", "email"]] | None = Field(
        default=None, description="Default: slack if set, else email"
    )

    def targets(self, severity: str) -> list[str]:
        configured = [r for r in ("slack", "email") if getattr(self, r) is not None]
        chosen = self.critical_to if severity == "critical" else self.warning_to
        if chosen is not None:
            return list(chosen)
        return configured if severity == "critical" else configured[:1]


class LangfuseConfig(Strict):
    public_key: SecretRef | None = Field(default=None, description="Langfuse project public key")
    secret_key: SecretRef | None = Field(default=None, description="Langfuse project secret key")
    host: HttpUrl | None = Field(default=None, description="External Langfuse (default: the in-cluster release)")


class LangfuseClickHouse(Strict):
    """Where in-cluster Langfuse keeps its traces: 'operator' (the chart's ClickHouseCluster, which needs the
    ClickHouse operator; this platform does not install it) or 'external', a ClickHouse reached inside the VPC
    (self-managed, or ClickHouse Cloud through AWS PrivateLink)."""

    mode: Literal["operator", "external"] = "operator"
    host: Hostname | None = Field(default=None, description="external: the ClickHouse host (a VPC address)")
    http_port: int = Field(default=8443, ge=1, le=65_535)
    native_port: int = Field(default=9440, ge=1, le=65_535)
    tls: bool = Field(default=True, description="external: TLS for schema migrations (native port)")
    username: NonEmpty = "default"
    password: SecretRef | None = Field(default=None, description="external: the ClickHouse password (a credential)")
    database: NonEmpty = "default"


class ObservabilityConfig(Strict):
    prometheus: bool = True
    grafana: bool = True
    otel_collector: bool = True
    langfuse: bool = False
    dcgm_exporter: bool = True
    retention: str = Field(default="15d", pattern=r"^[0-9]+(h|d|w)$", description="Prometheus retention")
    storage_gib: int | None = Field(default=None, ge=5, le=16_384, description="Prometheus volume; 20 dev / 100 prod")
    grafana_storage_gib: int = Field(default=10, ge=1, le=1024)
    node_exporter: bool = Field(default=True, description="node-exporter in its own privileged namespace")
    thresholds: AlertThresholds = AlertThresholds()
    alerts: AlertRouting = AlertRouting()
    langfuse_keys: LangfuseConfig = LangfuseConfig()
    langfuse_clickhouse: LangfuseClickHouse = LangfuseClickHouse()
    logs: bool = Field(default=True, description="Fluent Bit to CloudWatch Logs")
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653] = 30


def check_observability(cfg: Platform) -> list[Problem]:
    o, base = cfg.observability, f"{ROOT}.observability"
    out: list[Problem] = []
    for route in ("critical_to", "warning_to"):
        for target in getattr(o.alerts, route) or []:
            if getattr(o.alerts, target) is None:
                out.append(
                    Problem(
                        f"{base}.alerts.{route}",
                        f"routes to '{target}' but alerts.{target} is not configured: configure it or remove it here",
                    )
                )
    if cfg.environment == "prod" and o.prometheus and o.alerts.slack is None and o.alerts.email is None:
        out.append(
            Problem(
                f"{base}.alerts",
                "prod raises alerts but routes them to no receiver (every alert would go to 'null'): configure "
                "alerts.slack {channel, webhook: <credential>} or alerts.email {to, from, smarthost, username, "
                "password: <credential>}",
            )
        )
    if o.thresholds.p95_latency_seconds >= o.thresholds.p99_latency_seconds:
        out.append(Problem(f"{base}.thresholds.p95_latency_seconds", "must be below p99_latency_seconds"))
    if not o.prometheus:
        for f in ("grafana", "storage_gib"):
            if f in o.model_fields_set and getattr(o, f):
                out.append(Problem(f"{base}.{f}", "needs the Prometheus stack (observability.prometheus)"))
    if o.langfuse and o.langfuse_keys.host is None and not o.otel_collector:
        out.append(Problem(f"{base}.otel_collector", "traces reach Langfuse through the collector: enable it"))
    ch, chp = o.langfuse_clickhouse, f"{base}.langfuse_clickhouse"
    if o.langfuse and ch.mode == "operator" and cfg.environment == "prod":
        out.append(
            Problem(
                f"{chp}.mode",
                "in-cluster Langfuse's ClickHouse needs the ClickHouse operator (clickhouse.com/v1alpha1), which "
                "this platform does not install: use mode external {host, password: <credential>} (a ClickHouse in "
                "the VPC, e.g. ClickHouse Cloud through PrivateLink), or observability.langfuse_keys.host for an "
                "external Langfuse",
            )
        )
    if ch.mode == "external":
        for f in ("host", "password"):
            if getattr(ch, f) is None:
                out.append(Problem(f"{chp}.{f}", "mode external needs it"))
    keys = o.langfuse_keys
    if o.langfuse and (keys.public_key is None) != (keys.secret_key is None):
        out.append(Problem(f"{base}.langfuse_keys", "set both public_key and secret_key (or neither: generated)"))
    return out
