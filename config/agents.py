"""Agents: kagent model configs, MCP tool servers, declarative and BYO agents, and the agent-runtime image."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from config.base import ROOT, DnsLabel, HttpUrl, Image, Problem, Quantity, Strict, duplicates, unknown_ref
from config.secrets import SecretRef

if TYPE_CHECKING:
    from config.platform import Platform


class ModelConfigSpec(Strict):
    name: DnsLabel
    provider: Literal["OpenAI", "Anthropic", "Bedrock", "AzureOpenAI", "Ollama", "Gemini"]
    model: str
    platform_model: DnsLabel | None = Field(
        default=None, description="Serve from this platform model (platform.models[].name) through the gateway"
    )
    api_key: SecretRef | None = None
    bedrock_region: str | None = None


class McpServer(Strict):
    name: DnsLabel
    kind: Literal["remote", "kmcp"] = "remote"
    url: HttpUrl | None = None
    image: Image | None = None
    tools: list[str] = Field(default_factory=list)


class AgentTool(Strict):
    mcp_server: DnsLabel | None = None
    agent: DnsLabel | None = Field(default=None, description="Use another agent as a tool (A2A)")
    tool_names: list[str] = Field(default_factory=list)
    require_approval: list[str] = Field(default_factory=list)


class AgentScaling(Strict):
    min_replicas: int = Field(default=1, ge=0, le=1000)
    max_replicas: int = Field(default=3, ge=1, le=1000)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)


class Agent(Strict):
    name: DnsLabel
    type: Literal["Declarative", "BYO"] = "Declarative"
    namespace: DnsLabel | None = Field(default=None, description="Default: the agents layer namespace")
    description: str = ""
    system_message: str | None = None
    model_config_ref: DnsLabel | None = Field(default=None, alias="model_config")
    tools: list[AgentTool] = Field(default_factory=list)
    image: Image | None = Field(default=None, description="BYO only; default: the platform agent-runtime image")
    scaling: AgentScaling | None = None
    cpu: Quantity = "500m"
    memory: Quantity = "512Mi"


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


class KagentConfig(Strict):
    enabled: bool = True
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
    models = {m.name for m in cfg.models}
    mcs = {m.name for m in k.model_configs}
    servers = {s.name: s for s in k.mcp_servers}
    agents = {a.name for a in k.agents}
    namespaces = {ns.name for ns in cfg.namespaces} | {t.namespace for t in cfg.tenants}
    for i, mc in enumerate(k.model_configs):
        p = f"{base}.model_configs[{i}]"
        if mc.platform_model is not None:
            if mc.platform_model not in models:
                out.append(Problem(f"{p}.platform_model", unknown_ref("model", mc.platform_model, models,
                                                                      "platform.models")))
            if mc.provider != "OpenAI":
                out.append(Problem(f"{p}.provider", "platform models are served by vLLM: use provider 'OpenAI'"))
        elif mc.provider in ("OpenAI", "Anthropic", "AzureOpenAI", "Gemini") and mc.api_key is None:
            out.append(Problem(f"{p}.api_key", f"provider {mc.provider} needs an API key secret reference"))
        if mc.provider == "Bedrock" and not mc.bedrock_region:
            out.append(Problem(f"{p}.bedrock_region", "Bedrock model configs need a region"))
    for i, s in enumerate(k.mcp_servers):
        p = f"{base}.mcp_servers[{i}]"
        if s.kind == "remote" and not s.url:
            out.append(Problem(f"{p}.url", "a remote MCP server needs a url"))
        if s.kind == "kmcp" and not s.image:
            out.append(Problem(f"{p}.image", "a kmcp MCP server needs an image"))
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
        elif a.image is None and cfg.agent_runtime.build is False:
            out.append(Problem(f"{p}.image", "BYO agent needs an image when agent_runtime.build is false"))
        if a.namespace is not None and a.namespace not in namespaces:
            out.append(Problem(f"{p}.namespace", f"namespace '{a.namespace}' is not a layer or tenant namespace"))
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
                unknown = [n for n in t.tool_names if server.tools and n not in server.tools]
                if unknown:
                    out.append(Problem(f"{tp}.tool_names", f"{unknown} are not tools of '{server.name}'"))
            elif t.agent not in agents:
                out.append(Problem(f"{tp}.agent", unknown_ref("agent", str(t.agent), agents, "kagent.agents")))
            elif t.agent == a.name:
                out.append(Problem(f"{tp}.agent", "an agent cannot use itself as a tool"))
            stray = [n for n in t.require_approval if n not in t.tool_names]
            if stray:
                out.append(Problem(f"{tp}.require_approval", f"{stray} must also be listed in tool_names"))
        if a.scaling and a.scaling.min_replicas > a.scaling.max_replicas:
            out.append(Problem(f"{p}.scaling", "min_replicas is greater than max_replicas"))
    return out
