"""Model-aware routing (issue #23 point 4) across variants: a pool-routed model with two variants gets one
InferencePool and picker per variant, and the AI gateway's route splits over one backend per variant by the
variants' weights (how a canary between pools is weighted: Flagger shifts Services, not pools)."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess

import pytest
import yaml

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


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None and not os.environ.get("CI"), reason="promtool not installed")
def test_the_variant_analysis_fires_on_a_bad_candidate_and_stays_silent_on_a_good_one(split, tmp_path):
    """The canary analysis of the pools, run by promtool: the candidate's 5xx rate through the AI gateway and its
    p95 against the primary's; the primary is never judged; a healthy candidate raises nothing."""
    _, run = split
    [rule] = [
        r.inputs
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == "PrometheusRule" and "pool" in r.inputs["metadata"]["name"]
    ]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    def requests(backend: str, status: str, per_min: int) -> dict:
        return {"series": f'agentgateway_requests_total{{backend="ai-inference/{backend}",status="{status}"}}',
                "values": f"0+{per_min}x30"}  # fmt: skip

    def latency(service: str, slow: bool) -> list[dict]:
        fast = {"1": "0+10x30", "5": "0+10x30", "+Inf": "0+10x30"}
        slowb = {"1": "0x30", "5": "0+10x30", "+Inf": "0+10x30"}
        name = "vllm:e2e_request_latency_seconds_bucket"
        return [
            {"series": f'{name}{{namespace="ai-inference",service="{service}",le="{le}"}}', "values": v}
            for le, v in (slowb if slow else fast).items()
        ]

    labels = {"severity": "critical", "model": "llama-8b", "variant": "candidate"}
    bad = [
        requests("ai-llama-8b-primary", "200", 100),
        requests("ai-llama-8b-candidate", "200", 90),
        requests("ai-llama-8b-candidate", "503", 10),
        *latency("llama-8b-primary", slow=False),
        *latency("llama-8b-candidate", slow=True),
    ]
    good = [
        requests("ai-llama-8b-primary", "503", 10),  # the primary's own errors are not the candidate's
        requests("ai-llama-8b-candidate", "200", 100),
        *latency("llama-8b-primary", slow=False),
        *latency("llama-8b-candidate", slow=False),
    ]

    annotations = {r["alert"]: r["annotations"] for g in rule["spec"]["groups"] for r in g["rules"]}

    def case(series: list[dict], alert: str, fire: bool) -> dict:
        expected = [{"exp_labels": labels, "exp_annotations": annotations[alert]}] if fire else []
        return {"interval": "1m", "input_series": series,
                "alert_rule_test": [{"eval_time": "20m", "alertname": alert, "exp_alerts": expected}]}  # fmt: skip

    tests = [
        case(bad, "InferencePoolVariantErrors", True),
        case(bad, "InferencePoolVariantSlow", True),
        case(good, "InferencePoolVariantErrors", False),
        case(good, "InferencePoolVariantSlow", False),
    ]
    spec = tmp_path / "tests.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests}))
    out = subprocess.run([PROMTOOL, "test", "rules", str(spec)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
