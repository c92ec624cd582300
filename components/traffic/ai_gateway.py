"""The AI gateway: agentgateway (pinned charts, controller on the system nodes) as a second GatewayClass beside
kgateway, with its own Gateway ``gateway.ai.name`` in the gateway namespace. kgateway keeps serving the model and
agent routes it serves; the AI gateway serves LLM egress under the names of ``gateway.ai.models``.

Request path: a PreRouting policy checks the virtual key (ConfigMap ``<name>-keys`` holds only hashes) and the
body's ``model`` against the key's models and copies it to ``x-ai-model``; HTTPRoute ``ai-<model>`` sends it to
AgentgatewayBackend ``ai-<model>`` (providers in priority groups, 5xx/429 ejection, prompt guards); token limits per
key; every metric carries the key's consumer.
"""

from __future__ import annotations

import hashlib
import json
from functools import partial
from typing import Any

import pulumi

from catalog import versions
from components.agents.agents import bedrock_statement
from components.traffic import ai_budgets, ai_federation, inference_pools
from components.traffic.ai_backends import GROUP, MODEL_HEADER, backend_objects
from components.traffic.kgateway import RESTRICTED_CONTAINER, RESTRICTED_POD
from config.ai_gateway import AiGateway, AiKey, AiProvider, BedrockGuardrail
from config.platform import Platform
from kit.aws import arn, pod_identity_role
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata, namespaces_in
from kit.shared import Shared

GATEWAY_CLASS = "agentgateway"  # created by the agentgateway controller (controllerName agentgateway.dev/agentgateway)
PORT = 8080  # the listener port is the proxy's container port: unprivileged, and what the NetworkPolicies open
KEYS_LABEL = "agentic.platform/ai-gateway-keys"


def proxy_replicas(high_availability: bool) -> int:
    return 2 if high_availability else 1


def url(ai: AiGateway, namespace: str) -> str:
    """What in-cluster clients call (OpenAI base URL: ``<url>/v1``): the proxy Service the controller makes."""
    return f"http://{ai.name}.{namespace}.svc.cluster.local:{PORT}"


class _Controller(HelmValues):
    replica_count: int


class _Toggle(HelmValues):
    enabled: bool


class AgentgatewayValues(HelmValues):
    controller: _Controller
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    pod_security_context: dict[str, Any]
    security_context: dict[str, Any]
    inference_extension: _Toggle
    agentgateway_models: _Toggle
    monitoring: _Toggle


def controller_values(ha: bool, monitoring: bool = False, inference: bool = False) -> AgentgatewayValues:
    """``monitoring``: the chart's controller ServiceMonitor, the PodMonitor of the proxies (port 15020: the cost and
    token metrics per key) and its Grafana dashboard, when the prometheus-operator CRDs are installed."""
    return AgentgatewayValues(
        controller=_Controller(replica_count=2 if ha else 1),
        node_selector=dict(SYSTEM_LABELS),
        tolerations=[SYSTEM_TOLERATION],
        pod_security_context=RESTRICTED_POD,
        security_context={**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
        inference_extension=_Toggle(enabled=inference),  # InferencePools as backends (models[].routing)
        agentgateway_models=_Toggle(enabled=False),  # experimental in 1.4
        monitoring=_Toggle(enabled=monitoring),
    )


def model_catalog(ai: AiGateway) -> dict[str, Any]:
    """agentgateway's cost catalog: provider -> model -> USD per million tokens (strings, as upstream's examples)."""
    providers: dict[str, Any] = {}
    for p in ai.providers:
        if p.price is not None and p.kind != "self_hosted":
            models = providers.setdefault(p.kind, {"models": {}})["models"]
            models[p.model] = {"rates": {"input": str(p.price.input), "output": str(p.price.output)}}
    return {"providers": providers}


def gateway_objects(ai: AiGateway, namespace: str, route_namespaces: list[str], replicas: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "deployment": {"spec": {"replicas": replicas}},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    }
    if replicas > 1:
        params["podDisruptionBudget"] = {"spec": {"minAvailable": 1}}
    if ai.a2a:  # exposed agents: callers in the VPC reach the agents listener through an internal NLB
        params["service"] = ai_federation.service_overlay()
    objs: list[dict[str, Any]] = []
    catalog = model_catalog(ai)
    if catalog["providers"]:
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata(f"{ai.name}-model-catalog", namespace),
                "data": {"catalog.json": json.dumps(catalog, sort_keys=True, indent=2)},
            }
        )
        params["modelCatalog"] = {"sources": [{"configMap": {"name": f"{ai.name}-model-catalog"}}]}
    objs += [
        {
            "apiVersion": versions.AGENTGATEWAY_API,
            "kind": "AgentgatewayParameters",
            "metadata": metadata(ai.name, namespace),
            "spec": params,
        },
        {
            "apiVersion": versions.GATEWAY_API,
            "kind": "Gateway",
            "metadata": metadata(ai.name, namespace),
            "spec": {
                "gatewayClassName": GATEWAY_CLASS,
                "infrastructure": {
                    "parametersRef": {"group": GROUP, "kind": "AgentgatewayParameters", "name": ai.name}
                },
                "listeners": [
                    {
                        "name": "http",
                        "port": PORT,
                        "protocol": "HTTP",
                        "allowedRoutes": {
                            "namespaces": {"from": "Selector", "selector": namespaces_in(route_namespaces)}
                        },
                    },
                    *([ai_federation.listener(ai)] if ai.mcp or ai.a2a else []),
                ],
            },
        },
    ]
    return objs


def key_entry(key: AiKey, key_hash: str) -> str:
    """One key in the keys ConfigMap: only its sha256 (agentgateway refuses raw keys from a ConfigMap) and the
    metadata policies and metrics read as ``apiKey.<field>``."""
    meta = {"consumer": key.consumer, "models": list(key.models)}
    return json.dumps({"keyHash": f"sha256:{key_hash}", "metadata": meta}, sort_keys=True)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def keys_config_map(ai: AiGateway, namespace: str, entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(f"{ai.name}-keys", namespace, {KEYS_LABEL: ai.name}),
        "data": entries,
    }


def _gateway_ref(ai: AiGateway, section: str | None = None) -> list[dict[str, str]]:
    """The Gateway, or one listener of it (``http``: the LLM listener, where the virtual keys apply)."""
    ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": ai.name}
    return [{**ref, "sectionName": section}] if section else [ref]


def policy_objects(ai: AiGateway, namespace: str, replicas: int) -> list[dict[str, Any]]:
    """Keys and the model allow-list before routing, token limits per key, the consumer on every metric."""
    allowed = 'request.method != "POST" || string(json(request.body).model) in apiKey.models'
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": versions.AGENTGATEWAY_API,
            "kind": "AgentgatewayPolicy",
            "metadata": metadata(f"{ai.name}-keys", namespace),
            "spec": {
                "targetRefs": _gateway_ref(ai, "http"),
                "traffic": {
                    "phase": "PreRouting",
                    "apiKeyAuthentication": {
                        "mode": "Strict",
                        "configMapSelector": {"matchLabels": {KEYS_LABEL: ai.name}},
                    },
                    "authorization": {"action": "Require", "policy": {"matchExpressions": [allowed]}},
                    "transformation": {
                        "request": {"set": [{"name": MODEL_HEADER, "value": "string(json(request.body).model)"}]}
                    },
                },
            },
        },
        {
            "apiVersion": versions.AGENTGATEWAY_API,
            "kind": "AgentgatewayPolicy",
            "metadata": metadata(f"{ai.name}-metrics", namespace),
            "spec": {
                "targetRefs": _gateway_ref(ai),
                "frontend": {
                    "metrics": {
                        "attributes": {"add": [{"name": "consumer", "expression": 'default(apiKey.consumer, "none")'}]}
                    }
                },
            },
        },
    ]
    limited = [k for k in ai.keys if k.tokens_per_minute or k.budget_usd_per_day]
    if limited:
        objs.append(
            {
                "apiVersion": versions.AGENTGATEWAY_API,
                "kind": "AgentgatewayPolicy",
                "metadata": metadata(f"{ai.name}-token-limits", namespace),
                "spec": {
                    "targetRefs": _gateway_ref(ai, "http"),
                    "traffic": {
                        "rateLimit": {
                            "conditional": [
                                {
                                    "condition": f"apiKey.consumer == {json.dumps(k.consumer)}",
                                    "policy": _limits(ai, k, replicas),
                                }
                                for k in limited
                            ]
                        }
                    },
                },
            }
        )
    return objs


def _limits(ai: AiGateway, key: AiKey, replicas: int) -> dict[str, Any]:
    """A key's tokens per minute (local: each replica its share) and its day's budget (global: one counter)."""
    out: dict[str, Any] = {}
    if key.tokens_per_minute:
        out["local"] = [{"tokens": max(1, -(-key.tokens_per_minute // replicas)), "unit": "Minutes"}]
    if key.budget_usd_per_day:
        out["global"] = ai_budgets.global_limit(ai)
    return out


def bedrock_policy(
    providers: list[AiProvider], default_region: str, guardrail: BedrockGuardrail | None
) -> dict[str, Any]:
    """InvokeModel on the configured Bedrock models only, and ApplyGuardrail on the configured guardrail only (its
    ARN, or its id in the gateway's region: guardrail ids are random, so any account's id is that guardrail)."""
    statements = [
        bedrock_statement(region, [p.model for p in providers if (p.region or default_region) == region])
        for region in sorted({p.region or default_region for p in providers})
    ]
    for i, st in enumerate(statements):
        st["Sid"] = f"InvokeConfiguredModels{i}"
    if guardrail is not None:
        ident = guardrail.identifier
        resource = ident if ident.startswith("arn:") else arn(default_region, "bedrock", f"guardrail/{ident}", "*")
        statements.append(
            {"Sid": "ApplyGuardrail", "Effect": "Allow", "Action": ["bedrock:ApplyGuardrail"], "Resource": [resource]}
        )
    return {"Version": "2012-10-17", "Statement": statements}


class AiGatewayComponent(pulumi.ComponentResource):
    """The controller charts, the Gateway and its policies, the keys ConfigMap, one backend and route per model."""

    def __init__(
        self,
        name: str,
        cfg: Platform,
        key_hashes: dict[str, pulumi.Output[str]],
        provider_secrets: dict[str, tuple[str, str]],
        crds: pulumi.Resource,
        shared: Shared,
        after: tuple[pulumi.Resource, ...] = (),
    ):
        super().__init__("agentic:k8s:AiGateway", name, None, shared.k8s_opts())
        ai = cfg.gateway.ai
        ns, inference = shared.namespaces["gateway"], shared.namespaces["inference"]
        scope = shared.scope(self, name, ns, depends_on=(shared.namespace_resources["gateway"],))
        crds_release = release(
            f"{name}-crds",
            versions.AGENTGATEWAY_CRDS,
            release_name="agentgateway-crds",
            namespace=ns,
            opts=scope.opts([crds]),
        )
        controller = release(
            f"{name}-controller",
            versions.AGENTGATEWAY,
            release_name="agentgateway",
            namespace=ns,
            values=controller_values(
                shared.high_availability, shared.monitoring_crds is not None, bool(inference_pools.pooled(cfg))
            ),
            skip_crds=True,
            opts=scope.opts([crds_release, crds, *shared.cluster_ready]),
        )
        replicas = proxy_replicas(shared.high_availability)
        ready = [controller, crds_release, *after]
        for obj in gateway_objects(ai, ns, [inference], replicas) + policy_objects(ai, ns, replicas):
            scope.apply(obj, depends_on=ready)
        agents_ns = shared.namespaces["agents"]
        homes = {a.name: a.namespace or agents_ns for a in cfg.kagent.agents}
        for obj in ai_federation.federation_objects(cfg, ns, agents_ns, homes):
            scope.apply(obj, depends_on=ready)
        for obj in ai_federation.network_objects(cfg, ns, agents_ns):
            shared.scope(self, f"{name}-net", obj["metadata"]["namespace"]).apply(obj)
        entries: dict[str, Any] = {k.consumer: key_hashes[k.consumer].apply(partial(key_entry, k)) for k in ai.keys}
        scope.apply(keys_config_map(ai, ns, entries), depends_on=ready)
        bedrock = [p for p in ai.providers if p.kind == "bedrock"]
        guardrail = ai.guards.bedrock_guardrail if ai.guards else None
        if bedrock:  # the proxy's ServiceAccount (named after the Gateway) signs Bedrock calls via Pod Identity
            pod_identity_role(
                f"{name}-bedrock",
                role_name=f"{shared.prefix}-ai-gateway",
                policy=json.dumps(bedrock_policy(bedrock, cfg.aws.region, guardrail)),
                cluster_name=shared.cluster_name_output,
                namespace=ns,
                service_account=ai.name,
                parent=self,
                depends_on=list(shared.cluster_ready),
            )
        iscope = shared.scope(self, f"{name}-models", inference, depends_on=(shared.namespace_resources["inference"],))
        for model in ai.models:
            for obj in backend_objects(cfg, model, inference, ns, provider_secrets):
                iscope.apply(obj, depends_on=ready)
        if inference_pools.pooled(cfg):  # models[].routing: inference_pool
            inference_pools.InferencePools(f"{name}-pools", cfg, shared, (controller,), parent=self)
        self.register_outputs({})
