"""Cross-field rules of the agents config (``platform.kagent``): references resolve, providers get what they need,
MCP servers are used as their kind allows, BYO and Declarative options stay apart, scaling is coherent, tenants use
only the data stores they are allowed, and agents-as-tools form no cycle."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from catalog.runtime_tools import RBAC_UNSAFE_TOOLS, RUNTIME_MCP_TOOLS
from config.agents import agent_graph, database_mode, find_cycle, reserved_env, server_tools
from config.base import ROOT, Problem, duplicates, unknown_ref

#: What Kubernetes accepts as an environment variable name.
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")

if TYPE_CHECKING:
    from config.agents import Agent, McpServer, ModelConfigSpec
    from config.platform import Platform


@dataclass(frozen=True)
class AgentEnv:
    """What agent rules need from around the agents: the platform's config, or a tenant stack's view of it."""

    models: frozenset[str]
    redis: bool
    milvus: bool
    prometheus: bool
    gateway: bool
    gateway_jwt: bool
    runtime_image: bool
    memory: bool  # kagent's database has pgvector (RDS)
    namespaces: frozenset[str]
    #: tenant namespace -> (config path of the tenant's data-store flags, those flags)
    tenants: dict[str, tuple[str, Any]] = field(default_factory=dict)
    where: str = "platform.kagent"  # where model configs, servers and agents are declared (for hints)

    @staticmethod
    def of(cfg: Platform) -> AgentEnv:
        return AgentEnv(
            models=frozenset(m.name for m in cfg.models),
            redis=cfg.data.redis.enabled,
            milvus=cfg.data.milvus.enabled,
            prometheus=cfg.observability.prometheus,
            gateway=cfg.gateway.enabled,
            gateway_jwt=cfg.gateway.jwt is not None,
            runtime_image=cfg.agent_runtime.build,
            memory=database_mode(cfg) == "rds",
            namespaces=frozenset({ns.name for ns in cfg.namespaces} | {t.namespace for t in cfg.tenants}),
            tenants={t.namespace: (f"{ROOT}.tenants[{i}].allow", t.allow) for i, t in enumerate(cfg.tenants)},
        )


def check_model_configs(model_configs: list[ModelConfigSpec], env: AgentEnv, base: str) -> list[Problem]:
    out: list[Problem] = []
    models = env.models
    for i, mc in enumerate(model_configs):
        p = f"{base}.model_configs[{i}]"
        if mc.platform_model is not None:
            if mc.platform_model not in models:
                out.append(
                    Problem(f"{p}.platform_model", unknown_ref("model", mc.platform_model, models, "platform.models"))
                )
            if mc.provider != "OpenAI":
                out.append(Problem(f"{p}.provider", "platform models are served by vLLM: use provider 'OpenAI'"))
            if env.gateway_jwt and mc.api_key is None:
                out.append(
                    Problem(
                        f"{p}.api_key",
                        "the gateway requires JWTs (gateway.jwt): give the agents' token "
                        "as api_key (a credential reference) so kagent can call the model",
                    )
                )
        elif mc.ai_model is not None:
            pass  # the AI gateway's virtual key (config.ai_gateway checks it)
        elif mc.provider in ("OpenAI", "Anthropic", "AzureOpenAI", "Gemini") and mc.api_key is None:
            out.append(Problem(f"{p}.api_key", f"provider {mc.provider} needs an API key credential reference"))
        if mc.provider == "Bedrock":
            if not mc.bedrock_region:
                out.append(Problem(f"{p}.bedrock_region", "Bedrock model configs need a region (e.g. us-east-1)"))
            if mc.api_key is not None:
                out.append(Problem(f"{p}.api_key", "Bedrock uses the agent's Pod Identity role, never keys: remove it"))
        elif mc.bedrock_region:
            out.append(Problem(f"{p}.bedrock_region", f"only read for provider Bedrock (provider is {mc.provider})"))
        azure = [f for f in ("azure_endpoint", "azure_api_version", "azure_deployment") if getattr(mc, f)]
        if mc.provider == "AzureOpenAI" and not (mc.azure_endpoint and mc.azure_api_version):
            out.append(Problem(f"{p}.azure_endpoint", "AzureOpenAI needs azure_endpoint and azure_api_version"))
        elif mc.provider != "AzureOpenAI":
            out += [
                Problem(f"{p}.{f}", f"only read for provider AzureOpenAI (provider is {mc.provider})") for f in azure
            ]
        if mc.base_url and mc.platform_model:
            out.append(Problem(f"{p}.base_url", "a platform model is reached through the gateway: remove base_url"))
    return out


def check_servers(mcp_servers: list[McpServer], env: AgentEnv, base: str) -> list[Problem]:
    out: list[Problem] = []
    platform_servers = [s for s in mcp_servers if s.kind == "platform"]
    if len(platform_servers) > 1:
        out.append(Problem(f"{base}.mcp_servers", "only one platform MCP server (kube-agent-mcp) can exist"))
    for i, s in enumerate(mcp_servers):
        p = f"{base}.mcp_servers[{i}]"
        if s.kind == "remote" and not s.url:
            out.append(Problem(f"{p}.url", "a remote MCP server needs a url"))
        if s.kind == "kmcp" and not s.image:
            out.append(Problem(f"{p}.image", "a kmcp MCP server needs an image"))
        if s.kind != "remote" and s.url:
            out.append(Problem(f"{p}.url", f"a {s.kind} MCP server's URL is its Service: remove url"))
        if s.kind != "kmcp" and s.image:
            out.append(Problem(f"{p}.image", "only kmcp servers run an image: remove it"))
        if s.kind != "platform" and s.namespaces:
            out.append(Problem(f"{p}.namespaces", "only read for the platform MCP server"))
        if s.kind == "platform":
            if not env.runtime_image:
                out.append(
                    Problem(
                        f"{p}.kind", "the platform MCP server runs the platform's image: set agent_runtime.build true"
                    )
                )
            if not s.tools:
                out.append(
                    Problem(
                        f"{p}.tools",
                        "list the tools it serves (the platform MCP server serves only those; none listed would mean "
                        "every tool): e.g. [k8s_list_pods, k8s_get_pod_logs, k8s_get_events]",
                    )
                )
            unknown = [t for t in s.tools if t not in RUNTIME_MCP_TOOLS]
            if unknown:
                out.append(
                    Problem(
                        f"{p}.tools",
                        f"{unknown} are not tools of `agent-runtime mcp` ({', '.join(sorted(RUNTIME_MCP_TOOLS))})",
                    )
                )
            unsafe = sorted(RBAC_UNSAFE_TOOLS & set(s.tools))
            if unsafe:
                out.append(
                    Problem(
                        f"{p}.tools",
                        f"{unsafe}: listing Secrets needs RBAC 'list', which returns their "
                        "data too; the tool server gets no access to Secrets. Remove it",
                    )
                )
            for j, ns in enumerate(s.namespaces):
                if ns not in env.namespaces:
                    out.append(Problem(f"{p}.namespaces[{j}]", f"'{ns}' is not a layer or tenant namespace"))
    return out


def check_kagent(cfg: Platform) -> list[Problem]:
    k = cfg.kagent
    base = f"{ROOT}.kagent"
    out: list[Problem] = []
    for surface in ("a2a", "mcp"):
        if getattr(k.runtime_auth, surface) == "required" and not k.runtime_auth.jwks_url:
            out.append(
                Problem(
                    f"{base}.runtime_auth.{surface}",
                    "'required' needs runtime_auth.jwks_url (the identity provider's keys) to verify tokens",
                )
            )
    env = AgentEnv.of(cfg)
    out += check_model_configs(list(k.model_configs), env, base)
    out += check_servers(list(k.mcp_servers), env, base)
    if database_mode(cfg) == "bundled" and cfg.environment == "prod":
        out.append(
            Problem(
                f"{base}.database.mode",
                "prod keeps kagent's sessions in RDS: the bundled PostgreSQL has no backups or failover",
                severity="warning",
            )
        )
    out += check_agents(list(k.agents), list(k.model_configs), list(k.mcp_servers), env, base)
    admins = {a.principal_arn for a in cfg.cluster.admins}
    seen_principals: set[str] = set()
    for i, person in enumerate(k.access):
        p = f"{base}.access[{i}].principal_arn"
        if person.principal_arn in admins:
            out.append(Problem(p, "is already a cluster admin (cluster.admins): one access entry per principal"))
        if person.principal_arn in seen_principals:
            out.append(Problem(p, "is listed twice: one role per principal"))
        seen_principals.add(person.principal_arn)
    return out


def check_agents(
    agents_list: list[Agent],
    model_configs: list[ModelConfigSpec],
    mcp_servers: list[McpServer],
    env: AgentEnv,
    base: str,
) -> list[Problem]:
    """Every agent's references, options, data stores, scaling and tools; agents-as-tools acyclic."""
    out = duplicates(model_configs, "name", f"{base}.model_configs")
    out += duplicates(mcp_servers, "name", f"{base}.mcp_servers")
    out += duplicates(agents_list, "name", f"{base}.agents")
    mcs = {m.name: m for m in model_configs}
    models = env.models
    servers = {s.name: s for s in mcp_servers}
    agents = {a.name: a for a in agents_list}
    namespaces = env.namespaces
    tenants = env.tenants
    for i, a in enumerate(agents_list):
        p = f"{base}.agents[{i}]"
        if a.type == "Declarative":
            if a.model_config_ref is None:
                out.append(Problem(f"{p}.model_config", "a Declarative agent needs a model_config"))
            elif a.model_config_ref not in mcs:
                out.append(
                    Problem(
                        f"{p}.model_config",
                        unknown_ref("model config", a.model_config_ref, mcs, f"{env.where}.model_configs"),
                    )
                )
            if not a.system_message:
                out.append(Problem(f"{p}.system_message", "a Declarative agent needs a system_message"))
            for f in ("image", "llm_model", "ai_model", "env", "secret_env", "session_memory", "knowledge_base"):
                if f in a.model_fields_set and getattr(a, f):
                    out.append(Problem(f"{p}.{f}", "is a BYO option: kagent runs Declarative agents itself"))
            for f in ("kubernetes_tools", "kubernetes_secrets_list", "gitea"):
                if f in a.model_fields_set:
                    out.append(
                        Problem(f"{p}.{f}", "is a BYO option: a Declarative agent's tools come from its MCP servers")
                    )
            if a.memory_model_config is not None:
                if a.memory_model_config not in mcs:
                    out.append(
                        Problem(
                            f"{p}.memory_model_config",
                            unknown_ref("model config", a.memory_model_config, mcs, f"{env.where}.model_configs"),
                        )
                    )
                if not env.memory:
                    out.append(
                        Problem(
                            f"{p}.memory_model_config",
                            "kagent memory needs pgvector, which the bundled "
                            "PostgreSQL lacks: set kagent.database.mode rds",
                        )
                    )
        else:
            for f in ("system_message", "model_config", "memory_model_config"):
                if getattr(a, "model_config_ref" if f == "model_config" else f) is not None:
                    out.append(
                        Problem(
                            f"{p}.{f}",
                            "is a Declarative option: a BYO agent brings its own loop "
                            "(set llm_model for the platform model it calls)",
                        )
                    )
            if a.image is not None:
                for f in ("kubernetes_tools", "kubernetes_secrets_list", "gitea"):
                    if f in a.model_fields_set:
                        out.append(
                            Problem(
                                f"{p}.{f}",
                                "applies to the platform's agent-runtime image only: give your own image its RBAC "
                                "in your own manifests",
                            )
                        )
            for f in ("env", "secret_env"):
                for key in getattr(a, f):
                    if not ENV_NAME.fullmatch(key):
                        out.append(Problem(f"{p}.{f}.{key}", "is not an environment variable name ([-._a-zA-Z0-9])"))
                    elif reserved_env(key):
                        out.append(
                            Problem(
                                f"{p}.{f}.{key}",
                                "is set by the platform (namespace, identity, model route, data connections, auth, "
                                "telemetry, kagent, or how the process loads code): remove it",
                            )
                        )
            if a.kubernetes_secrets_list and not a.kubernetes_tools:
                out.append(Problem(f"{p}.kubernetes_secrets_list", "needs kubernetes_tools: true"))
            for f in ("tools", "skills"):
                if getattr(a, f):
                    out.append(
                        Problem(f"{p}.{f}", "is a Declarative option: a BYO agent serves its own tools and agent card")
                    )
            if a.image is None and not env.runtime_image:
                out.append(Problem(f"{p}.image", "BYO agent needs an image when agent_runtime.build is false"))
            if a.llm_model is not None and a.llm_model not in models:
                out.append(Problem(f"{p}.llm_model", unknown_ref("model", a.llm_model, models, "platform.models")))
            if a.session_memory and not env.redis:
                out.append(Problem(f"{p}.session_memory", "Redis is disabled (data.redis.enabled: false)"))
            if a.knowledge_base and not env.milvus:
                out.append(Problem(f"{p}.knowledge_base", "Milvus is disabled (data.milvus.enabled: false)"))
        ns = a.namespace
        if ns is not None and ns not in namespaces:
            out.append(Problem(f"{p}.namespace", f"namespace '{ns}' is not a layer or tenant namespace"))
        if ns in tenants:
            where, allow = tenants[ns]
            for store, wanted in (
                ("redis", a.session_memory or (a.scaling and a.scaling.kind == "keda-redis")),
                ("milvus", a.knowledge_base),
            ):
                if wanted and not getattr(allow, store):
                    out.append(
                        Problem(
                            f"{p}.{'session_memory' if store == 'redis' else 'knowledge_base'}",
                            f"tenant '{ns.removeprefix('tenant-')}' may not use {store}: allow it at {where}.{store}",
                        )
                    )
        if a.replicas is not None and a.scaling is not None:
            out.append(
                Problem(
                    f"{p}.replicas",
                    "set either replicas or scaling: with scaling the autoscaler owns the replica count",
                )
            )
        if a.scaling:
            sc = a.scaling
            if sc.min_replicas > sc.max_replicas:
                out.append(Problem(f"{p}.scaling", "min_replicas is greater than max_replicas"))
            if sc.kind == "keda-redis" and not sc.list_name:
                out.append(Problem(f"{p}.scaling.list_name", "keda-redis scales on a Redis list: name it"))
            if sc.kind == "keda-redis" and not env.redis:
                out.append(Problem(f"{p}.scaling.kind", "keda-redis needs Redis (data.redis.enabled)"))
            if sc.kind == "keda-sessions" and not env.prometheus:
                out.append(Problem(f"{p}.scaling.kind", "keda-sessions reads Prometheus (observability.prometheus)"))
            if sc.kind == "hpa" and sc.min_replicas == 0:
                out.append(Problem(f"{p}.scaling.min_replicas", "an HPA cannot scale to zero: use 1, or keda-*"))
        if a.expose and not env.gateway:
            out.append(Problem(f"{p}.expose", "the gateway is disabled (gateway.enabled: false)"))
        for j, t in enumerate(a.tools):
            tp = f"{p}.tools[{j}]"
            if (t.mcp_server is None) == (t.agent is None):
                out.append(Problem(tp, "set exactly one of mcp_server or agent"))
                continue
            if t.mcp_server is not None:
                server = servers.get(t.mcp_server)
                if server is None:
                    out.append(
                        Problem(
                            f"{tp}.mcp_server",
                            unknown_ref("MCP server", t.mcp_server, servers, f"{env.where}.mcp_servers"),
                        )
                    )
                    continue
                offered = set(server.tools) or set(server_tools(server) or ())
                unknown = [n for n in t.tool_names if offered and n not in offered]
                if unknown:
                    out.append(
                        Problem(
                            f"{tp}.tool_names",
                            f"{unknown} are not tools of '{server.name}' (offers {', '.join(sorted(offered))})",
                        )
                    )
                for field in ("require_approval", "waive_approval"):
                    stray = [n for n in getattr(t, field) if t.tool_names and n not in t.tool_names]
                    if stray:
                        out.append(Problem(f"{tp}.{field}", f"{stray} must also be listed in tool_names"))
                both = sorted(set(t.require_approval) & set(t.waive_approval))
                if both:
                    out.append(Problem(f"{tp}.waive_approval", f"{both} are also in require_approval: pick one"))
            elif t.agent not in agents:
                out.append(Problem(f"{tp}.agent", unknown_ref("agent", str(t.agent), agents, f"{env.where}.agents")))
            elif t.agent == a.name:
                out.append(Problem(f"{tp}.agent", "an agent cannot use itself as a tool"))
            elif t.tool_names or t.require_approval or t.waive_approval:
                out.append(Problem(tp, "tool_names/require_approval/waive_approval apply to MCP servers, not agents"))
    cycle = find_cycle(agent_graph(agents_list))
    if cycle:
        i = next(i for i, a in enumerate(agents_list) if a.name == cycle[0])
        out.append(
            Problem(
                f"{base}.agents[{i}].tools",
                f"agents-as-tools form a cycle: {' -> '.join(cycle)}; an agent pipeline must be acyclic",
            )
        )
    return out
