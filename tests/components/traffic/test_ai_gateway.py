"""The AI gateway (issue #23) as journeys through the dev plan: a tenant's call with its virtual key and an agent's
call through its model config each reach the self-hosted model, with Bedrock behind it; and the builders' parts."""

from __future__ import annotations

import copy
import json
from urllib.parse import urlsplit

import pytest

from agentic.plan.netpol import Endpoint, from_objects
from components.traffic import ai_backends, ai_gateway
from config import parse_platform
from config.ai_gateway import BedrockGuardrail, GuardWebhook
from tests.conftest import build_stack, stack_raw
from tests.helm_values import chart_defaults, unknown_keys

GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"


@pytest.fixture(scope="module")
def objs(plans) -> list[dict]:
    return [r.inputs for r in plans("dev").run.kubernetes_objects()]


def find(objs, kind, name=None, namespace=None) -> list[dict]:
    return [
        o
        for o in objs
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]


def one(objs, kind, name, namespace=None) -> dict:
    [o] = find(objs, kind, name, namespace)
    return o


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels, matchExpressions with In) or a plain label map."""
    exprs = selector.get("matchExpressions", [])
    plain = selector.get("matchLabels", {} if ("matchLabels" in selector or exprs) else selector)
    return all(labels.get(k) == v for k, v in plain.items()) and all(
        e["operator"] == "In" and labels.get(e["key"]) in e["values"] for e in exprs
    )


def route_to_model(objs, model: str) -> tuple[dict, dict]:
    """Follow a request for ``model`` from the AI Gateway: its keys policy, the route whose header match the policy
    sets, the backend the route names."""
    cfg = parse_platform(stack_raw("dev"))
    gw_ns = "ai-gateway"
    gateway = one(objs, "Gateway", cfg.gateway.ai.name, gw_ns)
    assert gateway["spec"]["gatewayClassName"] == "agentgateway"
    pre = one(objs, "AgentgatewayPolicy", f"{cfg.gateway.ai.name}-keys", gw_ns)["spec"]
    assert pre["targetRefs"][0]["name"] == cfg.gateway.ai.name and pre["traffic"]["phase"] == "PreRouting"
    [header] = pre["traffic"]["transformation"]["request"]["set"]
    routes = [
        r
        for r in find(objs, "HTTPRoute")
        if any(p["name"] == cfg.gateway.ai.name for p in r["spec"]["parentRefs"])
        for rule in r["spec"]["rules"]
        for m in rule["matches"]
        if {"type": "Exact", "name": header["name"], "value": model} in m.get("headers", [])
    ]
    [route] = routes
    ns = route["metadata"]["namespace"]
    [listener] = gateway["spec"]["listeners"]
    ns_labels = {**one(objs, "Namespace", ns)["metadata"]["labels"], "kubernetes.io/metadata.name": ns}
    assert selects(listener["allowedRoutes"]["namespaces"]["selector"], ns_labels), "the listener admits the route"
    [ref] = route["spec"]["rules"][0]["backendRefs"]
    return route, one(objs, ref["kind"], ref["name"], ns)


def test_a_tenant_call_with_its_key_reaches_the_self_hosted_model_and_falls_back_to_bedrock(objs):
    # the key: generated into Secrets Manager, synced into the tenant's namespace; the gateway holds its hash only
    [synced] = find(objs, "ExternalSecret", "ai-key-tenant-sandbox", "tenant-sandbox")
    keys = one(objs, "ConfigMap", "llm-gateway-keys", "ai-gateway")
    entry = json.loads(keys["data"]["tenant-sandbox"])
    assert entry["keyHash"].startswith("sha256:") and len(entry["keyHash"]) == 71 and "key" not in entry
    assert entry["metadata"] == {"consumer": "tenant-sandbox", "models": ["llama-8b"]}
    pre = one(objs, "AgentgatewayPolicy", "llm-gateway-keys", "ai-gateway")["spec"]["traffic"]
    assert selects(pre["apiKeyAuthentication"]["configMapSelector"], keys["metadata"]["labels"])
    assert "apiKey.models" in pre["authorization"]["policy"]["matchExpressions"][0]
    _, backend = route_to_model(objs, "llama-8b")
    first, fallback = backend["spec"]["ai"]["groups"]
    [self_hosted] = first["providers"]
    svc = one(objs, "Service", self_hosted["custom"]["backendRef"]["name"], backend["metadata"]["namespace"])
    assert self_hosted["custom"]["backendRef"]["port"] in [p["port"] for p in svc["spec"]["ports"]]
    [deploy] = [
        d
        for d in find(objs, "Deployment", namespace="ai-inference")
        if selects(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
    ]
    assert "meta-llama/Llama-3.1-8B-Instruct" in json.dumps(deploy["spec"]["template"]["spec"]["containers"][0])
    assert self_hosted["custom"]["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    [bedrock] = fallback["providers"]
    assert bedrock["bedrock"]["model"].startswith("anthropic.") and "policies" not in bedrock  # SDK default chain
    health = backend["spec"]["policies"]["health"]
    assert "500" in health["unhealthyCondition"] and health["eviction"]["consecutiveFailures"] == 3
    # the tenant's token limit: one entry for its consumer, split over the proxy replicas
    limits = one(objs, "AgentgatewayPolicy", "llm-gateway-token-limits", "ai-gateway")["spec"]["traffic"]["rateLimit"]
    [mine] = [c for c in limits["conditional"] if "tenant-sandbox" in c["condition"]]
    assert mine["policy"]["local"] == [{"tokens": 20000, "unit": "Minutes"}]
    assert synced["spec"]["target"]["name"] == "ai-key-tenant-sandbox"


def test_the_network_lets_the_journey_through(objs):
    cluster = from_objects(objs)
    proxy = Endpoint("ai-gateway", {GATEWAY_NAME_LABEL: "llm-gateway"})
    assert cluster.can_reach(Endpoint("tenant-sandbox", {"app": "x"}), proxy, ai_gateway.PORT)
    assert cluster.can_reach(Endpoint("ai-agents", {"app": "x"}), proxy, ai_gateway.PORT)
    model = Endpoint("ai-inference", {"app.kubernetes.io/name": "llama-8b"})
    assert cluster.can_reach(proxy, model, 8000)
    assert cluster.can_reach(proxy, Endpoint(None, ip="52.94.0.10"), 443), "Bedrock's public endpoint"
    assert cluster.can_reach(proxy, Endpoint(None, ip="169.254.170.23"), 80), "the Pod Identity agent"


@pytest.fixture(scope="module")
def with_agent_key():
    """dev plus a model config through the AI gateway with its own key."""
    raw = copy.deepcopy(stack_raw("dev"))
    raw["kagent"]["model_configs"].append(
        {"name": "llama-8b-ai", "provider": "OpenAI", "model": "llama-8b", "ai_model": "llama-8b"}
    )
    raw["gateway"]["ai"]["keys"].append(
        {"model_config": "llama-8b-ai", "models": ["llama-8b"], "tokens_per_minute": 1000}
    )
    # a BYO agent on the platform runtime, calling the AI gateway with a key of its own
    raw["kagent"]["agents"].append({"name": "triage-agent", "type": "BYO", "ai_model": "llama-8b"})
    raw["gateway"]["ai"]["keys"].append({"agent": "triage-agent", "models": ["llama-8b"], "tokens_per_minute": 500})
    run = build_stack(raw, "dev")
    return run


def test_an_agent_model_config_calls_the_ai_gateway_with_its_own_key(with_agent_key):
    run = with_agent_key
    objs = [r.inputs for r in run.kubernetes_objects()]
    mc = one(objs, "ModelConfig", "llama-8b-ai", "ai-agents")["spec"]
    base = urlsplit(mc["openAI"]["baseUrl"])
    assert base.hostname == "llm-gateway.ai-gateway.svc.cluster.local" and base.path == "/v1"
    gateway = one(objs, "Gateway", "llm-gateway", "ai-gateway")
    assert base.port == gateway["spec"]["listeners"][0]["port"]
    assert mc["model"] == "llama-8b" and mc["apiKeySecretKey"] == "api-key"
    [secret] = find(objs, "ExternalSecret", mc["apiKeySecret"], "ai-agents")
    assert secret["spec"]["data"][0]["secretKey"] == "api-key"
    keys = one(objs, "ConfigMap", "llm-gateway-keys", "ai-gateway")["data"]
    assert json.loads(keys["model-config-llama-8b-ai"])["metadata"]["models"] == ["llama-8b"]
    # the Bedrock fallback signs as the proxy's ServiceAccount (named after the Gateway) through Pod Identity
    [assoc] = [
        r.inputs
        for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.inputs.get("serviceAccount") == "llm-gateway"
    ]
    assert assoc["namespace"] == "ai-gateway"


def test_a_byo_agent_calls_the_ai_gateway_with_its_own_key_and_reaches_the_model(with_agent_key):
    from tests.plan.test_request_path import resolve

    objs = [dict(r.inputs) for r in with_agent_key.kubernetes_objects()]
    agent = one(objs, "Agent", "triage-agent", "ai-agents")
    [container] = agent["spec"]["byo"]["deployment"].get("containers") or [agent["spec"]["byo"]["deployment"]]
    env = {e["name"]: e for e in container["env"]}
    url, model = env["KUBE_AGENT_LLM_URL"]["value"], env["KUBE_AGENT_LLM_MODEL"]["value"]
    key = env["KUBE_AGENT_LLM_API_KEY"]["valueFrom"]["secretKeyRef"]
    assert model == "llama-8b" and key == {"name": "ai-key-agent-triage-agent", "key": "api-key"}
    [synced] = find(objs, "ExternalSecret", key["name"], "ai-agents")
    assert synced["spec"]["target"]["name"] == key["name"]
    keys = one(objs, "ConfigMap", "llm-gateway-keys", "ai-gateway")["data"]
    assert json.loads(keys["agent-triage-agent"])["metadata"] == {"consumer": "agent-triage-agent", "models": [model]}
    assert resolve(objs, url, {":model": model}) == "", "the request reaches the model's pods"
    assert "KUBE_AGENT_LLM_HEADERS" not in env, "the AI gateway routes by the body's model"


def test_a_byo_agent_key_nothing_uses_is_refused():
    raw = copy.deepcopy(stack_raw("dev"))
    raw["gateway"]["ai"]["keys"].append({"agent": "kube-agent", "models": ["llama-8b"]})
    with pytest.raises(Exception, match="its key would go unused"):
        parse_platform(raw)


def test_guards_reject_pii_in_requests_and_mask_it_in_responses():
    cfg = parse_platform(stack_raw("dev"))
    assert cfg.gateway.ai.guards is not None
    guard = ai_backends.prompt_guard(cfg.gateway.ai.guards, "us-west-2")
    [req] = guard["request"]
    assert req["regex"]["action"] == "Reject" and "Ssn" in req["regex"]["builtins"]
    assert req["response"] == {"message": cfg.gateway.ai.guards.message, "statusCode": 403}
    assert "action" not in guard["response"][0]["regex"]
    g = cfg.gateway.ai.guards.model_copy(
        update={
            "webhook": GuardWebhook(url="http://pii-guard.ai-gateway.svc:8000"),
            "bedrock_guardrail": BedrockGuardrail(identifier="gr1abc", version="1"),
        }
    )
    full = ai_backends.prompt_guard(g, "us-west-2")
    assert full["request"][1]["webhook"]["backendRef"] == {"name": "pii-guard", "namespace": "ai-gateway", "port": 8000}
    assert full["request"][2]["bedrockGuardrails"]["region"] == "us-west-2"
    assert full["response"][1]["bedrockGuardrails"]["identifier"] == "gr1abc"


def test_the_controller_values_are_keys_the_chart_knows():
    values = ai_gateway.controller_values(True).render()
    assert unknown_keys(values, chart_defaults("agentgateway")) == []
    assert values["controller"]["replicaCount"] == 2 and values["nodeSelector"]


def test_token_limits_are_split_over_the_proxy_replicas():
    cfg = parse_platform(stack_raw("dev"))
    [limits] = [
        o
        for o in ai_gateway.policy_objects(cfg.gateway.ai, "ai-gateway", 2)
        if o["metadata"]["name"].endswith("limits")
    ]
    per_replica = {
        c["condition"]: c["policy"]["local"][0]["tokens"] for c in limits["spec"]["traffic"]["rateLimit"]["conditional"]
    }
    assert per_replica == {'apiKey.consumer == "tenant-sandbox"': 10000, 'apiKey.consumer == "tenant-demo"': 5000}


def test_the_key_entry_holds_the_hash_of_the_key_and_never_the_key():
    cfg = parse_platform(stack_raw("dev"))
    key = cfg.gateway.ai.keys[0]
    entry = json.loads(ai_gateway.key_entry(key, ai_gateway.sha256("s3cret-key")))
    assert entry["keyHash"] == "sha256:" + __import__("hashlib").sha256(b"s3cret-key").hexdigest()
    assert "s3cret-key" not in json.dumps(entry)


def _resources(objs):
    from policies.rules import Resource

    return [
        Resource(f"kubernetes:{'core/' if '/' not in o['apiVersion'] else ''}{o['apiVersion']}:{o['kind']}", f"r{i}", o)
        for i, o in enumerate(objs)
    ]


def test_the_ai_gateway_policies_pass_on_dev_and_fail_on_what_they_forbid(objs):
    from policies import ai_gateway as rules

    res = _resources(objs)
    for check in (
        rules.check_provider_keys_stay_in_gateway,
        rules.check_tenant_keys_limited,
        rules.check_backends_guarded,
    ):
        assert check(res) == [], check.__name__
    bad = copy.deepcopy(objs)
    backend = one(bad, "AgentgatewayBackend", "ai-llama-8b", "ai-inference")
    backend["spec"]["ai"]["groups"][1]["providers"].append(
        {"name": "gpt", "openai": {"model": "gpt-4o"}, "policies": {"auth": {"secretRef": {"name": "openai-key"}}}}
    )
    one(bad, "ModelConfig", "llama-8b", "ai-agents")["spec"]["apiKeySecret"] = "openai-key"
    del backend["spec"]["policies"]["ai"]
    limits = one(bad, "AgentgatewayPolicy", "llm-gateway-token-limits", "ai-gateway")["spec"]["traffic"]["rateLimit"]
    limits["conditional"] = [c for c in limits["conditional"] if "tenant-" not in c["condition"]]
    res = _resources(bad)
    assert "openai-key" in rules.check_provider_keys_stay_in_gateway(res)[0][1]
    assert {m for _, m in rules.check_tenant_keys_limited(res)} >= {
        "tenant key 'tenant-sandbox' has no token rate limit or budget: set gateway.ai.keys[].tokens_per_minute or budget_usd_per_day"
    }
    assert len(rules.check_backends_guarded(res)) == 1


def test_the_proxy_may_apply_only_the_configured_guardrail():
    cfg = parse_platform(stack_raw("dev"))
    bedrock = [p for p in cfg.gateway.ai.providers if p.kind == "bedrock"]
    policy = ai_gateway.bedrock_policy(bedrock, "us-west-2", BedrockGuardrail(identifier="gr1abc", version="1"))
    [apply] = [st for st in policy["Statement"] if st["Sid"] == "ApplyGuardrail"]
    assert apply["Resource"] == ["arn:aws:bedrock:us-west-2:*:guardrail/gr1abc"]
    by_arn = "arn:aws:bedrock:eu-west-1:111122223333:guardrail/gr1abc"
    policy = ai_gateway.bedrock_policy(bedrock, "us-west-2", BedrockGuardrail(identifier=by_arn, version="2"))
    assert [st["Resource"] for st in policy["Statement"] if st["Sid"] == "ApplyGuardrail"] == [[by_arn]]
    assert all(
        st["Sid"] != "ApplyGuardrail" for st in ai_gateway.bedrock_policy(bedrock, "us-west-2", None)["Statement"]
    )
    with pytest.raises(ValueError, match="identifier"):
        BedrockGuardrail(identifier='gr"*', version="1")
