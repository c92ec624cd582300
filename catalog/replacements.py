"""Which input changes make a provider replace a resource instead of updating it in place.

The Python SDKs do not expose it, so the plan diff reads it from here:

- Kubernetes: the pulumi-kubernetes provider's own table (``forceNewProperties`` in provider/pkg/provider/diff.go,
  at the pinned provider): ``metadata.name``/``metadata.namespace`` of every object, plus the paths per group/kind
  below. Anything else on a Kubernetes object is updated in place (server-side apply).
- Helm releases: the release name, namespace, chart and repository.
- AWS: the inputs the Terraform AWS provider marks "forces new resource" for the resource types this platform
  creates. A changed input of another AWS type, or one not listed, is reported as "replacement unknown".
"""

from __future__ import annotations

import re

#: group (core: "") -> kind -> paths that force replacement (dotted, '[]' for every list item)
KUBERNETES: dict[str, dict[str, tuple[str, ...]]] = {
    "apps": {
        "Deployment": ("spec.selector",),
        "DaemonSet": ("spec.selector",),
        "StatefulSet": (
            "spec.podManagementPolicy",
            "spec.revisionHistoryLimit",
            "spec.selector",
            "spec.serviceName",
            "spec.volumeClaimTemplates",
        ),
    },
    "": {
        "ConfigMap": ("binaryData", "data"),
        "Secret": ("type", "stringData", "data"),
        "Service": ("spec.clusterIP",),
        "ResourceQuota": ("spec.scopes",),
        "PersistentVolumeClaim": ("spec",),
    },
    "rbac.authorization.k8s.io": {"RoleBinding": ("roleRef",), "ClusterRoleBinding": ("roleRef",)},
    "storage.k8s.io": {"StorageClass": ("parameters", "provisioner")},
    "batch": {"Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template")},
}
KUBERNETES_ALWAYS = ("metadata.name", "metadata.namespace")

HELM_RELEASE = ("name", "namespace", "chart", "repositoryOpts.repo")

AWS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "vpcId"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "vpcId", "description"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "bucketPrefix"),
    "aws:sqs/queue:Queue": ("name", "fifoQueue"),
    "aws:ecr/repository:Repository": ("name",),
    "aws:kms/alias:Alias": ("name",),
    "aws:secretsmanager/secret:Secret": ("name", "namePrefix"),
    "aws:cloudwatch/logGroup:LogGroup": ("name",),
    "aws:eks/accessEntry:AccessEntry": ("clusterName", "principalArn", "type"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("clusterName", "principalArn", "policyArn"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("clusterName", "namespace", "serviceAccount"),
    "aws:eks/addon:Addon": ("clusterName", "addonName"),
    "aws:eks/nodeGroup:NodeGroup": (
        "clusterName",
        "nodeGroupName",
        "subnetIds",
        "amiType",
        "capacityType",
        "instanceTypes",
        "nodeRoleArn",
        "diskSize",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId",
        "atRestEncryptionEnabled",
        "subnetGroupName",
        "kmsKeyId",
    ),
    "aws:rds/instance:Instance": ("identifier", "engine", "storageEncrypted", "kmsKeyId", "username"),
}


def kubernetes_paths(api_version: str, kind: str) -> tuple[str, ...]:
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return KUBERNETES_ALWAYS + KUBERNETES.get(group, {}).get(kind, ())


def forces_replacement(resource_type: str, path: str, inputs: dict) -> bool | None:
    """True/False when the provider's behaviour for ``path`` of ``resource_type`` is known, None when it is not."""

    def under(paths: tuple[str, ...]) -> bool:
        clean = re.sub(r"\[(?:[0-9]+|name=[^\]]*)\]", "", path)  # list entries by position or by name
        return any(clean == p or clean.startswith(p + ".") or clean.startswith(p + "[") for p in paths)

    if resource_type == "kubernetes:helm.sh/v3:Release":
        return under(HELM_RELEASE)
    if resource_type.startswith("kubernetes:"):
        return under(kubernetes_paths(str(inputs.get("apiVersion", "")), str(inputs.get("kind", ""))))
    if resource_type in AWS:
        return True if under(AWS[resource_type]) else None
    return None
