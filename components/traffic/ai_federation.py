"""MCP and A2A through the AI gateway (``gateway.ai.mcp``, ``gateway.ai.a2a``), on a listener of their own
(``agents``, port 8090) behind the gateway's JWT provider (``gateway.jwt``), apart from the LLM listener and its
virtual keys.

- Tool federation: per tenant, ``/mcp/<tenant>`` is one MCP endpoint multiplexing the granted servers (the platform's
  tool server, kmcp servers, remote servers). Its backend's MCP authorization lets a caller whose JWT claim
  (``gateway.ai.tenant_claim``) names the tenant list and call only the granted tools of each server; agentgateway
  filters ``tools/list`` by the same rules, so a tenant sees nothing else. The route also requires the claim.
- A2A: each listed exposed agent at ``/a2a/<agent>``; the proxy's Service is an internal NLB then, so callers in the
  VPC (outside the cluster) reach it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from catalog import versions
from components.agents.kagent_v0_10 import TOOLS_PORT, TOOLS_SERVER
from components.traffic.ai_backends import GROUP
from components.traffic.kgateway import NLB
from config.agents import McpServer
from config.ai_gateway import AiGateway, McpFederation
from config.egress import PUBLIC
from config.platform import Platform
from config.serving import GatewayJwt
from kit.labels import metadata, namespaces_in

LISTENER = "agents"
MCP_PORT = 8090
A2A_PORT = 8080  # an agent's Service (kagent and the platform runtime serve A2A there)


def listener(ai: AiGateway) -> dict[str, Any]:
    return {
        "name": LISTENER,
        "port": MCP_PORT,
        "protocol": "HTTP",
        "allowedRoutes": {"namespaces": {"from": "Same"}},
    }


def service_overlay() -> dict[str, Any]:
    """The proxy's Service as an internal NLB (A2A callers in the VPC), as the AWS Load Balancer Controller reads it."""
    return {
        "metadata": {
            "annotations": {
                f"{NLB}-type": "external",
                f"{NLB}-nlb-target-type": "ip",
                f"{NLB}-scheme": "internal",
            }
        },
        "spec": {"type": "LoadBalancer"},
    }


def _ref(kind: str, name: str, section: str | None = None) -> dict[str, str]:
    group = GROUP if kind == "AgentgatewayBackend" else "gateway.networking.k8s.io"
    return {"group": group, "kind": kind, "name": name, **({"sectionName": section} if section else {})}


def jwks_backend(ai: AiGateway, jwt: GatewayJwt, namespace: str) -> dict[str, Any]:
    host = urlsplit(str(jwt.jwks_url)).hostname or ""
    return {
        "apiVersion": versions.AGENTGATEWAY_API,
        "kind": "AgentgatewayBackend",
        "metadata": metadata(f"{ai.name}-jwks", namespace),
        "spec": {"static": {"host": host, "port": 443}, "policies": {"tls": {"sni": host}}},
    }


def jwt_policy(ai: AiGateway, jwt: GatewayJwt, namespace: str) -> dict[str, Any]:
    """Every request on the agents listener carries a valid JWT of the gateway's provider (keys fetched by the proxy
    through the JWKS backend)."""
    parts = urlsplit(str(jwt.jwks_url))
    provider: dict[str, Any] = {
        "issuer": jwt.issuer,
        "jwks": {
            "remote": {
                "backendRef": _ref("AgentgatewayBackend", f"{ai.name}-jwks"),
                "jwksPath": parts.path + (f"?{parts.query}" if parts.query else ""),
            }
        },
    }
    if jwt.audiences:
        provider["audiences"] = list(jwt.audiences)
    return {
        "apiVersion": versions.AGENTGATEWAY_API,
        "kind": "AgentgatewayPolicy",
        "metadata": metadata(f"{ai.name}-{LISTENER}-jwt", namespace),
        "spec": {
            "targetRefs": [_ref("Gateway", ai.name, LISTENER)],
            "traffic": {"jwtAuthentication": {"mode": "Strict", "providers": [provider]}},
        },
    }


def mcp_target(server: McpServer, agents_ns: str) -> dict[str, Any]:
    """Where a server answers: the platform's tool server or a kmcp server (Services in the agents namespace), or a
    remote URL (TLS when https)."""
    static: dict[str, Any] = {"protocol": "StreamableHTTP", "path": server.path}
    if server.kind == "platform":
        static |= {"host": f"{TOOLS_SERVER}.{agents_ns}.svc.cluster.local", "port": TOOLS_PORT}
    elif server.kind == "kmcp":
        static |= {"host": f"{server.name}.{agents_ns}.svc.cluster.local", "port": server.port}
    else:
        parts = urlsplit(str(server.url))
        https = parts.scheme == "https"
        host, port = parts.hostname or "", parts.port or (443 if https else 80)
        static |= {"host": host, "port": port, "path": parts.path or server.path}
        if https:
            static["policies"] = {"tls": {"sni": parts.hostname or ""}}
    return {"name": server.name, "static": static}


def tool_rules(ai: AiGateway, fed: McpFederation) -> list[str]:
    """CEL per grant: the caller's tenant claim, the server (the multiplexing target) and its granted tools. Every
    literal is JSON-quoted, and claim, names and tools are validated in config."""
    claim = f"jwt.{ai.tenant_claim} == {json.dumps(fed.tenant)}"
    return [
        f"{claim} && mcp.tool.target == {json.dumps(g.server)} && mcp.tool.name in {json.dumps(list(g.tools))}"
        for g in fed.grants
    ]


def tenant_objects(
    ai: AiGateway, fed: McpFederation, servers: dict[str, McpServer], namespace: str, agents_ns: str
) -> list[dict[str, Any]]:
    name = f"mcp-{fed.tenant}"
    return [
        {
            "apiVersion": versions.AGENTGATEWAY_API,
            "kind": "AgentgatewayBackend",
            "metadata": metadata(name, namespace),
            "spec": {
                "mcp": {"targets": [mcp_target(servers[g.server], agents_ns) for g in fed.grants]},
                "policies": {
                    "mcp": {"authorization": {"action": "Allow", "policy": {"matchExpressions": tool_rules(ai, fed)}}}
                },
            },
        },
        _route(ai, name, f"/mcp/{fed.tenant}", namespace),
        {
            "apiVersion": versions.AGENTGATEWAY_API,
            "kind": "AgentgatewayPolicy",
            "metadata": metadata(name, namespace),
            "spec": {
                "targetRefs": [_ref("HTTPRoute", name)],
                "traffic": {
                    "authorization": {
                        "action": "Require",
                        "policy": {"matchExpressions": [f"jwt.{ai.tenant_claim} == {json.dumps(fed.tenant)}"]},
                    }
                },
            },
        },
    ]


def _route(ai: AiGateway, name: str, prefix: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": versions.GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": metadata(name, namespace),
        "spec": {
            "parentRefs": [{"name": ai.name, "sectionName": LISTENER}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                        }
                    ],
                    "backendRefs": [_ref("AgentgatewayBackend", name)],
                }
            ],
        },
    }


def a2a_objects(ai: AiGateway, agent: str, agent_ns: str, namespace: str) -> list[dict[str, Any]]:
    name = f"a2a-{agent}"
    return [
        {
            "apiVersion": versions.AGENTGATEWAY_API,
            "kind": "AgentgatewayBackend",
            "metadata": metadata(name, namespace),
            "spec": {"a2a": {"host": f"{agent}.{agent_ns}.svc.cluster.local", "port": A2A_PORT}},
        },
        _route(ai, name, f"/a2a/{agent}", namespace),
    ]


def _peer(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": namespaces_in([namespace])}


def network_objects(cfg: Platform, namespace: str, agents_ns: str) -> list[dict[str, Any]]:
    """The ports the namespaces' policies do not already open: kmcp servers' ports (gateway -> agents) and remote
    servers off 443 (public addresses only)."""
    granted = {g.server for fed in cfg.gateway.ai.mcp for g in fed.grants}
    servers = [s for s in cfg.kagent.mcp_servers if s.name in granted]
    kmcp = sorted({s.port for s in servers if s.kind == "kmcp"} - {TOOLS_PORT})
    remote = sorted(
        {p for s in servers if s.kind == "remote" and (p := mcp_target(s, agents_ns)["static"]["port"]) != 443}
    )
    objs: list[dict[str, Any]] = []
    if kmcp:
        ports = [{"protocol": "TCP", "port": p} for p in kmcp]
        objs.append(
            _netpol("allow-ai-gateway-to-mcp", namespace, "Egress", [{"to": [_peer(agents_ns)], "ports": ports}])
        )
        objs.append(
            _netpol("allow-from-ai-gateway-mcp", agents_ns, "Ingress", [{"from": [_peer(namespace)], "ports": ports}])
        )
    if remote:
        rule = [{"to": [{"ipBlock": dict(PUBLIC)}], "ports": [{"protocol": "TCP", "port": p} for p in remote]}]
        objs.append(_netpol("allow-ai-gateway-remote-mcp", namespace, "Egress", rule))
    return objs


def _netpol(name: str, namespace: str, kind: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, namespace),
        "spec": {"podSelector": {}, "policyTypes": [kind], kind.lower(): rules},
    }


def federation_objects(
    cfg: Platform, namespace: str, agents_ns: str, agent_namespaces: dict[str, str]
) -> list[dict[str, Any]]:
    """Everything on the agents listener: the JWT provider and policy, the tenants' MCP endpoints, the A2A routes.
    ``agent_namespaces``: agent -> the namespace it runs in."""
    ai, jwt = cfg.gateway.ai, cfg.gateway.jwt
    if not (ai.mcp or ai.a2a) or jwt is None:
        return []
    servers = {s.name: s for s in cfg.kagent.mcp_servers}
    objs = [jwks_backend(ai, jwt, namespace), jwt_policy(ai, jwt, namespace)]
    for fed in ai.mcp:
        objs += tenant_objects(ai, fed, servers, namespace, agents_ns)
    for agent in ai.a2a:
        objs += a2a_objects(ai, agent, agent_namespaces[agent], namespace)
    return objs
