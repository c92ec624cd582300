"""MCP and A2A through the AI gateway (issue #23 point 6), as journeys through the prod plan: a tenant's MCP client
with its JWT reaches one endpoint that lists and calls only its granted tools; an exposed agent is reached over A2A
behind the same JWT policy. The authorization rules are evaluated with the Rust ``cel`` crate (agentgateway's CEL
is a fork of it) on the claims and tool calls agentgateway would bind."""

from __future__ import annotations

import copy

import cel
import pytest

from agentic.plan.netpol import Endpoint, from_objects
from catalog.runtime_tools import RUNTIME_MCP_TOOLS
from components.traffic import ai_budgets, ai_federation
from tests.config.test_ai_gateway import problems
from tests.conftest import stack_raw

GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"


@pytest.fixture(scope="module")
def objs(plans) -> list[dict]:
    return [dict(r.inputs) for r in plans("prod").run.kubernetes_objects()]


def one(objs, kind, name) -> dict:
    [o] = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return o


def allowed(rules: list[str], claims: dict, target: str, tool: str) -> bool:
    """agentgateway's MCP authorization (action Allow): a call is allowed when any rule holds."""
    context = {"jwt": claims, "mcp": {"tool": {"target": target, "name": tool}}}
    return any(cel.evaluate(rule, context) is True for rule in rules)


def test_a_tenant_sees_and_calls_only_its_granted_tools(objs):
    gateway = one(objs, "Gateway", "llm-gateway")
    [agents] = [lst for lst in gateway["spec"]["listeners"] if lst["name"] == ai_federation.LISTENER]
    route = one(objs, "HTTPRoute", "mcp-search")
    assert route["spec"]["parentRefs"] == [{"name": "llm-gateway", "sectionName": agents["name"]}]
    assert route["spec"]["rules"][0]["matches"][0]["path"]["value"] == "/mcp/search"
    [ref] = route["spec"]["rules"][0]["backendRefs"]
    backend = one(objs, ref["kind"], ref["name"])
    [target] = backend["spec"]["mcp"]["targets"]
    # the platform's tool server, where it listens (its Service in the agents namespace)
    svc = one(objs, "Service", "kube-agent-mcp")
    assert target["static"]["host"] == f"kube-agent-mcp.{svc['metadata']['namespace']}.svc.cluster.local"
    assert target["static"]["port"] in [p["port"] for p in svc["spec"]["ports"]]
    rules = backend["spec"]["policies"]["mcp"]["authorization"]["policy"]["matchExpressions"]
    me = {"tenant": "search", "sub": "alice"}
    for tool in ("k8s_list_pods", "k8s_get_pod_logs", "k8s_get_events"):
        assert allowed(rules, me, "kube-tools", tool)
    for tool in [t for t, destructive in RUNTIME_MCP_TOOLS.items() if destructive]:
        assert not allowed(rules, me, "kube-tools", tool), tool
    assert not allowed(rules, {"tenant": "support"}, "kube-tools", "k8s_list_pods"), "another tenant's token"
    assert not allowed(rules, {"tenant": 'search" || true || "'}, "kube-tools", "k8s_list_pods")
    # the route itself requires the tenant claim, and the listener a valid JWT of the gateway's provider
    route_policy = one(objs, "AgentgatewayPolicy", "mcp-search")["spec"]
    assert route_policy["targetRefs"][0]["name"] == "mcp-search"
    [need] = route_policy["traffic"]["authorization"]["policy"]["matchExpressions"]
    assert cel.evaluate(need, {"jwt": {"tenant": "search"}}) and not cel.evaluate(need, {"jwt": {"tenant": "x"}})
    jwt = one(objs, "AgentgatewayPolicy", "llm-gateway-agents-jwt")["spec"]
    assert jwt["targetRefs"][0]["sectionName"] == agents["name"]
    [provider] = jwt["traffic"]["jwtAuthentication"]["providers"]
    assert provider["issuer"] == "https://login.example.com/" and provider["audiences"] == ["agentic-platform"]
    jwks = one(objs, "AgentgatewayBackend", provider["jwks"]["remote"]["backendRef"]["name"])
    assert jwks["spec"]["static"] == {"host": "login.example.com", "port": 443}
    # the virtual keys stay on the LLM listener: an MCP client needs no key
    keys = one(objs, "AgentgatewayPolicy", "llm-gateway-keys")["spec"]
    assert keys["targetRefs"][0]["sectionName"] == "http"


def test_an_exposed_agent_is_reached_over_a2a_behind_the_jwt_policy(objs):
    route = one(objs, "HTTPRoute", "a2a-support-agent")
    assert route["spec"]["parentRefs"][0]["sectionName"] == ai_federation.LISTENER
    backend = one(objs, "AgentgatewayBackend", "a2a-support-agent")
    a2a = backend["spec"]["a2a"]
    host, ns = a2a["host"].split(".")[0], a2a["host"].split(".")[1]
    svc = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == host]
    agent = one(objs, "Agent", "support-agent")
    assert agent["metadata"]["namespace"] == ns
    assert not svc or a2a["port"] in [p["port"] for p in svc[0]["spec"]["ports"]]  # kagent makes the agent's Service
    params = one(objs, "AgentgatewayParameters", "llm-gateway")["spec"]
    assert params["service"]["spec"]["type"] == "LoadBalancer"
    assert params["service"]["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == (
        "internal"
    )
    cluster = from_objects(objs)
    proxy = Endpoint("ai-gateway", {GATEWAY_NAME_LABEL: "llm-gateway"})
    assert cluster.can_reach(proxy, Endpoint(ns, {"app": "kagent", "kagent": "support-agent"}), a2a["port"])
    assert cluster.can_reach(proxy, Endpoint("ai-agents", {"app": "kube-agent-mcp"}), 8080)
    assert cluster.can_reach(Endpoint("tenant-search", {"app": "x"}), proxy, ai_federation.MCP_PORT)


def test_the_budget_cost_expression_counts_micro_dollars():
    assert cel.evaluate(ai_budgets.COST, {"llm": {"cost": {"total": 4.8}}}) == 4_800_000
    assert cel.evaluate(ai_budgets.COST, {"llm": {"cost": {"total": 0.0000004}}}) == 0


@pytest.fixture
def prod():
    return copy.deepcopy(stack_raw("prod"))


def test_a_destructive_platform_tool_is_not_federated(prod):
    prod["gateway"]["ai"]["mcp"][0]["grants"][0]["tools"].append("k8s_restart_deployment")
    [msg] = [p for p in problems(prod) if "gateway.ai.mcp[0].grants[0].tools" in p]
    assert "k8s_restart_deployment" in msg and "approval" in msg


def test_a_tool_the_server_does_not_have_is_refused(prod):
    prod["gateway"]["ai"]["mcp"][0]["grants"][0]["tools"].append("k8s_exec")
    assert any("gateway.ai.mcp[0].grants[0].tools" in p and "k8s_exec" in p for p in problems(prod))


def test_federation_without_jwt_is_refused(prod):
    del prod["gateway"]["jwt"]
    found = problems(prod)
    assert any(p.startswith("platform.gateway.ai.mcp") and "gateway.jwt" in p for p in found)


def test_an_unexposed_agent_on_a2a_is_refused(prod):
    prod["gateway"]["ai"]["a2a"] = ["sre-assistant"]
    assert any("gateway.ai.a2a[0]" in p and "expose: true" in p for p in problems(prod))


def test_a_claim_that_could_inject_cel_is_refused(prod):
    prod["gateway"]["ai"]["tenant_claim"] = 'tenant == "x" || true'
    assert any("gateway.ai.tenant_claim" in p for p in problems(prod))
