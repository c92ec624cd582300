"""Logs: Fluent Bit (AWS's chart) ships every container's JSON log lines to CloudWatch Logs, the AWS-native form of
seed 002's Filebeat -> Elasticsearch. The platform creates the log group (retention from config, encrypted with its
own KMS key) and the role Fluent Bit assumes through EKS Pod Identity: it may write to that group only. Fluent Bit
reads /var/log on every node (hostPath), which only ``privileged`` admits: it runs in a namespace of its own
(``logging``) with nothing else in it."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import versions
from components.tenancy.namespaces import GovernedNamespace, NamespaceSpec, system_namespace
from config.observability import ObservabilityConfig
from kit.aws import arn, partition, pod_identity_role
from kit.helm import HelmValues, ServiceAccountValues, release
from kit.shared import Shared

NAMESPACE = "logging"
SERVICE_ACCOUNT = "fluent-bit"


def log_group_name(cluster: str) -> str:
    return f"/aws/eks/{cluster}/containers"


def write_policy(group_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteContainerLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [group_arn, f"{group_arn}:log-stream:*"],
            }
        ],
    }


def key_policy(region: str, account: str) -> dict[str, Any]:
    """CloudWatch Logs may use the key for this account's log groups (and the account administers it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition(region)}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn(region, "logs", "log-group:*", account)}
                },
            },
        ],
    }


class _CloudWatchLogs(HelmValues):
    enabled: bool
    region: str
    log_group_name: str
    log_stream_prefix: str
    auto_create_group: bool


class _Off(HelmValues):
    enabled: bool


class FluentBitValues(HelmValues):
    cloud_watch_logs: _CloudWatchLogs
    cloud_watch: _Off
    service_account: ServiceAccountValues
    tolerations: list[dict[str, str]]
    resources: dict[str, dict[str, str]]


def fluent_bit_values(region: str, group: str) -> FluentBitValues:
    return FluentBitValues(
        cloud_watch_logs=_CloudWatchLogs(
            enabled=True, region=region, log_group_name=group, log_stream_prefix="node-", auto_create_group=False
        ),
        cloud_watch=_Off(enabled=False),
        service_account=ServiceAccountValues(create=True, name=SERVICE_ACCOUNT),
        tolerations=[{"operator": "Exists"}],  # every node, GPU nodes included
        resources={"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    )


class LogShipping(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: ObservabilityConfig, shared: Shared):
        super().__init__("agentic:k8s:LogShipping", name, None, shared.k8s_opts())
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Container logs of {shared.prefix}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(account).apply(lambda a: json.dumps(key_policy(shared.region, a))),
            opts=child,
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-group",
            name=log_group_name(shared.cluster_name),
            retention_in_days=cfg.log_retention_days,
            kms_key_id=key.arn,
            opts=child,
        )
        pod_identity_role(
            name,
            role_name=f"{shared.prefix}-fluent-bit",
            policy=group.arn.apply(lambda a: json.dumps(write_policy(a))),
            cluster_name=shared.cluster_name_output,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            parent=self,
            depends_on=list(shared.cluster_ready),
        )
        base = system_namespace(NAMESPACE, pods=500)
        spec = NamespaceSpec(NAMESPACE, "logging", "privileged", base.quota, base.limit_range, {})
        ns = GovernedNamespace(f"{name}-ns", spec, shared, parent=self)
        scope = shared.scope(self, name, NAMESPACE, depends_on=(ns, group, *shared.cluster_ready))
        self.release = release(
            f"{name}-fluent-bit",
            versions.AWS_FOR_FLUENT_BIT,
            release_name="fluent-bit",
            namespace=NAMESPACE,
            values=fluent_bit_values(shared.region, log_group_name(shared.cluster_name)),
            opts=scope.opts(),
        )
        self.register_outputs({})
