"""AWS foundation and node guardrails: the EKS endpoint and Secrets encryption, IMDSv2, GPU NodePools, EBS, ECR,
KMS. Plain functions over resource properties, importing nothing from the project (the pack installs alone)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

try:  # in-process: the policies package; `pulumi preview --policy-pack policies`: this directory on sys.path
    from policies.common import get as _get
except ImportError:  # pragma: no cover
    from common import get as _get  # type: ignore[no-redef]

NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"


def _environment(props: Mapping[str, Any]) -> str | None:
    return (props.get("tags") or {}).get("agentic.platform/environment")


def check_eks_endpoint(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == "eks:index:Cluster":
        public = props.get("endpointPublicAccess", True)
        cidrs = props.get("publicAccessCidrs") or []
    elif resource_type == "aws:eks/cluster:Cluster":
        public = _get(props, "vpcConfig", "endpointPublicAccess", default=True)
        cidrs = _get(props, "vpcConfig", "publicAccessCidrs", default=[]) or []
    else:
        return []
    if not public:
        return []
    if _environment(props) == "prod":
        return ["the EKS API endpoint is public in prod: set endpointPublicAccess false (reach it over VPN/SSM)"]
    if not cidrs or "0.0.0.0/0" in cidrs:
        return ["the public EKS API endpoint is open to every address: restrict publicAccessCidrs"]
    return []


def check_secrets_encryption(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == "eks:index:Cluster" and not props.get("encryptionConfigKeyArn"):
        return ["EKS secrets encryption is off: set encryptionConfigKeyArn to a KMS key"]
    if resource_type == "aws:eks/cluster:Cluster" and not props.get("encryptionConfig"):
        return ["EKS secrets encryption is off: add encryptionConfig with a KMS key for 'secrets'"]
    return []


def check_imdsv2(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == NODECLASS:
        md = _get(props, "spec", "metadataOptions") or {}
        out = []
        if md.get("httpTokens") != "required":
            out.append("metadataOptions.httpTokens must be 'required' (IMDSv2)")
        if md.get("httpPutResponseHopLimit") != 1:
            out.append("metadataOptions.httpPutResponseHopLimit must be 1 so pods cannot reach node credentials")
        return out
    if (
        resource_type == "aws:ec2/launchTemplate:LaunchTemplate"
        and _get(props, "metadataOptions", "httpTokens") != "required"
    ):
        return ["launch template metadataOptions.httpTokens must be 'required' (IMDSv2)"]
    return []


def _is_gpu_pool(props: Mapping[str, Any]) -> bool:
    for req in _get(props, "spec", "template", "spec", "requirements", default=[]) or []:
        key = req.get("key", "")
        if key in (
            "karpenter.k8s.aws/instance-gpu-count",
            "karpenter.k8s.aws/instance-gpu-name",
            "karpenter.k8s.aws/instance-gpu-manufacturer",
        ):
            return True
        if key == "karpenter.k8s.aws/instance-family" and any(
            re.match(r"^(p\d|g\d)", v) for v in req.get("values") or []
        ):
            return True
    return bool(_get(props, "spec", "limits", "nvidia.com/gpu"))


def check_gpu_nodepool(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != NODEPOOL or not _is_gpu_pool(props):
        return []
    out = []
    taints = _get(props, "spec", "template", "spec", "taints", default=[]) or []
    if not any(t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NoSchedule" for t in taints):
        out.append("GPU NodePool lacks the taint nvidia.com/gpu:NoSchedule: non-GPU pods would land on GPU nodes")
    if not _get(props, "spec", "limits", "nvidia.com/gpu"):
        out.append("GPU NodePool has no limits['nvidia.com/gpu']: nothing caps its cost")
    return out


def check_ebs_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    out = []
    if resource_type == NODECLASS:
        for bdm in _get(props, "spec", "blockDeviceMappings", default=[]) or []:
            if not _get(bdm, "ebs", "encrypted"):
                out.append(f"volume {bdm.get('deviceName')} is not encrypted")
    elif resource_type == "aws:ec2/launchTemplate:LaunchTemplate":
        for bdm in props.get("blockDeviceMappings") or []:
            if str(_get(bdm, "ebs", "encrypted")).lower() != "true":
                out.append(f"launch template volume {bdm.get('deviceName')} is not encrypted")
    elif resource_type == "kubernetes:storage.k8s.io/v1:StorageClass":
        if props.get("provisioner") == "ebs.csi.aws.com" and (props.get("parameters") or {}).get("encrypted") != "true":
            out.append("EBS StorageClass must set parameters.encrypted: 'true'")
    elif resource_type == "aws:ebs/volume:Volume" and not props.get("encrypted"):
        out.append("EBS volume is not encrypted")
    return out


def check_ecr(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != "aws:ecr/repository:Repository":
        return []
    out = []
    if not _get(props, "imageScanningConfiguration", "scanOnPush"):
        out.append("ECR repository must scan on push")
    if props.get("imageTagMutability") != "IMMUTABLE":
        out.append("ECR repository tags must be IMMUTABLE")
    return out


def check_kms_rotation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == "aws:kms/key:Key" and not props.get("enableKeyRotation"):
        return ["KMS key rotation is off: set enableKeyRotation true"]
    return []
