"""The AI gateway (``gateway.ai``): agentgateway as an opt-in second GatewayClass beside kgateway, for LLM egress
(provider backends in priority groups with health-based ejection), virtual keys with model allow-lists, token rate
limits and spend budgets, and prompt guards; plus the rules that tie it to the rest of the config.

One source per fact: a provider's price (USD per million tokens) feeds agentgateway's model cost catalog, which feeds
both the cost metric and the budgets; a tenant's models come from ``tenants[].allow.models``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from catalog.versions import AGENTGATEWAY
from config.base import ROOT, DnsLabel, HttpUrl, NonEmpty, Problem, Strict, duplicates, unknown_ref
from config.secrets import SecretRef

if TYPE_CHECKING:
    from config.platform import Platform

AiModelName = str
PROVIDER_KINDS = ("self_hosted", "bedrock", "openai", "anthropic")
BuiltinGuard = Literal["CreditCard", "Email", "PhoneNumber", "Ssn", "CaSin"]
#: AgentgatewayPolicy traffic.rateLimit.conditional holds at most 16 entries (CRD maxItems).
MAX_LIMITED_KEYS = 16
#: Budgets are counted in micro-dollars by Envoy's rate limit service, whose limits are uint32: 4294 USD a day at most.
MAX_BUDGET_USD = 4000


ROUTING = (
    "How the AI gateway reaches a self-hosted model: its variants' Services, or an InferencePool per variant whose "
    "llm-d endpoint picker chooses the replica from vLLM's queue and KV-cache metrics"
)


class EndpointPicker(Strict):
    """The llm-d endpoint picker of an ``inference_pool`` model (one per variant, chart-pinned)."""

    failure_mode: Literal["FailOpen", "FailClose"] = Field(
        default="FailOpen",
        description="When the picker cannot answer: any replica of the pool (FailOpen) or refuse (FailClose, the "
        "InferencePool API's spelling)",
    )
    replicas: int = Field(default=1, ge=1, le=5)
    cpu: str = Field(default="1", pattern=r"^[0-9]+(\.[0-9]+)?m?$", description="Requests (upstream asks 8 CPUs)")
    memory: str = Field(default="2Gi", pattern=r"^[0-9]+(Mi|Gi)$")


class Price(Strict):
    """USD per million tokens (agentgateway's model cost catalog): the cost metric and budgets count with it."""

    input: float = Field(ge=0, le=10_000)
    output: float = Field(ge=0, le=10_000)


class AiProvider(Strict):
    name: DnsLabel = Field(description="Referenced by gateway.ai.models[].groups")
    kind: Literal["self_hosted", "bedrock", "openai", "anthropic"]
    model: NonEmpty = Field(
        max_length=256, description="self_hosted: a platform model (platform.models[].name); else the provider's id"
    )
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", description="bedrock")
    api_key: SecretRef | None = Field(default=None, description="openai, anthropic: the key, in Secrets Manager")
    price: Price | None = None


class AiModel(Strict):
    """A model name clients send (``"model": ...``) and the providers that serve it, in priority groups: the first
    group takes the traffic while healthy; an ejected provider's requests go to the next group."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")
    groups: list[list[DnsLabel]] = Field(min_length=1, max_length=8)


class AiKey(Strict):
    """A virtual key: generated, kept in Secrets Manager, synced to its consumer's namespace (Secret ``ai-key-…``)."""

    tenant: DnsLabel | None = None
    model_config_name: DnsLabel | None = Field(
        default=None,
        alias="model_config",
        description="a kagent model config (kagent.model_configs[].name) with ai_model: the agents using it",
    )
    agent: DnsLabel | None = Field(default=None, description="a BYO agent (kagent.agents[].name) with ai_model")
    models: list[str] = Field(min_length=1, description="gateway.ai.models[].name this key may call")
    tokens_per_minute: int | None = Field(default=None, ge=1, le=100_000_000)
    budget_usd_per_day: float | None = Field(
        default=None,
        gt=0,
        le=MAX_BUDGET_USD,
        description="Spend per UTC day, priced by gateway.ai.providers[].price; counted in the platform's Redis",
    )
    generation: int = Field(default=1, ge=1, le=1_000_000, description="change to rotate the key")

    @model_validator(mode="after")
    def _one_consumer(self) -> AiKey:
        if sum(x is not None for x in (self.tenant, self.model_config_name, self.agent)) != 1:
            raise ValueError("name exactly one consumer: tenant, model_config or agent")
        return self

    @property
    def consumer(self) -> str:
        kind = "tenant" if self.tenant else "model-config" if self.model_config_name else "agent"
        return f"{kind}-{self.tenant or self.model_config_name or self.agent}"

    @property
    def secret_name(self) -> str:
        return f"ai-key-{self.consumer}"[:63].rstrip("-")


class GuardWebhook(Strict):
    url: HttpUrl | None = Field(default=None, description="The guard service, e.g. http://pii-guard.ai-gateway:8000")
    failure_mode: Literal["FailClosed", "FailOpen"] = "FailClosed"


class BedrockGuardrail(Strict):
    identifier: NonEmpty = Field(max_length=128)
    version: NonEmpty = Field(max_length=16)


class PromptGuards(Strict):
    builtins: list[BuiltinGuard] = Field(default_factory=lambda: list[BuiltinGuard](["CreditCard", "Ssn"]))
    patterns: list[str] = Field(default_factory=list, max_length=32, description="Extra regexes (e.g. secrets)")
    action: Literal["Reject", "Mask"] = Field(default="Reject", description="On a request match")
    responses: bool = Field(default=True, description="Also mask matches in responses")
    webhook: GuardWebhook | None = None
    bedrock_guardrail: BedrockGuardrail | None = None
    message: str = Field(default="Request blocked by the platform's prompt guard", max_length=500)
    status_code: int = Field(default=403, ge=400, le=499)


class AiGateway(Strict):
    enabled: bool = False
    name: DnsLabel = Field(default="llm-gateway", description="The agentgateway Gateway (and its proxy Service)")
    providers: list[AiProvider] = Field(default_factory=list)
    models: list[AiModel] = Field(default_factory=list)
    keys: list[AiKey] = Field(default_factory=list)
    eject_after_failures: int = Field(default=3, ge=1, le=100, description="Consecutive 5xx/429 before ejection")
    ejection_seconds: int = Field(default=30, ge=1, le=3600)
    guards: PromptGuards | None = None
    budget_failure_mode: Literal["FailClosed", "FailOpen"] = Field(
        default="FailClosed", description="When the budget counter (Redis) cannot answer: refuse calls or let them by"
    )


def key_ref(key: AiKey) -> SecretRef:
    """A virtual key's credential: generated by the stack, kept in Secrets Manager, synced to its consumer."""
    return SecretRef(name=key.secret_name, key="api-key", source="generated", generation=key.generation)


def key_consumer_namespace(cfg: Platform, key: AiKey) -> str:
    """Where a key's Secret is synced: the tenant's namespace or the agents' (the model config's or agent's)."""
    if key.tenant:
        return f"tenant-{key.tenant}"
    agents_ns = next((n.name for n in cfg.namespaces if n.layer == "agents"), "ai-agents")
    agent = next((a for a in cfg.kagent.agents if a.name == key.agent), None)
    return (agent.namespace if agent else None) or agents_ns


def budgets_counted(cfg: Platform) -> bool:
    """Whether the stack runs the AI gateway's budget counter (Envoy's rate limit service on the platform's Redis)."""
    ai = cfg.gateway.ai
    return cfg.gateway.enabled and ai.enabled and cfg.data.redis.enabled and any(k.budget_usd_per_day for k in ai.keys)


def provider_of(cfg: Platform, name: str) -> AiProvider | None:
    return next((p for p in cfg.gateway.ai.providers if p.name == name), None)


def check_ai_gateway(cfg: Platform) -> list[Problem]:
    ai, base = cfg.gateway.ai, f"{ROOT}.gateway.ai"
    out: list[Problem] = []
    if not ai.enabled:
        return out + [
            Problem(
                f"{ROOT}.kagent.model_configs[{i}].ai_model",
                "calls the AI gateway, which is off: set gateway.ai.enabled: true",
            )
            for i, mc in enumerate(cfg.kagent.model_configs)
            if mc.ai_model
        ]
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
            elif t.self_service:
                out.append(
                    Problem(
                        f"{where}.tenant",
                        f"tenant {k.tenant} is self-service: its stack cannot sync an AI "
                        "gateway key yet; give the key to a platform-managed tenant",
                    )
                )
            else:
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
        url = str(mc.base_url or mc.azure_endpoint or "")
        host = urlsplit(url).hostname or ""
        inside = bool(url) and (host.endswith((".svc", ".cluster.local")) or "." not in host)
        if mc.ai_model is None and mc.platform_model is None and not inside:  # a provider, called directly
            out.append(
                Problem(
                    f"{ROOT}.kagent.model_configs[{i}]",
                    f"the AI gateway is on, so agents do not call {mc.provider} directly (no provider keys or "
                    "internet egress in agents): serve the model in gateway.ai.models and set provider: OpenAI, "
                    "ai_model: <its name>, with a key in gateway.ai.keys",
                )
            )
    keyed = {k.model_config_name for k in ai.keys} | {k.agent for k in ai.keys}
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
