"""The AI gateway's wiring (program.platform): its credentials (virtual keys to their consumers, provider keys to
the inference namespace), the hashes its keys ConfigMap holds, and its plan note."""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.agents import kagent_v0_10
from components.secrets.credentials import Credential
from components.traffic import ai_gateway
from config import Platform
from config.ai_gateway import key_consumer_namespace, key_ref
from config.secrets import aws_name
from kit.shared import Shared
from program.wiring import agent_context


def ai_gateway_credentials(cfg: Platform, shared: Shared) -> list[Credential]:
    """The AI gateway's virtual keys (each synced to its consumer's namespace) and its providers' API keys (synced
    to the inference namespace, where the backends that use them live)."""
    ai = cfg.gateway.ai
    if not (ai.enabled and cfg.gateway.enabled):
        return []
    homes = kagent_v0_10.model_config_namespaces(cfg.kagent, agent_context(cfg, shared)) if cfg.kagent.enabled else {}
    self_service = {t.name for t in cfg.tenants if t.self_service}
    out = [
        Credential(
            key_ref(k),
            ()  # a self-service tenant's own stack syncs it (tenancy facts: ai_key)
            if k.tenant in self_service
            else tuple(homes.get(k.model_config_name, []))
            if k.model_config_name
            else (key_consumer_namespace(cfg, k),),
            (f"AI gateway consumer {k.consumer}" + (" (its own stack syncs it)" if k.tenant in self_service else ""),),
            f"AI gateway virtual key of {k.consumer}",
        )
        for k in ai.keys
    ]
    out += [
        Credential(p.api_key, (shared.namespaces["inference"],), ("the AI gateway",), f"{p.kind} API key ({p.name})")
        for p in ai.providers
        if p.api_key
    ]
    return out


def tenant_ai_key(cfg: Platform, tenant: str, namespace: str, prefix: str) -> dict[str, Any] | None:
    """A self-service tenant's key as its stack reads it (config.tenant_facts.TenantAiKeyFacts)."""
    ai = cfg.gateway.ai
    key = next((k for k in ai.keys if k.tenant == tenant), None)
    if key is None or not (ai.enabled and cfg.gateway.enabled):
        return None
    ref = key_ref(key)
    return {
        "aws_secret_name": aws_name(ref, prefix),
        "secret": key.secret_name,
        "models": list(key.models),
        "url": ai_gateway.url(ai, namespace),
        "generation": ref.generation,
    }


def ai_key_hashes(cfg: Platform, credentials: Any) -> dict[str, Any]:
    """consumer -> sha256 of its virtual key (the hash of 40 random characters is not a secret; the key stays one)."""
    return {
        k.consumer: pulumi.Output.unsecret(credentials.value(k.secret_name).apply(ai_gateway.sha256))
        for k in cfg.gateway.ai.keys
    }


def ai_provider_secrets(cfg: Platform) -> dict[str, tuple[str, str]]:
    return {p.name: (p.api_key.name, p.api_key.key) for p in cfg.gateway.ai.providers if p.api_key}


def ai_gateway_note(cfg: Platform, namespace: str) -> str:
    ai = cfg.gateway.ai
    models = ", ".join(f"{m.name} ({' > '.join('+'.join(g) for g in m.groups)})" for m in ai.models)
    return (
        f"AI gateway '{ai.name}' (agentgateway {versions.AGENTGATEWAY.version}) at {ai_gateway.url(ai, namespace)}: "
        f"LLM egress with a virtual key for {', '.join(k.consumer for k in ai.keys) or 'nobody'}; models {models}; "
        f"{sum(1 for k in ai.keys if k.budget_usd_per_day)} key(s) with a day's budget (counted in Redis); "
        f"kgateway '{cfg.gateway.name}' keeps the model and agent routes (header {cfg.gateway.model_header})"
        + (
            f"; pool-routed (InferencePool + llm-d picker): {', '.join(pools)}"
            if (pools := [m.name for m in cfg.models if m.routing == "inference_pool"])
            else ""
        )
        + (f"; MCP on port 8090 behind JWT for {', '.join(f'/mcp/{f.tenant}' for f in ai.mcp)}" if ai.mcp else "")
        + (f"; A2A behind JWT for {', '.join(f'/a2a/{a}' for a in ai.a2a)} (internal NLB)" if ai.a2a else "")
    )
