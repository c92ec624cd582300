"""Agents: kagent model configs, MCP tool servers, declarative and BYO agents, and the agent-runtime image."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from catalog.runtime_tools import RBAC_UNSAFE_TOOLS, RUNTIME_MCP_TOOLS, is_destructive
from config.base import ROOT, DnsLabel, HttpUrl, Image, Problem, Quantity, Strict, duplicates, unknown_ref
from config.secrets import SecretRef

if TYPE_CHECKING:
    from config.platform import Platform


class ModelConfigSpec(Strict):
    name: DnsLabel
    provider: Literal["OpenAI", "Anthropic", "Bedrock", "AzureOpenAI", "Ollama", "Gemini"]
    model: str = Field(min_length=1, max_length=256)
    platform_model: DnsLabel | None = Field(
        default=None, description="Serve from this platform model (platform.models[].name) through the gateway"
    )
    api_key: SecretRef | None = None
    bedrock_region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
    base_url: HttpUrl | None = Field(default=None, description="OpenAI-compatible/Anthropic base URL, Ollama host")
    azure_endpoint: HttpUrl | None = None
    azure_api_version: str | None = Field(default=None, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$")
    azure_deployment: str | None = Field(default=None, max_length=128)
    temperature: float | None = Field(default=None, ge=0, le=2)


class McpServer(Strict):
    name: DnsLabel
    kind: Literal["remote", "kmcp", "platform"] = Field(
        default="remote", description="remote: a URL; kmcp: an image run by kmcp; platform: `agent-runtime mcp` from "
                                      "the platform's image (Deployment + Service kube-agent-mcp)")
    url: HttpUrl | None = None
    image: Image | None = None
    port: int = Field(default=3000, ge=1, le=65535, description="kmcp: the container's HTTP port")
    path: str = Field(default="/mcp", pattern=r"^/[-._~/a-zA-Z0-9]*$")
    tools: list[str] = Field(default_factory=list)
    namespaces: list[DnsLabel] = Field(default_factory=list,
                                       description="platform: namespaces its Kubernetes tools may act on (default: "
                                                   "the agents namespace)")
    description: str = Field(default="", max_length=500)


class AgentTool(Strict):
    mcp_server: DnsLabel | None = None
    agent: DnsLabel | None = Field(default=None, description="Use another agent as a tool (A2A)")
    tool_names: list[str] = Field(default_factory=list)
    require_approval: list[str] = Field(default_factory=list)
    waive_approval: list[str] = Field(default_factory=list,
                                      description="Destructive tools that may run without approval (listed in the plan)")


class Skill(Strict):
    id: DnsLabel
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1000)
    tags: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class AgentScaling(Strict):
    kind: Literal["hpa", "keda-sessions", "keda-redis"] = Field(
        default="hpa", description="hpa: CPU/memory; keda-sessions: agent_active_sessions through Prometheus; "
                                   "keda-redis: the length of a Redis list (a work queue)")
    min_replicas: int = Field(default=1, ge=0, le=1000)
    max_replicas: int = Field(default=3, ge=1, le=1000)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)
    target_memory_utilization: int = Field(default=80, ge=10, le=100)
    sessions_per_replica: int = Field(default=10, ge=1, le=10_000, description="keda-sessions: target per replica")
    list_name: str | None = Field(default=None, pattern=r"^[-:._a-zA-Z0-9]{1,256}$",
                                  description="keda-redis: the Redis list to watch")
    list_length: int = Field(default=5, ge=1, le=100_000, description="keda-redis: target items per replica")


class AgentAws(Strict):
    s3_read: list[str] = Field(default_factory=list, description="bucket/prefix the agent may read (knowledge)")


class Agent(Strict):
    name: DnsLabel
    type: Literal["Declarative", "BYO"] = "Declarative"
    namespace: DnsLabel | None = Field(default=None, description="Default: the agents layer namespace")
    description: str = Field(default="", max_length=1000)
    system_message: str | None = None
    model_config_ref: DnsLabel | None = Field(default=None, alias="model_config")
    tools: list[AgentTool] = Field(default_factory=list)
    skills: list[Skill] = Field(default_factory=list, description="A2A skills on the agent card")
    memory_model_config: DnsLabel | None = Field(default=None, description="Declarative: kagent long-term memory "
                                                                           "embedded with this model config")
    image: Image | None = Field(default=None, description="BYO only; default: the platform agent-runtime image")
    llm_model: DnsLabel | None = Field(default=None, description="BYO: the platform model it calls through the gateway")
    env: dict[str, str] = Field(default_factory=dict, description="BYO: extra environment (no secrets)")
    secret_env: dict[str, SecretRef] = Field(default_factory=dict, description="BYO: environment from credentials")
    session_memory: bool = Field(default=False, description="BYO: Redis session memory (redis-connection)")
    knowledge_base: bool = Field(default=False, description="BYO: the Milvus knowledge base (milvus-connection)")
    replicas: int | None = Field(default=None, ge=0, le=1000, description="Fixed replicas (not with scaling)")
    scaling: AgentScaling | None = None
    cpu: Quantity = "500m"
    memory: Quantity = "512Mi"
    expose: bool = Field(default=False, description="Route /agents/<name> on the gateway (JWT-protected when set)")
    aws: AgentAws = AgentAws()


class PersonAccess(Strict):
    """An IAM principal (role or user) mapped to a Kubernetes group bound to agent-operator or agent-viewer."""

    principal_arn: str = Field(pattern=r"^arn:aws[-a-z]*:iam::[0-9]{12}:(role|user)/[\w+=,.@/-]+$")
    role: Literal["operator", "viewer"] = "viewer"


class KagentDatabase(Strict):
    mode: Literal["bundled", "rds"] | None = Field(default=None, description="Default: bundled in dev, rds in prod")
    instance_class: str = Field(default="db.t4g.medium", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    storage_gib: int = Field(default=20, ge=20, le=65_536)
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    multi_az: bool | None = Field(default=None, description="Default: true in prod")


class RuntimeAuth(Strict):
    """How the platform's agent runtime (BYO agents, the MCP tool server) authenticates callers."""

    jwks_url: HttpUrl | None = Field(default=None, description="JWKS of the identity provider (RS256/ES256 tokens)")
    issuer: str | None = Field(default=None, max_length=512)
    audience: str | None = Field(default=None, max_length=512)
    a2a: Literal["required", "open-in-cluster"] = Field(
        default="open-in-cluster", description="kagent calls BYO agents without a token: 'open-in-cluster' relies "
                                               "on the agents namespace's NetworkPolicies")
    mcp: Literal["required", "open-in-cluster"] = Field(
        default="open-in-cluster", description="Tokens on the MCP tool server ('required' needs jwks_url)")


#: kagent API lines the platform can translate to; a 1.x line is added beside 0.10 (see ARCHITECTURE.md).
KAGENT_LINES = ("0.10",)


class KagentConfig(Strict):
    enabled: bool = True
    line: Literal["0.10"] = Field(default="0.10", description="kagent API line (0.10: kagent.dev/v1alpha2)")
    controller_replicas: int | None = Field(default=None, ge=1, le=5, description="Default: 2 in prod, 1 in dev")
    database: KagentDatabase = KagentDatabase()
    access: list[PersonAccess] = Field(default_factory=list)
    runtime_auth: RuntimeAuth = RuntimeAuth()
    model_configs: list[ModelConfigSpec] = Field(default_factory=list)
    mcp_servers: list[McpServer] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)


class AgentRuntimeImage(Strict):
    repository: DnsLabel = "agent-runtime"
    build: bool = Field(default=True, description="Build and push the image from agent_runtime/ on deploy")
    scan_on_push: bool = True
    keep_images: int = Field(default=30, ge=1, le=1000, description="Lifecycle policy: keep this many images")


def runtime_auth_env(auth: RuntimeAuth) -> dict[str, str]:
    """The agent runtime's environment for ``auth`` (what a BYO agent or MCP Deployment gets)."""
    env = {}
    if auth.jwks_url:
        env["AGENT_JWT_JWKS_URL"] = auth.jwks_url
    if auth.issuer:
        env["AGENT_JWT_ISSUER"] = auth.issuer
    if auth.audience:
        env["AGENT_JWT_AUDIENCE"] = auth.audience
    env["AGENT_AUTH_A2A"] = "true" if auth.a2a == "required" else "false"
    env["AGENT_AUTH_MCP"] = "true" if auth.mcp == "required" else "false"
    return env


def server_tools(server: McpServer) -> dict[str, bool] | None:
    """Tool name -> destructive for a server whose tools the platform knows (its own), else None."""
    return RUNTIME_MCP_TOOLS if server.kind == "platform" else None


def approvals(tool: AgentTool, server: McpServer) -> tuple[list[str], list[str]]:
    """(tools that require approval, destructive tools whose approval config waives) for one agent tool entry.

    Destructive tools (restart, delete, write, push, ...) require approval unless listed in ``waive_approval``."""
    known = server_tools(server)
    names = tool.tool_names or list(known or server.tools)
    destructive = [n for n in names if is_destructive(n, known)]
    require = sorted({*tool.require_approval, *(n for n in destructive if n not in tool.waive_approval)})
    return require, sorted(n for n in destructive if n in tool.waive_approval)


def agent_graph(agents: list[Agent]) -> dict[str, list[str]]:
    return {a.name: [t.agent for t in a.tools if t.agent] for a in agents}


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in agents-as-tools (a -> b -> a), as the path that closes it, or None."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if state.get(nxt) is None:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if state.get(start) is None:
            found = visit(start, [start])
            if found:
                return found
    return None


def database_mode(cfg: "Platform") -> str:
    return cfg.kagent.database.mode or ("rds" if cfg.environment == "prod" else "bundled")


def _check_model_configs(cfg: "Platform", base: str) -> list[Problem]:
    out: list[Problem] = []
    models = {m.name for m in cfg.models}
    for i, mc in enumerate(cfg.kagent.model_configs):
        p = f"{base}.model_configs[{i}]"
        if mc.platform_model is not None:
            if mc.platform_model not in models:
                out.append(Problem(f"{p}.platform_model", unknown_ref("model", mc.platform_model, models,
                                                                      "platform.models")))
            if mc.provider != "OpenAI":
                out.append(Problem(f"{p}.provider", "platform models are served by vLLM: use provider 'OpenAI'"))
            if cfg.gateway.jwt is not None and mc.api_key is None:
                out.append(Problem(f"{p}.api_key", "the gateway requires JWTs (gateway.jwt): give the agents' token "
                                                   "as api_key (a credential reference) so kagent can call the model"))
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
            out += [Problem(f"{p}.{f}", f"only read for provider AzureOpenAI (provider is {mc.provider})")
                    for f in azure]
        if mc.base_url and mc.platform_model:
            out.append(Problem(f"{p}.base_url", "a platform model is reached through the gateway: remove base_url"))
    return out


def _check_servers(cfg: "Platform", base: str, namespaces: set[str]) -> list[Problem]:
    out: list[Problem] = []
    platform_servers = [s for s in cfg.kagent.mcp_servers if s.kind == "platform"]
    if len(platform_servers) > 1:
        out.append(Problem(f"{base}.mcp_servers", "only one platform MCP server (kube-agent-mcp) can exist"))
    for i, s in enumerate(cfg.kagent.mcp_servers):
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
            if not cfg.agent_runtime.build:
                out.append(Problem(f"{p}.kind", "the platform MCP server runs the platform's image: set "
                                                "agent_runtime.build true"))
            unknown = [t for t in s.tools if t not in RUNTIME_MCP_TOOLS]
            if unknown:
                out.append(Problem(f"{p}.tools", f"{unknown} are not tools of `agent-runtime mcp` "
                                                 f"({', '.join(sorted(RUNTIME_MCP_TOOLS))})"))
            unsafe = sorted(RBAC_UNSAFE_TOOLS & set(s.tools))
            if unsafe:
                out.append(Problem(f"{p}.tools", f"{unsafe}: listing Secrets needs RBAC 'list', which returns their "
                                                 "data too; the tool server gets no access to Secrets. Remove it"))
            for j, ns in enumerate(s.namespaces):
                if ns not in namespaces:
                    out.append(Problem(f"{p}.namespaces[{j}]", f"'{ns}' is not a layer or tenant namespace"))
    return out


def check_kagent(cfg: "Platform") -> list[Problem]:
    k = cfg.kagent
    base = f"{ROOT}.kagent"
    out = duplicates(k.model_configs, "name", f"{base}.model_configs")
    for surface in ("a2a", "mcp"):
        if getattr(k.runtime_auth, surface) == "required" and not k.runtime_auth.jwks_url:
            out.append(Problem(f"{base}.runtime_auth.{surface}", "'required' needs runtime_auth.jwks_url (the "
                                                                  "identity provider's keys) to verify tokens"))
    out += duplicates(k.mcp_servers, "name", f"{base}.mcp_servers")
    out += duplicates(k.agents, "name", f"{base}.agents")
    mcs = {m.name: m for m in k.model_configs}
    models = {m.name for m in cfg.models}
    servers = {s.name: s for s in k.mcp_servers}
    agents = {a.name: a for a in k.agents}
    namespaces = {ns.name for ns in cfg.namespaces} | {t.namespace for t in cfg.tenants}
    tenants = {t.namespace: (i, t) for i, t in enumerate(cfg.tenants)}
    out += _check_model_configs(cfg, base)
    out += _check_servers(cfg, base, namespaces)
    if database_mode(cfg) == "bundled" and cfg.environment == "prod":
        out.append(Problem(f"{base}.database.mode", "prod keeps kagent's sessions in RDS: the bundled PostgreSQL "
                                                    "has no backups or failover", severity="warning"))
    for i, a in enumerate(k.agents):
        p = f"{base}.agents[{i}]"
        if a.type == "Declarative":
            if a.model_config_ref is None:
                out.append(Problem(f"{p}.model_config", "a Declarative agent needs a model_config"))
            elif a.model_config_ref not in mcs:
                out.append(Problem(f"{p}.model_config", unknown_ref("model config", a.model_config_ref, mcs,
                                                                    "platform.kagent.model_configs")))
            if not a.system_message:
                out.append(Problem(f"{p}.system_message", "a Declarative agent needs a system_message"))
            for f in ("image", "llm_model", "env", "secret_env", "session_memory", "knowledge_base"):
                if f in a.model_fields_set and getattr(a, f):
                    out.append(Problem(f"{p}.{f}", "is a BYO option: kagent runs Declarative agents itself"))
            if a.memory_model_config is not None:
                if a.memory_model_config not in mcs:
                    out.append(Problem(f"{p}.memory_model_config", unknown_ref(
                        "model config", a.memory_model_config, mcs, "platform.kagent.model_configs")))
                if database_mode(cfg) != "rds":
                    out.append(Problem(f"{p}.memory_model_config", "kagent memory needs pgvector, which the bundled "
                                                                   "PostgreSQL lacks: set kagent.database.mode rds"))
        else:
            for f in ("system_message", "model_config", "memory_model_config"):
                if getattr(a, "model_config_ref" if f == "model_config" else f) is not None:
                    out.append(Problem(f"{p}.{f}", "is a Declarative option: a BYO agent brings its own loop "
                                                   "(set llm_model for the platform model it calls)"))
            for f in ("tools", "skills"):
                if getattr(a, f):
                    out.append(Problem(f"{p}.{f}", "is a Declarative option: a BYO agent serves its own tools and "
                                                   "agent card"))
            if a.image is None and cfg.agent_runtime.build is False:
                out.append(Problem(f"{p}.image", "BYO agent needs an image when agent_runtime.build is false"))
            if a.llm_model is not None and a.llm_model not in models:
                out.append(Problem(f"{p}.llm_model", unknown_ref("model", a.llm_model, models, "platform.models")))
            if a.session_memory and not cfg.data.redis.enabled:
                out.append(Problem(f"{p}.session_memory", "Redis is disabled (data.redis.enabled: false)"))
            if a.knowledge_base and not cfg.data.milvus.enabled:
                out.append(Problem(f"{p}.knowledge_base", "Milvus is disabled (data.milvus.enabled: false)"))
        ns = a.namespace
        if ns is not None and ns not in namespaces:
            out.append(Problem(f"{p}.namespace", f"namespace '{ns}' is not a layer or tenant namespace"))
        if ns in tenants:
            ti, tenant = tenants[ns]
            for store, wanted in (("redis", a.session_memory or (a.scaling and a.scaling.kind == "keda-redis")),
                                  ("milvus", a.knowledge_base)):
                if wanted and not getattr(tenant.allow, store):
                    out.append(Problem(f"{p}.{'session_memory' if store == 'redis' else 'knowledge_base'}",
                                       f"tenant '{tenant.name}' may not use {store}: allow it at "
                                       f"platform.tenants[{ti}].allow.{store}"))
        if a.replicas is not None and a.scaling is not None:
            out.append(Problem(f"{p}.replicas", "set either replicas or scaling: with scaling the autoscaler owns "
                                                "the replica count"))
        if a.scaling:
            sc = a.scaling
            if sc.min_replicas > sc.max_replicas:
                out.append(Problem(f"{p}.scaling", "min_replicas is greater than max_replicas"))
            if sc.kind == "keda-redis" and not sc.list_name:
                out.append(Problem(f"{p}.scaling.list_name", "keda-redis scales on a Redis list: name it"))
            if sc.kind == "keda-redis" and not cfg.data.redis.enabled:
                out.append(Problem(f"{p}.scaling.kind", "keda-redis needs Redis (data.redis.enabled)"))
            if sc.kind == "keda-sessions" and not cfg.observability.prometheus:
                out.append(Problem(f"{p}.scaling.kind", "keda-sessions reads Prometheus (observability.prometheus)"))
            if sc.kind == "hpa" and sc.min_replicas == 0:
                out.append(Problem(f"{p}.scaling.min_replicas", "an HPA cannot scale to zero: use 1, or keda-*"))
        if a.expose and not cfg.gateway.enabled:
            out.append(Problem(f"{p}.expose", "the gateway is disabled (gateway.enabled: false)"))
        for j, t in enumerate(a.tools):
            tp = f"{p}.tools[{j}]"
            if (t.mcp_server is None) == (t.agent is None):
                out.append(Problem(tp, "set exactly one of mcp_server or agent"))
                continue
            if t.mcp_server is not None:
                server = servers.get(t.mcp_server)
                if server is None:
                    out.append(Problem(f"{tp}.mcp_server", unknown_ref("MCP server", t.mcp_server, servers,
                                                                       "kagent.mcp_servers")))
                    continue
                offered = set(server.tools) or set(server_tools(server) or ())
                unknown = [n for n in t.tool_names if offered and n not in offered]
                if unknown:
                    out.append(Problem(f"{tp}.tool_names", f"{unknown} are not tools of '{server.name}' "
                                                           f"(offers {', '.join(sorted(offered))})"))
                for field in ("require_approval", "waive_approval"):
                    stray = [n for n in getattr(t, field) if t.tool_names and n not in t.tool_names]
                    if stray:
                        out.append(Problem(f"{tp}.{field}", f"{stray} must also be listed in tool_names"))
                both = sorted(set(t.require_approval) & set(t.waive_approval))
                if both:
                    out.append(Problem(f"{tp}.waive_approval", f"{both} are also in require_approval: pick one"))
            elif t.agent not in agents:
                out.append(Problem(f"{tp}.agent", unknown_ref("agent", str(t.agent), agents, "kagent.agents")))
            elif t.agent == a.name:
                out.append(Problem(f"{tp}.agent", "an agent cannot use itself as a tool"))
            elif t.tool_names or t.require_approval or t.waive_approval:
                out.append(Problem(tp, "tool_names/require_approval/waive_approval apply to MCP servers, not agents"))
    admins = {a.principal_arn for a in cfg.cluster.admins}
    seen_principals: set[str] = set()
    for i, person in enumerate(k.access):
        p = f"{base}.access[{i}].principal_arn"
        if person.principal_arn in admins:
            out.append(Problem(p, "is already a cluster admin (cluster.admins): one access entry per principal"))
        if person.principal_arn in seen_principals:
            out.append(Problem(p, "is listed twice: one role per principal"))
        seen_principals.add(person.principal_arn)
    cycle = find_cycle(agent_graph(list(k.agents)))
    if cycle:
        i = next(i for i, a in enumerate(k.agents) if a.name == cycle[0])
        out.append(Problem(f"{base}.agents[{i}].tools", f"agents-as-tools form a cycle: {' -> '.join(cycle)}; an "
                                                        "agent pipeline must be acyclic"))
    return out
