"""Serving at scale (issue #24): the bad inputs of multi-node models, EFA, cold starts and node repair, each refused
with its path and the fix; the catalog's support dates."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog import versions
from config import ConfigError, parse_platform
from config.validate import check_pin_support, warnings
from tests.conftest import stack_raw


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return [str(p) for p in exc.value.problems]


def prod_405b(raw) -> tuple[dict, dict]:
    """The prod stack's multi-node model and its pool."""
    [m] = [m for m in raw["models"] if m["name"] == "llama-405b"]
    [pool] = [p for p in raw["gpu_pools"] if p["name"] == "p5"]
    return m, pool


def test_prod_serves_a_multi_node_model_on_p5_with_efa():
    cfg = parse_platform(stack_raw("prod"))
    [m] = [m for m in cfg.models if m.multi_node]
    assert (m.name, m.pool, m.pipeline_parallel, m.gpus_per_node) == ("llama-405b", "p5", 2, 8)
    pool = cfg.pool("p5")
    assert pool.efa and pool.placement_group and pool.model_cache == "instance_store" and pool.fast_image_pull
    assert cfg.cluster.node_health.repair and cfg.cluster.node_health.monitoring_agent


def test_multi_node_model_on_a_pool_without_efa_is_refused():
    raw = stack_raw("prod")
    _, pool = prod_405b(raw)
    pool["efa"] = False
    found = problems(raw)
    assert any(
        p.startswith(
            "platform.models[3].pool: a multi-node model talks between its nodes over EFA: set "
            "platform.gpu_pools[0].efa: true"
        )
        for p in found
    ), found


def test_efa_on_a_pool_with_types_without_efa_is_refused():
    raw = stack_raw("prod")
    raw["gpu_pools"][2]["efa"] = True  # g5/g6 with 1 or 4 GPUs: xlarge..4xlarge have no EFA
    [p] = [p for p in problems(raw) if p.startswith("platform.gpu_pools[2].efa:")]
    assert "g5.xlarge" in p and "g5.12xlarge" not in p and "narrow instance_families / gpu_counts" in p


def test_gpu_limit_below_one_group_is_refused_with_the_group_shape():
    raw = stack_raw("prod")
    _, pool = prod_405b(raw)
    pool["limits"]["gpus"] = 8
    found = problems(raw)
    assert any(
        p.startswith("platform.gpu_pools[0].limits.gpus: must be >= 32")
        and "model 'llama-405b' requests 16 GPUs (1 group x 2 nodes x 8 GPUs)" in p
        for p in found
    ), found


def test_pipeline_parallel_must_divide_the_gpus():
    raw = stack_raw("prod")
    m, _ = prod_405b(raw)
    m["pipeline_parallel"] = 3
    [p] = [p for p in problems(raw) if p.startswith("platform.models[3].pipeline_parallel:")]
    assert "3 nodes do not divide 16 GPUs evenly" in p and "pipeline_parallel: 2" in p


def test_more_gpus_than_a_node_without_pipeline_parallel_names_the_fix():
    raw = stack_raw("prod")
    m, _ = prod_405b(raw)
    m["pipeline_parallel"] = 1
    [p] = [p for p in problems(raw) if p.startswith("platform.models[3].gpus:")]
    assert "16 GPUs per node do not fit on one node of pool 'p5' (at most 8)" in p
    assert "pipeline_parallel: 2" in p


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"engine": "tgi"}, "platform.models[3].engine", "only vLLM serves one replica across nodes"),
        (
            {"rollout": {"strategy": "canary"}, "variants": [{"name": "primary", "weight": 100}]},
            "platform.models[3].rollout",
            "Flagger rolls out Deployments, not LeaderWorkerSets",
        ),
        (
            {"variants": [{"name": "primary", "replicas": 1, "weight": 100}]},
            "platform.models[3].variants[0].image",
            "has no EFA userspace",
        ),
    ],
)
def test_multi_node_model_rules(change, path, fragment):
    raw = stack_raw("prod")
    m, _ = prod_405b(raw)
    m.update(change)
    if m.get("engine") == "tgi":
        m.pop("weights_s3_prefix")
        m["hf_token"] = {"name": "hf-token", "key": "token", "source": "external"}
    assert any(p.startswith(f"{path}:") and fragment in p for p in problems(raw))


def test_the_upstream_vllm_image_on_a_multi_node_model_is_a_warning_in_dev():
    raw = stack_raw("prod")
    raw["environment"] = "dev"
    m, _ = prod_405b(raw)
    m["variants"] = [{"name": "primary", "replicas": 1, "weight": 100}]
    cfg = parse_platform(raw)
    assert any(w.path == "platform.models[3].variants[0].image" for w in warnings(cfg))


def test_raid0_cache_on_a_type_without_instance_store_is_refused():
    raw = stack_raw("prod")
    raw["gpu_pools"][1].update(instance_families=["p3"], model_cache="instance_store")
    [p] = [p for p in problems(raw) if p.startswith("platform.gpu_pools[1].model_cache:")]
    assert "p3.16xlarge" in p and "model_cache: ebs" in p


def test_raid0_cache_and_a_data_volume_are_refused_together():
    raw = stack_raw("prod")
    raw["gpu_pools"][0]["data_volume"] = {"size_gib": 500}
    assert any(p.startswith("platform.gpu_pools[0].data_volume: model_cache: instance_store") for p in problems(raw))


@pytest.mark.parametrize(
    ("alias", "path", "fragment"),
    [
        ("al2023@v20250717", "platform.gpu_pools[0].ami_alias", "predates FastImagePull"),
        ("bottlerocket@v1.46.0", "platform.gpu_pools[0].fast_image_pull", "needs an AL2023 AMI"),
    ],
)
def test_fast_image_pull_needs_a_new_enough_al2023_ami(alias, path, fragment):
    raw = stack_raw("prod")
    raw["gpu_pools"][0]["ami_alias"] = alias
    assert any(p.startswith(f"{path}:") and fragment in p for p in problems(raw))


def test_node_repair_on_a_karpenter_without_it_is_refused(monkeypatch):
    import config.scale

    monkeypatch.setattr(config.scale, "KARPENTER", versions.Chart("karpenter", "1.0.8", "oci://x"))
    found = problems(stack_raw("prod"))
    assert any(
        p.startswith("platform.cluster.node_health.repair: Karpenter 1.0.8 has no node repair (it arrived in 1.1.0)")
        for p in found
    ), found


def test_node_repair_without_the_monitoring_agent_is_refused_with_gpu_pools():
    raw = stack_raw("prod")
    raw["cluster"]["node_health"] = {"repair": True, "monitoring_agent": False}
    assert any(p.startswith("platform.cluster.node_health.monitoring_agent:") for p in problems(raw))


def test_reboot_repair_needs_repair():
    raw = stack_raw("prod")
    raw["cluster"]["node_health"] = {"repair": False, "reboot_gpu_faults": True}
    assert any(
        p.startswith("platform.cluster.node_health.reboot_gpu_faults: rebooting is one of node repair's actions")
        for p in problems(raw)
    )


def test_reboot_repair_on_a_karpenter_without_it_is_refused(monkeypatch):
    import config.scale

    monkeypatch.setattr(config.scale, "KARPENTER", versions.Chart("karpenter", "1.14.1", "oci://x"))
    found = problems(stack_raw("prod"))
    assert any(
        p.startswith("platform.cluster.node_health.reboot_gpu_faults: Karpenter 1.14.1 cannot reboot a node")
        and "arrived in 1.15.0" in p
        for p in found
    ), found


@pytest.mark.parametrize(
    "budget, refused",
    [
        ({"nodes": "0"}, True),  # every reason, always: repair never runs
        ({"nodes": "0%", "reasons": ["Unhealthy", "Drifted"]}, True),
        ({"nodes": "0", "reasons": ["Drifted", "Underutilized", "Empty"]}, False),  # repair not held back
        ({"nodes": "0", "schedule": "0 8 * * mon-fri", "duration": "10h"}, False),  # a window, not forever
        ({"nodes": "1"}, False),
    ],
)
def test_a_budget_that_would_stop_node_repair_forever_is_refused(budget, refused):
    """Karpenter 1.15 repairs nodes as a voluntary disruption paced by the NodePool's budgets (reason Unhealthy)."""
    raw = stack_raw("prod")
    raw["gpu_pools"][0]["disruption"]["budgets"] = [budget]
    path = "platform.gpu_pools[0].disruption.budgets[0]: nodes: 0 at all times"
    if refused:
        assert any(p.startswith(path) for p in problems(raw))
    else:
        parse_platform(raw)
    raw["cluster"]["node_health"]["repair"] = False
    raw["cluster"]["node_health"]["reboot_gpu_faults"] = False
    parse_platform(raw)  # without repair nothing is held back


# --- support dates ----------------------------------------------------------------------------------------------


def test_no_pinned_support_date_has_passed():
    """Fails on the day a pin the platform deploys by default leaves upstream support: move the pin."""
    today = dt.date.today()
    passed = {what: ends.isoformat() for what, (ends, _) in versions.SUPPORT_ENDS.items() if ends < today}
    assert passed == {}
    assert versions.EKS_STANDARD_SUPPORT_END[versions.DEFAULT_KUBERNETES_VERSION] >= today


def test_support_dates_warn_ahead_and_name_the_pin():
    pins = {"Widget 1.0": (dt.date(2027, 1, 10), "widget.example/eol")}
    assert check_pin_support(dt.date(2026, 9, 1), pins) == []
    [soon] = check_pin_support(dt.date(2026, 12, 3), pins)
    assert soon.severity == "warning" and "Widget 1.0 ends on 2027-01-10 (in 38 days)" in soon.message
    [gone] = check_pin_support(dt.date(2027, 2, 1), pins)
    assert "ended on 2027-01-10" in gone.message and "widget.example/eol" in gone.message
