"""Issue #11 point 1: one secrets mechanism. The external-secrets operator (on the system nodes, a role that reads
only the platform's prefix), the ClusterSecretStore, a Secrets Manager secret per credential with its value source,
ExternalSecrets where the credential is read, rotation by generation, literal values rejected, and no secret value
in any plan output."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from agentic.plan.engine import run_program
from agentic.plan.render import Plan, write_plan
from components.secrets.credentials import GENERATION, external_secret, generation_annotations
from components.secrets.operator import cluster_secret_store, operator_values, read_policy
from config import ConfigError, parse_platform
from config.loader import FULL_KEY, PROJECT
from config.secrets import SecretRef
from policies.rules import Resource, evaluate
from tests.conftest import FIXTURES, build_stack, stack_raw, validate_object
from tests.helm_values import chart_defaults, merged, unknown_keys


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return {p.path: p.message for p in exc.value.problems}


def test_operator_role_reads_only_the_platform_prefix():
    policy = read_policy("us-west-2", "agentic/agentic-dev", "arn:aws:kms:us-west-2:1:key/k")
    read, decrypt = policy["Statement"]
    assert read["Resource"] == "arn:aws:secretsmanager:us-west-2:*:secret:agentic/agentic-dev/*"
    assert set(read["Action"]) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:ListSecretVersionIds",
    }
    assert decrypt["Action"] == ["kms:Decrypt"] and decrypt["Resource"].endswith("key/k")
    assert read_policy("us-gov-west-1", "p", "k")["Statement"][0]["Resource"].startswith("arn:aws-us-gov:")


def test_operator_values_are_chart_keys_and_pin_it_to_system_nodes():
    for ha in (False, True):
        values = operator_values(ha).render()
        assert unknown_keys(values, chart_defaults("external-secrets")) == []
        schema = json.loads((FIXTURES / "charts/external-secrets/values.schema.json").read_text())
        jsonschema.validate(merged(chart_defaults("external-secrets"), values), schema)
        for part in (values, values["webhook"], values["certController"]):
            assert part["nodeSelector"] == {"node.agentic.platform/role": "system"}
            assert part["tolerations"] == [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    assert operator_values(True).render()["replicaCount"] == 2 and operator_values(True).render()["leaderElect"]


def test_store_and_external_secret_validate_against_pinned_crds():
    validate_object(cluster_secret_store("us-west-2"), "1.35")
    es = external_secret(
        "redis-connection",
        "ai-agents",
        "1h",
        {"password": "agentic/x/redis-auth"},
        template={"REDIS_URL": "redis://:{{ .password }}@h:6379/0"},
        generation=2,
    )
    validate_object(es, "1.35")
    assert es["metadata"]["annotations"] == {"force-sync": "generation-2"}
    bad = json.loads(json.dumps(es))
    bad["spec"]["target"]["creationPolicy"] = "Sometimes"
    with pytest.raises(Exception):
        validate_object(bad, "1.35")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_credential_is_a_secrets_manager_secret_synced_by_external_secrets(plans, stack):
    run = plans(stack).run
    prefix = f"agentic/agentic-{stack}"
    secrets = {r.inputs["name"]: r for r in run.of_type("aws:secretsmanager/secret:Secret")}
    assert {f"{prefix}/redis-auth", f"{prefix}/milvus-root", f"{prefix}/grafana-admin"} <= set(secrets)
    for s in secrets.values():
        assert s.inputs["name"].startswith(prefix + "/") and s.inputs["kmsKeyId"]
        assert s.inputs["recoveryWindowInDays"] == (30 if stack == "prod" else 7)
    versions = run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert versions and all("secretString" in v.secret_paths for v in versions)
    assert not run.of_type("kubernetes:core/v1:Secret")  # none made directly: all through external-secrets
    stores = run.of_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    assert [s.inputs["spec"]["provider"]["aws"]["service"] for s in stores] == ["SecretsManager"]
    remote = {
        d["remoteRef"]["key"]
        for es in run.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        for d in es.inputs["spec"]["data"]
    }
    rds = {r.outputs["masterUserSecrets"][0]["secretArn"] for r in run.of_type("aws:rds/instance:Instance")}
    assert len(rds) == (2 if stack == "prod" else 0)  # prod: kagent's and Langfuse's passwords, managed by RDS
    assert remote <= set(secrets) | rds  # every ExternalSecret reads a secret the stack creates
    association = next(
        a
        for a in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"] == "external-secrets"
    )
    assert association.inputs["namespace"] == "external-secrets"


def test_value_sources_and_a_missing_stack_secret():
    raw = stack_raw("dev")
    raw["models"][0]["hf_token"] = {"name": "hf-token", "key": "token", "source": "stack", "stack_key": "hf"}
    # an OpenAI key, held by the AI gateway (dev runs it): synced to the inference namespace, where its backends live
    raw["gateway"]["ai"]["providers"].append(
        {"name": "gpt", "kind": "openai", "model": "gpt-4o", "api_key": {"name": "openai", "source": "external"}}
    )
    raw["gateway"]["ai"]["models"].append({"name": "gpt-4o", "groups": [["gpt"]]})
    run = run_program(
        lambda: __import__("program").build(parse_platform(raw)),
        project=PROJECT,
        stack="t",
        config={FULL_KEY: raw, f"{PROJECT}:hf": "hf_PLANTEDvalue"},
        secret_keys=[f"{PROJECT}:hf"],
        region="us-west-2",
    )
    versions = {v.name for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    assert "agentic-dev-credentials-hf-token-version" in versions
    assert "agentic-dev-credentials-openai-version" not in versions  # external: an operator fills it
    notes = run.outputs["plan_notes"]
    assert any("put-secret-value --secret-id agentic/agentic-dev/openai" in n for n in notes)
    es = [e.inputs for e in run.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")]
    assert any(e["metadata"]["namespace"] == "ai-inference" and e["metadata"]["name"] == "hf-token" for e in es)
    assert [e["metadata"]["namespace"] for e in es if e["metadata"]["name"] == "openai"] == ["ai-inference"]
    with pytest.raises(Exception, match="pulumi config set --secret hf"):
        build_stack(raw)  # no agentic-platform:hf in the stack config


@pytest.mark.parametrize("literal", ["sk-live-abc", {"name": "x", "value": "sk-live-abc"}, 12345])
def test_literal_secret_values_are_rejected(literal):
    raw = stack_raw("dev")
    raw["models"][0]["hf_token"] = literal
    found = problems(raw)
    message = next(m for p, m in found.items() if p.startswith("platform.models[0].hf_token"))
    assert "literal secret value is not accepted" in message and "source" in message


def test_secret_reference_rules_name_the_path_and_fix():
    raw = stack_raw("dev")
    raw["models"][0]["hf_token"] = {"name": "hf", "source": "stack"}
    raw["kagent"]["model_configs"].append(
        {
            "name": "gpt",
            "provider": "OpenAI",
            "model": "gpt-4o",
            "api_key": {"name": "openai", "aws_secret_name": "prod/shared/openai"},
        }
    )
    raw["secrets"] = {"rotation": {"milvus-root": 2, "redis": 2}}
    found = problems(raw)
    assert "pulumi config set --secret" in found["platform.models[0].hf_token.stack_key"]
    assert (
        "outside the platform's prefix 'agentic/agentic-dev/'"
        in found["platform.kagent.model_configs[1].api_key.aws_secret_name"]
    )
    assert "cannot be rotated" in found["platform.secrets.rotation.milvus-root"]
    assert "redis-auth" in found["platform.secrets.rotation.redis"]
    raw = stack_raw("dev")
    raw["models"][0]["hf_token"] = {"name": "hf", "source": "external", "generation": 2}
    assert "only generated secrets rotate" in problems(raw)["platform.models[0].hf_token.generation"]


def test_rotation_changes_the_value_and_restarts_the_readers():
    raw = stack_raw("dev")
    before = build_stack(raw)
    raw["secrets"] = {"rotation": {"redis-agents": 2}}  # the agents' own Redis user
    after = build_stack(raw)

    def password(run):
        return run.get("random:index/randomPassword:RandomPassword", "agentic-dev-credentials-redis-agents-value")

    assert password(before).inputs["keepers"] == {"generation": "1"}
    assert password(after).inputs["keepers"] == {"generation": "2"}  # a new keeper: random makes a new value

    def valkey(run):
        return run.get("kubernetes:helm.sh/v3:Release", "agentic-dev-redis-valkey").inputs["values"]

    users = "redis-agents={},redis-ai-budgets=1,redis-auth=1,redis-tenant-demo=1,redis-tenant-sandbox=1"
    assert valkey(before)["podAnnotations"] == {GENERATION: users.format(1)}
    assert valkey(after)["podAnnotations"] == {GENERATION: users.format(2)}  # a new pod template: pods restart
    conn = {
        e.inputs["metadata"]["namespace"]: e.inputs
        for e in after.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if e.inputs["metadata"]["name"] == "redis-connection"
    }
    assert conn["ai-agents"]["metadata"]["annotations"]["force-sync"] == "generation-2"
    assert conn["tenant-sandbox"]["metadata"]["annotations"]["force-sync"] == "generation-1"  # its own, unrotated
    note = next(n for n in after.outputs["plan_notes"] if n.startswith("credential 'redis-agents'"))
    assert "generation 2" in note and "ai-agents" in note


def test_generation_annotations_only_for_generated():
    refs = [
        SecretRef(name="b", source="generated", generation=3),
        SecretRef(name="a", source="generated"),
        SecretRef(name="c", source="external"),
    ]
    assert generation_annotations(refs) == {GENERATION: "a=1,b=3"}
    assert generation_annotations([SecretRef(name="c")]) == {}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_value_appears_in_any_plan_output(tmp_path, stack):
    """Plant a stack secret (a Hugging Face token) and let the mocks generate every random password; then scan every
    file the plan writes and the stack outputs for each planted value."""
    raw = stack_raw(stack)
    for m in raw["models"]:
        if "hf_token" in m or m is raw["models"][0]:
            m["hf_token"] = {"name": "hf-token", "source": "stack", "stack_key": "hf"}
    planted_config = "hf_PLANTED_d0e4c1b2a3f4"
    cfg = parse_platform(raw)
    run = run_program(
        lambda: __import__("program").build(cfg),
        project=PROJECT,
        stack=stack,
        config={FULL_KEY: raw, f"{PROJECT}:hf": planted_config},
        secret_keys=[f"{PROJECT}:hf"],
        region=cfg.aws.region,
    )
    passwords = run.of_type("random:index/randomPassword:RandomPassword")
    assert len(passwords) >= 3
    planted = [planted_config, *run.placeholders.secrets]  # the mock cloud's generated passwords
    assert len(planted) == len(passwords) + 1
    assert all(v.startswith(("hf_PLANTED", "PLANTED-random-")) for v in planted)
    plan = Plan(stack, cfg, run, evaluate([Resource(r.type, r.name, r.inputs) for r in run.registrations]), [])
    out = tmp_path / "plan"
    write_plan(plan, out)
    texts = {p: p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()}
    texts[Path("outputs")] = json.dumps(run.outputs)
    texts[Path("inputs")] = json.dumps([r.inputs for r in run.registrations])
    assert len(texts) > 50
    for value in planted:
        leaks = [str(p) for p, t in texts.items() if value in t]
        assert leaks == [], f"{value[:12]}... leaked into {leaks}"
    # The values did flow: the secret versions and the ElastiCache users' passwords are secret inputs the engine got.
    assert all("secretString" in v.secret_paths for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion"))
    if stack == "prod":
        users = run.of_type("aws:elasticache/user:User")
        assert users and all(any(p.startswith("passwords") for p in u.secret_paths) for u in users)
