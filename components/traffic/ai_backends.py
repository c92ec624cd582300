"""The AI gateway's backends: per model, an AgentgatewayBackend with its providers in priority groups (5xx/429
ejection, prompt guards) and the HTTPRoute that sends the model's requests to it. A self-hosted provider reaches
its platform model by the primary variant's Service, or (``routing: inference_pool``) by the variants' InferencePools:
the route then splits over one backend per variant by the variants' weights, and each pool's llm-d endpoint picker
chooses the replica."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from catalog import versions
from components.serving.models import ENGINE_PORTS
from config.ai_gateway import AiModel, AiProvider, PromptGuards
from config.platform import Platform
from config.serving import Model, ModelVariant
from kit.labels import metadata

MODEL_HEADER = "x-ai-model"
#: A provider's answer that counts against its health: server errors and rate limiting.
UNHEALTHY = "response.code >= 500 || response.code == 429"
GROUP = "agentgateway.dev"
INFERENCE_GROUP = versions.INFERENCE_API.split("/")[0]


def pool_name(m: Model, v: ModelVariant) -> str:
    """The InferencePool of a variant: the llm-d chart names it after its release (and its picker ``<name>-epp``)."""
    return f"{m.name}-{v.name}"


def provider_entry(
    cfg: Platform, p: AiProvider, secrets: dict[str, tuple[str, str]], variant: ModelVariant | None = None
) -> dict[str, Any]:
    """One provider of a backend group. A self-hosted model is reached namespace-locally (the backend lives in the
    inference namespace) under the name vLLM/TGI serves it by (the Hugging Face id): by its primary variant's
    Service, or by ``variant``'s InferencePool when the model is pool-routed."""
    if p.kind == "self_hosted":
        m = next(m for m in cfg.models if m.name == p.model)
        if m.routing == "inference_pool":
            v = variant if variant is not None and variant in m.variants else max(m.variants, key=lambda v: v.weight)
            ref: dict[str, Any] = {"group": INFERENCE_GROUP, "kind": "InferencePool", "name": pool_name(m, v)}
        else:
            v = max(m.variants, key=lambda v: v.weight)
            ref = {"name": f"{m.name}-{v.name}", "port": ENGINE_PORTS[m.engine][0]}
        return {
            "name": p.name,
            "custom": {
                "backendRef": ref,
                "formats": [{"type": "Completions"}, *([{"type": "Embeddings"}] if m.embedding_dim else [])],
                "model": m.hf_model,
            },
        }
    if p.kind == "bedrock":  # credentials: the AWS SDK default chain (the proxy's Pod Identity role)
        return {"name": p.name, "bedrock": {"model": p.model, "region": p.region or cfg.aws.region}}
    name, key = secrets[p.name]
    return {"name": p.name, p.kind: {"model": p.model}, "policies": {"auth": {"secretRef": {"name": name, "key": key}}}}


def split_of(cfg: Platform, model: AiModel) -> list[ModelVariant | None]:
    """The variants of the pool-routed platform model the route splits over (config allows one per AI model);
    ``[None]``: no split."""
    byname = {p.name: p for p in cfg.gateway.ai.providers}
    for group in model.groups:
        for n in group:
            m = next((m for m in cfg.models if m.name == byname[n].model), None)
            if byname[n].kind == "self_hosted" and m and m.routing == "inference_pool" and len(m.variants) > 1:
                return list(m.variants)
    return [None]


def prompt_guard(g: PromptGuards, region: str) -> dict[str, Any]:
    """Request side: regex built-ins and patterns (reject or mask), the webhook, Bedrock Guardrails; response side:
    the same regexes masked, and the guardrail. A blocked request gets ``status_code`` and ``message``."""
    response = {"message": g.message, "statusCode": g.status_code}
    regex: dict[str, Any] = {"action": g.action, "builtins": list(g.builtins)}
    if g.patterns:
        regex["matches"] = list(g.patterns)
    request: list[dict[str, Any]] = [{"regex": regex, "response": response}]
    responses: list[dict[str, Any]] = []
    if g.responses:
        responses.append({"regex": {k: v for k, v in regex.items() if k != "action"}})
    if g.webhook is not None and g.webhook.url:
        request.append({"webhook": {"backendRef": webhook_ref(g.webhook.url), "failureMode": g.webhook.failure_mode}})
    if g.bedrock_guardrail is not None:
        guardrail = {
            "identifier": g.bedrock_guardrail.identifier,
            "version": g.bedrock_guardrail.version,
            "region": region,
        }
        request.append({"bedrockGuardrails": guardrail, "response": response})
        responses.append({"bedrockGuardrails": guardrail})
    return {"request": request, **({"response": responses} if responses else {})}


def webhook_ref(webhook_url: str) -> dict[str, Any]:
    """An in-cluster guard Service (``http://<service>.<namespace>[.svc[.cluster.local]]:<port>``)."""
    parts = urlsplit(webhook_url)
    host = (parts.hostname or "").split(".")
    ref: dict[str, Any] = {"name": host[0], "port": parts.port or (443 if parts.scheme == "https" else 80)}
    if len(host) > 1:
        ref["namespace"] = host[1]
    return ref


def backend_objects(
    cfg: Platform, model: AiModel, namespace: str, gateway_ns: str, secrets: dict[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    ai = cfg.gateway.ai
    byname = {p.name: p for p in ai.providers}
    policies: dict[str, Any] = {
        "health": {
            "unhealthyCondition": UNHEALTHY,
            "eviction": {"consecutiveFailures": ai.eject_after_failures, "duration": f"{ai.ejection_seconds}s"},
        }
    }
    if ai.guards is not None:
        policies["ai"] = {"promptGuard": prompt_guard(ai.guards, cfg.aws.region)}
    name = f"ai-{model.name}".replace(".", "-")
    variants = split_of(cfg, model)
    objs: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    for v in variants:
        backend = name if v is None else f"{name}-{v.name}"
        objs.append(
            {
                "apiVersion": versions.AGENTGATEWAY_API,
                "kind": "AgentgatewayBackend",
                "metadata": metadata(backend, namespace),
                "spec": {
                    "ai": {
                        "groups": [
                            {"providers": [provider_entry(cfg, byname[n], secrets, v) for n in group]}
                            for group in model.groups
                        ]
                    },
                    "policies": policies,
                },
            }
        )
        refs.append(
            {"group": GROUP, "kind": "AgentgatewayBackend", "name": backend, **({"weight": v.weight} if v else {})}
        )
    objs.append(
        {
            "apiVersion": versions.GATEWAY_API,
            "kind": "HTTPRoute",
            "metadata": metadata(name, namespace),
            "spec": {
                "parentRefs": [{"name": ai.name, "namespace": gateway_ns, "sectionName": "http"}],
                "rules": [
                    {
                        "matches": [
                            {
                                "path": {"type": "PathPrefix", "value": "/v1/"},
                                "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": model.name}],
                            }
                        ],
                        "backendRefs": refs,
                    }
                ],
            },
        }
    )
    return objs
