"""Inputs that used to crash (tracebacks) or be accepted although the cluster or AWS would reject them: each is now
a path-named problem (exit 2 from the CLI), and messages never echo more than a short cut of the value."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from agentic.cli import app
from config import ConfigError, parse_platform
from tests.conftest import stack_raw


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return [str(p) for p in exc.value.problems]


def has(raw, path: str, fragment: str) -> None:
    found = problems(raw)
    matching = [p for p in found if p.startswith(path)]
    assert any(fragment in p for p in matching), (path, fragment, found)


def cli_validate(tmp_path, content: bytes | str) -> tuple[int, str]:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(app, ["validate", "--stack", "x", "-C", str(tmp_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


# --- 10. tracebacks ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate, path",
    [
        (
            lambda r: r["namespaces"][0]["quota"].update(requests_cpu="9" * 40),
            "platform.namespaces[0].quota.requests_cpu",
        ),
        (
            lambda r: r["namespaces"][0]["quota"].update(requests_memory="99999999999999999999Ei"),
            "platform.namespaces[0].quota.requests_memory",
        ),
        (lambda r: r["models"][0]["variants"][0].update(replicas=10**400), "platform.models[0].variants[0].replicas"),
        (lambda r: r["gpu_pools"][0]["limits"].update(gpus=10**30), "platform.gpu_pools[0].limits.gpus"),
        (lambda r: r["namespaces"][0]["quota"].update(pods=float("inf")), "platform.namespaces[0].quota.pods"),
    ],
)
def test_huge_numbers_are_problems_not_tracebacks(mutate, path):
    raw = stack_raw("dev")
    mutate(raw)
    assert any(p.startswith(path) for p in problems(raw)), problems(raw)


def test_deep_nesting_is_refused_with_its_path():
    raw = stack_raw("dev")
    deep: dict = {}
    cur = deep
    for _ in range(5000):
        cur["x"] = {}
        cur = cur["x"]
    raw["aws"]["tags"] = deep
    assert any("nested more than" in p for p in problems(raw))


def test_lone_surrogate_is_refused_before_it_reaches_the_plan():
    raw = stack_raw("dev")
    raw["kagent"]["agents"][0]["description"] = "hi \ud800 there"
    has(raw, "platform.kagent.agents[0].description", "not valid Unicode")


def test_non_string_keys_are_refused():
    raw = stack_raw("dev")
    raw["aws"]["tags"] = {1: "x", "ok": "y"}
    has(raw, "platform.aws.tags[1]", "keys must be strings")


def test_long_values_are_cut_in_messages():
    raw = stack_raw("dev")
    raw["models"][0]["name"] = "X" * 1_000_000
    found = problems(raw)
    assert found and max(len(p) for p in found) < 600


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("- a\n- b\n", "must be a mapping"),
        ("just a string\n", "must be a mapping"),
        ("config: [1, 2]\n", "must be a mapping"),
        ("config:\n  agentic-platform:platform: 42\n", "must be a mapping, got int"),
        (b"config:\n  x: \xff\xfe\n", "not UTF-8"),
        ("config: {a: [unclosed\n", "not valid YAML"),
        ("config:\n  1: x\n  agentic-platform:platform: {}\n", "required key is missing"),
    ],
)
def test_malformed_stack_files_exit_2_with_a_message(tmp_path, content, fragment):
    code, out = cli_validate(tmp_path, content)
    assert code == 2 and fragment in out, out
    assert "Traceback" not in out


def test_yaml_alias_bomb_is_refused_fast(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    bomb = "config:\n  agentic-platform:platform:\n    environment: dev\n    aws:\n      tags:\n" + "".join(
        f"        {line}\n" for line in lines
    )
    assert len(bomb) < 2000
    import time

    t0 = time.perf_counter()
    code, out = cli_validate(tmp_path, bomb)
    assert code == 2 and "alias" in out.lower() and time.perf_counter() - t0 < 5


def test_a_few_aliases_are_fine_but_expansion_is_bounded():
    raw = stack_raw("dev")
    big = ["x"] * 1000
    raw["aws"]["tags"] = {"a": big}
    raw["cpu_pool"]["instance_categories"] = [big] * 200  # 200k values by reference
    assert any("expands to more than" in p for p in problems(raw))


# --- 11. accepted but invalid ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate, path, fragment",
    [
        (lambda r: r["namespaces"][0].update(name="ai-gateway\n"), "platform.namespaces[0].name", "DNS-1123"),
        (
            lambda r: r["namespaces"][0]["quota"].update(requests_cpu="4\n"),
            "platform.namespaces[0].quota.requests_cpu",
            "quantity",
        ),
        (
            lambda r: r["gpu_pools"][0]["disruption"].update(consolidate_after="10m\n"),
            "platform.gpu_pools[0].disruption.consolidate_after",
            "duration",
        ),
        (lambda r: r["cluster"].update(name="agentic\n"), "platform.cluster.name", "DNS-1123"),
        (
            lambda r: r["namespaces"][4].update(labels={"pod-security.kubernetes.io/enforce": "privileged"}),
            "platform.namespaces[4].labels",
            "Pod Security",
        ),
        (
            lambda r: r["namespaces"][1].update(labels={"agentic.platform/layer": "gateway"}),
            "platform.namespaces[1].labels",
            "use another prefix",
        ),
        (
            lambda r: r["namespaces"][1].update(labels={"team": "a b"}),
            "platform.namespaces[1].labels.team",
            "label value",
        ),
        (lambda r: r["namespaces"][0].update(name="kube-system"), "platform.namespaces[0].name", "belongs to"),
        (lambda r: r["namespaces"][0].update(name="karpenter"), "platform.namespaces[0].name", "belongs to"),
        (lambda r: r["namespaces"][0].update(name="default"), "platform.namespaces[0].name", "belongs to"),
        (lambda r: r["namespaces"][1].update(name="ai-gateway"), "platform.namespaces[1].name", "duplicate name"),
        (
            lambda r: r["gpu_pools"][0]["disruption"].update(budgets=[{"nodes": "0", "schedule": "0 8 * * *"}]),
            "platform.gpu_pools[0].disruption.budgets[0]",
            "schedule and duration together",
        ),
        (
            lambda r: r["gpu_pools"][0]["disruption"].update(
                budgets=[{"nodes": "0", "schedule": "0 8 * * *", "duration": "30s"}]
            ),
            "platform.gpu_pools[0].disruption.budgets[0].duration",
            "does not match",
        ),
        (lambda r: r["aws"]["tags"].update({"kubernetes.io/cluster/x": "owned"}), "platform.aws.tags", "reserved"),
        (lambda r: r["aws"]["tags"].update({"karpenter.sh/nodepool": "x"}), "platform.aws.tags", "reserved"),
        (lambda r: r["aws"]["tags"].update({"aws:createdBy": "x"}), "platform.aws.tags", "reserved"),
        (lambda r: r["aws"]["tags"].update({"team": "x" * 300}), "platform.aws.tags.team", "1-256"),
        (
            lambda r: r["namespaces"][1].update(limit_range={"max_cpu": "100m"}),
            "platform.namespaces[1].limit_range.max_cpu",
            "below default_cpu",
        ),
        (lambda r: r["models"][0].update(cpu="40"), "platform.models[0].cpu", "LimitRange max_cpu"),
        (lambda r: r["models"][0].update(memory="1000Gi"), "platform.models[0].cpu", "do not fit on any node"),
        (
            lambda r: r["gpu_pools"][0]["limits"].update(cpu=2),
            "platform.gpu_pools[0].limits",
            "cannot hold even one node",
        ),
        (lambda r: r["network"].update(vpc_cidr="127.0.0.0/16"), "platform.network.vpc_cidr", "RFC 1918"),
        (lambda r: r["network"].update(vpc_cidr="169.254.0.0/16"), "platform.network.vpc_cidr", "RFC 1918"),
        (lambda r: r["network"].update(vpc_cidr="198.18.0.0/16"), "platform.network.vpc_cidr", "RFC 1918"),
        (lambda r: r["network"].update(vpc_cidr="10.0.0.0/8"), "platform.network.vpc_cidr", "between /16 and /28"),
        (
            lambda r: r["network"].update(availability_zones=["us-west-20a", "us-west-2b", "us-west-2c"]),
            "platform.network.availability_zones[0]",
            "not a zone of region",
        ),
        (
            lambda r: r["network"].update(availability_zones=["us-west-2a", "us-west-2a", "us-west-2c"]),
            "platform.network.availability_zones[1]",
            "listed twice",
        ),
        (
            lambda r: r["cluster"]["admins"].append(dict(r["cluster"]["admins"][0])),
            "platform.cluster.admins[1]",
            "listed twice",
        ),
        (lambda r: r["tenants"][0].update(admin_groups=[""]), "platform.tenants[0].admin_groups[0]", "non-empty"),
        (lambda r: r["models"][0].update(name="8b"), "platform.models[0].name", "DNS-1035"),
        (
            lambda r: r["models"][0]["variants"][0].update(image="vllm:"),
            "platform.models[0].variants[0].image",
            "empty or malformed tag",
        ),
        (lambda r: r["models"][0].update(hf_model=""), "platform.models[0].hf_model", "does not match"),
        (lambda r: r["models"][0].update(hf_model=" "), "platform.models[0].hf_model", ""),
        (
            lambda r: r.setdefault("gateway", {}).update(hostnames=["AI.Example.com"]),
            "platform.gateway.hostnames[0]",
            "hostname",
        ),
        (lambda r: r["kagent"]["mcp_servers"][0].update(url="http://"), "platform.kagent.mcp_servers[0].url", "host"),
    ],
)
def test_accepted_but_invalid_is_now_refused(mutate, path, fragment):
    raw = stack_raw("dev")
    mutate(raw)
    has(raw, path, fragment)


def test_every_derived_aws_name_fits_its_limit_with_the_longest_cluster_name():
    from tests.conftest import build_stack

    raw = stack_raw("dev")
    raw["cluster"]["name"] = "c" * 63
    run = build_stack(raw)
    limits = {
        "aws:iam/role:Role": 64,
        "aws:sqs/queue:Queue": 80,
        "aws:cloudwatch/eventRule:EventRule": 64,
        "aws:eks/nodeGroup:NodeGroup": 63,
        "aws:kms/alias:Alias": 256,
        "aws:ecr/repository:Repository": 256,
    }
    key = {"aws:eks/nodeGroup:NodeGroup": "nodeGroupName"}
    for typ, limit in limits.items():
        names = [r.inputs[key.get(typ, "name")] for r in run.of_type(typ)]
        assert names and all(len(n) <= limit for n in names), (typ, [n for n in names if len(n) > limit])
    assert len({r.inputs["name"] for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}) == 5


def test_cli_reports_all_of_it_as_exit_2(tmp_path):
    raw = stack_raw("dev")
    raw["models"][0]["name"] = "8b"
    raw["cluster"]["name"] = "Agentic_Dev"
    code, out = cli_validate(tmp_path, yaml.safe_dump({"config": {"agentic-platform:platform": raw}}))
    assert code == 2 and "platform.models[0].name" in out and "platform.cluster.name" in out
    assert json.dumps(raw)  # the raw config itself is fine data


# --- day-one prerequisites (issue 20.5) -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_gated_model_needs_a_token_or_s3_weights(stack):
    raw = stack_raw(stack)
    i = next(i for i, m in enumerate(raw["models"]) if m["hf_model"].startswith("meta-llama/"))
    raw["models"][i].pop("hf_token")
    has(raw, f"platform.models[{i}].hf_token", "is a gated Hugging Face model")
    raw["models"][i]["weights_s3_prefix"] = "llama/"
    if raw["models"][i].get("engine", "vllm") == "vllm":
        assert not any(p.startswith(f"platform.models[{i}].hf_token") for p in _problems_or_none(raw))


def _problems_or_none(raw) -> list[str]:
    try:
        parse_platform(raw)
    except ConfigError as exc:
        return [str(p) for p in exc.value.problems]
    return []


def test_prod_alerts_need_a_real_receiver():
    raw = stack_raw("prod")
    raw["observability"].pop("alerts")
    has(raw, "platform.observability.alerts", "routes them to no receiver")
    raw = stack_raw("dev")
    assert not any(p.startswith("platform.observability.alerts") for p in _problems_or_none(raw))


def test_a_vllm_image_older_than_a_security_fix_is_refused():
    raw = stack_raw("dev")
    raw["models"][0]["variants"][0]["image"] = "vllm/vllm-openai:v0.28.0"
    has(raw, "platform.models[0].variants[0].image", "CVE-2026-105757")
    raw["models"][0]["variants"][0]["image"] = "vllm/vllm-openai:v0.30.0"
    assert not any(".image" in p for p in _problems_or_none(raw))


def test_the_pinned_vllm_has_no_known_vulnerability():
    from catalog.versions import VLLM_IMAGE
    from config.images import vllm_vulnerabilities

    assert vllm_vulnerabilities(VLLM_IMAGE) == []
    assert vllm_vulnerabilities("registry.example.com:5000/vllm:0.29.9-cu128") != []
    assert vllm_vulnerabilities("vllm/vllm-openai:latest") == []


def test_the_knowledge_base_needs_one_embedding_model():
    raw = stack_raw("prod")
    raw["data"]["milvus"].pop("embedding")
    has(raw, "platform.data.milvus.embedding", "has no embedding model")
    raw["data"]["milvus"]["embedding"] = {"provider": "platform", "model": "llama-8b"}
    has(raw, "platform.data.milvus.embedding.model", "is not an embedding model: set models[")
    raw["data"]["milvus"]["embedding"] = {"provider": "platform", "model": "nope"}
    has(raw, "platform.data.milvus.embedding.model", "is not in models[]")
    raw["data"]["milvus"]["embedding"] = {"provider": "local", "model": "embed"}
    has(raw, "platform.data.milvus.embedding.model", "is for provider platform")


def test_the_local_embedding_dimension_is_the_runtimes():
    from agent_runtime.vectors import LocalEmbedder
    from config.data import LOCAL_EMBEDDING_DIM

    assert LocalEmbedder.dim == LOCAL_EMBEDDING_DIM


def test_prod_langfuse_needs_a_clickhouse_the_platform_can_reach():
    raw = stack_raw("prod")
    raw["observability"].pop("langfuse_clickhouse")
    has(raw, "platform.observability.langfuse_clickhouse.mode", "does not install")
    raw["observability"]["langfuse_clickhouse"] = {"mode": "external"}
    has(raw, "platform.observability.langfuse_clickhouse.host", "mode external needs it")
    has(raw, "platform.observability.langfuse_clickhouse.password", "mode external needs it")


def test_a_platform_mcp_server_must_list_its_tools():
    raw = stack_raw("dev")
    i = next(i for i, s in enumerate(raw["kagent"]["mcp_servers"]) if s.get("kind") == "platform")
    raw["kagent"]["mcp_servers"][i]["tools"] = []
    has(raw, f"platform.kagent.mcp_servers[{i}].tools", "list the tools it serves")
