"""Every config rule, with good and bad input. Errors must name the full config path and say how to fix it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agentic.cli import app
from config import ConfigError, Platform, parse_platform
from config.base import quantity
from tests.conftest import stack_raw


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return [str(p) for p in exc.value.problems]


def test_committed_stacks_are_valid():
    dev, prod = parse_platform(stack_raw("dev")), parse_platform(stack_raw("prod"))
    assert dev.environment == "dev" and prod.environment == "prod"
    assert dev.cluster.endpoint.public and dev.cluster.endpoint.public_cidrs
    assert not prod.cluster.endpoint.public and prod.network.nat_mode == "per_az"
    assert {"p5", "p4d"} <= {p.name for p in prod.gpu_pools}
    assert all(p.limits.gpus > 0 for p in prod.gpu_pools)


def test_gpu_limit_below_model_demand_names_path_model_and_pool():
    raw = stack_raw("prod")
    raw["gpu_pools"][0]["limits"]["gpus"] = 8  # p5: llama-70b (primary + canary) and llama-405b (2 nodes)
    assert (
        "platform.gpu_pools[0].limits.gpus: must be >= 32 because model 'llama-70b' requests 16 GPUs (2 replicas x 8 "
        "GPUs), model 'llama-405b' requests 16 GPUs (1 group x 2 nodes x 8 GPUs) on pool 'p5': raise the limit or "
        "lower the models' replicas"
    ) in problems(raw)


@pytest.mark.parametrize(
    "mutate, path, fragment",
    [
        (lambda r: r["models"][0].update(name="Llama_8B"), "platform.models[0].name", "DNS-1035"),
        (lambda r: r["namespaces"][0].update(name="-bad"), "platform.namespaces[0].name", "DNS-1123"),
        (lambda r: r["gpu_pools"][0].update(limts={}), "platform.gpu_pools[0].limts", "did you mean 'limits'"),
        (lambda r: r.update(enviroment="dev"), "platform.enviroment", "did you mean 'environment'"),
        (lambda r: r["network"].update(vpc_cidr="10.0.0.0/33"), "platform.network.vpc_cidr", "not a valid IPv4 CIDR"),
        (lambda r: r["network"].update(vpc_cidr="10.0.0.1/16"), "platform.network.vpc_cidr", "host bits"),
        (lambda r: r["network"].update(vpc_cidr="8.8.0.0/16"), "platform.network.vpc_cidr", "RFC 1918"),
        (lambda r: r["network"].update(vpc_cidr="10.0.0.0/20"), "platform.network.vpc_cidr", "cannot hold 3 public"),
        (
            lambda r: r["network"].update(availability_zones=["us-west-2a"]),
            "platform.network.availability_zones",
            "lists 1 zones but az_count is 3",
        ),
        (
            lambda r: r["network"].update(availability_zones=["eu-west-1a", "us-west-2b", "us-west-2c"]),
            "platform.network.availability_zones[0]",
            "not a zone of region us-west-2",
        ),
        (
            lambda r: r["cluster"]["endpoint"].update(public_cidrs=[]),
            "platform.cluster.endpoint.public_cidrs",
            "open to the internet",
        ),
        (
            lambda r: r["cluster"]["endpoint"].update(public_cidrs=["0.0.0.0/0"]),
            "platform.cluster.endpoint.public_cidrs[0]",
            "0.0.0.0/0",
        ),
        (
            lambda r: r["cluster"]["endpoint"].update(public=False, private=False),
            "platform.cluster.endpoint",
            "both off",
        ),
        (lambda r: r["cluster"].update(kubernetes_version="1.29"), "platform.cluster.kubernetes_version", "1.33"),
        (
            lambda r: r["models"][0].update(pool="g6"),
            "platform.models[0].pool",
            "GPU pool 'g6' is not in platform.gpu_pools",
        ),
        (
            lambda r: r["models"][0]["variants"][0].update(weight=90),
            "platform.models[0].variants",
            "route weights sum to 90, not 100",
        ),
        (
            lambda r: r["models"][0]["variants"][0].update(image="vllm/vllm-openai:latest"),
            "platform.models[0].variants[0].image",
            "latest",
        ),
        (
            lambda r: r["models"][0]["variants"][0].update(image="vllm/vllm-openai"),
            "platform.models[0].variants[0].image",
            "no tag",
        ),
        (lambda r: r["models"][0].update(gpus=8), "platform.models[0].gpus", "pool 'g5' (at most 4)"),
        (lambda r: r["namespaces"][2]["quota"].update(gpus=0), "platform.namespaces[2].quota.gpus", "must be >= 4"),
        (
            lambda r: r["namespaces"][2]["quota"].update(requests_memory="8Gi"),
            "platform.namespaces[2].quota.requests_memory",
            "must be >= 96.0Gi",
        ),
        (
            lambda r: r["namespaces"][0]["quota"].update(requests_cpu="lots"),
            "platform.namespaces[0].quota.requests_cpu",
            "Kubernetes quantity",
        ),
        (
            lambda r: r["namespaces"][1].update(layer="gateway"),
            "platform.namespaces[1].layer",
            "more than one namespace",
        ),
        (lambda r: r["namespaces"].pop(4), "platform.namespaces", "no namespace for layer 'observability'"),
        (
            lambda r: r["gpu_pools"][0].update(ami_alias="al2023@latest"),
            "platform.gpu_pools[0].ami_alias",
            "does not match",
        ),
        (
            lambda r: r["gpu_pools"][0].update(capacity_types=["reserved", "spot"]),
            "platform.gpu_pools[0].capacity_reservations",
            "capacity reservation ids",
        ),
        (
            lambda r: r["gpu_pools"][0].update(instance_families=["p2"]),
            "platform.gpu_pools[0].instance_families[0]",
            "Input should be",
        ),
        (
            lambda r: r["gpu_pools"][0]["root_volume"].update(iops=200000),
            "platform.gpu_pools[0].root_volume.iops",
            "less than or equal to 16000",
        ),
        (
            lambda r: r["kagent"]["agents"][0].update(model_config="gpt-4"),
            "platform.kagent.agents[0].model_config",
            "model config 'gpt-4' is not in platform.kagent.model_configs",
        ),
        (
            lambda r: r["kagent"]["model_configs"][0].update(platform_model="nope"),
            "platform.kagent.model_configs[0].platform_model",
            "model 'nope' is not in platform.models",
        ),
        (
            lambda r: r["kagent"]["agents"][0]["tools"][0].update(mcp_server="missing"),
            "platform.kagent.agents[0].tools[0].mcp_server",
            "not in platform.kagent.mcp_servers",
        ),
        (
            lambda r: r["kagent"]["agents"][0]["tools"][0].update(require_approval=["k8s_delete_everything"]),
            "platform.kagent.agents[0].tools[0].require_approval",
            "must also be listed in tool_names",
        ),
        (lambda r: r["tenants"].insert(1, dict(r["tenants"][0])), "platform.tenants[1].name", "duplicate name"),
        (lambda r: r.pop("cluster"), "platform.cluster", "required key is missing"),
    ],
)
def test_bad_dev_config_is_reported_with_path(mutate, path, fragment):
    raw = stack_raw("dev")
    mutate(raw)
    found = problems(raw)
    matching = [p for p in found if p.startswith(path + ":")]
    assert matching, f"no problem at {path}; got {found}"
    assert any(fragment in p for p in matching), f"{fragment!r} not in {matching}"


@pytest.mark.parametrize(
    "mutate, path, fragment",
    [
        (
            lambda r: r["cluster"]["endpoint"].update(public=True, public_cidrs=["203.0.113.0/24"]),
            "platform.cluster.endpoint",
            "private-only API endpoint",
        ),
        (
            lambda r: [p.update(capacity_types=["spot"], capacity_reservations=[]) for p in r["gpu_pools"]],
            "platform.gpu_pools",
            "on-demand fallback",
        ),
        (lambda r: r["network"].update(nat_mode="single"), "platform.network.nat_mode", "per_az"),
        (lambda r: r["cluster"].update(secrets_encryption=False), "platform.cluster.secrets_encryption", "KMS"),
        (
            lambda r: r["gpu_pools"][0].update(capacity_types=["on-demand"], capacity_reservations=[]),
            "platform.gpu_pools[0].capacity_types",
            "single SKU",
        ),
    ],
)
def test_prod_only_invariants(mutate, path, fragment):
    raw = stack_raw("prod")
    mutate(raw)
    matching = [p for p in problems(raw) if p.startswith(path + ":")]
    assert any(fragment in p for p in matching), matching


def test_same_change_is_fine_in_dev():
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["capacity_types"] = ["spot"]  # no on-demand fallback is allowed outside prod
    parse_platform(raw)


def test_every_problem_is_reported_not_only_the_first():
    raw = stack_raw("dev")
    raw["models"][0]["pool"] = "nope"
    raw["models"][0]["variants"][0]["weight"] = 50
    raw["kagent"]["agents"][0]["model_config"] = "missing"
    found = problems(raw)
    assert len(found) >= 3, found


def test_pydantic_and_cross_rules_use_the_same_path_style():
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["limits"]["gpus"] = 0
    assert any(p.startswith("platform.gpu_pools[0].limits.gpus:") for p in problems(raw))


def test_config_set_path_strings_are_coerced():
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["limits"]["gpus"] = "8"  # `pulumi config set --path` writes strings
    raw["network"]["az_count"] = "3"
    assert parse_platform(raw).gpu_pools[0].limits.gpus == 8


def test_not_a_mapping():
    assert problems([1, 2]) == ["platform: must be a mapping, got list"]


@pytest.mark.parametrize("text, value", [("500m", 0.5), ("4", 4), ("16Gi", 16 * 2**30), ("1.5k", 1500)])
def test_quantity(text, value):
    assert float(quantity(text)) == pytest.approx(value)


def test_cli_validate_reports_problems_without_traceback(tmp_path):
    raw = stack_raw("dev")
    raw["models"][0]["pool"] = "nope"
    (tmp_path / "Pulumi.broken.yaml").write_text(json.dumps({"config": {"agentic-platform:platform": raw}}))
    result = CliRunner().invoke(app, ["validate", "--stack", "broken", "-C", str(tmp_path)])
    assert result.exit_code == 2
    assert "platform.models[0].pool" in result.output
    assert "Traceback" not in result.output


def test_cli_validate_missing_stack_file(tmp_path):
    result = CliRunner().invoke(app, ["validate", "--stack", "nope", "-C", str(tmp_path)])
    assert result.exit_code == 2 and "stack file not found" in result.output


def test_cli_validate_ok():
    result = CliRunner().invoke(app, ["validate", "--stack", "prod"])
    assert result.exit_code == 0 and "is valid" in result.output


def test_schema_of_a_whole_stack_file_accepts_every_committed_one_and_refuses_mistakes():
    import copy

    import jsonschema
    import yaml

    from tests.conftest import PROJECT_ROOT

    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    files = {n: yaml.safe_load((PROJECT_ROOT / f"Pulumi.{n}.yaml").read_text()) for n in ("dev", "prod", "tenant-demo")}
    for doc in files.values():  # platform and tenant stacks alike
        jsonschema.validate(doc, schema)
    for mutate in (
        lambda d: d["config"]["agentic-platform:platform"].update(typo=1),
        lambda d: d["config"].update({"agentic-platform:tenant": {"name": "x"}}),  # both kinds in one file
        lambda d: d["config"].update({"aws:region": "mars-1"}),
        lambda d: d["config"]["agentic-platform:deploy"].update(backend="ftp"),
    ):
        bad = copy.deepcopy(files["dev"])
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    bad = copy.deepcopy(files["tenant-demo"])
    bad["config"]["agentic-platform:tenant"]["quota"]["pods"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_schema_command_emits_json_schema_accepting_the_stacks():
    import jsonschema

    result = CliRunner().invoke(app, ["schema", "--part", "platform"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["additionalProperties"] is False
    assert {"environment", "aws", "cluster", "gpu_pools", "namespaces", "kagent"} <= set(schema["properties"])
    jsonschema.validate(stack_raw("prod"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**stack_raw("prod"), "typo": 1}, schema)


def test_model_is_frozen_and_forbids_extra():
    assert Platform.model_config["extra"] == "forbid"
