"""Serving policies (issue #9, point 7): each with a passing and a failing input, plus the dev/prod plans passing.
Model images pinned by tag or digest are the existing pinned-images rule, exercised here on a model Deployment."""

from __future__ import annotations

import copy

import pytest

from components.serving.models import model_objects
from config.serving import Model
from policies import rules, serving
from policies.rules import Resource

MODEL = Model.model_validate(
    {
        "name": "m",
        "hf_model": "org/m",
        "pool": "g5",
        "gpus": 1,
        "cpu": "4",
        "memory": "16Gi",
        "variants": [{"name": "primary", "replicas": 1, "weight": 100}],
    }
)


def k8s_type(obj) -> str:
    group = obj["apiVersion"].rpartition("/")[0] or "core"
    version = obj["apiVersion"].rpartition("/")[2]
    return f"kubernetes:{group}/{version}:{obj['kind']}"


def resources(objs):
    return [Resource(k8s_type(o), f"{o['kind']}-{o['metadata']['name']}", o) for o in objs]


def namespace(name, layer, gpus=0):
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"agentic.platform/layer": layer}},
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": name},
            "spec": {"hard": {"requests.nvidia.com/gpu": str(gpus)}},
        },
    ]


def model_in(ns):
    return model_objects(MODEL, ns, monitoring=False)


def test_gpu_pods_only_where_gpus_run():
    good = resources(namespace("ai-inference", "inference", 8) + model_in("ai-inference"))
    assert serving.check_gpu_pods(good) == []
    tenant_ok = resources(namespace("tenant-a", "tenant", 4) + model_in("tenant-a"))
    assert serving.check_gpu_pods(tenant_ok) == []
    bad = resources(namespace("ai-agents", "agents") + model_in("ai-agents"))
    assert any("neither the inference namespace" in m for _, m in serving.check_gpu_pods(bad))
    objs = model_in("ai-inference")
    dep = next(o for o in objs if o["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["tolerations"] = []
    assert any(
        "does not tolerate" in m
        for _, m in serving.check_gpu_pods(resources(namespace("ai-inference", "inference", 8) + objs))
    )


def test_model_pods_carry_do_not_disrupt_and_a_pdb():
    assert serving.check_model_pods(resources(model_in("ai-inference"))) == []
    objs = [o for o in model_in("ai-inference") if o["kind"] != "PodDisruptionBudget"]
    assert any("PodDisruptionBudget" in m for _, m in serving.check_model_pods(resources(objs)))
    objs = copy.deepcopy(model_in("ai-inference"))
    next(o for o in objs if o["kind"] == "Deployment")["spec"]["template"]["metadata"]["annotations"] = {}
    assert any("do-not-disrupt" in m for _, m in serving.check_model_pods(resources(objs)))


def test_load_balancers_only_in_the_gateway_namespace():
    lb = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "gw", "namespace": "ai-gateway"},
        "spec": {"type": "LoadBalancer"},
    }
    ok = resources(namespace("ai-gateway", "gateway") + [lb])
    assert serving.check_load_balancers(ok) == []
    bad = resources(namespace("ai-gateway", "gateway") + [{**lb, "metadata": {"name": "x", "namespace": "ai-agents"}}])
    assert serving.check_load_balancers(bad)


def test_route_weights_sum_to_100():
    route = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
    rule = {"backendRefs": [{"name": "a", "weight": 80}, {"name": "b", "weight": 20}]}
    assert serving.check_route_weights(route, {"spec": {"rules": [rule]}}) == []
    rule["backendRefs"][1]["weight"] = 30
    assert serving.check_route_weights(route, {"spec": {"rules": [rule]}}) == [
        "rule 0: backend weights sum to 110, not 100"
    ]


def test_model_images_are_pinned():
    objs = model_in("ai-inference")
    dep = next(o for o in objs if o["kind"] == "Deployment")
    assert rules.check_pinned_images("kubernetes:apps/v1:Deployment", dep) == []
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "vllm/vllm-openai:latest"
    assert rules.check_pinned_images("kubernetes:apps/v1:Deployment", dep)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_plans_pass_the_serving_policies(plans, stack):
    names = {
        "gpu-pods-where-gpus-run",
        "model-pods-protected",
        "load-balancer-only-at-gateway",
        "route-weights-sum-to-100",
    }
    assert names <= {r.name for r in rules.RULES}
    assert [f for f in plans(stack).findings if f.policy in names] == []


def test_tenant_pods_tolerate_the_gpu_taint_only_where_the_tenant_has_gpus(plans):
    """Issue #13: a tenant's pod that tolerates the GPU nodes' taint lands on GPU nodes; only where allowed."""

    def tenant_ns(gpus):
        objs = namespace("tenant-a", "tenant", gpus)
        objs[0]["metadata"]["labels"]["agentic.platform/tenant"] = "a"
        return objs

    pod = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "tenant-a"},
        "spec": {
            "template": {
                "spec": {
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
                    "containers": [{"name": "c", "image": "x"}],
                }
            }
        },
    }
    assert any(
        "tolerates the GPU nodes' taint" in m for _, m in serving.check_gpu_pods(resources(tenant_ns(0) + [pod]))
    )
    assert serving.check_gpu_pods(resources(tenant_ns(4) + [pod])) == []
    pod["spec"]["template"]["spec"]["tolerations"] = [{"operator": "Exists"}]  # tolerates everything
    assert serving.check_gpu_pods(resources(tenant_ns(0) + [pod]))
    pod["spec"]["template"]["spec"]["tolerations"] = [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    assert serving.check_gpu_pods(resources(tenant_ns(0) + [pod])) == []
    tenant = plans("tenant-demo")  # the committed tenant stack: no GPUs asked, none tolerated
    assert not [f for f in tenant.findings if f.policy == "gpu-pods-where-gpus-run"]
