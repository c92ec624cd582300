"""A multi-node model on the real control plane (issue #24): prod's llama-405b LeaderWorkerSet is accepted against the
pinned CRD, its group's pods (made as the LWS controller makes them: agentic.cluster.lws) pass admission and the real
scheduler binds each to its own p5-shaped node, the group in one zone, each pod holding every EFA interface."""

from __future__ import annotations

import time
from collections import Counter

from agentic.cluster import lws as standin
from components.serving.multinode import GROUP_INDEX, SET_NAME, WORKER_INDEX


def _pods(v, name):
    return v.client.get("/api/v1/namespaces/ai-inference/pods", labelSelector=f"{SET_NAME}={name}")["items"]


def test_the_leader_worker_set_is_accepted(verified):
    report = verified("prod").reports["prod"]
    assert report.result("LeaderWorkerSet/ai-inference/llama-405b-primary-lws").status == "accepted"


def test_each_group_is_bound_to_p5_nodes_in_one_zone(verified):
    v = verified("prod")
    nodes = {n["metadata"]["name"]: n for n in v.client.get("/api/v1/nodes")["items"]}
    pods = _pods(v, "llama-405b-primary-lws")
    assert sorted(p["metadata"]["name"] for p in pods) == ["llama-405b-primary-lws-0", "llama-405b-primary-lws-0-1"]
    bound = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods}
    assert all(bound.values()), bound
    assert len(set(bound.values())) == 2  # 8 GPUs each: one pod per p5
    for _name, node in bound.items():
        labels = nodes[node]["metadata"]["labels"]
        assert labels["karpenter.sh/nodepool"] == "p5" and labels["node.kubernetes.io/instance-type"] == "p5.48xlarge"
    zones = Counter(nodes[n]["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in bound.values())
    assert len(zones) == 1  # the pool's cluster placement group: one AZ
    for p in pods:
        assert p["spec"]["containers"][0]["resources"]["requests"]["vpc.amazonaws.com/efa"] == "32"
        assert p["metadata"]["labels"][GROUP_INDEX] == "0"


def test_the_groups_environment_reaches_every_pod(verified):
    pods = {p["metadata"]["labels"][WORKER_INDEX]: p for p in _pods(verified("prod"), "llama-405b-primary-lws")}
    for index, pod in pods.items():
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["LWS_LEADER_ADDRESS"] == "llama-405b-primary-lws-0.llama-405b-primary-lws.ai-inference"
        assert env["LWS_WORKER_INDEX"] == index and env["LWS_GROUP_SIZE"] == "2"


def test_a_group_larger_than_the_free_p5_nodes_stays_unschedulable(verified, plans):
    """Capacity counts whole groups: with 3 of the 4 simulated p5 nodes taken (llama-70b, llama-405b's group), a
    second two-node group binds one pod and leaves the other pending on GPUs and EFA interfaces."""
    v = verified("prod")
    [lws] = [
        dict(r.inputs) for r in plans("prod").run.of_type("kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet")
    ]
    big = {**lws, "metadata": {**lws["metadata"], "name": "too-big"}}
    big["spec"] = {**lws["spec"], "leaderWorkerTemplate": {**lws["spec"]["leaderWorkerTemplate"], "size": 2}}
    for obj in standin.group_pods(big):
        obj["spec"]["containers"][0]["resources"] = {
            k: {**r, "cpu": "1", "memory": "1Gi"} for k, r in obj["spec"]["containers"][0]["resources"].items()
        }
        v.client.apply(obj)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pods = _pods(v, "too-big")
            conds = [c for p in pods for c in p.get("status", {}).get("conditions", []) if c["type"] == "PodScheduled"]
            if len(conds) == 2:
                break
            time.sleep(0.5)
        unbound = [p for p in pods if not p["spec"].get("nodeName")]
        assert unbound, "a second two-node group fit on one free p5 node"
        messages = " ".join(c.get("message", "") for p in unbound for c in p["status"]["conditions"])
        assert "Insufficient nvidia.com/gpu" in messages or "Insufficient vpc.amazonaws.com/efa" in messages
    finally:
        for p in _pods(v, "too-big"):
            v.client.request("DELETE", f"/api/v1/namespaces/ai-inference/pods/{p['metadata']['name']}")
