"""Flagger progressive delivery for models whose config asks for it (seed 002 §3): a Canary with the Gateway API
provider shifts the model route's weights step by step (10 -> 25 -> 50 -> promote by default), or switches at once
after its checks (blue/green), and rolls back when the canary's error rate or its p95 latency relative to the stable
version passes the thresholds. Flagger owns the model's Services and HTTPRoute: they are not rendered elsewhere."""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.observability.monitoring import prometheus_url
from components.serving.models import ENGINE_PORTS
from components.tenancy.namespaces import GovernedNamespace, system_namespace
from components.traffic.kgateway import served_hostnames
from config.serving import GatewayConfig, Model
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata
from kit.shared import Shared

NAMESPACE = "flagger"
CANARY_PODS = "{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
PRIMARY_PODS = "{{ target }}-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
#: engine -> (error rate %, p95 latency histogram) over the engine's own metrics.
ERROR_RATE = {
    "vllm": (
        '100 * sum(rate(http_requests_total{{namespace="{{{{ namespace }}}}", pod=~"{pods}", status="5xx"}}'
        '[{{{{ interval }}}}])) / sum(rate(http_requests_total{{namespace="{{{{ namespace }}}}", '
        'pod=~"{pods}"}}[{{{{ interval }}}}]))'
    ),
    "tgi": (
        '100 * (1 - sum(rate(tgi_request_success{{namespace="{{{{ namespace }}}}", pod=~"{pods}"}}'
        '[{{{{ interval }}}}])) / sum(rate(tgi_request_count{{namespace="{{{{ namespace }}}}", pod=~"{pods}"}}'
        "[{{{{ interval }}}}])))"
    ),
}
LATENCY = {"vllm": "vllm:e2e_request_latency_seconds_bucket", "tgi": "tgi_request_duration_bucket"}


def metric_templates(engine: str, namespace: str, prometheus: str) -> list[dict[str, Any]]:
    def p95(pods: str) -> str:
        return (
            f'histogram_quantile(0.95, sum by (le) (rate({LATENCY[engine]}{{namespace="{{{{ namespace }}}}", '
            f'pod=~"{pods}"}}[{{{{ interval }}}}])))'
        )

    provider = {"type": "prometheus", "address": prometheus}
    return [
        {
            "apiVersion": versions.FLAGGER_API,
            "kind": "MetricTemplate",
            "metadata": metadata(f"{engine}-error-rate", namespace),
            "spec": {"provider": provider, "query": ERROR_RATE[engine].format(pods=CANARY_PODS)},
        },
        {
            "apiVersion": versions.FLAGGER_API,
            "kind": "MetricTemplate",
            "metadata": metadata(f"{engine}-latency-ratio", namespace),
            "spec": {"provider": provider, "query": f"{p95(CANARY_PODS)} / {p95(PRIMARY_PODS)}"},
        },
    ]


def canary(m: Model, g: GatewayConfig, namespace: str, gateway_ns: str) -> dict[str, Any]:
    assert m.rollout is not None
    r = m.rollout
    metrics = []
    if r.max_error_rate_percent is not None:
        metrics.append(
            {
                "name": "error-rate",
                "templateRef": {"name": f"{m.engine}-error-rate"},
                "thresholdRange": {"max": r.max_error_rate_percent},
                "interval": r.interval,
            }
        )
    if r.max_latency_ratio is not None:
        metrics.append(
            {
                "name": "latency-ratio",
                "templateRef": {"name": f"{m.engine}-latency-ratio"},
                "thresholdRange": {"max": r.max_latency_ratio},
                "interval": r.interval,
            }
        )
    analysis: dict[str, Any] = {"interval": r.interval, "threshold": r.threshold, "metrics": metrics}
    if r.strategy == "canary":
        analysis["stepWeights"] = list(r.step_weights)
    else:
        analysis["iterations"] = r.iterations
    service: dict[str, Any] = {
        "port": ENGINE_PORTS[m.engine][0],
        "targetPort": "http",
        "timeout": m.route_timeout,
        "gatewayRefs": [{"name": g.name, "namespace": gateway_ns}],
        "match": [{"headers": {g.model_header: {"exact": m.header_value}}}],
    }
    if g.hostnames:
        service["hosts"] = served_hostnames(g, gateway_ns)
    spec: dict[str, Any] = {
        "provider": "gatewayapi:v1",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": m.name},
        "progressDeadlineSeconds": 3600,
        "service": service,
        "analysis": analysis,
    }
    if m.autoscaling:
        spec["autoscalerRef"] = {"apiVersion": versions.KEDA_API, "kind": "ScaledObject", "name": m.name}
    return {"apiVersion": versions.FLAGGER_API, "kind": "Canary", "metadata": metadata(m.name, namespace), "spec": spec}


class _LeaderElection(HelmValues):
    enabled: bool
    replica_count: int


class FlaggerValues(HelmValues):
    mesh_provider: str
    metrics_server: str
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    leader_election: _LeaderElection


class Canaries(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        models: list[Model],
        cfg: GatewayConfig,
        shared: Shared,
        after: tuple[pulumi.Resource, ...] = (),
    ):
        super().__init__("agentic:k8s:Canaries", name, None, shared.k8s_opts())
        self.namespace = GovernedNamespace(f"{name}-ns", system_namespace(NAMESPACE), shared, parent=self)
        scope = shared.scope(self, name, NAMESPACE, depends_on=(self.namespace, *shared.cluster_ready))
        prometheus = prometheus_url(shared.namespaces["observability"])
        ha = shared.high_availability
        values = FlaggerValues(
            mesh_provider="gatewayapi:v1",
            metrics_server=prometheus,
            node_selector=dict(SYSTEM_LABELS),
            tolerations=[SYSTEM_TOLERATION],
            leader_election=_LeaderElection(enabled=ha, replica_count=2 if ha else 1),
        )
        self.release = release(
            f"{name}-flagger",
            versions.FLAGGER,
            release_name="flagger",
            namespace=NAMESPACE,
            values=values,
            opts=scope.opts(),
        )
        inference = shared.namespaces["inference"]
        objects = shared.scope(self, name, inference, depends_on=(self.release, *after))
        rolled = [m for m in models if m.rollout]
        for engine in sorted({m.engine for m in rolled}):
            for template in metric_templates(engine, inference, prometheus):
                objects.apply(template)
        self.canaries = {m.name: objects.apply(canary(m, cfg, inference, shared.namespaces["gateway"])) for m in rolled}
        self.register_outputs({})
