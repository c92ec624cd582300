"""Node provisioning under the mock engine: Karpenter (IAM, queue, chart), NodePools/EC2NodeClasses, GPU software."""

from __future__ import annotations

import json

import pytest

from tests.components.foundation.test_foundation import EKS, NODECLASS, NODEPOOL, RELEASE, by_suffix, depends
from tests.conftest import build_stack, stack_raw, without_prometheus


def test_interruption_queue_and_five_rules(plans):
    run = plans("prod").run
    queue = by_suffix(run, "aws:sqs/queue:Queue", "interruption-queue")
    assert queue.inputs["messageRetentionSeconds"] == 300 and queue.inputs["sqsManagedSseEnabled"] is True
    policy = json.loads(run.of_type("aws:sqs/queuePolicy:QueuePolicy")[0].inputs["policy"])
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = {r.name: json.loads(r.inputs["eventPattern"]) for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    detail_types = {p["detail-type"][0] for p in rules.values()}
    assert detail_types == {
        "AWS Health Event",
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "EC2 Capacity Reservation Instance Interruption Warning",
    }
    targets = run.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 5 and all(t.inputs["arn"] == queue.outputs["arn"] for t in targets)


def test_karpenter_roles_pod_identity_and_chart(plans):
    run = plans("prod").run
    node_role = by_suffix(run, "aws:iam/role:Role", "karpenter-node-role")
    attached = {
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.parent == node_role.urn
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonSSMManagedInstanceCore",
    }
    entry = next(
        e.inputs for e in run.of_type("aws:eks/accessEntry:AccessEntry") if e.inputs.get("type") == "EC2_LINUX"
    )
    assert entry["type"] == "EC2_LINUX" and entry["principalArn"] == node_role.outputs["arn"]
    pia = next(
        r
        for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.name.endswith("karpenter-pod-identity")
    ).inputs
    assert (pia["namespace"], pia["serviceAccount"]) == ("karpenter", "karpenter")
    trust = json.loads(by_suffix(run, "aws:iam/role:Role", "karpenter-controller-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    policy = json.loads(
        next(
            r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("karpenter-controller-policy")
        ).inputs["policy"]
    )
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["AllowScopedDeletion"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/agentic-prod": "owned"
    }
    assert sids["AllowPassingInstanceRole"]["Resource"] == node_role.outputs["arn"]
    assert sids["AllowAPIServerEndpointDiscovery"]["Resource"].endswith(":cluster/agentic-prod")
    release = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "karpenter")
    v = release.inputs["values"]
    assert v["settings"] == {
        "clusterName": "agentic-prod",
        "interruptionQueue": "agentic-prod-karpenter",
        "featureGates": {"nodeRepair": True},  # prod: cluster.node_health.repair
        "awsFeatureGates": {"rebootForRepair": True},  # prod: cluster.node_health.reboot_gpu_faults
    }
    assert "ec2:RebootInstances" in sids["AllowScopedInstanceReboot"]["Action"]
    assert v["nodeSelector"]["node.agentic.platform/role"] == "system"
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in v["tolerations"]
    assert release.inputs["version"] == "1.15.2" and release.inputs["chart"].startswith("oci://")


def test_destroy_order_nodepools_before_karpenter_before_cluster(plans):
    run = plans("prod").run
    karpenter = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "karpenter")
    crds = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "karpenter-crd")
    node_group = run.of_type("aws:eks/nodeGroup:NodeGroup")[0]
    access = next(a for a in run.of_type("aws:eks/accessEntry:AccessEntry") if a.inputs.get("type") == "EC2_LINUX")
    cluster = run.of_type(EKS)[0]
    for np in run.of_type(NODEPOOL) + run.of_type(NODECLASS):
        assert karpenter.urn in np.dependencies, np.name  # deleted before the controller that finalizes nodes
    for np in run.of_type(NODEPOOL):
        nc = by_suffix(run, NODECLASS, np.name.rsplit("-", 1)[-1] + "-nodeclass")
        assert nc.urn in np.dependencies
    assert {crds.urn, node_group.urn, access.urn} <= set(karpenter.dependencies)
    assert depends(run, karpenter, cluster)


def test_gpu_nodepools_taint_limits_requirements(plans):
    run = plans("prod").run
    pools = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in run.of_type(NODEPOOL)}
    assert set(pools) == {"p5", "p4d", "g5", "general"}
    for name in ("p5", "p4d", "g5"):
        spec = pools[name]
        assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"} in spec["template"]["spec"]["taints"]
        assert int(spec["limits"]["nvidia.com/gpu"]) > 0
        reqs = {r["key"]: r for r in spec["template"]["spec"]["requirements"]}
        assert "karpenter.k8s.aws/instance-family" in reqs and "karpenter.sh/capacity-type" in reqs
        assert "karpenter.k8s.aws/instance-gpu-count" in reqs
        assert spec["disruption"]["consolidateAfter"] and spec["template"]["spec"]["expireAfter"] == "720h"
    assert pools["p5"]["limits"]["nvidia.com/gpu"] == "32"
    caps = {r["key"]: r["values"] for r in pools["p5"]["template"]["spec"]["requirements"]}
    assert caps["karpenter.sh/capacity-type"] == ["reserved", "on-demand"]
    assert {r["key"]: r["values"] for r in pools["p4d"]["template"]["spec"]["requirements"]}[
        "karpenter.k8s.aws/instance-family"
    ] == ["p4d", "p4de"]
    assert "taints" not in pools["general"]["template"]["spec"]
    budgets = pools["p5"]["disruption"]["budgets"]
    assert budgets[0] == {
        "nodes": "0",
        "schedule": "0 8 * * mon-fri",
        "duration": "10h",
        "reasons": ["Drifted", "Underutilized", "Empty"],
    }


def test_ec2nodeclasses_imds_volumes_discovery(plans):
    run = plans("prod").run
    classes = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in run.of_type(NODECLASS)}
    for spec in classes.values():
        assert spec["metadataOptions"]["httpTokens"] == "required"
        assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert all(b["ebs"]["encrypted"] and b["ebs"]["volumeType"] == "gp3" for b in spec["blockDeviceMappings"])
        assert spec["amiSelectorTerms"] == [{"alias": "al2023@v20251016"}]
        assert spec["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "agentic-prod"}}]
        assert spec["role"] == "agentic-prod-karpenter-node"
    assert classes["p5"]["blockDeviceMappings"][0]["ebs"] == {
        "volumeSize": "500Gi",
        "volumeType": "gp3",
        "iops": 10000,
        "throughput": 500,
        "encrypted": True,
        "deleteOnTermination": True,
    }
    assert classes["p5"]["capacityReservationSelectorTerms"] == [{"id": "cr-0a1b2c3d4e5f60718"}]
    assert "capacityReservationSelectorTerms" not in classes["g5"]


def test_device_plugin_tolerates_gpu_taint_and_dcgm_service_monitor(plans):
    run = plans("prod").run
    releases = {r.inputs["name"]: r for r in run.of_type(RELEASE)}
    dp = releases["nvidia-device-plugin"].inputs["values"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in dp["tolerations"]
    terms = dp["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["g5", "p4d", "p5"]
    dcgm = releases["dcgm-exporter"].inputs["values"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in dcgm["tolerations"]
    sm = next(
        r
        for r in run.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if r.inputs["metadata"]["name"] == "dcgm-exporter"
    )
    assert releases["kube-prometheus-stack"].urn in sm.dependencies


def test_without_prometheus_no_service_monitor_and_a_visible_note():
    raw = stack_raw("dev")
    without_prometheus(raw)
    raw["models"][0].pop("autoscaling", None)  # scaling on queue depth needs Prometheus
    run = build_stack(raw)
    assert run.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor") == []
    assert "kube-prometheus-stack" not in {r.inputs["name"] for r in run.of_type(RELEASE)}
    assert any("ServiceMonitor left out" in n for n in run.outputs["plan_notes"])


def test_bottlerocket_pools_skip_device_plugin():
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["ami_alias"] = "bottlerocket@v1.46.0"
    run = build_stack(raw)
    assert "nvidia-device-plugin" not in {r.inputs["name"] for r in run.of_type(RELEASE)}
    assert any("Bottlerocket" in n for n in run.outputs["plan_notes"])


def test_cost_ceiling_follows_the_gpu_limit(plans):
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["limits"]["gpus"] = 16
    from catalog.instances import pool_cost_ceiling

    assert pool_cost_ceiling("g5", ["g5"], 16, [1, 4]).ceiling_usd_per_hour == pytest.approx(2 * 32.77, abs=0.01)
    assert pool_cost_ceiling("p5", ["p5"], 16).ceiling_usd_per_hour == pytest.approx(110.08)
    assert plans("dev").costs[0].ceiling_usd_per_hour == pytest.approx(32.77)
