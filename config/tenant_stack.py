"""Self-service tenant stacks: ``agentic-platform:tenant`` in ``Pulumi.tenant-<name>.yaml``.

A team's stack holds only its slice: namespace quota and limits, its people, which platform models and data stores
its agents use, and the agents. The platform stack publishes what each tenant may have (stack output ``tenancy``,
modelled here as :class:`PlatformFacts`); :func:`check_against` holds the tenant config to it. Neither the team's
file nor its pull request can lift a guardrail: the allowance lives in the platform stack, owned by the platform team.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, ValidationError

from config.agent_rules import AgentEnv, check_agents, check_model_configs, check_servers
from config.agents import Agent, McpServer, ModelConfigSpec, PersonAccess
from config.ai_gateway_rules import check_tenant_ai
from config.base import ConfigError, DnsLabel, NonEmpty, Problem, Strict, quantity
from config.egress import needs
from config.tenancy import LAYERS, RESERVED_NAMESPACES, LimitRange, Quota
from config.tenant_facts import (  # noqa: F401  (re-exported: the tenant stack's readers import them from here)
    FACTS_VERSION,
    GATEWAY_TOKEN_SECRET,
    TENANT_ROOT,
    GatewayFacts,
    GatewayTokenFacts,
    MilvusFacts,
    ModelFacts,
    PlatformFacts,
    RedisFacts,
    TenantFacts,
    parse_facts,
)
from config.validate import problems_from_pydantic, shape_problems

KEY = "tenant"
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
        if mc.platform_model is None and mc.ai_model is None:
            out.append(
                Problem(
                    f"{p}.platform_model",
                    "a tenant stack calls models through the platform gateway: set "
                    "platform_model (one of tenant.models), or ai_model (the AI gateway, with the tenant's key)",
                )
            )
        elif mc.platform_model is not None and mc.platform_model not in cfg.models:
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
    out += _group_problems(cfg)
    out += fit_problems(cfg)
    seen: set[str] = set()
    for i, person in enumerate(cfg.access):
        if person.principal_arn in seen:
            out.append(Problem(f"{r}.access[{i}].principal_arn", "is listed twice: one role per principal"))
        seen.add(person.principal_arn)
    return out


def _group_problems(cfg: TenantStack) -> list[Problem]:
    """RBAC groups a tenant may bind: not Kubernetes' own (system:*), not the platform's or another tenant's."""
    out = []
    own = f"agentic:{cfg.namespace}:"
    for field in ("admin_groups", "viewer_groups"):
        for i, group in enumerate(getattr(cfg, field)):
            if group.startswith("system:"):
                why = "system: groups are Kubernetes' own (system:masters is cluster-admin)"
            elif group.startswith("agentic:") and not group.startswith(own):
                why = "agentic: groups belong to the platform and to other tenants"
            else:
                continue
            out.append(Problem(f"{TENANT_ROOT}.{field}[{i}]", f"'{group}': {why}; bind your team's own group"))
    return out


def _pods_and_requests(cfg: TenantStack) -> list[tuple[str, int, str, str]]:
    """(config path, pods at most, cpu request, memory request) of everything the stack runs in its namespace."""
    lr = cfg.limit_range
    out = []
    for i, a in enumerate(cfg.agents):
        pods = a.scaling.max_replicas if a.scaling is not None else (a.replicas if a.replicas is not None else 1)
        out.append((f"{TENANT_ROOT}.agents[{i}]", pods, a.cpu, a.memory))
    for i, s in enumerate(cfg.mcp_servers):
        if s.kind == "kmcp":  # a Deployment of one pod, sized by the LimitRange's defaults
            out.append((f"{TENANT_ROOT}.mcp_servers[{i}]", 1, lr.default_request_cpu, lr.default_request_memory))
    return out


def fit_problems(cfg: TenantStack) -> list[Problem]:
    """What the stack runs must fit its own LimitRange and ResourceQuota, counted at the most replicas it may scale
    to: the API server would refuse the pods otherwise, after `pulumi up` reported success."""
    r, lr, q = TENANT_ROOT, cfg.limit_range, cfg.quota
    out = []
    for i, a in enumerate(cfg.agents):
        for res in ("cpu", "memory"):
            if quantity(getattr(a, res)) > quantity(getattr(lr, f"max_{res}")):
                out.append(
                    Problem(
                        f"{r}.agents[{i}].{res}",
                        f"{getattr(a, res)} is above the LimitRange's max_{res} ({getattr(lr, f'max_{res}')}): "
                        "the pod would be refused",
                    )
                )
    workloads = _pods_and_requests(cfg)
    pods = sum(n for _, n, _, _ in workloads)
    if pods > q.pods:
        out.append(
            Problem(f"{r}.quota.pods", f"the agents and MCP servers may run {pods} pods, more than pods: {q.pods}")
        )
    default_cpu_limit = quantity(lr.default_cpu)  # agents set no CPU limit: the LimitRange's default applies
    totals: dict[str, Decimal] = {
        "requests_cpu": sum((n * quantity(cpu) for _, n, cpu, _ in workloads), Decimal(0)),
        "requests_memory": sum((n * quantity(mem) for _, n, _, mem in workloads), Decimal(0)),
        "limits_cpu": pods * default_cpu_limit,
        "limits_memory": sum((n * quantity(mem) for _, n, _, mem in workloads), Decimal(0)),  # limit = request
    }
    for key, total in totals.items():
        if total > quantity(getattr(q, key)):
            need = f"{total.normalize():f} cores" if key.endswith("cpu") else f"{total / 2**20:.0f}Mi"
            out.append(
                Problem(
                    f"{r}.quota.{key}",
                    f"is {getattr(q, key)}, but the agents and MCP servers at their most replicas need "
                    f"{need}: raise it or lower replicas, cpu or memory",
                )
            )
    return out


def _egress_over(cfg: TenantStack, allowed: list[str]) -> list[Problem]:
    """Each destination a tenant's agent would reach outside the cluster must be within the platform's allowance."""
    nets = [ipaddress.ip_network(c) for c in allowed]
    mcs = {m.name: m for m in cfg.model_configs}
    servers = {s.name: s for s in cfg.mcp_servers}
    out = []
    for i, a in enumerate(cfg.agents):
        refused: dict[tuple[str, str], list[int]] = {}
        for block, port, why in needs(a, mcs, servers):
            net = ipaddress.ip_network(block["cidr"])
            if not any(net.subnet_of(n) for n in nets):  # type: ignore[arg-type]
                refused.setdefault((block["cidr"], why), []).append(port)
        for (cidr, why), ports in refused.items():
            path = f"{TENANT_ROOT}.agents[{i}]" + (".egress" if why == "agents[].egress" else "")
            out.append(
                Problem(
                    path,
                    f"needs {cidr} port {', '.join(map(str, ports))} outside the cluster ({why}); the platform "
                    f"allows tenant '{cfg.name}' {', '.join(allowed) or 'no destination outside the cluster'} "
                    "(platform tenants[].allow.egress)",
                )
            )
    return out


def check_platform_stack(cfg: TenantStack, organization: str, project: str) -> list[Problem]:
    """The platform stack must be of this organization and project: a tenant cannot build on a stack (and its
    allowance) published elsewhere."""
    org, proj, _ = cfg.platform_stack.split("/")
    if (org, proj) != (organization, project):
        return [
            Problem(
                f"{TENANT_ROOT}.platform_stack",
                f"'{cfg.platform_stack}' is outside this organization and project ({organization}/{project}): "
                f"use {organization}/{project}/<platform stack>",
            )
        ]
    return []


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
    admins = set(facts.admins)
    for i, person in enumerate(cfg.access):
        if person.principal_arn in admins:
            out.append(
                Problem(
                    f"{r}.access[{i}].principal_arn",
                    "is a cluster admin of the platform (cluster.admins): a tenant stack cannot take over its "
                    "access entry; list the team's own principals",
                )
            )
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
    out += check_tenant_ai(list(cfg.model_configs), list(cfg.agents), mine.ai_key, cfg.name, r)
    if jwt and any(mc.platform_model for mc in cfg.model_configs) and mine.gateway_token is None:
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
    out += _egress_over(cfg, mine.allow.egress)
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
