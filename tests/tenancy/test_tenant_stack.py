"""Self-service tenant stacks (issue #13 point 1 and 2): the committed Pulumi.tenant-demo.yaml planned on the dev
platform's outputs through the StackReference, checked for what it creates and what it refuses."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from agentic.cli import app
from agentic.plan.engine import run_program
from agentic.plan.tenant import synthesize_tenant
from config import ConfigError
from config.loader import load_tenant_stack, read_stack_config
from tests.conftest import PROJECT_ROOT, validate_object

STACK_REF = "pulumi:pulumi:StackReference"


@pytest.fixture(scope="module")
def tenant(plans):
    return plans("tenant-demo")


@pytest.fixture(scope="module")
def dev_outputs(plans):
    """The dev plan's outputs, its 'tenancy' JSON string decoded (tenant stacks accept either) to edit in tests."""
    outputs = copy.deepcopy(plans("dev").run.outputs)
    assert isinstance(outputs["tenancy"], str)  # published as one JSON string
    return {**outputs, "tenancy": json.loads(outputs["tenancy"])}


def objects(plan, kind):
    return [r.inputs for r in plan.run.kubernetes_objects() if r.inputs.get("kind") == kind]


def test_reads_the_platform_stack_through_a_stack_reference(tenant):
    [ref] = tenant.run.of_type(STACK_REF)
    assert ref.inputs["name"] == "organization/agentic-platform/dev"
    assert json.loads(ref.inputs["outputs"]["tenancy"])["cluster_name"] == "agentic-dev"
    assert tenant.run.outputs == {
        "namespace": "tenant-demo",
        "platform_stack": "organization/agentic-platform/dev",
        "cluster_name": "agentic-dev",
    }


def test_creates_the_governed_namespace_with_its_own_quota(tenant):
    [ns] = objects(tenant, "Namespace")
    assert ns["metadata"]["name"] == "tenant-demo"
    assert ns["metadata"]["labels"]["agentic.platform/tenant"] == "demo"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    [quota] = objects(tenant, "ResourceQuota")
    assert quota["spec"]["hard"]["requests.cpu"] == "2" and quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "0"
    assert objects(tenant, "LimitRange")
    policies = {p["metadata"]["name"] for p in objects(tenant, "NetworkPolicy")}
    assert "default-deny-all" in policies and "allow-to-data" in policies  # Redis allowed: port 6379 only
    data = next(p for p in objects(tenant, "NetworkPolicy") if p["metadata"]["name"] == "allow-to-data")
    assert data["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 6379}]


def test_every_object_is_a_child_with_the_tenant_cluster_provider(tenant):
    run = tenant.run
    [provider] = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"  # the platform's kubeconfig output, still a secret
    [top] = run.of_type("agentic:tenancy:TenantStack")

    def ancestors(r):
        while r.parent and not r.parent.endswith("pulumi:pulumi:Stack::agentic-platform-tenant-demo"):
            r = run.by_urn(r.parent)
            yield r

    for r in run.kubernetes_objects():
        assert r.provider_urn == provider.urn, r.urn
        assert top in list(ancestors(r)), r.urn


def test_rendered_objects_validate_against_the_schemas(tenant):
    for r in tenant.run.kubernetes_objects():
        validate_object(r.inputs, "1.33")


def test_access_entries_map_the_team_to_its_groups_in_its_namespace_only(tenant):
    entries = {r.inputs["principalArn"]: r.inputs for r in tenant.run.of_type("aws:eks/accessEntry:AccessEntry")}
    assert entries["arn:aws:iam::111122223333:role/team-demo-admins"]["kubernetesGroups"] == [
        "agentic:tenant-demo:admin"
    ]
    assert entries["arn:aws:iam::111122223333:role/team-demo"]["kubernetesGroups"] == ["agentic:tenant-demo:viewer"]
    assert all(e["clusterName"] == "agentic-dev" for e in entries.values())
    for a in tenant.run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        assert a.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
        assert a.inputs["accessScope"] == {"type": "namespace", "namespaces": ["tenant-demo"]}
    bindings = {b["metadata"]["name"]: [s["name"] for s in b["subjects"]] for b in objects(tenant, "RoleBinding")}
    assert bindings["tenant-admin-binding"] == ["agentic:tenant-demo:admin"]
    assert bindings["tenant-viewer-binding"] == ["agentic:tenant-demo:viewer"]


def test_connection_secret_reads_the_tenants_own_redis_credential(tenant, plans):
    [es] = [e for e in objects(tenant, "ExternalSecret") if e["metadata"]["name"] == "redis-connection"]
    assert es["metadata"] == {**es["metadata"], "name": "redis-connection", "namespace": "tenant-demo"}
    # its own user and password (made by the platform stack, which also loads it into the server's ACL)
    assert es["spec"]["data"] == [
        {"secretKey": "password", "remoteRef": {"key": "agentic/agentic-dev/redis-tenant-demo"}}
    ]
    data = es["spec"]["target"]["template"]["data"]
    assert (data["REDIS_USERNAME"], data["REDIS_KEY_PREFIX"]) == ("tenant-demo", "t:demo:")
    assert data["REDIS_URL"].startswith("redis://tenant-demo:{{ .password | urlquery }}@valkey.ai-data")


def test_agents_go_through_the_kagent_translator_into_the_tenant_namespace(tenant, dev_outputs):
    agents = {a["metadata"]["name"]: a for a in objects(tenant, "Agent")}
    assert set(agents) == {"helpdesk", "notes"}
    assert {a["metadata"]["namespace"] for a in agents.values()} == {"tenant-demo"}
    [mc] = [m for m in objects(tenant, "ModelConfig") if m["metadata"]["name"] == "llama-8b"]  # the platform gateway
    gateway = dev_outputs["tenancy"]["gateway"]
    assert mc["metadata"]["namespace"] == "tenant-demo"
    assert mc["spec"]["openAI"]["baseUrl"].startswith(gateway["url"])
    assert mc["spec"]["defaultHeaders"] == {gateway["model_header"]: "llama-8b"}
    byo = agents["notes"]["spec"]["byo"]["deployment"]
    assert byo["image"] == dev_outputs["agent_runtime_image"]  # the platform's image, pinned by digest
    assert [h["spec"]["scaleTargetRef"]["name"] for h in objects(tenant, "HorizontalPodAutoscaler")] == ["notes"]
    assert not tenant.mandatory_violations and not tenant.findings


def test_the_platform_publishes_allowances_and_leaves_the_namespace_to_the_team(plans, dev_outputs):
    facts = dev_outputs["tenancy"]
    demo = facts["tenants"]["demo"]
    assert demo["self_service"] is True and demo["quota"]["gpus"] == 2
    assert demo["allow"] == {"redis": True, "milvus": False, "models": ["llama-8b"], "max_agents": 5, "egress": []}
    assert facts["tenants"]["sandbox"]["self_service"] is False
    dev = plans("dev").run
    names = {r.inputs["metadata"]["name"] for r in dev.of_type("kubernetes:core/v1:Namespace")}
    assert "tenant-sandbox" in names and "tenant-demo" not in names  # the tenant stack owns it
    # ... but the platform's own NetworkPolicies still admit the tenant where the matrix says
    gateway_in = next(
        p.inputs["spec"]
        for p in dev.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["namespace"] == "ai-gateway" and p.inputs["metadata"]["name"] == "allow-from-tenant"
    )
    assert "tenant-demo" in json.dumps(gateway_in)


def test_plan_command_plans_the_platform_to_answer_the_reference(tmp_path):
    """End to end, no outputs file: `agentic plan --stack tenant-demo` plans dev itself, then the tenant."""
    result = CliRunner().invoke(
        app, ["plan", "--stack", "tenant-demo", "-C", str(PROJECT_ROOT), "-o", str(tmp_path / "t")]
    )
    assert result.exit_code == 0, result.output
    assert "tenant demo" in result.output and "platform allows" in result.output
    summary = (tmp_path / "t" / "summary.md").read_text()
    assert "tenant stack `tenant-demo`" in summary and "| quota.gpus | 0 | 2 |" in summary
    outputs = json.loads((tmp_path / "t" / "outputs.json").read_text())
    assert outputs["outputs"]["namespace"] == "tenant-demo"


# --- bad input: a clear, path-named error; nothing of the tenant's registered -------------------------------------


def _tenant_raw():
    return copy.deepcopy(read_stack_config(PROJECT_ROOT / "Pulumi.tenant-demo.yaml")["agentic-platform:tenant"])


def _refused(tmp_path, raw, outputs, stack="tenant-demo"):
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": {"agentic-platform:tenant": raw}}))
    with pytest.raises(ConfigError) as exc:
        synthesize_tenant(stack, tmp_path, outputs=outputs)
    return {p.path: p.message for p in exc.value.problems}


@pytest.mark.parametrize(
    "change, path, words",
    [
        (lambda r: r["quota"].update(gpus=3), "tenant.quota.gpus", "3 GPUs is more than the 2"),
        (lambda r: r["quota"].update(requests_cpu="5"), "tenant.quota.requests_cpu", "above the 4"),
        (lambda r: r["models"].append("mixtral"), "tenant.models[1]", "may not call model 'mixtral'"),
        (
            lambda r: [  # within the tenant's own quota (raised to its ceiling): only the count is over
                r["quota"].update(requests_cpu="4"),
                r["agents"].extend(
                    {"name": f"a{i}", "model_config": "llama-8b", "system_message": "x", "cpu": "100m"}
                    for i in range(4)
                ),
            ],
            "tenant.agents",
            "6 agents is more than the 5",
        ),
        (lambda r: r["uses"].update(milvus=True), "tenant.uses.milvus", "may not use milvus"),
        (
            lambda r: r["agents"][1].update(knowledge_base=True),
            "tenant.agents[1].knowledge_base",
            "may not use milvus: allow it at tenant.uses.milvus",
        ),
        (lambda r: r.update(name="sandbox"), "tenant.name", "holds tenant 'sandbox'"),
    ],
)
def test_over_allowance_is_refused_with_the_path(tmp_path, dev_outputs, change, path, words):
    raw = _tenant_raw()
    change(raw)
    problems = _refused(tmp_path, raw, dev_outputs)
    assert path in problems and words in problems[path], problems


def test_a_tenant_named_like_a_platform_namespace_is_refused(tmp_path, dev_outputs):
    raw = _tenant_raw()
    raw["name"] = "agents"  # the layer's name
    assert "platform layer or system name" in _refused(tmp_path, raw, dev_outputs, "tenant-agents")["tenant.name"]
    raw["name"] = "ai-agents"  # the platform's namespace
    outputs = copy.deepcopy(dev_outputs)
    outputs["tenancy"]["tenants"]["ai-agents"] = {**outputs["tenancy"]["tenants"]["demo"], "namespace": "tenant-x"}
    assert "is a platform namespace" in _refused(tmp_path, raw, outputs, "tenant-ai-agents")["tenant.name"]


def test_a_tenant_the_platform_manages_or_does_not_know_is_refused(tmp_path, dev_outputs):
    raw = _tenant_raw()
    raw["name"] = "sandbox"
    assert "managed by the platform stack" in _refused(tmp_path, raw, dev_outputs, "tenant-sandbox")["tenant.name"]
    raw["name"] = "newteam"
    msg = _refused(tmp_path, raw, dev_outputs, "tenant-newteam")["tenant.name"]
    assert "has no tenant 'newteam'" in msg and "self_service: true" in msg


def test_two_stacks_for_one_tenant_are_refused(tmp_path, dev_outputs):
    """A tenant's stack is tenant-<name>: a second file claiming 'demo' cannot be a valid stack."""
    problems = _refused(tmp_path, _tenant_raw(), dev_outputs, stack="tenant-demo2")
    assert "name it tenant-demo" in problems["tenant.name"]


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda o: o.pop("tenancy"), "has no output 'tenancy'"),
        (lambda o: o["tenancy"].pop("tenants"), "output tenancy.tenants: required key is missing"),
        (lambda o: o["tenancy"].update(version=2), "tenancy version 2"),
    ],
)
def test_platform_outputs_missing_what_the_tenant_needs(tmp_path, dev_outputs, change, words):
    outputs = copy.deepcopy(dev_outputs)
    change(outputs)
    problems = _refused(tmp_path, _tenant_raw(), outputs)
    assert words in problems["tenant.platform_stack"], problems


def test_the_program_itself_refuses_before_registering_anything_of_the_tenant(dev_outputs):
    """`pulumi up` path (no offline pre-check): the problems are logged with their paths and the run fails; only the
    StackReference read happened."""
    import program.tenant as tenant_program

    config, cfg = load_tenant_stack("tenant-demo", PROJECT_ROOT)
    outputs = copy.deepcopy(dev_outputs)
    outputs["tenancy"]["tenants"]["demo"]["allow"]["models"] = []
    records = []

    def program():
        try:
            tenant_program.build(cfg)
        finally:
            records.append(True)

    with pytest.raises(Exception, match=r"tenant.models\[0\]: tenant 'demo' may not call model 'llama-8b'"):
        run_program(
            program,
            project="agentic-platform",
            stack="tenant-demo",
            config=config,
            stack_outputs={cfg.platform_stack: outputs},
        )


def test_static_rules_need_no_platform(tmp_path):
    raw = _tenant_raw()
    raw["agents"][0]["namespace"] = "ai-agents"
    raw["model_configs"][0].pop("platform_model")
    raw["agents"][1]["expose"] = True
    (tmp_path / "Pulumi.tenant-demo.yaml").write_text(yaml.safe_dump({"config": {"agentic-platform:tenant": raw}}))
    with pytest.raises(ConfigError) as exc:
        load_tenant_stack("tenant-demo", tmp_path)
    paths = {p.path for p in exc.value.problems}
    assert {"tenant.agents[0].namespace", "tenant.model_configs[0].platform_model", "tenant.agents[1].expose"} <= paths


# --- behind a JWT gateway (prod) ------------------------------------------------------------------------------------


def _prod_with_payments(token=True):
    from tests.conftest import stack_raw

    raw = stack_raw("prod")
    allow = {"models": ["llama-8b"], "max_agents": 3}
    if token:
        allow["gateway_token"] = {"name": "payments-gateway-token", "key": "token"}
    raw["tenants"].append(
        {
            "name": "payments",
            "self_service": True,
            "allow": allow,
            "quota": {"requests_cpu": "4", "requests_memory": "8Gi", "limits_cpu": "8", "limits_memory": "16Gi"},
        }
    )
    return raw


def test_a_jwt_gateway_needs_a_token_for_self_service_tenants():
    from config import parse_platform

    with pytest.raises(ConfigError) as exc:
        parse_platform(_prod_with_payments(token=False))
    assert any(p.path == "platform.tenants[2].allow.gateway_token" for p in exc.value.problems)


def test_tenant_model_configs_present_the_platforms_token_to_a_jwt_gateway(tmp_path):
    from tests.conftest import build_stack

    outputs = build_stack(_prod_with_payments(), stack="prod").outputs
    facts = json.loads(outputs["tenancy"])
    assert facts["gateway"]["jwt"] is True
    assert facts["tenants"]["payments"]["gateway_token"] == {
        "aws_secret_name": "agentic/agentic-prod/payments-gateway-token",
        "key": "token",
    }
    raw = _tenant_raw()
    raw.update(name="payments", platform_stack="organization/agentic-platform/prod", uses={})
    raw["agents"] = raw["agents"][:1]  # the declarative helpdesk (no session memory: payments may not use Redis)
    raw["model_configs"] = raw["model_configs"][:1]  # the platform gateway's (prod gives payments no AI key)
    raw["agents"][0]["model_config"] = "llama-8b"
    (tmp_path / "Pulumi.tenant-payments.yaml").write_text(yaml.safe_dump({"config": {"agentic-platform:tenant": raw}}))
    for f in ("__main__.py", "Pulumi.yaml"):  # the program runs from its project directory
        shutil.copy(PROJECT_ROOT / f, tmp_path / f)
    plan = synthesize_tenant("tenant-payments", tmp_path.resolve(), outputs=outputs)
    [mc] = objects(plan, "ModelConfig")
    assert (mc["spec"]["apiKeySecret"], mc["spec"]["apiKeySecretKey"]) == ("gateway-token", "token")
    [es] = objects(plan, "ExternalSecret")
    assert es["metadata"]["name"] == "gateway-token"
    assert es["spec"]["data"] == [
        {"secretKey": "token", "remoteRef": {"key": "agentic/agentic-prod/payments-gateway-token"}}
    ]
    assert not plan.mandatory_violations and not plan.rejected
    facts["tenants"]["payments"]["gateway_token"] = None  # a platform that has not given the token
    with pytest.raises(ConfigError) as exc:
        synthesize_tenant("tenant-payments", tmp_path.resolve(), outputs={**outputs, "tenancy": json.dumps(facts)})
    assert "no gateway token" in {p.path: p.message for p in exc.value.problems}["tenant.model_configs"]
