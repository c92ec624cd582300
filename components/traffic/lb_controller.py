"""The AWS Load Balancer Controller: provisions the gateway's Network Load Balancer from its Service's annotations.
Its role (the upstream policy, vendored) reaches the controller through EKS Pod Identity; it runs on the system nodes
and mutates no Service that does not ask for it (the gateway sets loadBalancerClass service.k8s.aws/nlb)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from catalog import versions
from kit.aws import pod_identity_role
from kit.helm import HelmValues, ServiceAccountValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION
from kit.shared import Shared

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
POLICY_FILE = (
    Path(__file__).resolve().parents[2]
    / "catalog"
    / "data"
    / f"aws-load-balancer-controller-v{versions.AWS_LOAD_BALANCER_CONTROLLER.version}-iam-policy.json"
)


def upstream_policy(partition: str = "aws") -> dict[str, Any]:
    """The upstream policy, its ARNs moved to ``partition`` (upstream ships the aws-partition document)."""
    return json.loads(POLICY_FILE.read_text().replace('"arn:aws:', f'"arn:{partition}:'))


class LbControllerValues(HelmValues):
    cluster_name: str
    region: str
    vpc_id: Any
    replica_count: int
    service_account: ServiceAccountValues
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    enable_service_mutator_webhook: bool


def lb_controller_values(cluster: str, region: str, vpc_id: Any, ha: bool) -> LbControllerValues:
    return LbControllerValues(
        cluster_name=cluster,
        region=region,
        vpc_id=vpc_id,
        replica_count=2 if ha else 1,
        service_account=ServiceAccountValues(create=True, name=SERVICE_ACCOUNT),
        node_selector=dict(SYSTEM_LABELS),
        tolerations=[SYSTEM_TOLERATION],
        enable_service_mutator_webhook=False,
    )


class LoadBalancerController(pulumi.ComponentResource):
    def __init__(self, name: str, vpc_id: pulumi.Input[str], shared: Shared):
        super().__init__("agentic:aws:LoadBalancerController", name, None, shared.k8s_opts())
        self.role, self.pod_identity = pod_identity_role(
            name,
            role_name=f"{shared.prefix}-aws-lb-controller",
            policy=json.dumps(upstream_policy(shared.partition)),
            cluster_name=shared.cluster_name_output,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            parent=self,
            depends_on=list(shared.cluster_ready),
        )
        scope = shared.scope(self, name, NAMESPACE, depends_on=(self.pod_identity, *shared.cluster_ready))
        self.release = release(
            f"{name}-chart",
            versions.AWS_LOAD_BALANCER_CONTROLLER,
            release_name="aws-load-balancer-controller",
            namespace=NAMESPACE,
            values=lb_controller_values(shared.prefix, shared.region, vpc_id, shared.high_availability),
            opts=scope.opts(),
        )
        self.register_outputs({"role_arn": self.role.arn})
