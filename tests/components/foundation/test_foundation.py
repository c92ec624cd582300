"""The AWS foundation under the mock engine: key inputs, dependency order for a safe destroy, cost figures."""

from __future__ import annotations

import json

import pytest

from components.foundation.network import allocate_subnets
from tests.conftest import build_stack, stack_raw

EKS = "eks:index:Cluster"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
RELEASE = "kubernetes:helm.sh/v3:Release"


def by_suffix(run, typ, suffix):
    hits = [r for r in run.of_type(typ) if r.name.endswith(suffix)]
    assert len(hits) == 1, (suffix, [r.name for r in run.of_type(typ)])
    return hits[0]


def depends(run, resource, target) -> bool:
    """Does ``resource`` (transitively, via dependencies or parents' dependencies) wait for ``target``?"""
    seen, todo = set(), [resource.urn]
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        if urn == target.urn:
            return True
        try:
            r = run.by_urn(urn)
        except KeyError:
            continue
        todo += r.dependencies + ([r.parent] if r.parent else []) + ([r.provider_urn] if r.provider_urn else [])
    return False


def test_prod_endpoint_private_and_dev_public_limited(plans):
    prod = plans("prod").run.of_type(EKS)[0].inputs
    assert prod["endpointPublicAccess"] is False and prod["endpointPrivateAccess"] is True
    dev = plans("dev").run.of_type(EKS)[0].inputs
    assert dev["endpointPublicAccess"] is True and dev["publicAccessCidrs"] == ["203.0.113.0/24", "198.51.100.10/32"]


def test_cluster_auth_encryption_logs_version_oidc(plans):
    run = plans("prod").run
    eks = run.of_type(EKS)[0].inputs
    assert eks["authenticationMode"] == "API" and eks["createOidcProvider"] is True
    assert eks["version"] == "1.35" and eks["skipDefaultNodeGroup"] is True
    assert eks["encryptionConfigKeyArn"].startswith("arn:aws:kms:us-east-1:444455556666:key/")
    assert set(eks["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    entries = eks["accessEntries"]
    assert {e["principalArn"] for e in entries.values()} == {
        "arn:aws:iam::444455556666:role/platform-admins", "arn:aws:iam::444455556666:role/sre-oncall",
        "arn:aws:iam::444455556666:role/ci-readonly"}
    policies = {e["accessPolicies"]["policy"]["policyArn"].rsplit("/", 1)[-1] for e in entries.values()}
    assert policies == {"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSViewPolicy"}
    assert eks["vpcCniOptions"]["enableNetworkPolicy"] is True  # NetworkPolicies are enforced
    key = by_suffix(run, "aws:kms/key:Key", "cluster-secrets-key").inputs
    assert key["enableKeyRotation"] is True


def test_addons_and_system_node_group(plans):
    run = plans("prod").run
    addons = {r.inputs["addonName"]: r for r in run.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"eks-pod-identity-agent", "aws-ebs-csi-driver"}  # vpc-cni/coredns/kube-proxy: pulumi-eks
    eks = run.of_type(EKS)[0].inputs
    assert eks["corednsAddonOptions"]["enabled"] and eks["kubeProxyAddonOptions"]["enabled"]
    ebs = addons["aws-ebs-csi-driver"].inputs["podIdentityAssociations"][0]
    assert ebs["serviceAccount"] == "ebs-csi-controller-sa" and ":role/agentic-prod-ebs-csi" in ebs["roleArn"]
    ng = run.of_type("aws:eks/nodeGroup:NodeGroup")[0].inputs
    assert ng["capacityType"] == "ON_DEMAND"
    assert ng["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    assert ng["labels"] == {"node.agentic.platform/role": "system"}
    lt = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")[0].inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    sc = run.of_type("kubernetes:storage.k8s.io/v1:StorageClass")[0].inputs
    assert sc["parameters"]["type"] == "gp3" and sc["metadata"]["annotations"][
        "storageclass.kubernetes.io/is-default-class"] == "true"


def test_one_kubernetes_provider_from_the_cluster_kubeconfig(plans):
    run = plans("prod").run
    providers = run.of_type("pulumi:providers:kubernetes")
    assert len(providers) == 1
    assert json.loads(providers[0].inputs["kubeconfig"])["clusters"][0]["name"] == "agentic-prod"
    k8s_resources = [r for r in run.registrations if r.type.startswith("kubernetes:") and r.custom]
    assert k8s_resources and all(r.provider_urn == providers[0].urn for r in k8s_resources)


@pytest.mark.parametrize("stack, nats", [("dev", 1), ("prod", 3)])
def test_network_subnets_tags_and_nat(plans, stack, nats):
    run = plans(stack).run
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == nats
    subnets = [r.inputs for r in run.of_type("aws:ec2/subnet:Subnet")]
    private = [s for s in subnets if s["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    public = [s for s in subnets if s["tags"].get("kubernetes.io/role/elb") == "1"]
    cluster = plans(stack).config.cluster.name
    assert len(private) == len(public) == 3
    assert all(s["tags"]["karpenter.sh/discovery"] == cluster for s in private)
    assert not any("karpenter.sh/discovery" in s["tags"] for s in public)
    sg_tag = run.of_type("aws:ec2/tag:Tag")[0].inputs
    assert sg_tag["key"] == "karpenter.sh/discovery" and sg_tag["value"] == cluster
    assert sg_tag["resourceId"].startswith("sg-")  # the EKS-managed cluster security group


def test_allocate_subnets_is_aligned_and_disjoint():
    cidrs = allocate_subnets("10.0.0.0/16", [19, 19, 19, 24, 24, 24])
    assert cidrs[:3] == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert cidrs[3:] == ["10.0.96.0/24", "10.0.97.0/24", "10.0.98.0/24"]
    with pytest.raises(ValueError):
        allocate_subnets("10.0.0.0/20", [19])


def test_interruption_queue_and_five_rules(plans):
    run = plans("prod").run
    queue = by_suffix(run, "aws:sqs/queue:Queue", "interruption-queue")
    assert queue.inputs["messageRetentionSeconds"] == 300 and queue.inputs["sqsManagedSseEnabled"] is True
    policy = json.loads(run.of_type("aws:sqs/queuePolicy:QueuePolicy")[0].inputs["policy"])
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = {r.name: json.loads(r.inputs["eventPattern"]) for r in run.of_type("aws:cloudwatch/eventRule:EventRule")}
    detail_types = {p["detail-type"][0] for p in rules.values()}
    assert detail_types == {"AWS Health Event", "EC2 Spot Instance Interruption Warning",
                            "EC2 Instance Rebalance Recommendation", "EC2 Instance State-change Notification",
                            "EC2 Capacity Reservation Instance Interruption Warning"}
    targets = run.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 5 and all(t.inputs["arn"] == queue.outputs["arn"] for t in targets)


def test_karpenter_roles_pod_identity_and_chart(plans):
    run = plans("prod").run
    node_role = by_suffix(run, "aws:iam/role:Role", "karpenter-node-role")
    attached = {r.inputs["policyArn"].rsplit("/", 1)[-1] for r in run.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment") if r.parent == node_role.urn}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly",
                        "AmazonSSMManagedInstanceCore"}
    entry = run.of_type("aws:eks/accessEntry:AccessEntry")[0].inputs
    assert entry["type"] == "EC2_LINUX" and entry["principalArn"] == node_role.outputs["arn"]
    pia = run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")[0].inputs
    assert (pia["namespace"], pia["serviceAccount"]) == ("karpenter", "karpenter")
    trust = json.loads(by_suffix(run, "aws:iam/role:Role", "karpenter-controller-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    policy = json.loads(run.of_type("aws:iam/rolePolicy:RolePolicy")[0].inputs["policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["AllowScopedDeletion"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/agentic-prod": "owned"}
    assert sids["AllowPassingInstanceRole"]["Resource"] == node_role.outputs["arn"]
    assert sids["AllowAPIServerEndpointDiscovery"]["Resource"].endswith(":cluster/agentic-prod")
    release = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "karpenter")
    v = release.inputs["values"]
    assert v["settings"] == {"clusterName": "agentic-prod", "interruptionQueue": "agentic-prod-karpenter"}
    assert v["nodeSelector"]["node.agentic.platform/role"] == "system"
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in v["tolerations"]
    assert release.inputs["version"] == "1.14.1" and release.inputs["chart"].startswith("oci://")


def test_destroy_order_nodepools_before_karpenter_before_cluster(plans):
    run = plans("prod").run
    karpenter = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "karpenter")
    crds = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "karpenter-crd")
    node_group = run.of_type("aws:eks/nodeGroup:NodeGroup")[0]
    access = run.of_type("aws:eks/accessEntry:AccessEntry")[0]
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
    assert pools["p5"]["limits"]["nvidia.com/gpu"] == "16"
    caps = {r["key"]: r["values"] for r in pools["p5"]["template"]["spec"]["requirements"]}
    assert caps["karpenter.sh/capacity-type"] == ["reserved", "on-demand"]
    assert {r["key"]: r["values"] for r in pools["p4d"]["template"]["spec"]["requirements"]}[
        "karpenter.k8s.aws/instance-family"] == ["p4d", "p4de"]
    assert "taints" not in pools["general"]["template"]["spec"]
    budgets = pools["p5"]["disruption"]["budgets"]
    assert budgets[0] == {"nodes": "0", "schedule": "0 8 * * mon-fri", "duration": "10h",
                          "reasons": ["Drifted", "Underutilized", "Empty"]}


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
        "volumeSize": "500Gi", "volumeType": "gp3", "iops": 10000, "throughput": 500, "encrypted": True,
        "deleteOnTermination": True}
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
    sm = next(r for r in run.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
              if r.inputs["metadata"]["name"] == "dcgm-exporter")
    assert releases["kube-prometheus-stack"].urn in sm.dependencies


def test_without_prometheus_no_service_monitor_and_a_visible_note():
    raw = stack_raw("dev")
    raw["observability"]["prometheus"] = False
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


def test_ecr_repository(plans):
    run = plans("prod").run
    repo = run.of_type("aws:ecr/repository:Repository")[0].inputs
    assert repo["name"] == "agentic-prod/agent-runtime" and repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfigurations"][0]["encryptionType"] == "KMS"
    lifecycle = json.loads(run.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")[0].inputs["policy"])
    assert lifecycle["rules"][1]["selection"]["countNumber"] == 50
    assert plans("prod").run.outputs["ecr_repository_url"].endswith(".amazonaws.com/agentic-prod/agent-runtime")


def test_stack_outputs(plans):
    out = plans("prod").run.outputs
    assert out["cluster_name"] == "agentic-prod" and out["kubeconfig"] == "[secret]"
    assert out["oidc_issuer"].startswith("oidc.eks.us-east-1.amazonaws.com/id/")
    assert out["node_role_name"] == "agentic-prod-karpenter-node"
    assert out["interruption_queue"] == "agentic-prod-karpenter"


def test_cost_ceiling_follows_the_gpu_limit(plans):
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["limits"]["gpus"] = 16
    from catalog.instances import pool_cost_ceiling

    assert pool_cost_ceiling("g5", ["g5"], 16, [1, 4]).ceiling_usd_per_hour == pytest.approx(2 * 32.77, abs=0.01)
    assert pool_cost_ceiling("p5", ["p5"], 16).ceiling_usd_per_hour == pytest.approx(110.08)
    assert plans("dev").costs[0].ceiling_usd_per_hour == pytest.approx(32.77)
