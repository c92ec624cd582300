"""Karpenter on AWS: controller role (EKS Pod Identity), node role + access entry, interruption queue fed by five
EventBridge rules, and the karpenter-crd / karpenter charts on the system node group.

Destroy safety: NodePools and EC2NodeClasses (components.nodes.nodepools) depend on :attr:`Karpenter.release`, which
depends on the node role's access entry, the pod identity association and the system node group. Pulumi deletes
dependents first, so NodePools go (their finalizers drain and terminate every Karpenter node while the controller
still runs), then the controller, then the cluster. No EC2 node outlives the stack.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import versions
from components.tenancy.namespaces import GovernedNamespace, system_namespace
from kit.aws import pod_identity_role, role_with_policies, service_principal
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION
from kit.monitors import service_monitor
from kit.naming import safe_name
from kit.shared import Shared

NAMESPACE = "karpenter"
SERVICE_ACCOUNT = "karpenter"
NODE_POLICIES = [
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
]

#: (rule suffix, EventBridge pattern) — the five event sources Karpenter handles (upstream CloudFormation).
INTERRUPTION_EVENTS: list[tuple[str, dict]] = [
    ("health", {"source": ["aws.health"], "detail-type": ["AWS Health Event"]}),
    ("spot-interruption", {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}),
    ("rebalance", {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]}),
    ("state-change", {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}),
    (
        "capacity-reservation-interruption",
        {"source": ["aws.ec2"], "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"]},
    ),
]


def controller_policy(
    cluster: str, region: str, partition: str, account: str, queue_arn: str, node_role_arn: str, reboot: bool = False
) -> dict:
    """The Karpenter 1.15 controller permissions (upstream getting-started CloudFormation, statement by statement),
    scoped to this cluster's tagged resources, its interruption queue and its node role. ``reboot``: node repair may
    reboot a node in place (awsFeatureGates.rebootForRepair), the one call 1.15 added (ec2:RebootInstances), granted
    only then and only on this cluster's Karpenter instances."""
    ec2 = f"arn:{partition}:ec2:{region}"
    profiles = f"arn:{partition}:iam::{account}:instance-profile/*"
    cluster_arn = f"arn:{partition}:eks:{region}:{account}:cluster/{cluster}"
    owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned", "aws:RequestTag/eks:eks-cluster-name": cluster}
    res_owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"}
    launched = [
        f"{ec2}:*:{t}/*"
        for t in ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")
    ]
    region_tag = {"aws:RequestTag/topology.kubernetes.io/region": region}
    res_profile = {**res_owned, "aws:ResourceTag/topology.kubernetes.io/region": region}
    karpenters = {"StringEquals": res_owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}

    def stmt(sid: str, actions: list[str] | str, resource: Any, condition: dict | None = None) -> dict:
        s = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}
        if condition:
            s["Condition"] = condition
        return s

    return {
        "Version": "2012-10-17",
        "Statement": [
            stmt(
                "AllowScopedEC2InstanceAccessActions",
                ["ec2:RunInstances", "ec2:CreateFleet"],
                [
                    f"{ec2}::image/*",
                    f"{ec2}::snapshot/*",
                    f"{ec2}:*:security-group/*",
                    f"{ec2}:*:subnet/*",
                    f"{ec2}:*:capacity-reservation/*",
                    f"{ec2}:*:placement-group/*",
                ],
            ),
            stmt(
                "AllowScopedEC2LaunchTemplateAccessActions",
                ["ec2:RunInstances", "ec2:CreateFleet"],
                f"{ec2}:*:launch-template/*",
                {"StringEquals": res_owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
            ),
            stmt(
                "AllowScopedEC2InstanceActionsWithTags",
                ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                launched,
                {"StringEquals": owned, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}},
            ),
            stmt(
                "AllowScopedResourceCreationTagging",
                "ec2:CreateTags",
                launched,
                {
                    "StringEquals": {
                        **owned,
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            ),
            stmt(
                "AllowScopedResourceTagging",
                "ec2:CreateTags",
                f"{ec2}:*:instance/*",
                {
                    "StringEquals": res_owned,
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            ),
            stmt(
                "AllowScopedDeletion",
                ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
                karpenters,
            ),
            *(
                [stmt("AllowScopedInstanceReboot", "ec2:RebootInstances", f"{ec2}:*:instance/*", karpenters)]
                if reboot
                else []
            ),
            stmt(
                "AllowRegionalReadActions",
                [
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribePlacementGroups",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "*",
                {"StringEquals": {"aws:RequestedRegion": region}},
            ),
            stmt("AllowSSMReadActions", "ssm:GetParameter", f"arn:{partition}:ssm:{region}::parameter/aws/service/*"),
            stmt("AllowPricingReadActions", "pricing:GetProducts", "*"),
            stmt(
                "AllowInterruptionQueueActions",
                ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                queue_arn,
            ),
            stmt(
                "AllowPassingInstanceRole",
                "iam:PassRole",
                node_role_arn,
                {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
            ),
            stmt(
                "AllowScopedInstanceProfileCreationActions",
                "iam:CreateInstanceProfile",
                profiles,
                {
                    "StringEquals": {**owned, **region_tag},
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            ),
            stmt(
                "AllowScopedInstanceProfileTagActions",
                "iam:TagInstanceProfile",
                profiles,
                {
                    "StringEquals": {**res_profile, **owned, **region_tag},
                    "StringLike": {
                        "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                        "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    },
                },
            ),
            stmt(
                "AllowScopedInstanceProfileActions",
                ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
                profiles,
                {"StringEquals": res_profile, "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}},
            ),
            stmt("AllowUnscopedInstanceProfileListAction", "iam:ListInstanceProfiles", "*"),
            stmt("AllowInstanceProfileReadActions", "iam:GetInstanceProfile", profiles),
            stmt("AllowAPIServerEndpointDiscovery", "eks:DescribeCluster", cluster_arn),
            stmt(
                "AllowZonalShiftStatusReadOnly",
                "arc-zonal-shift:GetManagedResource",
                "*",
                {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}},
            ),
        ],
    }


def queue_policy(queue_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeWrite",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


# --- chart values (typed: only the keys the platform sets) ----------------------------------------------------------


class _ServiceAccount(HelmValues):
    name: str


class _FeatureGates(HelmValues):
    node_repair: bool


class _AwsFeatureGates(HelmValues):
    reboot_for_repair: bool


class _Settings(HelmValues):
    cluster_name: str
    interruption_queue: Any
    feature_gates: _FeatureGates
    aws_feature_gates: _AwsFeatureGates


class _Controller(HelmValues):
    resources: dict[str, dict[str, str]]


class _Pdb(HelmValues):
    name: str
    max_unavailable: int


class _Toggle(HelmValues):
    enabled: bool


class KarpenterValues(HelmValues):
    replicas: int
    service_account: _ServiceAccount
    settings: _Settings
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    controller: _Controller
    pod_disruption_budget: _Pdb
    service_monitor: _Toggle


def karpenter_values(
    cluster: str, queue_name: Any, ha: bool, node_repair: bool = False, reboot: bool = False
) -> KarpenterValues:
    """``node_repair``: Karpenter replaces a node whose condition stays bad (AWS policies: AcceleratedHardwareReady
    False for 10 min; Ready False/Unknown, StorageReady, NetworkingReady, KernelReady, ContainerRuntimeReady False
    for 30 min). Since 1.15 repair is a voluntary disruption method: the NodePool's disruption budgets (reason
    ``Unhealthy``, or budgets without reasons) pace it. ``reboot``: a reboot-clearable GPU fault is repaired by
    rebooting the node in place (awsFeatureGates.rebootForRepair, alpha) instead of replacing it."""
    return KarpenterValues(
        replicas=2 if ha else 1,
        service_account=_ServiceAccount(name=SERVICE_ACCOUNT),
        settings=_Settings(
            cluster_name=cluster,
            interruption_queue=queue_name,
            feature_gates=_FeatureGates(node_repair=node_repair),
            aws_feature_gates=_AwsFeatureGates(reboot_for_repair=reboot),
        ),
        node_selector={"kubernetes.io/os": "linux", **SYSTEM_LABELS},
        tolerations=[SYSTEM_TOLERATION],
        controller=_Controller(
            resources={"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
        ),
        pod_disruption_budget=_Pdb(name="karpenter", max_unavailable=1),
        service_monitor=_Toggle(enabled=False),  # ours below, first-class and schema-checked
    )


class Karpenter(pulumi.ComponentResource):
    def __init__(self, name: str, shared: Shared, repair: str = "off"):
        """``repair``: what node repair does with a broken node (config.cluster.NodeHealth.repair_action)."""
        node_repair, reboot = repair != "off", repair == "reboot"
        super().__init__("agentic:aws:Karpenter", name, None, shared.k8s_opts())
        cluster = shared.prefix
        region = shared.region
        child = pulumi.ResourceOptions(parent=self)

        # Nodes Karpenter launches use this role; an EC2_LINUX access entry lets them join the cluster.
        self.node_role = role_with_policies(
            f"{name}-node-role",
            f"{cluster}-karpenter-node",
            service_principal("ec2", region),
            NODE_POLICIES,
            self,
            region,
        )
        self.node_access_entry = aws.eks.AccessEntry(
            f"{name}-node-access-entry",
            cluster_name=shared.cluster_name_output,
            principal_arn=self.node_role.arn,
            type="EC2_LINUX",
            opts=child,
        )

        # Interruption queue: SSE, TLS only, messages older than 5 minutes are useless to Karpenter.
        self.queue = aws.sqs.Queue(
            f"{name}-interruption-queue",
            name=safe_name(cluster, "karpenter", limit="sqs_queue"),
            message_retention_seconds=300,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruption-queue-policy",
            queue_url=self.queue.url,
            policy=self.queue.arn.apply(lambda arn: json.dumps(queue_policy(arn))),
            opts=child,
        )
        self.rules = []
        for suffix, pattern in INTERRUPTION_EVENTS:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                name=safe_name(cluster, "karpenter", suffix, limit="eventbridge_rule"),
                event_pattern=json.dumps(pattern),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-target",
                rule=rule.name,
                target_id="KarpenterInterruptionQueue",
                arn=self.queue.arn,
                opts=child,
            )
            self.rules.append(rule)

        # Controller role through EKS Pod Identity.
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.controller_role, self.pod_identity = pod_identity_role(
            f"{name}-controller",
            role_name=f"{cluster}-karpenter-controller",
            policy=pulumi.Output.all(account, self.queue.arn, self.node_role.arn).apply(
                lambda a: json.dumps(controller_policy(cluster, region, shared.partition, a[0], a[1], a[2], reboot))
            ),
            cluster_name=shared.cluster_name_output,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            parent=self,
            depends_on=list(shared.cluster_ready),
            association_name=f"{name}-pod-identity",
        )

        self.namespace = GovernedNamespace(f"{name}-ns", system_namespace(NAMESPACE), shared, parent=self)
        scope = shared.scope(self, name, NAMESPACE)
        self.crd_release = release(
            f"{name}-crd",
            versions.KARPENTER_CRD,
            release_name="karpenter-crd",
            namespace=NAMESPACE,
            opts=scope.opts([self.namespace]),
        )
        self.release = release(
            f"{name}-controller",
            versions.KARPENTER,
            release_name="karpenter",
            namespace=NAMESPACE,
            values=karpenter_values(cluster, self.queue.name, shared.high_availability, node_repair, reboot),
            skip_crds=True,
            opts=scope.opts([self.crd_release, self.pod_identity, self.node_access_entry, *shared.cluster_ready]),
        )
        self.service_monitor = None
        if shared.monitoring_crds is not None:
            self.service_monitor = scope.apply(
                service_monitor("karpenter", NAMESPACE, {"app.kubernetes.io/name": "karpenter"}, "http-metrics"),
                name="servicemonitor",
                depends_on=[self.release, shared.monitoring_crds],
            )
        else:
            shared.notes.add(
                "Karpenter ServiceMonitor left out: observability.prometheus is off, so the "
                "prometheus-operator CRDs are not installed."
            )
        self.register_outputs(
            {
                "node_role_name": self.node_role.name,
                "interruption_queue": self.queue.name,
                "controller_role_arn": self.controller_role.arn,
            }
        )
