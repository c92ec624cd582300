"""Agents: kagent model configs, MCP tool servers, declarative and BYO agents, and the agent-runtime image."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from catalog.runtime_tools import RUNTIME_MCP_TOOLS, is_destructive
from config.base import DnsLabel, HttpUrl, Image, Quantity, Strict
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
    ai_model: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$", description="Through the AI gateway: gateway.ai.models[]"
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
        default="remote",
        description="remote: a URL; kmcp: an image run by kmcp; platform: `agent-runtime mcp` from "
        "the platform's image (Deployment + Service kube-agent-mcp)",
    )
    url: HttpUrl | None = None
    image: Image | None = None
    port: int = Field(default=3000, ge=1, le=65535, description="kmcp: the container's HTTP port")
    path: str = Field(default="/mcp", pattern=r"^/[-._~/a-zA-Z0-9]*$")
    tools: list[str] = Field(default_factory=list)
    namespaces: list[DnsLabel] = Field(
        default_factory=list,
        description="platform: namespaces its Kubernetes tools may act on (default: the agents namespace)",
    )
    description: str = Field(default="", max_length=500)


class AgentTool(Strict):
    mcp_server: DnsLabel | None = None
    agent: DnsLabel | None = Field(default=None, description="Use another agent as a tool (A2A)")
    tool_names: list[str] = Field(default_factory=list)
    require_approval: list[str] = Field(default_factory=list)
    waive_approval: list[str] = Field(
        default_factory=list, description="Destructive tools that may run without approval (listed in the plan)"
    )


class Skill(Strict):
    id: DnsLabel
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1000)
    tags: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class AgentScaling(Strict):
    kind: Literal["hpa", "keda-sessions", "keda-redis"] = Field(
        default="hpa",
        description="hpa: CPU/memory; keda-sessions: agent_active_sessions through Prometheus; "
        "keda-redis: the length of a Redis list (a work queue)",
    )
    min_replicas: int = Field(default=1, ge=0, le=1000)
    max_replicas: int = Field(default=3, ge=1, le=1000)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)
    target_memory_utilization: int = Field(default=80, ge=10, le=100)
    sessions_per_replica: int = Field(default=10, ge=1, le=10_000, description="keda-sessions: target per replica")
    list_name: str | None = Field(
        default=None, pattern=r"^[-:._a-zA-Z0-9]{1,256}$", description="keda-redis: the Redis list to watch"
    )
    list_length: int = Field(default=5, ge=1, le=100_000, description="keda-redis: target items per replica")


class GiteaAccess(Strict):
    """Seed 003 §7: the Gitea server a BYO agent's 12 Gitea tools call, and its API token (a credential)."""

    url: HttpUrl = Field(description="Gitea base URL, e.g. https://gitea.example.com")
    token: SecretRef = Field(description="Gitea API token (KUBE_AGENT_GITEA_TOKEN), through Secrets Manager")


class AgentAws(Strict):
    s3_read: list[str] = Field(default_factory=list, description="bucket/prefix the agent may read (knowledge)")


class EgressRule(Strict):
    """A destination outside the cluster an agent's tools need: an IPv4 CIDR and its TCP ports."""

    cidr: str = Field(
        pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$",
        description="IPv4 CIDR (the instance metadata address is always excluded)",
    )
    ports: list[int] = Field(default_factory=lambda: [443], min_length=1, max_length=20)

    @field_validator("cidr")
    @classmethod
    def _network(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not a network address: {exc} (write it with its host bits zero)") from None
        return value

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        if any(not 1 <= p <= 65535 for p in value):
            raise ValueError("ports are 1-65535")
        return value


class Agent(Strict):
    name: DnsLabel
    type: Literal["Declarative", "BYO"] = "Declarative"
    namespace: DnsLabel | None = Field(default=None, description="Default: the agents layer namespace")
    description: str = Field(default="", max_length=1000)
    system_message: str | None = None
    model_config_ref: DnsLabel | None = Field(default=None, alias="model_config")
    tools: list[AgentTool] = Field(default_factory=list)
    skills: list[Skill] = Field(default_factory=list, description="A2A skills on the agent card")
    memory_model_config: DnsLabel | None = Field(
        default=None, description="Declarative: kagent long-term memory embedded with this model config"
    )
    image: Image | None = Field(default=None, description="BYO only; default: the platform agent-runtime image")
    llm_model: DnsLabel | None = Field(default=None, description="BYO: the platform model it calls through the gateway")
    ai_model: str | None = Field(
        default=None, description="BYO: an AI gateway model (gateway.ai.models[].name) it calls with its own key"
    )
    env: dict[str, str] = Field(default_factory=dict, description="BYO: extra environment (no secrets)")
    secret_env: dict[str, SecretRef] = Field(default_factory=dict, description="BYO: environment from credentials")
    session_memory: bool = Field(default=False, description="BYO: Redis session memory (redis-connection)")
    knowledge_base: bool = Field(default=False, description="BYO: the Milvus knowledge base (milvus-connection)")
    kubernetes_tools: bool = Field(
        default=True,
        description="BYO on the platform image: a Role for its Kubernetes tools in its own namespace (seed 003 §4.4: "
        "read pods, logs, events, services, configmaps, deployments; update/patch deployments and their scale)",
    )
    egress: list[EgressRule] = Field(
        default_factory=list,
        max_length=50,
        description="Destinations outside the cluster the agent's tools need (CIDR and ports). Nothing else leaves the "
        "cluster, except what its model config and MCP servers need (derived; shown in the plan notes)",
    )
    gitea: GiteaAccess | None = Field(
        default=None, description="BYO on the platform image: the Gitea its Gitea tools use (none: they are not usable)"
    )
    kubernetes_secrets_list: bool = Field(
        default=False,
        description="BYO: also 'list' Secrets (seed 003 §4.4). A list returns every Secret's data, not only names, "
        "so it is off unless set",
    )
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
        default="open-in-cluster",
        description="kagent calls BYO agents without a token: 'open-in-cluster' relies "
        "on the agents namespace's NetworkPolicies",
    )
    mcp: Literal["required", "open-in-cluster"] = Field(
        default="open-in-cluster", description="Tokens on the MCP tool server ('required' needs jwks_url)"
    )


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


#: Environment the platform sets or owns on agent pods (its own agents' and every tenant's): the namespace, identity,
#: model route, data connections, auth, telemetry, kagent's own variables, and what changes how a process loads code.
#: An agent's ``env`` or ``secret_env`` may set none of them (a tenant would point its agent at another tenant's
#: data, turn its auth off, or load code of its choosing).
RESERVED_ENV = frozenset(
    {
        "KUBE_AGENT_NAMESPACE",
        "KUBE_AGENT_CONTEXT",
        "AGENT_KUBE_API_URL",
        "AGENT_TENANT_ID",
        "KUBE_AGENT_LLM_URL",
        "KUBE_AGENT_LLM_MODEL",
        "KUBE_AGENT_LLM_HEADERS",
        "AGENT_LLM_PROVIDER",
        "KUBE_AGENT_GITEA_URL",
        "KUBE_AGENT_GITEA_TOKEN",
        "REDIS_URL",
        "REDIS_PASSWORD",
        "REDIS_TLS",
        "REDIS_USERNAME",
        "REDIS_ADDRESS",
        "REDIS_KEY_PREFIX",
        "MILVUS_URI",
        "MILVUS_TOKEN",
        "MILVUS_DB_NAME",
        "AGENT_AUTH_A2A",
        "AGENT_AUTH_MCP",
        "AGENT_HOST",
        "AGENT_PORT",
        "AGENT_PUBLIC_URL",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PATH",
        "HOME",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    }
)
RESERVED_ENV_PREFIXES = ("KAGENT_", "OTEL_", "AGENT_JWT_", "AGENT_EMBEDDINGS_", "LD_", "KUBERNETES_")


def reserved_env(name: str) -> bool:
    """Whether the platform sets or owns environment variable ``name`` (case-insensitive: proxies read both)."""
    upper = name.upper()
    return upper in RESERVED_ENV or upper.startswith(RESERVED_ENV_PREFIXES)


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
                return path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
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


def database_mode(cfg: Platform) -> str:
    return cfg.kagent.database.mode or ("rds" if cfg.environment == "prod" else "bundled")
