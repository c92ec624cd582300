"""The kagent 0.10 translator (``kagent.line: "0.10"``, API ``kagent.dev/v1alpha2``): typed agents config in, plain
manifests out. This module is the seam: a kagent 1.x line (``api.kagent.dev/v1alpha3``) gets its own module with the
same ``translate()`` signature, selected in :data:`components.agents.agents.TRANSLATORS` (see ARCHITECTURE.md).

Mapping (design decision 1): a model config -> ``ModelConfig`` in every namespace whose agents use it (kagent resolves
it in the agent's namespace); a platform model -> ``provider: OpenAI`` with ``openAI.baseUrl`` at the gateway and the
model header; Bedrock -> the agent's ServiceAccount carries the role (EKS Pod Identity), never keys; a remote or
platform MCP server -> ``RemoteMCPServer``; an image -> kmcp ``MCPServer``; agents-as-tools -> ``tools[].type:
Agent`` over A2A; destructive tools -> ``requireApproval`` unless waived; scaling -> ``replicas`` unset plus our
HPA/ScaledObject on the Deployment kagent names after the agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog import versions
from config.agents import Agent, KagentConfig, McpServer, ModelConfigSpec, approvals, server_tools
from config.secrets import SecretRef
from kit.labels import metadata, namespaces_in

LINE = "0.10"
#: kagent names an agent's Deployment and Service after the Agent and selects its pods with these labels
#: (go/core/internal/controller/translator/agent/manifest_builder.go, release/v0.10.x).
AGENT_POD_LABELS = {"app": "kagent"}
AGENT_NAME_LABEL = "kagent"
#: BYO agents serve A2A on 8080; kagent's readiness probe is GET /.well-known/agent-card.json on that port.
A2A_PORT = 8080
READINESS_PATH = "/.well-known/agent-card.json"
#: The platform's MCP tool server (``agent-runtime mcp``): Deployment, Service and ServiceAccount name, and port.
TOOLS_SERVER = "kube-agent-mcp"
TOOLS_PORT = 8080
APPROVAL_WAIVED = "agentic.platform/approval-waived"
RUNTIME_UID = 10001  # the agent-runtime image's user (agent_runtime/Dockerfile): a high UID, no host clash


@dataclass(frozen=True)
class PlatformModel:
    hf_model: str
    header_value: str
    engine: str = "vllm"


def runtime_embedding_env(
    provider: str, model: str, dim: int, header: str | None, gateway_url: str | None
) -> dict[str, str]:
    """AGENT_EMBEDDINGS_* for the runtime: the packaged local model, or a platform model through the gateway."""
    if provider == "local":
        return {"AGENT_EMBEDDINGS_PROVIDER": "local", "AGENT_EMBEDDINGS_DIM": str(dim)}
    env = {"AGENT_EMBEDDINGS_PROVIDER": "openai", "AGENT_EMBEDDINGS_MODEL": model, "AGENT_EMBEDDINGS_DIM": str(dim)}
    if gateway_url:
        env["AGENT_EMBEDDINGS_URL"] = f"{gateway_url}/v1"
    if header:
        env["AGENT_EMBEDDINGS_HEADERS"] = header
    return env


@dataclass(frozen=True)
class Context:
    """What the translator needs from the rest of the platform."""

    agents_namespace: str
    gateway_url: str | None  # in-cluster base URL of the gateway (http://<svc>.<ns>.svc.cluster.local)
    model_header: str
    platform_models: dict[str, PlatformModel]
    runtime_image: Any = None  # the digest-pinned agent-runtime image (an Output during a run)
    otel_endpoint: str | None = None
    auth_env: dict[str, str] = field(default_factory=dict)
    redis: bool = False
    milvus: bool = False
    #: the knowledge base's embedding settings for the agent runtime (AGENT_EMBEDDINGS_*): one source, kb-init's
    #: collection dimension included (config.data.embedding_of)
    embedding_env: dict[str, str] = field(default_factory=dict)
    #: the AI gateway (gateway.ai): its in-cluster URL, and model config (or ``agent:<name>``) -> Secret holding its
    #: virtual key (api-key)
    ai_gateway_url: str | None = None
    ai_key_secrets: dict[str, str] = field(default_factory=dict)


def namespace_of(a: Agent, ctx: Context) -> str:
    return a.namespace or ctx.agents_namespace


def service_account(a: Agent) -> str:
    return f"agent-{a.name}"


def _mc_users(k: KagentConfig, ctx: Context) -> dict[str, set[str]]:
    """model config name -> namespaces of the agents that use it (chat or memory); unused ones live with the agents."""
    users: dict[str, set[str]] = {mc.name: set() for mc in k.model_configs}
    for a in k.agents:
        for ref in (a.model_config_ref, a.memory_model_config):
            if ref in users:
                users[ref].add(namespace_of(a, ctx))
    return {n: ns or {ctx.agents_namespace} for n, ns in users.items()}


def model_config_namespaces(k: KagentConfig, ctx: Context) -> dict[str, list[str]]:
    return {n: sorted(ns) for n, ns in _mc_users(k, ctx).items()}


def model_config(mc: ModelConfigSpec, namespace: str, ctx: Context) -> dict[str, Any]:
    spec: dict[str, Any] = {"provider": mc.provider, "model": mc.model}
    if mc.api_key is not None:
        spec["apiKeySecret"], spec["apiKeySecretKey"] = mc.api_key.name, mc.api_key.key
    if mc.ai_model is not None:  # the AI gateway holds the provider keys; the agent holds its virtual key
        spec["model"] = mc.ai_model
        spec["openAI"] = {"baseUrl": f"{ctx.ai_gateway_url}/v1"}
        spec["apiKeySecret"], spec["apiKeySecretKey"] = ctx.ai_key_secrets[mc.name], "api-key"
    elif mc.platform_model is not None:
        pm = ctx.platform_models[mc.platform_model]
        spec["model"] = pm.hf_model
        spec["openAI"] = {"baseUrl": f"{ctx.gateway_url}/v1"}
        spec["defaultHeaders"] = {ctx.model_header: pm.header_value}
    elif mc.provider == "OpenAI" and mc.base_url:
        spec["openAI"] = {"baseUrl": mc.base_url}
    elif mc.provider == "Anthropic" and mc.base_url:
        spec["anthropic"] = {"baseUrl": mc.base_url}
    elif mc.provider == "Ollama" and mc.base_url:
        spec["ollama"] = {"host": mc.base_url}
    elif mc.provider == "Bedrock":
        spec["bedrock"] = {"region": mc.bedrock_region}
    elif mc.provider == "AzureOpenAI":
        spec["azureOpenAI"] = {
            "azureEndpoint": mc.azure_endpoint,
            "apiVersion": mc.azure_api_version,
            **({"azureDeployment": mc.azure_deployment} if mc.azure_deployment else {}),
        }
    if mc.temperature is not None:
        block = {"OpenAI": "openAI", "Anthropic": "anthropic", "AzureOpenAI": "azureOpenAI"}.get(mc.provider)
        if block:
            spec.setdefault(block, {})["temperature"] = str(mc.temperature)
    if mc.provider == "OpenAI" and "openAI" not in spec and mc.api_key is None:
        spec["openAI"] = {}
    return {
        "apiVersion": versions.KAGENT_API,
        "kind": "ModelConfig",
        "metadata": metadata(mc.name, namespace),
        "spec": spec,
    }


def _server_users(k: KagentConfig, ctx: Context) -> dict[str, set[str]]:
    users: dict[str, set[str]] = {s.name: set() for s in k.mcp_servers}
    for a in k.agents:
        for t in a.tools:
            if t.mcp_server in users:
                users[t.mcp_server].add(namespace_of(a, ctx))
    return users


def _allowed(namespaces: set[str], home: str) -> dict[str, Any] | None:
    others = sorted(namespaces - {home})
    return {"from": "Selector", "selector": namespaces_in(others)} if others else None


def tools_server_url(namespace: str) -> str:
    return f"http://{TOOLS_SERVER}.{namespace}.svc.cluster.local:{TOOLS_PORT}/mcp"


def mcp_server_objects(k: KagentConfig, ctx: Context) -> list[dict[str, Any]]:
    """RemoteMCPServers (remote and platform servers, in the agents namespace, open to the namespaces of the agents
    that use them) and kmcp MCPServers (in each namespace that uses them: MCPServer has no cross-namespace grant)."""
    home = ctx.agents_namespace
    users = _server_users(k, ctx)
    out = []
    for s in k.mcp_servers:
        if s.kind == "kmcp":
            for ns in sorted(users[s.name] or {home}):
                out.append(
                    {
                        "apiVersion": versions.KMCP_API,
                        "kind": "MCPServer",
                        "metadata": metadata(s.name, ns),
                        "spec": {
                            "transportType": "http",
                            "httpTransport": {"targetPort": s.port, "path": s.path},
                            "deployment": {"image": s.image, "port": s.port},
                        },
                    }
                )
            continue
        spec: dict[str, Any] = {
            "description": s.description or f"MCP tools: {s.name}",
            "url": tools_server_url(home) if s.kind == "platform" else s.url,
            "protocol": "STREAMABLE_HTTP",
        }
        allowed = _allowed(users[s.name], home)
        if allowed:
            spec["allowedNamespaces"] = allowed
        out.append(
            {
                "apiVersion": versions.KAGENT_API,
                "kind": "RemoteMCPServer",
                "metadata": metadata(s.name, home),
                "spec": spec,
            }
        )
    return out


def _mcp_tool(t: Any, server: McpServer, agent_ns: str, ctx: Context) -> tuple[dict[str, Any], list[str]]:
    require, waived = approvals(t, server)
    ref: dict[str, Any] = {"name": server.name}
    if server.kind == "kmcp":
        ref.update(apiGroup="kagent.dev", kind="MCPServer")
    else:
        ref.update(apiGroup="kagent.dev", kind="RemoteMCPServer")
        if agent_ns != ctx.agents_namespace:
            ref["namespace"] = ctx.agents_namespace
    names = t.tool_names or list(server.tools or server_tools(server) or [])
    if names:
        ref["toolNames"] = list(names)
    if require:
        ref["requireApproval"] = require
    return {"type": "McpServer", "mcpServer": ref}, waived


def agent_object(a: Agent, k: KagentConfig, ctx: Context) -> dict[str, Any]:
    ns = namespace_of(a, ctx)
    servers = {s.name: s for s in k.mcp_servers}
    agents = {x.name: x for x in k.agents}
    callers = {namespace_of(x, ctx) for x in k.agents if any(t.agent == a.name for t in x.tools)}
    spec: dict[str, Any] = {"type": a.type, "description": a.description}
    allowed = _allowed(callers, ns)
    if allowed:
        spec["allowedNamespaces"] = allowed
    waived_all: list[str] = []
    deployment = _deployment(a, ctx)
    if a.type == "Declarative":
        tools = []
        for t in a.tools:
            if t.mcp_server:
                entry, waived = _mcp_tool(t, servers[t.mcp_server], ns, ctx)
                tools.append(entry)
                waived_all += waived
            else:
                target = agents[str(t.agent)]
                ref = {"name": target.name}
                if namespace_of(target, ctx) != ns:
                    ref["namespace"] = namespace_of(target, ctx)
                tools.append({"type": "Agent", "agent": ref})
        decl: dict[str, Any] = {
            "modelConfig": a.model_config_ref,
            "systemMessage": a.system_message,
            "deployment": deployment,
        }
        if tools:
            decl["tools"] = tools
        if a.skills:
            decl["a2aConfig"] = {
                "skills": [
                    {
                        "id": s.id,
                        "name": s.name,
                        "description": s.description,
                        **({"tags": list(s.tags)} if s.tags else {}),
                        **({"examples": list(s.examples)} if s.examples else {}),
                    }
                    for s in a.skills
                ]
            }
        if a.memory_model_config:
            decl["memory"] = {"modelConfig": a.memory_model_config}
        spec["declarative"] = decl
    else:
        spec["byo"] = {"deployment": {**deployment, **byo_container(a, ns, ctx)}}
    annotations = {APPROVAL_WAIVED: ",".join(sorted(set(waived_all)))} if waived_all else None
    return {
        "apiVersion": versions.KAGENT_API,
        "kind": "Agent",
        "metadata": metadata(a.name, ns, annotations=annotations),
        "spec": spec,
    }


def _deployment(a: Agent, ctx: Context) -> dict[str, Any]:
    """What both agent types share: our ServiceAccount, resources, replicas (unset when an autoscaler owns them)."""
    dep: dict[str, Any] = {
        "serviceAccountName": service_account(a),
        "resources": {"requests": {"cpu": a.cpu, "memory": a.memory}, "limits": {"memory": a.memory}},
    }
    if a.scaling is None:
        dep["replicas"] = a.replicas if a.replicas is not None else 1
    return dep


def byo_container(a: Agent, namespace: str, ctx: Context) -> dict[str, Any]:
    """The BYO agent's container: the platform image (or the configured one), LLM through the gateway, session memory
    and knowledge base from the connection Secrets, credentials by secretKeyRef, the namespace by the Downward API."""
    env: list[dict[str, Any]] = [
        {"name": "KUBE_AGENT_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]  # kagent itself sets KAGENT_NAME, KAGENT_NAMESPACE and KAGENT_URL on BYO pods
    if a.ai_model is not None and ctx.ai_gateway_url:  # the AI gateway, with the agent's own virtual key
        key = {"name": ctx.ai_key_secrets[f"agent:{a.name}"], "key": "api-key"}
        env += [
            {"name": "KUBE_AGENT_LLM_URL", "value": f"{ctx.ai_gateway_url}/v1"},
            {"name": "KUBE_AGENT_LLM_MODEL", "value": a.ai_model},
            {"name": "KUBE_AGENT_LLM_API_KEY", "valueFrom": {"secretKeyRef": key}},
            {"name": "AGENT_LLM_PROVIDER", "value": "ai-gateway"},
        ]
    if a.llm_model is not None and ctx.gateway_url:
        pm = ctx.platform_models[a.llm_model]
        env += [
            {"name": "KUBE_AGENT_LLM_URL", "value": f"{ctx.gateway_url}/v1"},
            {"name": "KUBE_AGENT_LLM_MODEL", "value": pm.hf_model},
            {"name": "KUBE_AGENT_LLM_HEADERS", "value": f"{ctx.model_header}={pm.header_value}"},
            {"name": "AGENT_LLM_PROVIDER", "value": pm.engine},
        ]
    if ctx.otel_endpoint:
        env += [
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": ctx.otel_endpoint},
            {"name": "OTEL_SERVICE_NAME", "value": a.name},
        ]
    env += [{"name": k, "value": v} for k, v in sorted(ctx.auth_env.items())]
    if a.knowledge_base:
        env += [{"name": k, "value": v} for k, v in sorted(ctx.embedding_env.items())]
    env += [{"name": k, "value": v} for k, v in sorted(a.env.items())]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
        for k, ref in sorted(a.secret_env.items())
    ]
    if a.gitea is not None:  # seed 003 §7: the Gitea tools' server and token (the token through Secrets Manager)
        env += [
            {"name": "KUBE_AGENT_GITEA_URL", "value": str(a.gitea.url)},
            {
                "name": "KUBE_AGENT_GITEA_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": a.gitea.token.name, "key": a.gitea.token.key}},
            },
        ]
    env_from = []
    if a.session_memory:
        env_from.append({"secretRef": {"name": "redis-connection"}})
    if a.knowledge_base:
        env_from.append({"secretRef": {"name": "milvus-connection"}})
    out: dict[str, Any] = {
        "image": a.image or ctx.runtime_image,
        "args": ["serve"],
        "env": env,
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "runAsGroup": RUNTIME_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if env_from:
        out["envFrom"] = env_from
    return out


def agent_secret_refs(a: Agent) -> list[SecretRef]:
    return [ref for _, ref in sorted(a.secret_env.items())]


def translate(k: KagentConfig, ctx: Context) -> list[dict[str, Any]]:
    """Every kagent object of the config (ModelConfigs, MCP servers, Agents), in dependency order."""
    mcs = {mc.name: mc for mc in k.model_configs}
    out = [
        model_config(mcs[name], ns, ctx)
        for name, namespaces in model_config_namespaces(k, ctx).items()
        for ns in namespaces
    ]
    out += mcp_server_objects(k, ctx)
    out += [agent_object(a, k, ctx) for a in k.agents]
    return out
