"""The secrets mechanism: the external-secrets operator and a ClusterSecretStore for AWS Secrets Manager.

The operator runs on the system nodes; its role (EKS Pod Identity) may read only the secrets under this platform's
path prefix and decrypt with the platform's secrets key. Every credential reaches pods through an ``ExternalSecret``
against this store (see :mod:`components.secrets.credentials`).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pydantic import Field

from catalog import versions
from components.tenancy.namespaces import GovernedNamespace, system_namespace
from config.secrets import SecretsConfig
from kit.aws import arn, kms_key, pod_identity_role
from kit.helm import HelmValues, ServiceAccountValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata
from kit.monitors import service_monitor
from kit.shared import Shared

NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
STORE = "aws-secrets-manager"


def read_policy(region: str, prefix: str, key_arn: str) -> dict[str, Any]:
    """Read the secrets under ``prefix`` (and only those) and decrypt them with the platform's key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadPlatformSecrets",
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:ListSecretVersionIds",
                ],
                "Resource": arn(region, "secretsmanager", f"secret:{prefix}/*", "*"),
            },
            {
                "Sid": "DecryptPlatformSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
        ],
    }


def cluster_secret_store(region: str) -> dict[str, Any]:
    return {
        "apiVersion": versions.EXTERNAL_SECRETS_API,
        "kind": "ClusterSecretStore",
        "metadata": metadata(STORE),
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": region}}},
    }


class _Placement(HelmValues):
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]


class _Part(_Placement):
    replica_count: int


class _Toggle(HelmValues):
    enabled: bool


class _Metrics(HelmValues):
    service: _Toggle


class ExternalSecretsValues(HelmValues):
    install_crds: bool = Field(alias="installCRDs")
    replica_count: int
    leader_elect: bool
    service_account: ServiceAccountValues
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    webhook: _Part
    cert_controller: _Part
    # The platform adds the ServiceMonitor itself (monitor()): the operator installs before the monitoring CRDs,
    # because Grafana's admin Secret comes through it.
    metrics: _Metrics
    # Only the AWS provider is used: the operator never talks to another secrets backend.
    process_cluster_push_secret: bool
    process_push_secret: bool


def operator_values(ha: bool) -> ExternalSecretsValues:
    replicas = 2 if ha else 1
    part = dict(node_selector=dict(SYSTEM_LABELS), tolerations=[SYSTEM_TOLERATION], replica_count=replicas)
    return ExternalSecretsValues(
        install_crds=True,
        replica_count=replicas,
        leader_elect=ha,
        service_account=ServiceAccountValues(create=True, name=SERVICE_ACCOUNT),
        node_selector=dict(SYSTEM_LABELS),
        tolerations=[SYSTEM_TOLERATION],
        webhook=_Part(**part),
        cert_controller=_Part(**part),
        metrics=_Metrics(service=_Toggle(enabled=True)),
        process_cluster_push_secret=False,
        process_push_secret=False,
    )


class SecretsStore(pulumi.ComponentResource):
    """The operator, its role, the platform's secrets KMS key and the ClusterSecretStore."""

    def __init__(self, name: str, cfg: SecretsConfig, shared: Shared):
        super().__init__("agentic:secrets:SecretsStore", name, None, shared.k8s_opts())
        self.prefix = cfg.prefix_for(shared.cluster_name)
        self.refresh_interval = cfg.refresh_interval
        self.recovery_window_days = (
            cfg.recovery_window_days if cfg.recovery_window_days is not None else 30 if shared.high_availability else 7
        )
        self.key = kms_key(f"{name}-key", f"{shared.prefix}-secrets", f"Runtime secrets of {shared.prefix}", self)
        self.role, _ = pod_identity_role(
            name,
            role_name=f"{shared.prefix}-external-secrets",
            policy=self.key.arn.apply(lambda k: json.dumps(read_policy(shared.region, self.prefix, k))),
            cluster_name=shared.cluster_name_output,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            parent=self,
            depends_on=list(shared.cluster_ready),
        )
        self.namespace = GovernedNamespace(f"{name}-ns", system_namespace(NAMESPACE), shared, parent=self)
        scope = shared.scope(self, name, NAMESPACE, depends_on=(self.namespace, *shared.cluster_ready))
        self.release = release(
            f"{name}-operator",
            versions.EXTERNAL_SECRETS,
            release_name="external-secrets",
            namespace=NAMESPACE,
            values=operator_values(shared.high_availability),
            opts=scope.opts(),
        )
        self.store = shared.scope(self, name, depends_on=(self.release,)).apply(
            cluster_secret_store(shared.region), name="store"
        )
        self._shared = shared
        self.register_outputs({"prefix": self.prefix})

    def monitor(self, monitoring_crds: pulumi.Resource) -> None:
        """Scrape the operator's metrics Service once the monitoring CRDs exist."""
        self._shared.scope(self, "external-secrets", NAMESPACE, depends_on=(self.release, monitoring_crds)).apply(
            service_monitor(
                "external-secrets",
                NAMESPACE,
                {"app.kubernetes.io/name": "external-secrets", "app.kubernetes.io/instance": "external-secrets"},
                "metrics",
            ),
            name="monitor",
        )
