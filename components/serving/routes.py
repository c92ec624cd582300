"""HTTPRoutes from the gateway to the models: the OpenAI paths matched with the model header (seed 001), backends
weighted across a model's variants, request timeouts and rate limits per route, a ReferenceGrant in the inference
namespace allowing exactly these references, and a default route that answers an unknown model with a clear 404."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from catalog import versions
from components.serving.models import ENGINE_PORTS
from components.traffic.kgateway import gateway_replicas, served_hostnames, token_bucket
from config.serving import GatewayConfig, Model
from kit.labels import metadata
from kit.shared import Shared

OPENAI_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models")
UNKNOWN = "unknown-model"


def model_route(m: Model, g: GatewayConfig, gateway_ns: str, inference_ns: str) -> dict[str, Any]:
    port = ENGINE_PORTS[m.engine][0]
    header = [{"type": "Exact", "name": g.model_header, "value": m.header_value}]
    spec: dict[str, Any] = {
        "parentRefs": [{"name": g.name}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": p}, "headers": header} for p in OPENAI_PATHS],
                "backendRefs": [
                    {"name": f"{m.name}-{v.name}", "namespace": inference_ns, "port": port, "weight": v.weight}
                    for v in m.variants
                ],
                "timeouts": {"request": m.route_timeout},
            }
        ],
    }
    if g.hostnames:
        spec["hostnames"] = served_hostnames(g, gateway_ns)
    return {
        "apiVersion": versions.GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": metadata(f"model-{m.name}", gateway_ns),
        "spec": spec,
    }


def rate_limit_policy(m: Model, g: GatewayConfig, gateway_ns: str, replicas: int = 1) -> dict[str, Any] | None:
    limit = m.rate_limit or g.rate_limit
    if limit is None:
        return None
    return {
        "apiVersion": versions.KGATEWAY_API,
        "kind": "TrafficPolicy",
        "metadata": metadata(f"model-{m.name}-rate-limit", gateway_ns),
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": f"model-{m.name}"}],
            "rateLimit": {"local": {"tokenBucket": token_bucket(limit, replicas)}},
        },
    }


def reference_grant(models: list[Model], gateway_ns: str, inference_ns: str) -> dict[str, Any]:
    return {
        "apiVersion": versions.REFERENCE_GRANT_API,
        "kind": "ReferenceGrant",
        "metadata": metadata("gateway-to-models", inference_ns),
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": gateway_ns}],
            "to": [{"group": "", "kind": "Service", "name": f"{m.name}-{v.name}"} for m in models for v in m.variants],
        },
    }


def unknown_model_objects(g: GatewayConfig, gateway_ns: str) -> list[dict[str, Any]]:
    body = json.dumps(
        {
            "error": {
                "type": "model_not_found",
                "message": f"no model matches the {g.model_header} header: send one of the platform's model names",
            }
        }
    )
    route: dict[str, Any] = {
        "parentRefs": [{"name": g.name}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                "filters": [
                    {
                        "type": "ExtensionRef",
                        "extensionRef": {"group": "gateway.kgateway.dev", "kind": "DirectResponse", "name": UNKNOWN},
                    }
                ],
            }
        ],
    }
    if g.hostnames:
        route["hostnames"] = served_hostnames(g, gateway_ns)
    return [
        {
            "apiVersion": versions.KGATEWAY_API,
            "kind": "DirectResponse",
            "metadata": metadata(UNKNOWN, gateway_ns),
            "spec": {"status": 404, "body": body},
        },
        {
            "apiVersion": versions.GATEWAY_API,
            "kind": "HTTPRoute",
            "metadata": metadata(UNKNOWN, gateway_ns),
            "spec": route,
        },
    ]


def route_objects(
    models: list[Model], g: GatewayConfig, gateway_ns: str, inference_ns: str, replicas: int = 1
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    models = [m for m in models if not m.rollout]  # Flagger owns the route of a model it rolls out
    for m in models:
        out.append(model_route(m, g, gateway_ns, inference_ns))
        policy = rate_limit_policy(m, g, gateway_ns, replicas)
        if policy:
            out.append(policy)
    if models:
        out.append(reference_grant(models, gateway_ns, inference_ns))
    return out + unknown_model_objects(g, gateway_ns)


class ModelRoutes(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        models: list[Model],
        cfg: GatewayConfig,
        gateway: pulumi.Resource,
        shared: Shared,
        after: tuple[pulumi.Resource, ...] = (),
    ):
        super().__init__("agentic:k8s:ModelRoutes", name, None, shared.k8s_opts())
        scope = shared.scope(self, name, depends_on=(gateway, *after))
        self.objects = [
            scope.apply(obj, name=f"{obj['kind'].lower()}-{obj['metadata']['name']}")
            for obj in route_objects(
                models,
                cfg,
                shared.namespaces["gateway"],
                shared.namespaces["inference"],
                gateway_replicas(shared.high_availability),
            )
        ]
        self.register_outputs({})
