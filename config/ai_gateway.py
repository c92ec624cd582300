"""The AI gateway (``gateway.ai``): agentgateway as an opt-in second GatewayClass beside kgateway, for LLM egress
(provider backends in priority groups with health-based ejection), virtual keys with model allow-lists, token rate
limits and spend budgets, and prompt guards (its rules: config.ai_gateway_rules).

One source per fact: a provider's price (USD per million tokens) feeds agentgateway's model cost catalog, which feeds
both the cost metric and the budgets; a tenant's models come from ``tenants[].allow.models``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from config.base import DnsLabel, HttpUrl, NonEmpty, Strict
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


class PoolAnalysis(Strict):
    """How a variant's pool is judged against the primary's while the AI route splits over them (Prometheus rules;
    the alert says when to set its weight back to 0)."""

    max_error_rate_percent: float = Field(default=1.0, gt=0, le=100, description="5xx at the AI gateway, per variant")
    max_latency_ratio: float = Field(default=1.5, gt=1, le=10, description="p95 vs the primary's (vLLM end to end)")
    window: str = Field(default="5m", pattern=r"^[1-9][0-9]{0,2}m$")


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
    analysis: PoolAnalysis = Field(default_factory=PoolAnalysis, description="Variants split by weight: alerts")


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
    identifier: NonEmpty = Field(
        max_length=2048,
        pattern=r"^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$",
        description="The guardrail's id or ARN (Bedrock's ApplyGuardrail guardrailIdentifier)",
    )
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


#: A JWT claim path (``tenant``, ``org.team``): it lands in CEL as ``jwt.<claim>``, so only names and dots.
CLAIM = r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62}){0,3}$"
ToolName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]


class McpGrant(Strict):
    server: DnsLabel = Field(description="kagent.mcp_servers[].name")
    tools: list[ToolName] = Field(min_length=1, max_length=64, description="The tools of that server it may call")


class McpFederation(Strict):
    """One MCP endpoint per tenant on the AI gateway (``/mcp/<tenant>``): it lists and calls only the granted tools,
    for callers whose JWT names the tenant (``gateway.ai.tenant_claim``)."""

    tenant: DnsLabel
    grants: list[McpGrant] = Field(min_length=1, max_length=32)


class AiGateway(Strict):
    enabled: bool = False
    name: DnsLabel = Field(default="llm-gateway", description="The agentgateway Gateway (and its proxy Service)")
    providers: list[AiProvider] = Field(default_factory=list)
    models: list[AiModel] = Field(default_factory=list)
    keys: list[AiKey] = Field(default_factory=list)
    eject_after_failures: int = Field(default=3, ge=1, le=100, description="Consecutive 5xx/429 before ejection")
    ejection_seconds: int = Field(default=30, ge=1, le=3600)
    guards: PromptGuards | None = None
    mcp: list[McpFederation] = Field(default_factory=list, description="Tool federation, behind gateway.jwt")
    a2a: list[DnsLabel] = Field(
        default_factory=list,
        description="Exposed agents (kagent.agents[].name, expose: true) reached at /a2a/<agent> on the AI gateway's "
        "agents listener (an internal NLB), behind gateway.jwt",
    )
    tenant_claim: str = Field(default="tenant", pattern=CLAIM, description="The JWT claim naming the caller's tenant")
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
