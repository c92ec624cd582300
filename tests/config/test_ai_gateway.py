"""The AI gateway's config (issue #23): the dev stack's gateway, and each bad input refused with its path and the fix."""

from __future__ import annotations

import copy

import pytest

from config import ConfigError, parse_platform
from tests.conftest import stack_raw


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return [str(p) for p in exc.value.problems]


@pytest.fixture
def dev():
    return copy.deepcopy(stack_raw("dev"))


def ai(raw) -> dict:
    return raw["gateway"]["ai"]


def test_dev_runs_the_ai_gateway_with_a_self_hosted_model_a_bedrock_fallback_and_a_tenant_key():
    cfg = parse_platform(stack_raw("dev"))
    g = cfg.gateway.ai
    assert g.enabled
    [model] = g.models
    kinds = [[next(p.kind for p in g.providers if p.name == n) for n in group] for group in model.groups]
    assert kinds == [["self_hosted"], ["bedrock"]]
    [tenant_key] = [k for k in g.keys if k.tenant == "sandbox"]
    assert tenant_key.tokens_per_minute and tenant_key.models == ["llama-8b"]
    assert tenant_key.budget_usd_per_day == 25


def test_a_fallback_group_naming_an_unknown_provider_is_refused(dev):
    ai(dev)["models"][0]["groups"][1] = ["claude-bedrok"]
    assert any("gateway.ai.models[0].groups[1][0]" in p and "claude-bedrock" in p for p in problems(dev)), (
        "the path and the closest known provider"
    )


def test_a_tenant_key_allowing_a_model_outside_its_allowance_is_refused(dev):
    [sandbox] = [t for t in dev["tenants"] if t["name"] == "sandbox"]
    sandbox["allow"]["models"] = []
    [msg] = [p for p in problems(dev) if "gateway.ai.keys[0].models[0]" in p]
    assert "allowance" in msg and "tenants[].allow.models" in msg


def test_a_key_for_a_model_the_gateway_does_not_serve_is_refused(dev):
    ai(dev)["keys"][0]["models"] = ["llama-70b"]
    assert any("gateway.ai.keys[0].models[0]" in p and "gateway.ai.models" in p for p in problems(dev))


def test_a_self_hosted_provider_of_a_model_that_is_not_served_is_refused(dev):
    ai(dev)["providers"][0]["model"] = "llama-70b"
    assert any("gateway.ai.providers[0].model" in p and "platform.models" in p for p in problems(dev))


def test_a_budget_without_the_redis_it_is_counted_in_is_refused(dev):
    dev["data"]["redis"]["enabled"] = False
    for t in dev["tenants"]:
        t["allow"]["redis"] = False
    [msg] = [p for p in problems(dev) if "gateway.ai.keys[0].budget_usd_per_day" in p]
    assert "data.redis.enabled: true" in msg and "tokens_per_minute" in msg


def test_a_budget_on_models_without_a_price_is_refused(dev):
    del ai(dev)["providers"][1]["price"]
    [msg] = [p for p in problems(dev) if "gateway.ai.keys[0].budget_usd_per_day" in p]
    assert "price" in msg


def test_a_budget_beyond_what_the_counter_holds_is_refused(dev):
    ai(dev)["keys"][0]["budget_usd_per_day"] = 5000
    assert any("gateway.ai.keys[0].budget_usd_per_day" in p for p in problems(dev))


def test_a_price_on_a_self_hosted_provider_is_refused_not_ignored(dev):
    ai(dev)["providers"][0]["price"] = {"input": 0.1, "output": 0.1}
    assert any("gateway.ai.providers[0].price" in p and "remove it" in p for p in problems(dev))


def test_a_guard_webhook_without_a_url_is_refused(dev):
    ai(dev)["guards"]["webhook"] = {"failure_mode": "FailOpen"}
    assert any("gateway.ai.guards.webhook.url" in p for p in problems(dev))


def test_a_guard_pattern_that_is_not_a_regex_is_refused(dev):
    ai(dev)["guards"]["patterns"] = ["(unclosed"]
    assert any("gateway.ai.guards.patterns[0]" in p for p in problems(dev))


def test_bedrock_guardrails_without_a_bedrock_provider_are_refused(dev):
    ai(dev)["providers"] = ai(dev)["providers"][:1]
    ai(dev)["models"][0]["groups"] = [["llama-8b-self"]]
    ai(dev)["guards"]["bedrock_guardrail"] = {"identifier": "gr1", "version": "1"}
    assert any(
        p.startswith("platform.gateway.ai.guards.bedrock_guardrail:") and "bedrock provider" in p for p in problems(dev)
    )


def test_an_openai_provider_without_its_key_is_refused(dev):
    ai(dev)["providers"].append({"name": "gpt", "kind": "openai", "model": "gpt-4o-mini"})
    assert any("gateway.ai.providers[2].api_key" in p for p in problems(dev))


def test_a_model_config_through_the_ai_gateway_needs_the_gateway_on_and_a_key(dev):
    dev["kagent"]["model_configs"].append(
        {"name": "llama-8b-ai", "provider": "OpenAI", "model": "llama-8b", "ai_model": "llama-8b"}
    )
    assert any("kagent.model_configs[1].ai_model" in p and "virtual key" in p for p in problems(dev))
    ai(dev)["enabled"] = False
    assert any("kagent.model_configs[1].ai_model" in p and "enabled: true" in p for p in problems(dev))


def test_a_self_service_tenant_key_is_held_to_its_allowance(dev):
    [k] = [k for k in ai(dev)["keys"] if k.get("tenant") == "demo"]
    k["models"] = ["llama-8b", "claude"]
    ai(dev)["models"].append({"name": "claude", "groups": [["claude-bedrock"]]})
    assert any("gateway.ai.keys[1].models[1]" in p and "allowance" in p for p in problems(dev))


def test_prod_requires_prompt_guards():
    raw = copy.deepcopy(stack_raw("prod"))
    raw["gateway"]["ai"] = {"enabled": True}
    assert any("gateway.ai.guards" in p and "prod" in p for p in problems(raw))


def test_more_limited_keys_than_one_policy_holds_are_refused(dev):
    tenant = next(t for t in dev["tenants"] if t["name"] == "sandbox")
    for i in range(16):
        dev["tenants"].append({**copy.deepcopy(tenant), "name": f"t{i}", "admin_groups": [f"t{i}"]})
        ai(dev)["keys"].append({"tenant": f"t{i}", "models": ["llama-8b"], "tokens_per_minute": 10})
    assert any(p.startswith("platform.gateway.ai.keys:") and "16" in p for p in problems(dev))


# --- models[].routing: inference_pool (point 4) --------------------------------------------------------------------


def _pool(raw) -> dict:
    [m] = [m for m in raw["models"] if m["name"] == "llama-8b"]
    m["routing"] = "inference_pool"
    return m


def test_prod_routes_a_model_through_an_inference_pool():
    cfg = parse_platform(stack_raw("prod"))
    [m] = [m for m in cfg.models if m.routing == "inference_pool"]
    assert m.endpoint_picker is not None and cfg.gateway.ai.enabled
    assert any(p.kind == "self_hosted" and p.model == m.name for p in cfg.gateway.ai.providers)


def test_inference_pool_routing_is_accepted_on_dev(dev):
    _pool(dev)
    parse_platform(dev)


def test_inference_pool_routing_on_tgi_is_refused(dev):
    _pool(dev)["engine"] = "tgi"
    for key in ("tool_parser", "tool_calling", "max_model_len"):
        _pool(dev).pop(key, None)
    [msg] = [p for p in problems(dev) if "models[0].routing" in p]
    assert "vLLM" in msg and "routing: service" in msg


def test_inference_pool_routing_without_the_ai_gateway_is_refused(dev):
    _pool(dev)
    ai(dev)["enabled"] = False
    for t in dev["tenants"]:
        t.get("allow", {}).pop("models", None)
    [msg] = [p for p in problems(dev) if "models[0].routing" in p]
    assert "gateway.ai.enabled: true" in msg


def test_inference_pool_routing_with_a_flagger_rollout_is_refused(dev):
    _pool(dev)["rollout"] = {"strategy": "canary", "step_weights": [10, 50]}
    _pool(dev).pop("autoscaling", None)
    [msg] = [p for p in problems(dev) if "models[0].routing" in p]
    assert "Flagger" in msg and "variants[].weight" in msg


def test_an_inference_pool_nothing_calls_is_refused(dev):
    _pool(dev)
    ai(dev)["providers"][0] = {"name": "llama-8b-self", "kind": "bedrock", "model": "meta.llama3-8b"}
    assert any("models[0].routing" in p and "nothing calls the pool" in p for p in problems(dev))


def test_an_endpoint_picker_on_a_service_routed_model_is_refused_not_ignored(dev):
    [m] = [m for m in dev["models"] if m["name"] == "llama-8b"]
    m["endpoint_picker"] = {"replicas": 2}
    assert any("models[0].endpoint_picker" in p and "inference_pool" in p for p in problems(dev))


def test_with_the_ai_gateway_on_a_model_config_calling_a_provider_directly_is_refused(dev):
    dev["kagent"]["model_configs"].append(
        {"name": "claude", "provider": "Bedrock", "model": "anthropic.claude", "bedrock_region": "us-east-1"}
    )
    i = len(dev["kagent"]["model_configs"]) - 1
    [msg] = [p for p in problems(dev) if p.startswith(f"platform.kagent.model_configs[{i}]:")]
    assert "ai_model" in msg and "directly" in msg
    # an in-cluster endpoint is not a provider outside the cluster
    dev["kagent"]["model_configs"][i] = {
        "name": "local",
        "provider": "OpenAI",
        "model": "m",
        "base_url": "http://my-llm.team.svc.cluster.local:8000/v1",
    }
    assert not any(p.startswith(f"platform.kagent.model_configs[{i}]:") for p in problems_or_none(dev))


def problems_or_none(raw) -> list[str]:
    try:
        parse_platform(raw)
    except ConfigError as e:
        return [str(p) for p in e.problems]
    return []
