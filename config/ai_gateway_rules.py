"""The AI gateway's cross-field rules (config.validate runs them): providers and models, keys and budgets, prompt
guards, model-aware routing, and model configs calling providers directly while the gateway is on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from catalog.runtime_tools import RUNTIME_MCP_TOOLS
from catalog.versions import AGENTGATEWAY
from config.ai_gateway import MAX_LIMITED_KEYS, AiKey, provider_of
from config.base import ROOT, Problem, duplicates, unknown_ref
from config.egress import calls_outside

if TYPE_CHECKING:
    from config.platform import Platform
    from config.tenant_facts import TenantAiKeyFacts


def check_ai_gateway(cfg: Platform) -> list[Problem]:
    ai, base = cfg.gateway.ai, f"{ROOT}.gateway.ai"
    out: list[Problem] = []
    if not ai.enabled:
        users = [(f"model_configs[{i}]", mc.ai_model) for i, mc in enumerate(cfg.kagent.model_configs)]
        users += [(f"agents[{i}]", a.ai_model) for i, a in enumerate(cfg.kagent.agents)]
        off = "calls the AI gateway, which is off: set gateway.ai.enabled: true"
        return [Problem(f"{ROOT}.kagent.{where}.ai_model", off) for where, model in users if model]
    if not cfg.gateway.enabled:
        out.append(Problem(f"{base}.enabled", "the AI gateway needs the Gateway API CRDs: set gateway.enabled: true"))
    out += duplicates(list(ai.providers), "name", f"{base}.providers")
    out += duplicates(list(ai.models), "name", f"{base}.models")
    served = {m.name: m for m in cfg.models}
    bedrock = False
    for i, p in enumerate(ai.providers):
        where = f"{base}.providers[{i}]"
        if p.kind == "self_hosted" and p.model not in served:
            out.append(Problem(f"{where}.model", unknown_ref("platform model", p.model, served, "platform.models")))
        if p.kind in ("openai", "anthropic") and p.api_key is None:
            out.append(
                Problem(
                    f"{where}.api_key",
                    f"a {p.kind} provider needs its API key: {{name: ..., source: stack, stack_key: ...}}",
                )
            )
        if p.kind not in ("openai", "anthropic") and p.api_key is not None:
            out.append(Problem(f"{where}.api_key", f"a {p.kind} provider takes no API key: remove it"))
        if p.price is not None and p.kind == "self_hosted":
            out.append(
                Problem(
                    f"{where}.price",
                    "the gateway's cost catalog prices provider models only (a self-hosted model costs its nodes, "
                    "see the cost dashboard): remove it",
                )
            )
        if p.region is not None and p.kind != "bedrock":
            out.append(Problem(f"{where}.region", "only bedrock providers take a region: remove it"))
        bedrock = bedrock or p.kind == "bedrock"
    providers = {p.name for p in ai.providers}
    for i, m in enumerate(ai.models):
        for g, group in enumerate(m.groups):
            for j, name in enumerate(group):
                if name not in providers:
                    out.append(
                        Problem(
                            f"{base}.models[{i}].groups[{g}][{j}]",
                            unknown_ref("provider", name, providers, "gateway.ai.providers"),
                        )
                    )
    out += _check_keys(cfg)
    guards = ai.guards
    if guards is not None:
        for i, pattern in enumerate(guards.patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                out.append(Problem(f"{base}.guards.patterns[{i}]", f"not a regular expression ({exc})"))
        if guards.webhook is not None and guards.webhook.url is None:
            out.append(Problem(f"{base}.guards.webhook.url", "a guard webhook needs the URL of the guard service"))
        if guards.bedrock_guardrail is not None and not bedrock:
            out.append(
                Problem(
                    f"{base}.guards.bedrock_guardrail",
                    "Bedrock Guardrails need a bedrock provider "
                    "(gateway.ai.providers[].kind: bedrock): add one or remove the guardrail",
                )
            )
    if cfg.environment == "prod" and guards is None:
        out.append(Problem(f"{base}.guards", "prompt guards are required in prod: add guards: {} (PII built-ins)"))
    return out


def check_tenant_ai(
    model_configs: list[Any], agents: list[Any], key: TenantAiKeyFacts | None, tenant: str, r: str
) -> list[Problem]:
    """A tenant stack's model configs and BYO agents with ``ai_model`` call the AI gateway with the tenant's key,
    which the platform publishes; only its models."""
    out: list[Problem] = []
    users = [(f"{r}.model_configs[{i}]", mc) for i, mc in enumerate(model_configs)]
    users += [(f"{r}.agents[{i}]", a) for i, a in enumerate(agents)]
    for where, x in users:
        if x.ai_model is None:
            continue
        if key is None:
            out.append(
                Problem(
                    f"{where}.ai_model",
                    f"tenant '{tenant}' has no AI gateway key: ask the platform team for gateway.ai.keys[] "
                    f"{{tenant: {tenant}, models: [{x.ai_model}]}}",
                )
            )
        elif x.ai_model not in key.models:
            out.append(Problem(f"{where}.ai_model", f"the tenant's key allows {key.models}, not '{x.ai_model}'"))
    return out


def check_federation(cfg: Platform) -> list[Problem]:
    """MCP tool federation per tenant and A2A routes on the AI gateway: behind the gateway's JWT provider, granting
    only tools the servers have and no destructive platform tool (no approval step at the gateway)."""
    ai, base = cfg.gateway.ai, f"{ROOT}.gateway.ai"
    out: list[Problem] = []
    if not (ai.mcp or ai.a2a):
        return out
    if not ai.enabled:
        return [Problem(f"{base}.{'mcp' if ai.mcp else 'a2a'}", "the AI gateway is off: set gateway.ai.enabled: true")]
    if cfg.gateway.jwt is None:
        out.append(
            Problem(
                f"{base}.{'mcp' if ai.mcp else 'a2a'}",
                "MCP and A2A on the AI gateway are behind JWT authentication: set gateway.jwt {issuer, jwks_url}",
            )
        )
    tenants = {t.name for t in cfg.tenants}
    servers = {s.name: s for s in cfg.kagent.mcp_servers}
    out += duplicates(list(ai.mcp), "tenant", f"{base}.mcp")
    for i, fed in enumerate(ai.mcp):
        where = f"{base}.mcp[{i}]"
        if fed.tenant not in tenants:
            out.append(Problem(f"{where}.tenant", unknown_ref("tenant", fed.tenant, tenants, "tenants")))
        out += duplicates(list(fed.grants), "server", f"{where}.grants")
        for j, g in enumerate(fed.grants):
            server = servers.get(g.server)
            if server is None:
                out.append(
                    Problem(
                        f"{where}.grants[{j}].server",
                        unknown_ref("MCP server", g.server, servers, "kagent.mcp_servers"),
                    )
                )
                continue
            unknown = [t for t in g.tools if server.tools and t not in server.tools]
            if unknown:
                out.append(
                    Problem(
                        f"{where}.grants[{j}].tools",
                        f"{unknown} are not tools of '{g.server}' (kagent.mcp_servers[].tools: {server.tools})",
                    )
                )
            destructive = [t for t in g.tools if server.kind == "platform" and RUNTIME_MCP_TOOLS.get(t)]
            if destructive:
                out.append(
                    Problem(
                        f"{where}.grants[{j}].tools",
                        f"{destructive} change the cluster and the gateway has no approval step: grant read-only "
                        "tools, or give the tenant an agent with require_approval",
                    )
                )
    agents = {a.name: a for a in cfg.kagent.agents}
    for i, name in enumerate(ai.a2a):
        a = agents.get(name)
        if a is None:
            out.append(Problem(f"{base}.a2a[{i}]", unknown_ref("agent", name, agents, "kagent.agents")))
        elif not a.expose:
            out.append(Problem(f"{base}.a2a[{i}]", f"agent {name} is not exposed: set expose: true on it first"))
    return out


def check_inference_pools(cfg: Platform) -> list[Problem]:
    """``routing: inference_pool``: vLLM behind the AI gateway, one or more variants without Flagger."""
    out: list[Problem] = []
    ai = cfg.gateway.ai
    hosted = {p.model for p in ai.providers if p.kind == "self_hosted"}
    for i, m in enumerate(cfg.models):
        where = f"{ROOT}.models[{i}]"
        if m.routing == "service":
            if m.endpoint_picker is not None:
                out.append(Problem(f"{where}.endpoint_picker", "only for routing: inference_pool: remove it"))
            continue
        why = ""
        if m.engine != "vllm":
            why = (
                "the llm-d endpoint picker reads vLLM's metrics (queue, KV cache): use engine: vllm or routing: service"
            )
        elif not (cfg.gateway.enabled and ai.enabled):
            why = (
                "an InferencePool is reached through the AI gateway (agentgateway implements the Inference "
                "Extension; kgateway here does not): set gateway.ai.enabled: true, or routing: service"
            )
        elif m.name not in hosted:
            why = f"nothing calls the pool: add gateway.ai.providers[] {{kind: self_hosted, model: {m.name}}}"
        elif m.rollout is not None:
            why = (
                "Flagger shifts Service weights, not InferencePool weights: remove rollout and weight the variants "
                "(variants[].weight: the AI route splits across the variants' pools)"
            )
        elif m.multi_node:
            why = "a multi-node model is served by its leader pods: use routing: service"
        if why:
            out.append(Problem(f"{where}.routing", why))
    split = {m.name for m in cfg.models if m.routing == "inference_pool" and len(m.variants) > 1}
    for i, am in enumerate(ai.models):
        mine = {p.model for g in am.groups for n in g if (p := provider_of(cfg, n)) and p.model in split}
        if len(mine) > 1:
            out.append(
                Problem(
                    f"{ROOT}.gateway.ai.models[{i}].groups",
                    f"{sorted(mine)} each split over their variants' pools; one model's route can follow one of "
                    "them: give the others one variant",
                )
            )
    return out


def _check_keys(cfg: Platform) -> list[Problem]:
    ai, base = cfg.gateway.ai, f"{ROOT}.gateway.ai.keys"
    out: list[Problem] = []
    models = {m.name: m for m in ai.models}
    tenants = {t.name: t for t in cfg.tenants}
    mcs = {mc.name: mc for mc in cfg.kagent.model_configs}
    agents = {a.name: a for a in cfg.kagent.agents}
    out += duplicates(list(ai.keys), "consumer", base)
    for i, k in enumerate(ai.keys):
        where = f"{base}[{i}]"
        allowed: set[str] | None = None
        if k.tenant is not None:
            t = tenants.get(k.tenant)
            if t is None:
                out.append(Problem(f"{where}.tenant", unknown_ref("tenant", k.tenant, tenants, "tenants")))
            else:  # a self-service tenant's stack syncs its key from the platform's facts
                allowed = set(t.allow.models)
        if k.model_config_name is not None and k.model_config_name not in mcs:
            out.append(
                Problem(
                    f"{where}.model_config",
                    unknown_ref("model config", k.model_config_name, mcs, "kagent.model_configs"),
                )
            )
        if k.agent is not None:
            a = agents.get(k.agent)
            if a is None:
                out.append(Problem(f"{where}.agent", unknown_ref("agent", k.agent, agents, "kagent.agents")))
            elif a.type != "BYO":
                out.append(
                    Problem(
                        f"{where}.agent",
                        f"agent {k.agent} is declarative: kagent gives it the key of "
                        f"its model config; key model_config: {a.model_config_ref} instead",
                    )
                )
        for j, name in enumerate(k.models):
            if name not in models:
                out.append(
                    Problem(f"{where}.models[{j}]", unknown_ref("AI gateway model", name, models, "gateway.ai.models"))
                )
            elif allowed is not None and not _within(cfg, name, allowed):
                out.append(
                    Problem(
                        f"{where}.models[{j}]",
                        f"'{name}' is not in tenant {k.tenant}'s allowance "
                        f"(tenants[].allow.models: {sorted(allowed)}): allow it there or remove it",
                    )
                )
        if k.budget_usd_per_day is not None:
            out += _check_budget(cfg, k, f"{where}.budget_usd_per_day")
    limited = [k for k in ai.keys if k.tokens_per_minute or k.budget_usd_per_day]
    if len(limited) > MAX_LIMITED_KEYS:
        out.append(
            Problem(
                base,
                f"{len(limited)} keys have tokens_per_minute or a budget; agentgateway's conditional rate limit "
                f"holds {MAX_LIMITED_KEYS}: give the rest no limit or share a key",
            )
        )
    for i, mc in enumerate(cfg.kagent.model_configs):
        if calls_outside(mc):  # a provider, called directly
            out.append(
                Problem(
                    f"{ROOT}.kagent.model_configs[{i}]",
                    f"the AI gateway is on, so agents do not call {mc.provider} directly (no provider keys or "
                    "internet egress in agents): serve the model in gateway.ai.models and set provider: OpenAI, "
                    "ai_model: <its name>, with a key in gateway.ai.keys",
                )
            )
    keyed = {k.model_config_name for k in ai.keys} | {k.agent for k in ai.keys}
    for i, a in enumerate(cfg.kagent.agents):
        where = f"{ROOT}.kagent.agents[{i}].ai_model"
        if a.ai_model is None:
            continue
        if a.llm_model is not None:
            out.append(Problem(where, "an agent calls one LLM endpoint: set llm_model or ai_model, not both"))
        if a.ai_model not in models:
            out.append(Problem(where, unknown_ref("AI gateway model", a.ai_model, models, "gateway.ai.models")))
        elif a.name not in keyed:
            out.append(
                Problem(
                    where, f"needs a virtual key: add gateway.ai.keys[] {{agent: {a.name}, models: [{a.ai_model}]}}"
                )
            )
    for i, k in enumerate(ai.keys):
        agent = next((a for a in cfg.kagent.agents if a.name == k.agent), None)
        if agent is not None and agent.type == "BYO" and agent.ai_model is None:
            out.append(
                Problem(
                    f"{ROOT}.gateway.ai.keys[{i}].agent",
                    f"agent {k.agent} does not call the AI gateway, so its key would go unused: set its ai_model",
                )
            )
    for i, mc in enumerate(cfg.kagent.model_configs):
        where = f"{ROOT}.kagent.model_configs[{i}].ai_model"
        if mc.ai_model is None:
            continue
        if mc.ai_model not in models:
            out.append(Problem(where, unknown_ref("AI gateway model", mc.ai_model, models, "gateway.ai.models")))
        elif mc.name not in keyed:
            out.append(
                Problem(
                    where,
                    f"needs a virtual key: add gateway.ai.keys[] {{model_config: {mc.name}, "
                    f"models: [{mc.ai_model}], tokens_per_minute: ...}}",
                )
            )
        if mc.provider != "OpenAI":
            out.append(Problem(where, "the AI gateway speaks the OpenAI API: set provider: OpenAI"))
        if mc.platform_model or mc.base_url or mc.api_key:
            out.append(
                Problem(
                    where, "the AI gateway is the endpoint and the key: remove platform_model, base_url and api_key"
                )
            )
    return out


def _check_budget(cfg: Platform, k: AiKey, where: str) -> list[Problem]:
    """A budget is counted in the platform's Redis (agentgateway 1.4 has no database of its own), in the prices of
    the providers its models reach."""
    out: list[Problem] = []
    if not cfg.data.redis.enabled:
        out.append(
            Problem(
                where,
                f"agentgateway {AGENTGATEWAY.version} counts budgets in the platform's Redis (Envoy's rate limit "
                "service), which is off: set data.redis.enabled: true, or use tokens_per_minute alone",
            )
        )
    models = [m for m in cfg.gateway.ai.models if m.name in k.models]
    priced = [
        p.name
        for m in models
        for g in m.groups
        for n in g
        if (p := provider_of(cfg, n)) and p.price is not None and p.kind != "self_hosted"
    ]
    if models and not priced:
        out.append(
            Problem(
                where,
                "none of the key's models reaches a provider with a price, so nothing would count against the "
                "budget: set gateway.ai.providers[].price on its bedrock/openai/anthropic providers",
            )
        )
    return out


def _within(cfg: Platform, name: str, allowed: set[str]) -> bool:
    """A tenant may call an AI model whose self-hosted providers are all platform models in its allowance; provider
    models (Bedrock, OpenAI, Anthropic) follow the model's name in the allowance."""
    model = next(m for m in cfg.gateway.ai.models if m.name == name)
    hosted = {p.model for g in model.groups for n in g if (p := provider_of(cfg, n)) and p.kind == "self_hosted"}
    return name in allowed or (bool(hosted) and hosted <= allowed)
