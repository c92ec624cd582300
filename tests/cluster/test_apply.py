"""The dev, prod and tenant-demo plans applied to a real kube-apiserver (with the admission plugins EKS enables), the
controller manager turning workloads into pods and the scheduler binding them to nodes shaped like the pools."""

from __future__ import annotations

import copy

import pytest

from agentic.cluster import apply as capply
from agentic.cluster.client import ApiError
from components.serving.models import labels_of

STACKS = [("dev", "dev"), ("prod", "prod"), ("dev", "tenant-demo")]  # (control plane, plan applied on it)


@pytest.mark.parametrize(("cluster", "stack"), STACKS)
def test_every_rendered_object_is_accepted_by_the_api_server(verified, cluster, stack):
    report = verified(cluster).reports[stack]
    assert report.results, "nothing was applied"
    assert [f"{r.ident}: {r.message}" for r in report.of("rejected")] == []
    assert [f"{r.ident}: {r.message}" for r in report.of("not-served")] == []


@pytest.mark.parametrize(("cluster", "stack"), STACKS)
def test_no_admission_warnings(verified, cluster, stack):
    """PodSecurity warns on a workload whose pods its namespace would refuse; deprecations warn too."""
    assert verified(cluster).reports[stack].warnings == []


@pytest.mark.parametrize(("cluster", "stack"), STACKS)
def test_every_pod_is_created_and_bound(verified, cluster, stack):
    pods = verified(cluster).reports[stack].pods
    assert pods.refused == []
    assert pods.unschedulable == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_model_pods_land_on_their_own_pool(verified, plans, stack):
    v = verified(stack)
    cfg = plans(stack).config
    nodes = {n.name: n for n in v.nodes}
    ns = cfg.namespace_for("inference").name
    for m in cfg.models:
        selector = ",".join(f"{k}={val}" for k, val in labels_of(m).items())
        pods = v.client.get(f"/api/v1/namespaces/{ns}/pods", labelSelector=selector)["items"]
        assert pods, f"model {m.name}: no pod was created"
        for p in pods:
            node = p["spec"].get("nodeName")
            assert node, f"model {m.name}: pod {p['metadata']['name']} not bound"
            assert nodes[node].pool == m.pool, f"model {m.name} runs on {nodes[node].pool}, config says {m.pool}"
            assert nodes[node].gpus >= m.gpus_per_node


def test_the_harness_runs_the_pinned_release(verified):
    from catalog import versions

    v = verified("dev")
    assert v.control_plane.version() == versions.CONTROL_PLANE_KUBERNETES
    assert versions.CONTROL_PLANE_KUBERNETES.lstrip("v").startswith(versions.DEFAULT_KUBERNETES_VERSION + ".")


def test_nodes_are_shaped_like_the_pools(verified, plans):
    v = verified("prod")
    cfg = plans("prod").config
    listed = {n["metadata"]["name"]: n for n in v.client.list_all("v1", "Node")}
    p5 = [n for n in listed.values() if n["metadata"]["labels"].get("karpenter.sh/nodepool") == "p5"]
    assert p5 and all(n["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "p5.48xlarge" for n in p5)
    assert all(n["status"]["allocatable"]["nvidia.com/gpu"] == "8" for n in p5)
    assert all({"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"} in n["spec"]["taints"] for n in p5)
    system = [n for n in listed.values() if n["metadata"]["labels"].get("eks.amazonaws.com/nodegroup") == "system"]
    assert len(system) == cfg.cluster.system_node_group.desired_size
    assert all(n["spec"]["taints"][0]["key"] == "CriticalAddonsOnly" for n in system)
    ready = [c for n in listed.values() for c in n["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and all(c["status"] == "True" for c in ready)


# --- updates: a second apply with a changed config, and the rules that only run on update -------------------------


def test_a_second_apply_with_a_config_change_is_accepted(verified, plans):
    from tests.conftest import build_stack, stack_raw

    v = verified("dev")
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["limits"]["gpus"] += 1
    raw["models"][0]["max_model_len"] = 8192
    raw["gateway"]["rate_limit"] = {"requests": 300, "per": "minute"}
    run = build_stack(raw, stack="dev")
    objects = [dict(r.inputs) for r in run.kubernetes_objects()]
    report = capply.ApplyReport("dev (changed)")
    capply.apply_objects(v.client, objects, report)
    assert [f"{r.ident}: {r.message}" for r in report.of("rejected")] == []
    pool = v.client.read("karpenter.sh/v1", "NodePool", raw["gpu_pools"][0]["name"])
    assert pool["spec"]["limits"]["nvidia.com/gpu"] == str(raw["gpu_pools"][0]["limits"]["gpus"])


def _rendered(plans, stack: str, kind: str) -> dict:
    return next(
        copy.deepcopy(dict(r.inputs)) for r in plans(stack).run.kubernetes_objects() if r.inputs["kind"] == kind
    )


def test_transition_rules_run_on_update(verified, plans):
    """CEL rules reading oldSelf (skipped by the offline evaluator) are enforced by the API server on update."""
    v = verified("dev")
    pool = _rendered(plans, "dev", "NodePool")
    pool["spec"]["replicas"] = 2  # dynamic -> static provisioning
    with pytest.raises(ApiError) as e:
        v.client.apply(capply._placeholders(pool), dry_run=True)
    assert "Cannot transition NodePool between static" in e.value.message
    gc = _rendered(plans, "dev", "GatewayClass") if _has(plans, "dev", "GatewayClass") else None
    if gc is not None:
        gc["spec"]["controllerName"] = "example.com/other"
        with pytest.raises(ApiError) as e:
            v.client.apply(gc, dry_run=True)
        assert "immutable" in e.value.message


def _has(plans, stack: str, kind: str) -> bool:
    return any(r.inputs["kind"] == kind for r in plans(stack).run.kubernetes_objects())


def test_immutable_fields_are_refused_on_update(verified, plans):
    v = verified("dev")
    dep = next(
        copy.deepcopy(dict(r.inputs)) for r in plans("dev").run.kubernetes_objects() if r.inputs["kind"] == "Deployment"
    )
    dep["spec"]["selector"] = {"matchLabels": {"changed": "yes"}}
    dep["spec"]["template"]["metadata"].setdefault("labels", {})["changed"] = "yes"
    with pytest.raises(ApiError) as e:
        v.client.apply(capply._placeholders(dep), dry_run=True)
    assert "field is immutable" in e.value.message


# --- RBAC journeys with the real authorizer ---------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rbac_journeys(verified, stack):
    v = verified(stack)
    assert v.journeys, "no journeys ran"
    assert [o.line for o in v.journeys if not o.ok] == []


def test_rbac_journeys_cover_every_identity(verified):
    who = {o.journey.who.split(" (")[0].split(" SA ")[0] for o in verified("dev").journeys}
    assert any(w.startswith("BYO agent kube-agent") for w in who)
    assert any(w.startswith("MCP tool server") for w in who)
    assert {"agent-operator", "agent-viewer"} <= who
    assert any(w.startswith("tenant tenant-demo admin") for w in who)
    assert any(w.startswith("tenant tenant-sandbox admin") for w in who)


def test_a_journey_fails_when_the_authorizer_disagrees(verified, plans):
    """The journeys can fail: the kube-agent without its Role is denied what seed 003 gives it."""
    from agentic.cluster import rbac

    v = verified("dev")
    v.client.request(
        "DELETE",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ai-agents/rolebindings/agent-kube-agent-kube-tools",
        dryRun="All",
    )  # a dry run proves the binding exists; the real deletion below is undone after
    binding = v.client.read("rbac.authorization.k8s.io/v1", "RoleBinding", "agent-kube-agent-kube-tools", "ai-agents")
    v.client.request(
        "DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/ai-agents/rolebindings/agent-kube-agent-kube-tools"
    )
    try:
        outcomes = rbac.run(v.client, rbac.kube_agent_journeys(plans("dev").config))
        failed = [o for o in outcomes if not o.ok]
        assert failed and all(o.journey.expect and not o.allowed for o in failed)
    finally:
        for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            binding["metadata"].pop(k, None)
        v.client.apply(binding)


def test_pinned_crds_already_held_are_not_sent_again(verified, plans):
    """A control plane verified before (`verify --attach`) keeps its CRDs: a second install sends none, and a CRD
    whose digest differs from the pinned document is sent again."""
    client = verified("prod").client
    groups = capply.api_groups(capply.plan_objects(plans("prod")))
    sent: list[str] = []
    real = client.apply

    def counting(obj, *args, **kwargs):
        sent.append(obj["metadata"]["name"])
        return real(obj, *args, **kwargs)

    client.apply = counting  # type: ignore[method-assign]
    try:
        total = capply.install_crds(client, groups=groups)
        assert total > 20 and sent == []
        name = "nodepools.karpenter.sh"
        client.request(
            "PATCH",
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
            {"metadata": {"annotations": {capply.CRD_DIGEST: "stale"}}},
            "application/merge-patch+json",
        )
        capply.install_crds(client, groups=groups)
        assert sent == [name]
    finally:
        del client.apply
