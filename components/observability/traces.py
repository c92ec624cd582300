"""Traces: the OpenTelemetry collector (chart 0.170.0, the contrib image) receives OTLP from agents, model servers and
kagent, limits memory, batches, and exports traces to Langfuse (OTLP/HTTP, Basic auth from the Langfuse project keys,
which reach the collector as a Secret synced from Secrets Manager) and span metrics to Prometheus (the
``spanmetrics`` connector, scraped by a ServiceMonitor). Without Langfuse, traces feed the span metrics only."""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from catalog import versions
from kit.helm import HelmValues, release
from kit.shared import Shared

RELEASE = "opentelemetry-collector"
IMAGE = "otel/opentelemetry-collector-contrib"  # spanmetrics and otlphttp auth headers are contrib components
AUTH_SECRET = "langfuse-keys"  # made by the Langfuse component, or by the collector for an external Langfuse
SPANMETRICS_PORT = 8889
OTLP_GRPC, OTLP_HTTP = 4317, 4318


def endpoint(namespace: str) -> str:
    """What agents and kagent send OTLP/gRPC to."""
    return f"http://{RELEASE}.{namespace}.svc.cluster.local:{OTLP_GRPC}"


def collector_config(langfuse_url: str | None) -> dict[str, Any]:
    exporters: dict[str, Any] = {"prometheus": {"endpoint": f"0.0.0.0:{SPANMETRICS_PORT}"}}
    trace_exporters = ["spanmetrics"]
    if langfuse_url:
        exporters["otlphttp/langfuse"] = {
            "endpoint": f"{langfuse_url.rstrip('/')}/api/public/otel",
            "headers": {"Authorization": "Basic ${env:LANGFUSE_AUTH}"},
        }
        trace_exporters.insert(0, "otlphttp/langfuse")
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP}"},
                }
            }
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "batch": {"timeout": "5s", "send_batch_size": 1024},
        },
        "connectors": {
            "spanmetrics": {
                "namespace": "traces.span.metrics",
                "dimensions": [{"name": "service.name"}, {"name": "gen_ai.request.model"}],
            }
        },
        "exporters": exporters,
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": trace_exporters,
                },
                "metrics/spans": {"receivers": ["spanmetrics"], "processors": ["batch"], "exporters": ["prometheus"]},
            }
        },
    }


class _Image(HelmValues):
    repository: str


class _Port(HelmValues):
    enabled: bool
    container_port: int | None = None
    service_port: int | None = None
    protocol: str | None = None


class _Monitor(HelmValues):
    enabled: bool
    metrics_endpoints: list[dict[str, Any]] | None = None


class _Toggle(HelmValues):
    enabled: bool


class CollectorValues(HelmValues):
    mode: str
    image: _Image
    replica_count: int
    config: dict[str, Any]
    ports: dict[str, _Port]
    service_monitor: _Monitor
    pod_disruption_budget: _Toggle
    extra_envs: list[dict[str, Any]]
    resources: dict[str, dict[str, str]]
    security_context: dict[str, Any]
    pod_security_context: dict[str, Any] = Field(default_factory=dict)


def collector_values(ha: bool, monitoring: bool, langfuse_url: str | None) -> CollectorValues:
    off = _Port(enabled=False)
    envs = (
        [{"name": "LANGFUSE_AUTH", "valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": "auth"}}}]
        if langfuse_url
        else []
    )
    return CollectorValues(
        mode="deployment",
        image=_Image(repository=IMAGE),
        replica_count=2 if ha else 1,
        config=collector_config(langfuse_url),
        ports={
            "jaeger-compact": off,
            "jaeger-thrift": off,
            "jaeger-grpc": off,
            "zipkin": off,
            "spanmetrics": _Port(
                enabled=True, container_port=SPANMETRICS_PORT, service_port=SPANMETRICS_PORT, protocol="TCP"
            ),
        },
        service_monitor=_Monitor(enabled=monitoring, metrics_endpoints=[{"port": "spanmetrics"}]),
        pod_disruption_budget=_Toggle(enabled=ha),
        extra_envs=envs,
        resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        pod_security_context={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        security_context={
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    )


class Collector(pulumi.ComponentResource):
    def __init__(self, name: str, langfuse_url: str | None, shared: Shared, after: tuple[pulumi.Resource, ...] = ()):
        super().__init__("agentic:k8s:Collector", name, None, shared.k8s_opts())
        ns = shared.namespaces["observability"]
        scope = shared.scope(self, name, ns, depends_on=(shared.namespace_resources["observability"], *after))
        deps: list[pulumi.Resource] = []
        monitoring = shared.monitoring_crds is not None
        self.release = release(
            f"{name}-collector",
            versions.OPENTELEMETRY_COLLECTOR,
            release_name=RELEASE,
            namespace=ns,
            values=collector_values(shared.high_availability, monitoring, langfuse_url),
            opts=scope.opts(depends_on=[*deps, *((shared.monitoring_crds,) if monitoring else ())]),
        )
        self.register_outputs({})
