"""Bad input, judged by the real components: a pod template that breaks its namespace's Pod Security level, a pod
beyond its namespace's quota, a GPU pod without the toleration. The tests read the components' own messages."""

from __future__ import annotations

import time

import pytest

from agentic.cluster.client import ApiError

IMAGE = "public.ecr.aws/docker/library/busybox:1.37"


def _pod(name: str, namespace: str, **spec_extra) -> dict:
    container = {"name": "c", "image": IMAGE, **spec_extra.pop("container", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [container], **spec_extra},
    }


def test_a_pod_breaking_its_namespace_pod_security_is_refused(verified, plans):
    v = verified("prod")
    ns = plans("prod").config.namespace_for("gateway").name  # enforces restricted in prod
    pod = _pod("privileged", ns, container={"securityContext": {"privileged": True}})
    with pytest.raises(ApiError) as e:
        v.client.create(pod, dry_run=True)
    assert e.value.status == 403 and 'violates PodSecurity "restricted:' in e.value.message
    assert 'privileged (container "c" must not set securityContext.privileged=true)' in e.value.message


def test_a_workload_whose_pods_would_be_refused_gets_a_warning(verified, plans):
    """PodSecurity admits the Deployment but warns; its ReplicaSet's pods are then refused (FailedCreate)."""
    v = verified("prod")
    ns = plans("prod").config.namespace_for("gateway").name
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "privileged", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "privileged"}},
            "template": {
                "metadata": {"labels": {"app": "privileged"}},
                "spec": {"containers": [{"name": "c", "image": IMAGE, "securityContext": {"privileged": True}}]},
            },
        },
    }
    v.client.apply(dep, dry_run=True)
    assert any("would violate PodSecurity" in w for w in v.client.warnings), v.client.warnings


def test_a_pod_beyond_the_namespace_quota_is_refused(verified, plans):
    v = verified("dev")
    cfg = plans("dev").config
    ns = cfg.namespace_for("agents")
    quota = v.client.list_all("v1", "ResourceQuota", ns.name)
    assert quota, "the agents namespace has no ResourceQuota"
    pod = _pod(
        "too-big",
        ns.name,
        container={
            "resources": {"requests": {"cpu": "900", "memory": "1Gi"}, "limits": {"cpu": "900", "memory": "1Gi"}}
        },
    )
    with pytest.raises(ApiError) as e:
        v.client.create(pod, dry_run=True)
    assert e.value.status == 403
    assert "exceeded quota" in e.value.message or "maximum cpu usage per Container" in e.value.message


def _scheduled(v, ns: str, name: str, timeout: float = 20) -> dict:
    def state():
        pod = v.client.read("v1", "Pod", name, ns)
        conds = {c["type"]: c for c in pod.get("status", {}).get("conditions", [])}
        if pod["spec"].get("nodeName") or conds.get("PodScheduled", {}).get("status") == "False":
            return pod
        return None

    pod = v.client.wait(state, timeout)
    assert pod, f"{ns}/{name} neither bound nor unschedulable after {timeout} s"
    return pod


@pytest.fixture(scope="module")
def scratch(verified):
    v = verified("dev")
    v.client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bad-input"}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            v.client.read("v1", "ServiceAccount", "default", "bad-input")
            break
        except ApiError:
            time.sleep(0.3)
    return v


def test_a_pod_aimed_at_a_gpu_pool_without_the_toleration_stays_unschedulable(scratch, plans):
    pool = plans("dev").config.gpu_pools[0].name
    scratch.client.create(_pod("no-toleration", "bad-input", nodeSelector={"karpenter.sh/nodepool": pool}))
    pod = _scheduled(scratch, "bad-input", "no-toleration")
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert not pod["spec"].get("nodeName") and cond["reason"] == "Unschedulable"
    assert "had untolerated taint" in cond["message"] and "didn't match Pod's node affinity/selector" in cond["message"]


def test_a_gpu_request_gets_the_toleration_from_eks_admission(scratch):
    """EKS enables ExtendedResourceToleration: a pod requesting nvidia.com/gpu is given the toleration for the taint
    named after the resource, so it schedules onto a GPU node although its manifest has none."""
    res = {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}
    scratch.client.create(_pod("gpu-request", "bad-input", container={"resources": res}))
    pod = _scheduled(scratch, "bad-input", "gpu-request")
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    node = scratch.client.read("v1", "Node", pod["spec"]["nodeName"])
    assert int(node["status"]["allocatable"]["nvidia.com/gpu"]) >= 1


def test_a_gpu_request_beyond_every_node_is_unschedulable(scratch):
    res = {"requests": {"nvidia.com/gpu": "64"}, "limits": {"nvidia.com/gpu": "64"}}
    scratch.client.create(_pod("gpu-too-many", "bad-input", container={"resources": res}))
    pod = _scheduled(scratch, "bad-input", "gpu-too-many")
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert "Insufficient nvidia.com/gpu" in cond["message"]
