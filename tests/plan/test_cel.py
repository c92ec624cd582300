"""CEL rules (x-kubernetes-validations) of the pinned CRDs run on every rendered custom resource (issue #14 point 2):
the committed plans pass them all, and for each CRD group one object of the plan, broken the way the API server
refuses, is rejected with that rule's own message."""

from __future__ import annotations

import copy
import json

import pytest

from agentic.plan import cel

RULES = {(k, r["rule"]): r["message"] for k, e in cel.load_index().items() for r in e["rules"]}


def first(plan, kind, api_prefix, pred=lambda o: True):
    return copy.deepcopy(
        next(
            r.inputs
            for r in plan.run.kubernetes_objects()
            if r.inputs.get("kind") == kind and r.inputs.get("apiVersion", "").startswith(api_prefix) and pred(r.inputs)
        )
    )


def test_index_is_the_pinned_crds():
    """catalog/crds/cel-rules.json is exactly what the CRDs hold (regenerate: python -m agentic.plan.cel)."""
    assert cel.load_index() == json.loads(json.dumps(cel.build_index()))
    assert sum(len(e["rules"]) for e in cel.load_index().values()) >= 600


@pytest.mark.parametrize("stack", ["dev", "prod", "tenant-demo"])
def test_committed_plans_pass_every_rule_that_can_run(plans, stack):
    report = plans(stack).cel
    assert report.failures == [] and report.evaluated > 0
    assert report.passed + sum(report.skipped.values()) == report.evaluated
    assert set(report.skipped) <= {"transition rule (reads oldSelf, the previous object)"}


def test_the_plan_reports_the_counts(plans, tmp_path):
    from agentic.plan.render import write_plan

    out = write_plan(plans("prod"), tmp_path / "p").out_dir
    report = json.loads((out / "policy-report.json").read_text())["cel"]
    assert report["evaluated"] == report["passed"] + report["failed"] + report["skipped"] > 500
    assert "## CEL validation" in (out / "summary.md").read_text()


def _rejected(obj, group_kind):
    report = cel.evaluate([obj])
    assert report.failures, f"{group_kind}: nothing rejected"
    for f in report.failures:  # each failure carries the CRD's own message for that rule
        assert RULES[(group_kind, f["rule"])] in f["message"]
    return [f["message"] for f in report.failures]


def test_gateway_api_httproute(plans):
    route = first(plans("dev"), "HTTPRoute", "gateway.networking.k8s.io")
    route["spec"]["parentRefs"] = route["spec"]["parentRefs"] * 2  # the same parent twice, no sectionName
    assert any("sectionName" in m for m in _rejected(route, "gateway.networking.k8s.io/v1/HTTPRoute"))


def test_kgateway_traffic_policy(plans):
    policy = first(plans("dev"), "TrafficPolicy", "gateway.kgateway.dev")
    policy["spec"]["rateLimit"]["local"]["tokenBucket"]["fillInterval"] = "1 minute"
    assert "invalid duration value" in _rejected(policy, "gateway.kgateway.dev/v1alpha1/TrafficPolicy")


def test_karpenter_nodepool_and_nodeclass(plans):
    pool = first(plans("prod"), "NodePool", "karpenter.sh")
    pool["spec"]["template"]["metadata"].setdefault("labels", {})["karpenter.sh/nodepool"] = "mine"
    assert 'label "karpenter.sh/nodepool" is restricted' in _rejected(pool, "karpenter.sh/v1/NodePool")
    nodeclass = first(plans("prod"), "EC2NodeClass", "karpenter.k8s.aws")
    nodeclass["spec"]["instanceProfile"] = "also-a-profile"  # role and instanceProfile together
    assert "must specify exactly one of ['role', 'instanceProfile']" in _rejected(
        nodeclass, "karpenter.k8s.aws/v1/EC2NodeClass"
    )


def test_kagent_agent_and_model_config(plans):
    agent = first(plans("dev"), "Agent", "kagent.dev", lambda o: o["spec"]["type"] == "Declarative")
    agent["spec"]["type"] = "BYO"  # declarative body, BYO type
    assert any(
        "byo must be specified" in m or "declarative must be specified" in m
        for m in _rejected(agent, "kagent.dev/v1alpha2/Agent")
    )
    mc = first(plans("dev"), "ModelConfig", "kagent.dev")
    mc["spec"]["provider"] = "Anthropic"  # but configured as openAI
    assert "provider.openAI must be nil if the provider is not OpenAI" in _rejected(
        mc, "kagent.dev/v1alpha2/ModelConfig"
    )


def test_external_secrets(plans):
    store = first(plans("dev"), "ClusterSecretStore", "external-secrets.io")
    store["spec"]["provider"]["aws"]["customSessionTags"] = {"esoNamespace": "spoofed"}  # the operator injects it
    assert any(
        "customSessionTags cannot contain" in m for m in _rejected(store, "external-secrets.io/v1/ClusterSecretStore")
    )


def test_keda_scaled_object(plans):
    so = first(plans("dev"), "ScaledObject", "keda.sh")
    so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"] = 5, 2
    assert any(
        "minReplicaCount must be less than or equal to maxReplicaCount" in m
        for m in _rejected(so, "keda.sh/v1alpha1/ScaledObject")
    )


def test_flagger_canary():
    canary = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "c", "namespace": "x"},
        "spec": {"service": {"port": 8000, "mirror": [{"backendRef": {"name": "svc", "kind": "Service"}}]}},
    }
    assert "Must have port for Service reference" in _rejected(canary, "flagger.app/v1beta1/Canary")


def test_kubernetes_library_functions():
    """quantity() with isGreaterThan/isLessThan, find, split and the global matches() the CRDs call."""
    import cel as celpy_lib

    ctx = celpy_lib.Context()
    for name, fn in cel.FUNCTIONS.items():
        ctx.add_function(name, fn)
    ctx.add_variable("self", {"q": "1500m", "k": "example.com/name"})
    assert (
        celpy_lib.evaluate(
            "quantity(self.q).isGreaterThan(quantity('1')) && quantity('1Gi').isLessThan(quantity('2G'))", ctx
        )
        is True
    )
    assert celpy_lib.evaluate("self.k.find('^[^/]+') == 'example.com' && self.k.split('/')[1] == 'name'", ctx)
    assert celpy_lib.evaluate("matches(self.k, 'com/') && !matches(self.k, '^com')", ctx) is True
    with pytest.raises(ValueError):
        cel.quantity("12 parsecs")


def test_rules_it_cannot_run_are_counted_with_the_reason():
    report = cel.CelReport()
    obj = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "p"},
        "spec": {
            "template": {
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "x"},
                    "requirements": [],
                }
            }
        },
    }
    cel.evaluate_object(obj, report)
    assert report.skipped["transition rule (reads oldSelf, the previous object)"] >= 1
    assert "skipped" in report.line


def test_core_schema_validation_still_rejects_bad_objects():
    """The cached kubernetes-validate schemas (tests/conftest) refuse an unknown field and a wrong type."""
    import jsonschema

    from tests.conftest import validate_object

    ok = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}, "data": {"a": "b"}}
    validate_object(ok, "1.33")
    for bad in ({**ok, "colour": "blue"}, {**ok, "data": {"a": 1}}):
        with pytest.raises(jsonschema.ValidationError):
            validate_object(bad, "1.33")
