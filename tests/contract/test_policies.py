"""Each policy as a plain function: a passing and a failing input (no Pulumi CLI)."""

from __future__ import annotations

import pytest

from policies import rules
from policies.rules import Resource

DEPLOY = "kubernetes:apps/v1:Deployment"


def deployment(image="vllm/vllm-openai:v0.11.0", env=None):
    return {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image, "env": env or []}]}}}}


def ns_resources(with_quota=True, with_limits=True, deny=True):
    out = [Resource(rules.NAMESPACE, "ns", {"metadata": {"name": "team"}})]
    if with_quota:
        out.append(Resource("kubernetes:core/v1:ResourceQuota", "q", {"metadata": {"name": "q", "namespace": "team"}}))
    if with_limits:
        out.append(Resource("kubernetes:core/v1:LimitRange", "l", {"metadata": {"name": "l", "namespace": "team"}}))
    spec = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    if not deny:
        spec["ingress"] = [{}]
    out.append(
        Resource(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "np",
            {"metadata": {"name": "d", "namespace": "team"}, "spec": spec},
        )
    )
    return out


def test_namespace_governance():
    assert rules.check_namespace_governance(ns_resources()) == []
    assert rules.check_namespace_governance(ns_resources(with_quota=False)) == [
        ("ns", "namespace 'team' has no ResourceQuota")
    ]
    msg = rules.check_namespace_governance(ns_resources(with_limits=False, deny=False))[0][1]
    assert "LimitRange" in msg and "default-deny NetworkPolicy" in msg


@pytest.mark.parametrize(
    "image, ok",
    [
        ("repo/app:v1.2", True),
        ("repo/app@sha256:" + "a" * 64, True),
        ("repo/app:latest", False),
        ("repo/app", False),
        ("registry:5000/app", False),
        ("registry:5000/app:1.0", True),
    ],
)
def test_pinned_images_in_workloads(image, ok):
    assert (rules.check_pinned_images(DEPLOY, deployment(image)) == []) is ok


def test_pinned_images_in_helm_values_and_agents():
    assert rules.check_pinned_images(rules.HELM_RELEASE, {"values": {"image": {"tag": "latest"}}})
    assert rules.check_pinned_images(rules.HELM_RELEASE, {"values": {"image": {"tag": "1.2.3"}}}) == []
    agent = {"spec": {"byo": {"deployment": {"image": "ecr/agent-runtime"}}}}
    assert rules.check_pinned_images("kubernetes:kagent.dev/v1alpha2:Agent", agent)


def test_no_plaintext_secrets():
    secret = "kubernetes:core/v1:Secret"
    assert rules.check_no_plaintext_secrets(secret, {"stringData": {"k": "hunter2"}})
    assert rules.check_no_plaintext_secrets(secret, {"stringData": "[secret]"}) == []
    assert rules.check_no_plaintext_secrets(secret, {"data": {"k": "[secret]"}}) == []
    env_bad = deployment(env=[{"name": "OPENAI_API_KEY", "value": "sk-123"}])
    env_ok = deployment(
        env=[
            {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "LOG_LEVEL", "value": "info"},
        ]
    )
    assert rules.check_no_plaintext_secrets(DEPLOY, env_bad)
    assert rules.check_no_plaintext_secrets(DEPLOY, env_ok) == []
    assert rules.check_no_plaintext_secrets(rules.HELM_RELEASE, {"values": {"auth": {"password": "p"}}})
    assert (
        rules.check_no_plaintext_secrets(
            rules.HELM_RELEASE, {"values": {"admin": {"existingSecret": "s", "passwordKey": "k"}}}
        )
        == []
    )
    # Alertmanager's `secrets` lists the names of Secrets to mount (the Slack webhook file), not values
    mounts = {"values": {"alertmanager": {"alertmanagerSpec": {"secrets": ["alertmanager-slack"]}}}}
    assert rules.check_no_plaintext_secrets(rules.HELM_RELEASE, mounts) == []


def test_eks_endpoint():
    prod = {"tags": {"agentic.platform/environment": "prod"}}
    assert rules.check_eks_endpoint("eks:index:Cluster", {**prod, "endpointPublicAccess": True})
    assert rules.check_eks_endpoint("eks:index:Cluster", {**prod, "endpointPublicAccess": False}) == []
    dev = {"tags": {"agentic.platform/environment": "dev"}, "endpointPublicAccess": True}
    assert rules.check_eks_endpoint("eks:index:Cluster", {**dev, "publicAccessCidrs": ["203.0.113.0/24"]}) == []
    assert rules.check_eks_endpoint("eks:index:Cluster", {**dev, "publicAccessCidrs": ["0.0.0.0/0"]})
    assert rules.check_eks_endpoint("aws:eks/cluster:Cluster", {**prod, "vpcConfig": {"endpointPublicAccess": True}})


def test_secrets_encryption():
    assert rules.check_secrets_encryption("eks:index:Cluster", {})
    assert rules.check_secrets_encryption("eks:index:Cluster", {"encryptionConfigKeyArn": "arn:aws:kms:x"}) == []


def test_imdsv2():
    good = {"spec": {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}}}
    assert rules.check_imdsv2(rules.NODECLASS, good) == []
    assert (
        len(
            rules.check_imdsv2(
                rules.NODECLASS, {"spec": {"metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 2}}}
            )
        )
        == 2
    )
    assert rules.check_imdsv2("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "optional"}})


def gpu_pool(taint=True, limit=True):
    spec = {
        "template": {
            "spec": {"requirements": [{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["p5"]}]}
        }
    }
    if taint:
        spec["template"]["spec"]["taints"] = [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    if limit:
        spec["limits"] = {"nvidia.com/gpu": "16"}
    return {"spec": spec}


def test_gpu_nodepool_guardrails():
    assert rules.check_gpu_nodepool(rules.NODEPOOL, gpu_pool()) == []
    assert "taint" in rules.check_gpu_nodepool(rules.NODEPOOL, gpu_pool(taint=False))[0]
    assert "limits" in rules.check_gpu_nodepool(rules.NODEPOOL, gpu_pool(limit=False))[0]
    cpu = {
        "spec": {
            "template": {
                "spec": {
                    "requirements": [
                        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m"]}
                    ]
                }
            }
        }
    }
    assert rules.check_gpu_nodepool(rules.NODEPOOL, cpu) == []


def test_ebs_encrypted():
    nc = {
        "spec": {
            "blockDeviceMappings": [
                {"deviceName": "/dev/xvda", "ebs": {"encrypted": True}},
                {"deviceName": "/dev/xvdb", "ebs": {}},
            ]
        }
    }
    assert rules.check_ebs_encrypted(rules.NODECLASS, nc) == ["volume /dev/xvdb is not encrypted"]
    sc = "kubernetes:storage.k8s.io/v1:StorageClass"
    assert rules.check_ebs_encrypted(sc, {"provisioner": "ebs.csi.aws.com", "parameters": {"encrypted": "true"}}) == []
    assert rules.check_ebs_encrypted(sc, {"provisioner": "ebs.csi.aws.com", "parameters": {}})
    lt = "aws:ec2/launchTemplate:LaunchTemplate"
    assert (
        rules.check_ebs_encrypted(
            lt, {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}]}
        )
        == []
    )
    assert rules.check_ebs_encrypted(lt, {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {}}]})


def test_ecr_and_kms():
    repo = "aws:ecr/repository:Repository"
    assert (
        rules.check_ecr(repo, {"imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "IMMUTABLE"})
        == []
    )
    assert len(rules.check_ecr(repo, {"imageTagMutability": "MUTABLE"})) == 2
    assert rules.check_kms_rotation("aws:kms/key:Key", {"enableKeyRotation": False})
    assert rules.check_kms_rotation("aws:kms/key:Key", {"enableKeyRotation": True}) == []


def test_evaluate_reports_each_finding_with_policy_and_resource():
    findings = rules.evaluate([Resource("aws:kms/key:Key", "k", {}), *ns_resources(with_quota=False)])
    assert {(f.policy, f.resource) for f in findings} == {("kms-rotation", "k"), ("namespace-governance", "ns")}
    assert all(f.mandatory for f in findings)


def test_policy_pack_main_wraps_every_rule(monkeypatch):
    """The pack's __main__ builds one pulumi-policy policy per rule (its server start is stubbed)."""
    import runpy
    from pathlib import Path

    import pulumi_policy

    captured = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda name, policies: captured.update(name=name, p=policies))
    runpy.run_path(str(Path(rules.__file__).parent / "__main__.py"))
    assert captured["name"] == "agentic-platform"
    assert [p.name for p in captured["p"]] == [r.name for r in rules.RULES]
    # The wrapped validate reports through pulumi-policy's callback.
    kms = next(p for p in captured["p"] if p.name == "kms-rotation")
    reported = []
    args = type("A", (), {"resource_type": "aws:kms/key:Key", "props": {}})()
    kms.validate(args, lambda msg, urn=None: reported.append(msg))
    assert reported == ["KMS key rotation is off: set enableKeyRotation true"]
