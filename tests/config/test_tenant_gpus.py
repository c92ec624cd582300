"""Tenant GPU budgets (seed 001: 4 GPUs per tenant): possible when the pools have room, refused with the path and
the fix when the tenants' quotas exceed what the GPU pools' limits leave after the platform's models."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_platform
from tests.conftest import build_stack, stack_raw


def test_tenant_gets_gpus_within_the_pools():
    raw = stack_raw("dev")  # g5 limit 8; llama-8b takes 4 at max replicas
    raw["tenants"] = raw["tenants"][:1]  # without the self-service demo tenant's 2
    raw["gateway"]["ai"]["keys"] = [k for k in raw["gateway"]["ai"]["keys"] if k.get("tenant") != "demo"]
    raw["tenants"][0]["quota"]["gpus"] = 4
    parse_platform(raw)
    run = build_stack(raw)
    quota = next(
        r.inputs
        for r in run.of_type("kubernetes:core/v1:ResourceQuota")
        if r.inputs["metadata"]["namespace"] == "tenant-sandbox"
    )
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "4"


def test_tenant_gpus_beyond_the_pools_are_refused():
    raw = stack_raw("dev")
    raw["tenants"] = raw["tenants"][:1]
    raw["tenants"][0]["quota"]["gpus"] = 5
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    [problem] = [p for p in exc.value.problems if p.path == "platform.tenants[0].quota.gpus"]
    assert "add up to 5" in problem.message and "leave 4" in problem.message and "limits.gpus" in problem.message


@pytest.mark.parametrize("name", ["ai-agents", "agents", "kube-system", "tenant-x"])
def test_a_tenant_named_like_a_platform_namespace_is_refused(name):
    raw = stack_raw("dev")
    raw["tenants"][0]["name"] = name
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    assert "platform.tenants[0].name" in {p.path for p in exc.value.problems}


def test_a_tenant_allowance_names_only_served_models():
    raw = stack_raw("dev")
    raw["tenants"][1]["allow"]["models"] = ["gpt-5"]
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    assert any(
        p.path == "platform.tenants[1].allow.models[0]" and "no platform model 'gpt-5'" in p.message
        for p in exc.value.problems
    )


def test_self_service_tenants_count_against_the_gpu_pools():
    raw = stack_raw("dev")  # sandbox 0 + demo (self-service) 2 + models 4 of 8
    raw["tenants"][1]["quota"]["gpus"] = 5
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    assert "platform.tenants[1].quota.gpus" in {p.path for p in exc.value.problems}
