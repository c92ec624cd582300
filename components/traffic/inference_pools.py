"""Model-aware routing (``models[].routing: inference_pool``): per variant of such a model, a release of the pinned
llm-d-router-gateway chart makes the variant's InferencePool (``inference.networking.k8s.io/v1``, named after the
release: ``<model>-<variant>``, selecting the variant's pods on vLLM's port) and its endpoint picker
(``<model>-<variant>-epp``, ext-proc on 9002, RBAC to watch pods and pools in the inference namespace). The picker
scrapes each replica's vLLM ``/metrics`` (queue depth, running requests, KV-cache use) and tells agentgateway which
replica takes a request; when it cannot answer, ``endpoint_picker.failure_mode`` decides. The AI gateway's backends
name the pools (components.traffic.ai_backends); the platform installs the pool CRDs, which the chart does not carry.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalog import versions
from components.serving.models import ENGINE_PORTS, labels_of
from components.traffic.ai_backends import pool_name
from config.ai_gateway import EndpointPicker
from config.platform import Platform
from config.serving import Model, ModelVariant
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata
from kit.monitors import prometheus_rule
from kit.shared import Shared

#: Relative to the project directory (where `pulumi` runs), like the Gateway API CRDs.
CRD_FILES = "catalog/crds/inference-extension/*.yaml"
EXT_PROC_PORT = 9002


class _Image(HelmValues):
    registry: str
    repository: str
    tag: str
    pull_policy: str


class _Epp(HelmValues):
    replicas: int
    image: _Image
    resources: dict[str, dict[str, str]]
    tolerations: list[dict[str, str]]
    affinity: dict[str, Any]


class _Pool(HelmValues):
    create: bool
    failure_mode: str


class _Port(HelmValues):
    number: int


class _Servers(HelmValues):
    type: str
    protocol: str
    target_ports: list[_Port]
    match_labels: dict[str, str]


class _Router(HelmValues):
    model_servers: _Servers
    epp: _Epp
    inference_pool: _Pool


class _Named(HelmValues):
    name: str


class _Create(HelmValues):
    create: bool


class RouterValues(HelmValues):
    router: _Router
    provider: _Named
    http_route: _Create


def epp_image() -> _Image:
    """The pinned picker image, in the chart's registry/repository/tag parts."""
    ref, tag = versions.LLM_D_EPP_IMAGE.rsplit(":", 1)
    registry, repository = ref.rsplit("/", 1)
    return _Image(registry=registry, repository=repository, tag=tag, pull_policy="IfNotPresent")


def picker_values(m: Model, v: ModelVariant) -> RouterValues:
    """The chart's values for one variant: its pods (the labels its Deployment's pods carry), vLLM's port, the
    picker on the system nodes with the configured replicas, resources and failure mode; no chart-made route."""
    picker = m.endpoint_picker or EndpointPicker()
    system = [{"key": k, "operator": "In", "values": [val]} for k, val in SYSTEM_LABELS.items()]
    return RouterValues(
        router=_Router(
            model_servers=_Servers(
                type="vllm",
                protocol="http",
                target_ports=[_Port(number=ENGINE_PORTS[m.engine][0])],
                match_labels=labels_of(m, v.name),
            ),
            epp=_Epp(
                replicas=picker.replicas,
                image=epp_image(),
                resources={
                    "requests": {"cpu": picker.cpu, "memory": picker.memory},
                    "limits": {"memory": picker.memory},
                },
                tolerations=[SYSTEM_TOLERATION],
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": system}]
                        }
                    }
                },
            ),
            inference_pool=_Pool(create=True, failure_mode=picker.failure_mode),
        ),
        provider=_Named(name="none"),  # agentgateway reads InferencePools itself (inferenceExtension.enabled)
        http_route=_Create(create=False),  # the AI gateway's routes name the pools through its backends
    )


#: The label the chart puts on a picker's pods (routerlib's selectorLabels in gateway mode).
PICKER_LABEL = "llm-d-router-gateway"


def picker_api_policy(namespace: str, vpc_cidr: str) -> dict[str, Any]:
    """The pickers watch pods and pools through the API server's private endpoint (443 in the VPC); only they, not
    the model servers beside them, may open it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata("allow-endpoint-pickers-kube-api", namespace),
        "spec": {
            "podSelector": {"matchExpressions": [{"key": PICKER_LABEL, "operator": "Exists"}]},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": [{"protocol": "TCP", "port": 443}]}],
        },
    }


def canary_rules(m: Model, backends: dict[str, list[str]], namespace: str) -> list[dict[str, Any]]:
    """Analysis of a pool-routed model whose AI route splits over its variants' pools: per non-primary variant, its
    5xx rate at the AI gateway (``agentgateway_requests_total`` of its backends) and its p95 latency against the
    primary's (vLLM's end-to-end histogram by Service, one per variant). Evaluated by Prometheus; the runbook's
    rollback is the variant's weight set to 0 and ``pulumi up``. ``backends``: variant -> AgentgatewayBackend names."""
    if len(m.variants) < 2:
        return []
    a = (m.endpoint_picker or EndpointPicker()).analysis
    primary = max(m.variants, key=lambda v: v.weight)
    runbook = "https://github.com/agentic-platform/agentic-platform/blob/main/docs/runbooks.md"

    def p95(v: ModelVariant) -> str:
        sel = f'namespace="{namespace}",service="{pool_name(m, v)}"'
        return f"histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{{{sel}}}[{a.window}])))"

    rules: list[dict[str, Any]] = []
    for v in (v for v in m.variants if v is not primary):
        sel = 'backend=~"' + "|".join(f".*{b}" for b in backends.get(v.name, [])) + '"'
        errors = (
            f'sum(rate(agentgateway_requests_total{{{sel},status=~"5.."}}[{a.window}])) '
            f"/ sum(rate(agentgateway_requests_total{{{sel}}}[{a.window}])) * 100 > {a.max_error_rate_percent}"
        )
        labels = {"severity": "critical", "model": m.name, "variant": v.name}
        why = f"set models[{m.name}].variants[{v.name}].weight to 0 and pulumi up"
        rules += [
            {
                "alert": "InferencePoolVariantErrors",
                "expr": errors,
                "for": a.window,
                "labels": labels,
                "annotations": {
                    "summary": f"{m.name}/{v.name}: over {a.max_error_rate_percent}% 5xx through the AI gateway",
                    "description": f"Roll back: {why}",
                    "runbook_url": f"{runbook}#inferencepoolvarianterrors",
                },
            },
            {
                "alert": "InferencePoolVariantSlow",
                "expr": f"{p95(v)} / {p95(primary)} > {a.max_latency_ratio}",
                "for": a.window,
                "labels": labels,
                "annotations": {
                    "summary": f"{m.name}/{v.name}: p95 over {a.max_latency_ratio}x the primary's",
                    "description": f"Roll back: {why}",
                    "runbook_url": f"{runbook}#inferencepoolvariantslow",
                },
            },
        ]
    return [{"name": f"inference-pool-{m.name}", "rules": rules}]


def pool_backends(cfg: Platform, m: Model) -> dict[str, list[str]]:
    """variant -> the AI gateway backends that send to its pool (components.traffic.ai_backends names them)."""
    from components.traffic.ai_backends import split_of

    out: dict[str, list[str]] = {}
    for am in cfg.gateway.ai.models:
        for v in split_of(cfg, am):
            if v is not None and any(v is x for x in m.variants):
                out.setdefault(v.name, []).append(f"ai-{am.name}-{v.name}".replace(".", "-"))
    return out


def pooled(cfg: Platform) -> list[tuple[Model, ModelVariant]]:
    return [(m, v) for m in cfg.models if m.routing == "inference_pool" for v in m.variants]


class InferencePools(pulumi.ComponentResource):
    """The pool CRDs, then one chart release (pool + picker) per variant of every pool-routed model."""

    def __init__(
        self,
        name: str,
        cfg: Platform,
        shared: Shared,
        after: tuple[pulumi.Resource, ...] = (),
        parent: pulumi.Resource | None = None,
    ):
        super().__init__("agentic:k8s:InferencePools", name, None, shared.k8s_opts(parent=parent))
        inference = shared.namespaces["inference"]
        scope = shared.scope(self, name, inference, depends_on=(shared.namespace_resources["inference"],))
        crds = k8s.yaml.v2.ConfigGroup(f"{name}-crds", files=[CRD_FILES], opts=scope.opts(list(shared.cluster_ready)))
        if shared.vpc_cidr:
            scope.apply(picker_api_policy(inference, shared.vpc_cidr))
        if shared.monitoring_crds is not None:
            for m in {m.name: m for m, _ in pooled(cfg)}.values():
                if groups := canary_rules(m, pool_backends(cfg, m), inference):
                    rule = prometheus_rule(f"{m.name}-pool-canary", inference, groups)
                    scope.apply(rule, depends_on=(shared.monitoring_crds,))
        for m, v in pooled(cfg):
            release(
                f"{name}-{pool_name(m, v)}",
                versions.LLM_D_ROUTER,
                release_name=pool_name(m, v),
                namespace=inference,
                values=picker_values(m, v),
                opts=scope.opts([crds, *after]),
            )
        self.register_outputs({})
