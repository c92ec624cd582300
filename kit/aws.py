"""AWS helpers shared by components: partition-aware ARNs, trust policies, roles with managed policies."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from kit.naming import safe_name


def partition(region: str) -> str:
    """The ARN partition of a region: ``aws``, ``aws-us-gov`` (us-gov-*) or ``aws-cn`` (cn-*)."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def arn(region: str, service: str, resource: str, account: str = "", *, regional: bool = True) -> str:
    return f"arn:{partition(region)}:{service}:{region if regional else ''}:{account}:{resource}"


def managed_policy(name: str, region: str) -> str:
    return f"arn:{partition(region)}:iam::aws:policy/{name}"


def eks_access_policy(name: str, region: str) -> str:
    return f"arn:{partition(region)}:eks::aws:cluster-access-policy/{name}"


def service_principal(service: str, region: str) -> str:
    """China regions use the ``amazonaws.com.cn`` suffix for some service principals (EC2 among them)."""
    return (
        f"{service}.amazonaws.com.cn"
        if partition(region) == "aws-cn" and service == "ec2"
        else f"{service}.amazonaws.com"
    )


def trust_policy(principal: str, *, tag_session: bool = False) -> str:
    """A role trust policy for an AWS service principal (``pods.eks.amazonaws.com`` needs sts:TagSession too)."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": actions}],
        }
    )


def role_with_policies(
    name: str,
    role_name: str,
    principal: str,
    policies: list[str],
    parent: pulumi.Resource,
    region: str,
    *,
    tag_session: bool = False,
) -> aws.iam.Role:
    """A role assumable by ``principal`` with AWS-managed ``policies`` attached (each attachment its own resource)."""
    role = aws.iam.Role(
        name,
        name=safe_name(role_name, limit="iam_role"),
        assume_role_policy=trust_policy(principal, tag_session=tag_session),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for policy in policies:
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy.lower().replace('_', '-')}",
            role=role.name,
            policy_arn=managed_policy(policy, region),
            opts=pulumi.ResourceOptions(parent=role),
        )
    return role


def kms_key(name: str, alias: str, description: str, parent: pulumi.Resource) -> aws.kms.Key:
    """A customer-managed KMS key with rotation and a 30-day deletion window, and its alias (``alias/<alias>``)."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.kms.Alias(
        f"{name}-alias", name=f"alias/{alias}", target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=parent)
    )
    return key


def pod_identity_role(
    name: str,
    *,
    role_name: str,
    policy: pulumi.Input[str],
    cluster_name: pulumi.Input[str] | None,
    namespace: str,
    service_account: str,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
    association_name: str | None = None,
) -> tuple[aws.iam.Role, aws.eks.PodIdentityAssociation]:
    """A role for one Kubernetes ServiceAccount through EKS Pod Identity: the role (``<name>-role``), its inline
    policy (``<name>-policy``) and the association (``<name>-pod-identity`` unless named)."""
    role = aws.iam.Role(
        f"{name}-role",
        name=safe_name(role_name, limit="iam_role"),
        assume_role_policy=trust_policy("pods.eks.amazonaws.com", tag_session=True),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicy(f"{name}-policy", role=role.name, policy=policy, opts=pulumi.ResourceOptions(parent=parent))
    association = aws.eks.PodIdentityAssociation(
        association_name or f"{name}-pod-identity",
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )
    return role, association


def tls_only_policy(bucket_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def secure_bucket(
    name: str, bucket_prefix: str, key_alias: str, description: str, parent: pulumi.Resource
) -> tuple[aws.s3.Bucket, aws.kms.Key]:
    """An S3 bucket as the platform keeps them: its own KMS key, versioning, public access blocked, TLS only.
    Children: ``<name>-key``, ``<name>-bucket``, ``-versioning``, ``-sse``, ``-public-access-block``, ``-tls-only``."""
    child = pulumi.ResourceOptions(parent=parent)
    key = kms_key(f"{name}-key", key_alias, description, parent)
    bucket = aws.s3.Bucket(f"{name}-bucket", bucket_prefix=bucket_prefix, force_destroy=False, opts=child)
    aws.s3.BucketVersioning(
        f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-sse",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                "bucket_key_enabled": True,
            }
        ],
        opts=child,
    )
    block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketPolicy(
        f"{name}-tls-only",
        bucket=bucket.id,
        policy=bucket.arn.apply(lambda a: json.dumps(tls_only_policy(a))),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[block]),
    )
    return bucket, key
