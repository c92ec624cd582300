"""A tenant stack cannot widen its own rights (issue #21 point 2): each way a team's own file could ask for more than
the platform gives it is refused with its `tenant.*` path (or, for CI, the stack file's key), before anything of the
tenant's is registered."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from agentic.ci import stack_job
from agentic.plan.tenant import synthesize_tenant
from config import ConfigError
from config.agents import RESERVED_ENV, reserved_env
from config.loader import read_stack_config
from config.tenant_stack import parse_tenant
from tests.conftest import PROJECT_ROOT, stack_raw


@pytest.fixture(scope="module")
def dev_outputs(plans):
    outputs = copy.deepcopy(plans("dev").run.outputs)
    return {**outputs, "tenancy": json.loads(outputs["tenancy"])}


def _raw():
    return copy.deepcopy(read_stack_config(PROJECT_ROOT / "Pulumi.tenant-demo.yaml")["agentic-platform:tenant"])


def _problems(tmp_path, raw, outputs):
    (tmp_path / "Pulumi.tenant-demo.yaml").write_text(yaml.safe_dump({"config": {"agentic-platform:tenant": raw}}))
    with pytest.raises(ConfigError) as exc:
        synthesize_tenant("tenant-demo", tmp_path, outputs=outputs)
    return {p.path: p.message for p in exc.value.problems}


def _byo(raw):
    return next(a for a in raw["agents"] if a.get("type") == "BYO")


@pytest.mark.parametrize(
    "key",
    [
        "KUBE_AGENT_NAMESPACE",
        "AGENT_TENANT_ID",
        "REDIS_URL",
        "KAGENT_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "LD_PRELOAD",
        "MILVUS_TOKEN",
        "AGENT_JWT_SECRET",
        "PYTHONPATH",
        "https_proxy",
    ],
)
def test_an_agent_cannot_set_what_the_platform_sets(tmp_path, dev_outputs, key):
    raw = _raw()
    _byo(raw)["env"] = {key: "x"}
    problems = _problems(tmp_path, raw, dev_outputs)
    path = f"tenant.agents[1].env.{key}"
    assert path in problems and "is set by the platform" in problems[path], problems


def test_the_reserved_list_covers_what_the_platform_renders_on_agent_pods(plans):
    """One list, shared with the platform's own agents: every variable the platform sets on any agent pod of the
    committed stacks is in it (so a new one cannot be forgotten)."""
    seen = set()
    for stack in ("dev", "prod"):
        for reg in plans(stack).run.kubernetes_objects():
            obj = dict(reg.inputs)
            if obj.get("kind") != "Agent":
                continue
            byo = (obj.get("spec") or {}).get("byo") or {}
            for env in (byo.get("deployment") or {}).get("env") or []:
                seen.add(env["name"])
    user_set = {"AGENT_LOG_LEVEL", "KUBE_AGENT_LLM_API_KEY"}  # what the committed configs themselves set
    assert seen, "no BYO agent env rendered"
    assert sorted(n for n in seen - user_set if not reserved_env(n)) == []
    assert "KUBE_AGENT_NAMESPACE" in RESERVED_ENV


def test_the_platform_config_is_held_to_the_same_list():
    from config.validate import parse_platform

    raw = stack_raw("dev")
    agent = next(a for a in raw["kagent"]["agents"] if a.get("type") == "BYO")
    agent["env"] = {"REDIS_URL": "redis://elsewhere:6379", "bad name": "x"}
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    messages = {p.path.split(".env.")[-1]: p.message for p in exc.value.problems if ".env." in p.path}
    assert "is set by the platform" in messages["REDIS_URL"]
    assert "not an environment variable name" in messages["bad name"]


@pytest.mark.parametrize(
    "field, group, words",
    [
        ("admin_groups", "system:masters", "Kubernetes' own"),
        ("viewer_groups", "system:authenticated", "Kubernetes' own"),
        ("admin_groups", "agentic:tenant-sandbox:admin", "other tenants"),
        ("viewer_groups", "agentic:platform-admins", "belong to the platform"),
    ],
)
def test_rbac_groups_of_kubernetes_the_platform_or_another_tenant_are_refused(
    tmp_path, dev_outputs, field, group, words
):
    raw = _raw()
    raw[field] = [group]
    problems = _problems(tmp_path, raw, dev_outputs)
    assert words in problems[f"tenant.{field}[0]"], problems


def test_the_teams_own_groups_are_fine(tmp_path, dev_outputs):
    raw = _raw()
    raw["admin_groups"] = ["agentic:tenant-demo:admin", "team-demo-oncall"]
    assert parse_tenant(raw, stack="tenant-demo").admin_groups == raw["admin_groups"]


def test_a_platform_admin_cannot_be_claimed_as_a_tenant_principal(tmp_path, dev_outputs):
    outputs = copy.deepcopy(dev_outputs)
    admins = outputs["tenancy"]["admins"]
    assert admins, "the dev platform publishes its cluster admins"
    raw = _raw()
    raw["access"].append({"principal_arn": admins[0], "role": "viewer"})
    problems = _problems(tmp_path, raw, outputs)
    assert "is a cluster admin of the platform" in problems[f"tenant.access[{len(raw['access']) - 1}].principal_arn"]


@pytest.mark.parametrize("stack_ref", ["someone-else/agentic-platform/dev", "organization/other-project/dev"])
def test_a_platform_stack_outside_this_organization_and_project_is_refused(tmp_path, dev_outputs, stack_ref):
    raw = _raw()
    raw["platform_stack"] = stack_ref
    problems = _problems(tmp_path, raw, dev_outputs)
    assert "outside this organization and project (organization/agentic-platform)" in problems["tenant.platform_stack"]


@pytest.mark.parametrize(
    "change, path, words",
    [
        (lambda r: r["agents"][0].update(cpu="20"), "tenant.agents[0].cpu", "above the LimitRange's max_cpu (16)"),
        (
            lambda r: r["agents"][0].update(memory="100Gi"),
            "tenant.agents[0].memory",
            "above the LimitRange's max_memory (64Gi)",
        ),
        (lambda r: r["agents"][0].update(replicas=30), "tenant.quota.pods", "may run 33 pods, more than pods: 20"),
        (
            lambda r: r["agents"][1]["scaling"].update(max_replicas=5),
            "tenant.quota.requests_cpu",
            "need 3 cores",
        ),
        (
            lambda r: r["agents"][0].update(memory="4Gi"),
            "tenant.quota.requests_memory",
            "need 5632Mi",
        ),
    ],
)
def test_contents_that_cannot_fit_the_tenants_own_quota_or_limit_range_are_refused(
    tmp_path, dev_outputs, change, path, words
):
    raw = _raw()
    change(raw)
    problems = _problems(tmp_path, raw, dev_outputs)
    assert path in problems and words in problems[path], problems


# --- the deploy identity is the platform's -------------------------------------------------------------------------


def _configs():
    return {name: read_stack_config(PROJECT_ROOT / f"Pulumi.{name}.yaml") for name in ("dev", "prod", "tenant-demo")}


def test_ci_deploys_a_tenant_with_the_role_and_environment_the_platform_gives_it():
    job = stack_job("tenant-demo", _configs())
    dev = read_stack_config(PROJECT_ROOT / "Pulumi.dev.yaml")["agentic-platform:platform"]
    owned = next(t for t in dev["tenants"] if t["name"] == "demo")["deploy"]
    assert (job.aws_role_arn, job.github_environment) == (owned["aws_role_arn"], owned["github_environment"])


@pytest.mark.parametrize(
    "key, value",
    [
        ("aws_role_arn", "arn:aws:iam::111122223333:role/agentic-dev-deploy"),
        ("github_environment", "dev"),
    ],
)
def test_a_tenant_file_naming_another_deploy_role_or_environment_is_refused(key, value):
    configs = _configs()
    configs["tenant-demo"]["agentic-platform:deploy"][key] = value
    with pytest.raises(ConfigError) as exc:
        stack_job("tenant-demo", configs)
    (problem,) = exc.value.problems
    assert problem.path == f"Pulumi.tenant-demo.yaml:agentic-platform:deploy.{key}"
    assert "is not the" in problem.message and "the platform gives tenant 'demo'" in problem.message


def test_a_tenant_the_platform_gives_no_deploy_identity_cannot_be_deployed():
    configs = _configs()
    for t in configs["dev"]["agentic-platform:platform"]["tenants"]:
        t.pop("deploy", None)
    with pytest.raises(ConfigError) as exc:
        stack_job("tenant-demo", configs)
    assert "tenants[1].deploy" in exc.value.problems[0].path


# --- egress: only within the platform's allowance ------------------------------------------------------------------


def test_a_tenant_agent_reaches_outside_only_within_the_allowance(tmp_path, dev_outputs):
    raw = _raw()
    _byo(raw)["egress"] = [{"cidr": "203.0.113.0/24", "ports": [443, 8443]}]
    problems = _problems(tmp_path, raw, dev_outputs)
    assert "the platform allows tenant 'demo' no destination outside the cluster" in problems["tenant.agents[1].egress"]
    outputs = copy.deepcopy(dev_outputs)
    outputs["tenancy"]["tenants"]["demo"]["allow"]["egress"] = ["198.51.100.0/24"]
    problems = _problems(tmp_path, raw, outputs)
    assert "203.0.113.0/24 port 443" in problems["tenant.agents[1].egress"]


def test_within_the_allowance_the_agent_gets_its_own_egress_policy(tmp_path, dev_outputs):
    from components.agents.egress import egress_policy
    from config.agents import Agent

    agent = Agent.model_validate(
        {"name": "notes", "type": "BYO", "egress": [{"cidr": "0.0.0.0/0", "ports": [443]}], "llm_model": "m"}
    )
    policy, why = egress_policy(agent, "tenant-demo", {}, {})
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "kagent", "kagent": "notes"}}
    (rule,) = policy["spec"]["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]
    assert why == ["agents[].egress (TCP 443)"]
    imds_only = Agent.model_validate({"name": "x", "type": "BYO", "egress": [{"cidr": "169.254.169.254/32"}]})
    assert egress_policy(imds_only, "tenant-demo", {}, {}) == (None, [])
