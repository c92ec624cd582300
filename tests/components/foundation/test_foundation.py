"""The AWS foundation under the mock engine: key inputs, dependency order for a safe destroy, cost figures."""

from __future__ import annotations

import json

import pytest

from components.foundation.network import allocate_subnets

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
        "arn:aws:iam::444455556666:role/platform-admins",
        "arn:aws:iam::444455556666:role/sre-oncall",
        "arn:aws:iam::444455556666:role/ci-readonly",
    }
    policies = {e["accessPolicies"]["policy"]["policyArn"].rsplit("/", 1)[-1] for e in entries.values()}
    assert policies == {"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSViewPolicy"}
    assert eks["vpcCniOptions"]["enableNetworkPolicy"] is True  # NetworkPolicies are enforced
    key = by_suffix(run, "aws:kms/key:Key", "cluster-secrets-key").inputs
    assert key["enableKeyRotation"] is True


def test_addons_and_system_node_group(plans):
    run = plans("prod").run
    addons = {r.inputs["addonName"]: r for r in run.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
        "eks-node-monitoring-agent",
    }  # vpc-cni/coredns/kube-proxy: pulumi-eks
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
    assert (
        sc["parameters"]["type"] == "gp3"
        and sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    )


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
