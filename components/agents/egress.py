"""What may leave the cluster from an agent's pods. Agent and tenant namespaces allow no internet egress of their own
(components.tenancy.namespaces); each agent gets one NetworkPolicy, selecting only its pods, for what it needs:

- its model config's provider when the model is not the platform's (Bedrock, OpenAI, ... on 443 or the URL's port),
- the remote MCP servers its tools name, and a BYO agent's Gitea, when they are outside the cluster,
- the destinations its config lists (``agents[].egress``: CIDR and ports).

Provider endpoints have no fixed addresses, so the derived rules allow public addresses only (never private ranges
or link-local, where the instance metadata service lives) on the needed port. The instance metadata address is
excluded from every rule, explicit ones too. Pure functions: unit-tested without the engine."""

from __future__ import annotations

from typing import Any

from components.agents.kagent_v0_10 import AGENT_NAME_LABEL, AGENT_POD_LABELS
from config.agents import Agent, McpServer, ModelConfigSpec
from config.egress import needs
from kit.labels import metadata


def egress_policy(
    a: Agent, namespace: str, mcs: dict[str, ModelConfigSpec], servers: dict[str, McpServer]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The agent's egress NetworkPolicy (None when it needs nothing outside) and why each destination is allowed."""
    wanted = needs(a, mcs, servers)
    if not wanted:
        return None, []
    rules: list[dict[str, Any]] = []
    for block, port, _ in wanted:
        rule = next((r for r in rules if r["to"] == [{"ipBlock": block}]), None)
        if rule is None:
            rules.append({"to": [{"ipBlock": block}], "ports": []})
            rule = rules[-1]
        if {"protocol": "TCP", "port": port} not in rule["ports"]:
            rule["ports"].append({"protocol": "TCP", "port": port})
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(f"agent-{a.name}-egress", namespace),
        "spec": {
            "podSelector": {"matchLabels": {**AGENT_POD_LABELS, AGENT_NAME_LABEL: a.name}},
            "policyTypes": ["Egress"],
            "egress": rules,
        },
    }
    why = sorted({f"{w} (TCP {p})" for _, p, w in wanted})
    return policy, why
