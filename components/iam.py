"""Small IAM helpers shared by the cluster and Karpenter components (trust policies, managed policy ARNs)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws


def managed_policy(name: str) -> str:
    return f"arn:aws:iam::aws:policy/{name}"


def trust_policy(service: str, *, tag_session: bool = False) -> str:
    """A role trust policy for an AWS service principal (``pods.eks.amazonaws.com`` needs sts:TagSession too)."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}],
        }
    )


def role_with_policies(
    name: str, role_name: str, service: str, policies: list[str], parent: pulumi.Resource, *, tag_session: bool = False
) -> aws.iam.Role:
    """A role assumable by ``service`` with AWS-managed ``policies`` attached (each attachment its own resource)."""
    role = aws.iam.Role(
        name,
        name=role_name,
        assume_role_policy=trust_policy(service, tag_session=tag_session),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for policy in policies:
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy.lower().replace('_', '-')}",
            role=role.name,
            policy_arn=managed_policy(policy),
            opts=pulumi.ResourceOptions(parent=role),
        )
    return role
