"""What an agent needs outside the cluster, derived from its config (components.agents.egress renders it as a
NetworkPolicy; a tenant stack is held to its allowance with it):

- its model config's provider when the model is not the platform's (Bedrock, OpenAI, ... on 443 or the URL's port),
- the remote MCP servers its tools name, and a BYO agent's Gitea, when they are outside the cluster,
- the destinations its config lists (``agents[].egress``: CIDR and ports).

Provider endpoints have no fixed addresses, so derived needs are public addresses only (never private ranges or
link-local, where the instance metadata service lives). The instance metadata address is excluded from every rule."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from config.agents import Agent, McpServer, ModelConfigSpec

PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
#: The EC2 instance metadata service (the node role's credentials).
IMDS = "169.254.169.254/32"
LINK_LOCAL = "169.254.0.0/16"
INTERNET = "0.0.0.0/0"
#: Public addresses only: what a derived rule (a provider, a remote MCP server) may reach.
PUBLIC = {"cidr": INTERNET, "except": [*PRIVATE_RANGES, LINK_LOCAL]}


def _in_cluster(host: str) -> bool:
    return host.endswith((".svc", ".svc.cluster.local", ".cluster.local")) or "." not in host


def _endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def calls_outside(mc: ModelConfigSpec) -> bool:
    """A model config whose provider is outside the cluster (not the platform's models, not the AI gateway, not an
    in-cluster URL)."""
    if mc.platform_model is not None or mc.ai_model is not None:
        return False
    url = mc.base_url or mc.azure_endpoint
    host = _endpoint(str(url))[0] if url is not None else ""
    return not (host and _in_cluster(host))


def needs(a: Agent, mcs: dict[str, ModelConfigSpec], servers: dict[str, McpServer]) -> list[tuple[dict, int, str]]:
    """(ipBlock, port, why) for each destination outside the cluster the agent needs."""
    out: list[tuple[dict, int, str]] = []
    for ref in (a.model_config_ref, a.memory_model_config):
        mc = mcs.get(ref or "")
        if mc is not None and calls_outside(mc):  # not the platform's models, the AI gateway or in the cluster
            url = mc.base_url or mc.azure_endpoint
            port = _endpoint(str(url))[1] if url is not None else 443
            out.append((PUBLIC, port, f"model config {mc.name} ({mc.provider})"))
    for tool in a.tools:
        server = servers.get(tool.mcp_server or "")
        if server is not None and server.kind == "remote" and server.url is not None:
            host, port = _endpoint(str(server.url))
            if not _in_cluster(host):
                out.append((PUBLIC, port, f"MCP server {server.name}"))
    if a.gitea is not None:
        host, port = _endpoint(str(a.gitea.url))
        if not _in_cluster(host):
            out.append((PUBLIC, port, "Gitea"))
    for rule in a.egress:
        net = ipaddress.ip_network(rule.cidr)
        block: dict[str, Any] = {"cidr": rule.cidr}
        if net.overlaps(ipaddress.ip_network(IMDS)):
            block["except"] = [IMDS] if net.prefixlen < 32 else []
        if block.get("except") == []:
            continue  # the metadata address itself: never
        out += [(block, port, "agents[].egress") for port in rule.ports]
    return out
