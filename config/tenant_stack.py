"""Self-service tenant stacks: ``agentic-platform:tenant`` in ``Pulumi.tenant-<name>.yaml``.

A team's stack holds only its slice: namespace quota and limits, its people, which platform models and data stores
its agents use, and the agents. The platform stack publishes what each tenant may have (stack output ``tenancy``,
modelled here as :class:`PlatformFacts`); :func:`check_against` holds the tenant config to it. Neither the team's
file nor its pull request can lift a guardrail: the allowance lives in the platform stack, owned by the platform team.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, ValidationError

from config.agent_rules import AgentEnv, check_agents, check_model_configs, check_servers
from config.agents import Agent, McpServer, ModelConfigSpec, PersonAccess
from config.base import ConfigError, DnsLabel, NonEmpty, Problem, Strict, quantity
from config.tenancy import LAYERS, RESERVED_NAMESPACES, LimitRange, Quota, TenantAllowance
from config.validate import problems_from_pydantic, shape_problems

TENANT_ROOT = "tenant"
KEY = "tenant"
#: Version of the platform's ``tenancy`` output this code reads; the platform bumps it on incompatible changes.
FACTS_VERSION = 1
STACK_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$"


class TenantUses(Strict):
    redis: bool = Field(default=False, description="Session memory: Secret redis-connection (if the platform allows)")
    milvus: bool = Field(default=False, description="Knowledge base: Secret milvus-connection (if the platform allows)")


class TenantPerson(PersonAccess):
    """An IAM principal of the team: an EKS access entry in its tenant's groups, scoped to its namespace."""

    role: Literal["admin", "viewer"] = "viewer"  # type: ignore[assignment]


class TenantStack(Strict):
    """Root of ``agentic-platform:tenant``: one team's self-service stack."""

    name: DnsLabel = Field(description="The tenant's name in the platform stack's tenants[] (namespace tenant-<name>)")
    platform_stack: str = Field(pattern=STACK_PATTERN, description="<org>/<project>/<stack> of the platform")
    quota: Quota
    limit_range: LimitRange = LimitRange()
    pod_security: Literal["baseline", "restricted"] = "baseline"
    admin_groups: list[NonEmpty] = Field(default_factory=list, description="More Kubernetes groups bound to admin")
    viewer_groups: list[NonEmpty] = Field(default_factory=list)
    access: list[TenantPerson] = Field(default_factory=list, description="IAM principals -> EKS access entries")
    uses: TenantUses = TenantUses()
    models: list[DnsLabel] = Field(default_factory=list, description="Platform models the agents call (gateway)")
    model_configs: list[ModelConfigSpec] = Field(default_factory=list)
    mcp_servers: list[McpServer] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"tenant-{self.name}"

    def groups(self, role: str) -> list[str]:
        """Kubernetes groups bound to the tenant's ``role`` (admin or viewer): the access entries' group first."""
        extra = self.admin_groups if role == "admin" else self.viewer_groups
        return [f"agentic:{self.namespace}:{role}", *extra]


# --- what the platform publishes ----------------------------------------------------------------------------------


class GatewayTokenFacts(Strict):
    aws_secret_name: str
    key: str


#: the Secret a tenant stack syncs its gateway token into; its model configs present it as their API key
GATEWAY_TOKEN_SECRET = "gateway-token"


class TenantFacts(Strict):
    namespace: str
    self_service: bool
    quota: Quota
    allow: TenantAllowance
    data_ports: list[int] = Field(default_factory=list)
    vpc_service_ports: list[int] = Field(default_factory=list)
    gateway_token: GatewayTokenFacts | None = None


class GatewayFacts(Strict):
    name: str
    namespace: str
    url: str
    model_header: str
    jwt: bool = False


class ModelFacts(Strict):
    hf_model: str
    header: str
    engine: str


class RedisFacts(Strict):
    host: str
    tls: bool
    aws_secret_name: str
    generation: int


class MilvusFacts(Strict):
    data_namespace: str
    aws_secret_name: str
    embedding_env: dict[str, str] = Field(default_factory=dict)  # the knowledge base's embedding model for agents


class PlatformFacts(Strict):
    """Stack output ``tenancy`` of a platform stack: everything a tenant stack builds on."""

    version: int
    environment: str
    cluster_name: str
    region: str
    vpc_cidr: str | None = None
    namespaces: dict[str, str]
    tenant_namespaces: list[str]
    gateway: GatewayFacts | None = None
    models: dict[str, ModelFacts] = Field(default_factory=dict)
    redis: RedisFacts | None = None
    milvus: MilvusFacts | None = None
    secrets_refresh: str = "1h"
    runtime_image: str | None = None
    runtime_auth_env: dict[str, str] = Field(default_factory=dict)
    otel_endpoint: str | None = None
    prometheus: bool = False
    kagent_line: str | None = None
    tenants: dict[str, TenantFacts]


def parse_facts(raw: Any, platform_stack: str, tenant: str | None = None) -> PlatformFacts:
    """The platform's ``tenancy`` output, or ConfigError naming what the platform stack lacks. With ``tenant``, only
    that tenant's allowance is validated (a platform of 200 tenants costs each tenant stack nothing more)."""
    where = f"platform stack {platform_stack}"
    if isinstance(raw, str):  # the platform publishes it as one JSON string
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ConfigError(
                [Problem(f"{TENANT_ROOT}.platform_stack", f"{where}: output 'tenancy' is not JSON")]
            ) from None
    if raw is None:
        raise ConfigError(
            [
                Problem(
                    f"{TENANT_ROOT}.platform_stack",
                    f"{where} has no output 'tenancy': run `pulumi up` "
                    "on it with an agentic-platform version that publishes tenant allowances",
                )
            ]
        )
    if not isinstance(raw, dict):
        raise ConfigError([Problem(f"{TENANT_ROOT}.platform_stack", f"{where}: output 'tenancy' is not a mapping")])
    if raw.get("version") not in (None, FACTS_VERSION):
        raise ConfigError(
            [
                Problem(
                    f"{TENANT_ROOT}.platform_stack",
                    f"{where} publishes tenancy version "
                    f"{raw.get('version')}; this code reads version {FACTS_VERSION}: upgrade",
                )
            ]
        )
    tenants = raw.get("tenants")
    if tenant is not None and isinstance(tenants, dict) and tenant in tenants:
        raw = {**raw, "tenants": {tenant: tenants[tenant]}}
    try:
        return PlatformFacts.model_validate(raw)
    except ValidationError as exc:
        problems = problems_from_pydantic(exc, PlatformFacts, f"{where}: output tenancy")
        raise ConfigError(
            [Problem(f"{TENANT_ROOT}.platform_stack", f"{p.path}: {p.message}") for p in problems]
        ) from None


# --- rules --------------------------------------------------------------------------------------------------------


def check_static(cfg: TenantStack, stack: str | None) -> list[Problem]:
    """What is wrong whatever the platform allows."""
    r = TENANT_ROOT
    out: list[Problem] = []
    if stack is not None and stack.rsplit("/", 1)[-1] != f"tenant-{cfg.name}":
        out.append(
            Problem(
                f"{r}.name",
                f"stack '{stack}' holds tenant '{cfg.name}': a tenant's stack is named "
                f"tenant-<name> (one stack per tenant), so name it tenant-{cfg.name}",
            )
        )
    if cfg.name in set(LAYERS) | set(RESERVED_NAMESPACES) or cfg.name.startswith(("tenant-", "kube-")):
        out.append(Problem(f"{r}.name", f"'{cfg.name}' is a platform layer or system name: use the team's name"))
    if len(cfg.namespace) > 63:
        out.append(Problem(f"{r}.name", f"namespace '{cfg.namespace}' would exceed 63 characters"))
    for i, mc in enumerate(cfg.model_configs):
        p = f"{r}.model_configs[{i}]"
        if mc.platform_model is None:
            out.append(
                Problem(
                    f"{p}.platform_model",
                    "a tenant stack calls models through the platform gateway: set "
                    "platform_model (one of tenant.models)",
                )
            )
        elif mc.platform_model not in cfg.models:
            out.append(Problem(f"{p}.platform_model", f"'{mc.platform_model}' is not in tenant.models: add it there"))
        if mc.api_key is not None:
            out.append(Problem(f"{p}.api_key", "tenant stacks create no credentials: ask the platform team"))
    for i, s in enumerate(cfg.mcp_servers):
        if s.kind == "platform":
            out.append(
                Problem(
                    f"{r}.mcp_servers[{i}].kind",
                    "the platform MCP server belongs to the platform stack: use remote or kmcp",
                )
            )
    for i, a in enumerate(cfg.agents):
        p = f"{r}.agents[{i}]"
        if a.namespace not in (None, cfg.namespace):
            out.append(Problem(f"{p}.namespace", f"a tenant's agents live in {cfg.namespace}: remove namespace"))
        if a.secret_env:
            out.append(Problem(f"{p}.secret_env", "tenant stacks create no credentials: ask the platform team"))
        if a.expose:
            out.append(
                Problem(
                    f"{p}.expose",
                    "gateway routes live in the platform's gateway namespace: ask the "
                    "platform team to expose the agent",
                )
            )
        if a.aws.s3_read:
            out.append(Problem(f"{p}.aws", "IAM roles are made by the platform stack: ask the platform team"))
        if a.scaling is not None and a.scaling.kind != "hpa":
            out.append(Problem(f"{p}.scaling.kind", "KEDA scalers are the platform's: use hpa in a tenant stack"))
        if a.llm_model is not None and a.llm_model not in cfg.models:
            out.append(Problem(f"{p}.llm_model", f"'{a.llm_model}' is not in tenant.models: add it there"))
    seen: set[str] = set()
    for i, person in enumerate(cfg.access):
        if person.principal_arn in seen:
            out.append(Problem(f"{r}.access[{i}].principal_arn", "is listed twice: one role per principal"))
        seen.add(person.principal_arn)
    return out


def _quota_over(cfg: Quota, top: Quota, path: str, tenant: str) -> list[Problem]:
    out = []
    for f in ("requests_cpu", "requests_memory", "limits_cpu", "limits_memory"):
        if quantity(getattr(cfg, f)) > quantity(getattr(top, f)):
            out.append(
                Problem(
                    f"{path}.{f}",
                    f"{getattr(cfg, f)} is above the {getattr(top, f)} the platform allows tenant '{tenant}'",
                )
            )
    for f in ("gpus", "pods", "services", "persistentvolumeclaims"):
        if getattr(cfg, f) > getattr(top, f):
            what = "GPUs" if f == "gpus" else f
            out.append(
                Problem(
                    f"{path}.{f}",
                    f"{getattr(cfg, f)} {what} is more than the {getattr(top, f)} the "
                    f"platform allows tenant '{tenant}' (platform tenants[].quota.{f})",
                )
            )
    return out


def check_against(cfg: TenantStack, facts: PlatformFacts) -> list[Problem]:
    """The tenant config held to the platform's allowance for it."""
    r = TENANT_ROOT
    mine = facts.tenants.get(cfg.name)
    if mine is None:
        return [
            Problem(
                f"{r}.name",
                f"the platform stack {cfg.platform_stack} has no tenant '{cfg.name}' (its "
                f"tenants: {', '.join(sorted(facts.tenants)) or 'none'}): ask the platform team "
                "to add it to tenants[] with self_service: true",
            )
        ]
    if not mine.self_service:
        return [
            Problem(
                f"{r}.name",
                f"tenant '{cfg.name}' is managed by the platform stack itself (self_service: "
                "false): its namespace would have two owners",
            )
        ]
    if cfg.name in facts.namespaces.values():
        return [Problem(f"{r}.name", f"'{cfg.name}' is a platform namespace")]
    out = _quota_over(cfg.quota, mine.quota, f"{r}.quota", cfg.name)
    for i, m in enumerate(cfg.models):
        if m not in mine.allow.models:
            out.append(
                Problem(
                    f"{r}.models[{i}]",
                    f"tenant '{cfg.name}' may not call model '{m}' (allowed: {', '.join(mine.allow.models) or 'none'})",
                )
            )
        elif m not in facts.models:
            out.append(Problem(f"{r}.models[{i}]", f"the platform stack serves no model '{m}'"))
    if (cfg.models or cfg.model_configs) and facts.gateway is None:
        out.append(Problem(f"{r}.models", "the platform's gateway is disabled: no model can be reached"))
    jwt = facts.gateway is not None and facts.gateway.jwt
    if jwt and cfg.model_configs and mine.gateway_token is None:
        out.append(
            Problem(
                f"{r}.model_configs",
                f"the platform's gateway requires JWTs and tenant '{cfg.name}' has "
                "no gateway token: ask the platform team to set its "
                "tenants[].allow.gateway_token",
            )
        )
    for store in ("redis", "milvus"):
        if getattr(cfg.uses, store):
            if not getattr(mine.allow, store):
                out.append(
                    Problem(
                        f"{r}.uses.{store}",
                        f"tenant '{cfg.name}' may not use {store} (platform tenants[].allow.{store} is false)",
                    )
                )
            elif getattr(facts, store) is None:
                out.append(Problem(f"{r}.uses.{store}", f"the platform stack runs no {store}"))
    if len(cfg.agents) > mine.allow.max_agents:
        out.append(
            Problem(
                f"{r}.agents",
                f"{len(cfg.agents)} agents is more than the {mine.allow.max_agents} the "
                f"platform allows tenant '{cfg.name}' (tenants[].allow.max_agents)",
            )
        )
    if cfg.agents and facts.kagent_line is None:
        out.append(Problem(f"{r}.agents", "the platform stack runs no kagent"))
    env = AgentEnv(
        models=frozenset(cfg.models),
        redis=facts.redis is not None,
        milvus=facts.milvus is not None,
        prometheus=facts.prometheus,
        gateway=False,
        gateway_jwt=False,  # behind a JWT gateway the stack injects the platform's token as api_key
        runtime_image=facts.runtime_image is not None,
        memory=False,
        namespaces=frozenset({cfg.namespace}),
        where=r,
        tenants={cfg.namespace: (f"{r}.uses", cfg.uses)},
    )
    out += check_model_configs(list(cfg.model_configs), env, r)
    out += check_servers(list(cfg.mcp_servers), env, r)
    placed = [a.model_copy(update={"namespace": cfg.namespace}) for a in cfg.agents]
    out += check_agents(placed, list(cfg.model_configs), list(cfg.mcp_servers), env, r)
    return out


def parse_tenant(raw: Any, source: str = "", stack: str | None = None) -> TenantStack:
    """Validate ``agentic-platform:tenant``: the typed model, or ConfigError with every problem."""
    if not isinstance(raw, dict):
        raise ConfigError([Problem(TENANT_ROOT, f"must be a mapping, got {type(raw).__name__}")], source)
    shape = shape_problems(raw, TENANT_ROOT)
    if shape:
        raise ConfigError(shape, source)
    try:
        cfg = TenantStack.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems_from_pydantic(exc, TenantStack, TENANT_ROOT), source) from None
    problems = check_static(cfg, stack)
    if problems:
        raise ConfigError(problems, source)
    return cfg


def validated(cfg: TenantStack, facts_raw: Any) -> PlatformFacts:
    """The platform's facts, after checking the tenant config against them (ConfigError lists every problem)."""
    facts = parse_facts(facts_raw, cfg.platform_stack, cfg.name)
    problems = check_against(cfg, facts)
    if problems:
        raise ConfigError(problems, f"tenant stack {cfg.name} against {cfg.platform_stack}")
    return facts
