"""Model-aware routing (issue #23 point 4) across variants: a pool-routed model with two variants gets one
InferencePool and picker per variant, and the AI gateway's route splits over one backend per variant by the
variants' weights (how a canary between pools is weighted: Flagger shifts Services, not pools)."""

from __future__ import annotations

import copy

import pytest

from components.traffic import inference_pools
from config import parse_platform
from tests.conftest import build_stack, stack_raw
from tests.helm_values import chart_defaults, unknown_keys


@pytest.fixture(scope="module")
def split():
    raw = copy.deepcopy(stack_raw("dev"))
    [m] = [m for m in raw["models"] if m["name"] == "llama-8b"]
    m.pop("autoscaling")
    m["routing"] = "inference_pool"
    m["endpoint_picker"] = {"failure_mode": "FailClose"}
    m["variants"] = [{"name": "primary", "weight": 90}, {"name": "candidate", "weight": 10}]
    return raw, build_stack(raw, "dev")


def test_the_route_splits_over_one_backend_per_variant_pool_by_weight(split):
    _, run = split
    objs = [r.inputs for r in run.kubernetes_objects()]
    [route] = [o for o in objs if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "ai-llama-8b"]
    refs = {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]}
    assert refs == {"ai-llama-8b-primary": 90, "ai-llama-8b-candidate": 10}
    for name in refs:
        [backend] = [o for o in objs if o["kind"] == "AgentgatewayBackend" and o["metadata"]["name"] == name]
        first, fallback = backend["spec"]["ai"]["groups"]
        pool = first["providers"][0]["custom"]["backendRef"]
        assert pool == {
            "group": "inference.networking.k8s.io",
            "kind": "InferencePool",
            "name": name.removeprefix("ai-"),
        }
        assert "bedrock" in fallback["providers"][0], "each split keeps the Bedrock fallback"
    releases = {
        r.inputs["name"]: r.inputs["values"]
        for r in run.registrations
        if r.type == "kubernetes:helm.sh/v3:Release" and str(r.inputs.get("chart")).endswith("/llm-d-router-gateway")
    }
    assert set(releases) == {"llama-8b-primary", "llama-8b-candidate"}
    for name, values in releases.items():
        assert values["router"]["modelServers"]["matchLabels"]["agentic.platform/variant"] == name.split("-")[-1]
        assert values["router"]["inferencePool"]["failureMode"] == "FailClose"


def test_the_picker_values_are_keys_the_chart_knows(split):
    raw, _ = split
    cfg = parse_platform(raw)
    [(m, v), *_] = inference_pools.pooled(cfg)
    values = inference_pools.picker_values(m, v).render()
    assert unknown_keys(values, chart_defaults("llm-d-router-gateway")) == []
    assert (
        values["router"]["epp"]["image"]["tag"]
        != chart_defaults("llm-d-router-gateway")["router"]["epp"]["image"]["tag"]
    )


def test_without_pool_routing_there_are_no_pools_and_no_inference_extension(plans):
    run = plans("dev").run
    charts = {str(r.inputs.get("chart")) for r in run.registrations if r.type == "kubernetes:helm.sh/v3:Release"}
    assert not any(c.endswith("/llm-d-router-gateway") for c in charts)
    [controller] = [
        r.inputs
        for r in run.registrations
        if r.type == "kubernetes:helm.sh/v3:Release" and str(r.inputs.get("chart")).endswith("/agentgateway")
    ]
    assert controller["values"]["inferenceExtension"] == {"enabled": False}
