"""Multi-node models (issue #24): the LeaderWorkerSet a model spread over nodes becomes, its vLLM launch, EFA
requests, the leader-only Service, scaling by group; the GPU pool side (EFA security group, placement group, RAID0
cache, parallel pulls) and the policies that read every pod template of a set."""

from __future__ import annotations

import pytest

from components.nodes.efa import EFA_SG_TAG, user_data
from components.nodes.nodepools import nodeclass
from components.serving.autoscaling import scaled_object
from components.serving.models import VLLM_FLAGS, model_objects
from components.serving.multinode import EXCLUSIVE_TOPOLOGY, WORKER_INDEX
from config import parse_platform
from config.pools import Volume
from config.serving import Model
from policies.observability import check_pod_security
from policies.rules import Resource, check_pinned_images
from policies.serving import gpu_workloads
from tests.conftest import stack_raw, validate_object


@pytest.fixture(scope="module")
def prod():
    return parse_platform(stack_raw("prod"))


def objects(cfg, name="llama-405b", **change):
    m = next(m for m in cfg.models if m.name == name)
    if change:
        m = Model.model_validate({**m.model_dump(exclude_unset=True), **change})
    pool = cfg.pool(m.pool)
    return m, pool, model_objects(m, "ai-inference", monitoring=True, bucket="models-b", pool=pool)


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def test_a_model_over_two_nodes_is_one_leader_worker_set_valid_against_the_pinned_crd(prod):
    _m, _pool, objs = objects(prod)
    assert by_kind(objs, "Deployment") == []
    [lws] = by_kind(objs, "LeaderWorkerSet")
    validate_object(lws, "1.35")
    spec = lws["spec"]
    assert spec["replicas"] == 1 and spec["leaderWorkerTemplate"]["size"] == 2
    assert spec["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupOnPodRestart"
    assert spec["startupPolicy"] == "LeaderCreated"
    for obj in objs:
        validate_object(obj, "1.35")


def test_leader_and_workers_launch_vllm_across_the_group(prod):
    _m, _pool, objs = objects(prod)
    [lws] = by_kind(objs, "LeaderWorkerSet")
    tmpl = lws["spec"]["leaderWorkerTemplate"]
    leader, worker = (tmpl[k]["spec"]["containers"][0] for k in ("leaderTemplate", "workerTemplate"))

    def flag(c, name):
        return c["args"][c["args"].index(name) + 1]

    for c in (leader, worker):
        assert flag(c, "--tensor-parallel-size") == "8" and flag(c, "--pipeline-parallel-size") == "2"
        assert flag(c, "--nnodes") == "2" and flag(c, "--master-addr") == "$(LWS_LEADER_ADDRESS)"
        assert {a for a in c["args"] if a.startswith("--")} <= VLLM_FLAGS
        res = c["resources"]["limits"]
        assert res["nvidia.com/gpu"] == "8" and res["vpc.amazonaws.com/efa"] == "32"  # every EFA interface of a p5
        assert {"name": "FI_PROVIDER", "value": "efa"} in c["env"]
        assert {"name": "FI_EFA_USE_DEVICE_RDMA", "value": "1"} in c["env"]
    assert flag(leader, "--node-rank") == "0" and "--headless" not in leader["args"]
    assert flag(worker, "--node-rank") == "$(LWS_WORKER_INDEX)" and worker["args"][-1] == "--headless"
    # the leader serves the API, health and metrics; a headless worker serves nothing
    assert "startupProbe" in leader and "readinessProbe" in leader and leader["ports"]
    assert "startupProbe" not in worker and "readinessProbe" not in worker and "ports" not in worker
    for k in ("leaderTemplate", "workerTemplate"):
        t = tmpl[k]
        assert t["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
        assert t["spec"]["tolerations"] and t["spec"]["affinity"]["nodeAffinity"]


def test_the_service_reaches_leaders_only_and_the_pdb_keeps_a_group(prod):
    _m, _pool, objs = objects(prod)
    [svc] = by_kind(objs, "Service")
    assert svc["spec"]["selector"][WORKER_INDEX] == "0"
    [pdb] = by_kind(objs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 2


def test_without_a_placement_group_each_group_keeps_to_one_zone(prod):
    m = next(m for m in prod.models if m.name == "llama-405b")
    pool = prod.pool("p5").model_copy(update={"placement_group": False})
    [lws] = by_kind(model_objects(m, "ns", monitoring=False, pool=pool), "LeaderWorkerSet")
    assert lws["metadata"]["annotations"][EXCLUSIVE_TOPOLOGY] == "topology.kubernetes.io/zone"
    [lws] = by_kind(model_objects(m, "ns", monitoring=False, pool=prod.pool("p5")), "LeaderWorkerSet")
    assert EXCLUSIVE_TOPOLOGY not in (lws["metadata"].get("annotations") or {})


def test_an_autoscaled_multi_node_model_scales_whole_groups(prod):
    m, _pool, objs = objects(
        prod,
        variants=[{"name": "primary", "weight": 100, "image": "r.example/vllm-efa:v0.34.0"}],
        autoscaling={"min_replicas": 1, "max_replicas": 2},
    )
    [lws] = by_kind(objs, "LeaderWorkerSet")
    assert "replicas" not in lws["spec"]
    so = scaled_object(m, "ai-inference", "http://prometheus:9090")
    assert so["spec"]["scaleTargetRef"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": "llama-405b-primary-lws",
    }
    validate_object(so, "1.35")


def test_the_pool_side_efa_placement_raid0_and_parallel_pulls(prod):
    pool = prod.pool("p5")
    nc = nodeclass(
        "p5",
        cluster="agentic-prod",
        node_role="r",
        ami_alias=pool.ami_alias,
        root=pool.root_volume,
        data=None,
        capacity_reservations=[],
        tags={},
        efa=True,
        placement_group="agentic-prod-p5-cluster",
        instance_store=True,
        user_data=user_data(pool),
    )
    validate_object(nc, "1.35")
    spec = nc["spec"]
    assert {"tags": {EFA_SG_TAG: "agentic-prod"}} in spec["securityGroupSelectorTerms"]
    assert spec["placementGroupSelector"] == {"name": "agentic-prod-p5-cluster"}
    assert spec["instanceStorePolicy"] == "RAID0"
    assert "application/node.eks.aws" in spec["userData"] and "FastImagePull: true" in spec["userData"]
    plain = nodeclass(
        "g",
        cluster="c",
        node_role="r",
        ami_alias="al2023@v20251016",
        root=Volume(size_gib=50),
        data=None,
        capacity_reservations=[],
        tags={},
    )
    assert not {"placementGroupSelector", "instanceStorePolicy", "userData"} & set(plain["spec"])
    assert user_data(prod.pool("p4d")) is None


def test_policies_read_both_pod_templates_of_a_set(prod):
    _m, _pool, objs = objects(prod)
    [lws] = by_kind(objs, "LeaderWorkerSet")
    rtype = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
    assert len(list(gpu_workloads([Resource(rtype, "lws", lws)]))) == 2
    worker = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    worker["image"] = "vllm/vllm-openai:latest"
    worker["securityContext"]["privileged"] = True
    assert any("latest" in p for p in check_pinned_images(rtype, lws))
    ns = Resource(
        "kubernetes:core/v1:Namespace",
        "ns",
        {"metadata": {"name": "ai-inference", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
    )
    assert [name for name, _ in check_pod_security([ns, Resource(rtype, "lws", lws)])] == ["lws"]


def test_the_prod_plan_registers_the_efa_network_the_lws_controller_and_node_repair(plans):
    run = plans("prod").run
    sgs = [r for r in run.of_type("aws:ec2/securityGroup:SecurityGroup") if r.inputs.get("name") == "agentic-prod-efa"]
    assert len(sgs) == 1 and sgs[0].inputs["tags"][EFA_SG_TAG] == "agentic-prod"
    rules = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") + run.of_type(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
    )
    efa_rules = [r for r in rules if "-efa-sg-" in r.name]  # -sg-from-self, -sg-to-self
    assert len(efa_rules) == 2 and all(r.inputs["ipProtocol"] == "-1" for r in efa_rules)
    assert all(r.inputs["referencedSecurityGroupId"] == r.inputs["securityGroupId"] for r in efa_rules)
    [pg] = run.of_type("aws:ec2/placementGroup:PlacementGroup")
    assert pg.inputs["strategy"] == "cluster" and pg.inputs["name"] == "agentic-prod-p5-cluster"
    releases = {r.inputs["name"]: r.inputs for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases["aws-efa-k8s-device-plugin"]["version"] == "v0.5.30"
    assert releases["lws"]["namespace"] == "lws-system" and releases["lws"]["version"] == "0.10.0"
    addons = {r.inputs["addonName"] for r in run.of_type("aws:eks/addon:Addon")}
    assert "eks-node-monitoring-agent" in addons
    nodeclasses = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in run.of_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    }
    assert nodeclasses["p5"]["placementGroupSelector"] == {"name": "agentic-prod-p5-cluster"}
    assert nodeclasses["g5"]["instanceStorePolicy"] == "RAID0" and "placementGroupSelector" not in nodeclasses["g5"]
    notes = "\n".join(plans("prod").run.outputs["plan_notes"])
    assert (
        "model 'llama-405b' on pool 'p5': 1 group x 2 nodes x 8 GPUs (LeaderWorkerSet, EFA) = 16 of the pool's 32"
        in notes
    )
    assert "weights streamed from the models bucket" in notes and "SOCI parallel pull" in notes


def test_dev_has_no_lws_controller_nor_efa(plans):
    run = plans("dev").run
    assert "lws" not in {r.inputs["name"] for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert run.of_type("aws:ec2/placementGroup:PlacementGroup") == []
