"""Amazon RDS for PostgreSQL as the platform runs it (kagent's and Langfuse's databases in prod): private subnets, a
security group that admits only the cluster's nodes, KMS encryption, automated backups, deletion protection, and the
master password managed by RDS in Secrets Manager (never known to the stack). External-secrets may read exactly that
managed secret (one statement added to its role), so a Secret in the cluster can carry the password or a URL."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import versions
from components.secrets.credentials import external_secret
from components.secrets.operator import SecretsStore
from kit.aws import kms_key
from kit.naming import safe_name
from kit.shared import Shared

PG_PORT = 5432


def eso_read_policy(secret_arn: str, key_arn: str) -> dict[str, Any]:
    """The one secret outside the platform prefix external-secrets may read: an RDS-managed master secret."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadManagedDatabaseSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": secret_arn,
            },
            {"Sid": "DecryptManagedDatabaseSecret", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn},
        ],
    }


def managed_secret_arn(instance: aws.rds.Instance) -> pulumi.Output[str]:
    return instance.master_user_secrets.apply(
        lambda s: s[0]["secret_arn"] if isinstance(s[0], dict) else s[0].secret_arn
    )


def rds_postgres(
    name: str,
    *,
    parent: pulumi.Resource,
    shared: Shared,
    store: SecretsStore,
    db_name: str,
    username: str,
    instance_class: str,
    storage_gib: int,
    backup_days: int,
    multi_az: bool,
) -> aws.rds.Instance:
    """The instance (``<name>``) and its KMS key, subnet group, security group and ESO grant (``<name>-*``)."""
    child = pulumi.ResourceOptions(parent=parent)
    key = kms_key(f"{name}-key", f"{shared.prefix}-{db_name}-db", f"{db_name} database of {shared.prefix}", parent)
    subnets = aws.rds.SubnetGroup(
        f"{name}-subnets",
        name=safe_name(shared.prefix, db_name, limit=200),
        subnet_ids=list(shared.private_subnet_ids),
        description=f"Private subnets of {shared.prefix}",
        opts=child,
    )
    sg = aws.ec2.SecurityGroup(
        f"{name}-sg",
        name=safe_name(shared.prefix, f"{db_name}-db", limit=200),
        vpc_id=shared.vpc_id,
        description=f"{db_name} database of {shared.prefix}: the cluster's nodes only",
        opts=child,
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-from-nodes",
        security_group_id=sg.id,
        referenced_security_group_id=shared.node_security_group_id,
        ip_protocol="tcp",
        from_port=PG_PORT,
        to_port=PG_PORT,
        description="PostgreSQL from the cluster's nodes",
        opts=child,
    )
    identifier = safe_name(shared.prefix, db_name, limit=60)
    instance = aws.rds.Instance(
        name,
        identifier=identifier,
        engine="postgres",
        engine_version=versions.POSTGRES_VERSION,
        instance_class=instance_class,
        allocated_storage=storage_gib,
        storage_type="gp3",
        storage_encrypted=True,
        kms_key_id=key.arn,
        db_name=db_name,
        username=username,
        manage_master_user_password=True,
        master_user_secret_kms_key_id=store.key.arn,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[sg.id],
        publicly_accessible=False,
        multi_az=multi_az,
        backup_retention_period=backup_days,
        deletion_protection=True,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{identifier}-final",
        copy_tags_to_snapshot=True,
        auto_minor_version_upgrade=True,
        apply_immediately=False,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=key.arn,
        opts=child,
    )
    aws.iam.RolePolicy(
        f"{name}-eso-secret",
        role=store.role.name,
        policy=pulumi.Output.all(managed_secret_arn(instance), store.key.arn).apply(
            lambda a: json.dumps(eso_read_policy(a[0], a[1]))
        ),
        opts=child,
    )
    return instance


def password_secret(
    name: str, namespace: str, refresh: str, instance: aws.rds.Instance, template: dict[str, Any]
) -> dict[str, Any]:
    """A Secret templated around the managed master password (``{{ .password }}``)."""
    return external_secret(
        name, namespace, refresh, {"password": (managed_secret_arn(instance), "password")}, template=template
    )
