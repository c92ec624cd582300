"""Karpenter on AWS: controller role (EKS Pod Identity), node role + access entry, interruption queue fed by five
EventBridge rules, and the karpenter-crd / karpenter charts on the system node group.

Destroy safety: NodePools and EC2NodeClasses (components.nodepools) depend on :attr:`Karpenter.release`, which
depends on the node role's access entry, the pod identity association and the system node group. Pulumi deletes
dependents first, so NodePools go (their finalizers drain and terminate every Karpenter node while the controller
still runs), then the controller, then the cluster. No EC2 node outlives the stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster import SYSTEM_LABEL
from components.helm import release
from components.iam import role_with_policies, trust_policy
from components.namespaces import GovernedNamespace, GovernedNamespaceArgs, NamespaceSpec
from stacks import versions
from stacks.config import LimitRange, Quota

NAMESPACE = "karpenter"
SERVICE_ACCOUNT = "karpenter"

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


def controller_policy(cluster: str, region: str, account: str, queue_arn: str, node_role_arn: str) -> dict:
    """The Karpenter 1.x controller permissions, scoped to this cluster's tagged resources, queue and node role."""
    ec2 = f"arn:aws:ec2:{region}"
    owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned", "aws:RequestTag/eks:eks-cluster-name": cluster}
    res_owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"}
    launched = [f"{ec2}:*:{t}/*" for t in ("fleet", "instance", "volume", "network-interface", "launch-template",
                                           "spot-instances-request")]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [f"{ec2}::image/*", f"{ec2}::snapshot/*", f"{ec2}:*:security-group/*",
                             f"{ec2}:*:subnet/*", f"{ec2}:*:capacity-reservation/*"],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": f"{ec2}:*:launch-template/*",
                "Condition": {"StringEquals": res_owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Resource": launched,
                "Condition": {"StringEquals": owned, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}},
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": launched,
                "Condition": {
                    "StringEquals": {**owned, "ec2:CreateAction": ["RunInstances", "CreateFleet",
                                                                   "CreateLaunchTemplate"]},
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": f"{ec2}:*:instance/*",
                "Condition": {
                    "StringEquals": res_owned,
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim",
                                                                  "Name"]},
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
                "Condition": {"StringEquals": res_owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}},
            },
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Action": ["ec2:DescribeAvailabilityZones", "ec2:DescribeCapacityReservations", "ec2:DescribeImages",
                           "ec2:DescribeInstances", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
                           "ec2:DescribeLaunchTemplates", "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory",
                           "ec2:DescribeSubnets"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:aws:ssm:{region}::parameter/aws/service/*",
            },
            {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"},
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": node_role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}},
            },
            {
                "Sid": "AllowScopedInstanceProfileActions",
                "Effect": "Allow",
                "Action": ["iam:CreateInstanceProfile", "iam:TagInstanceProfile", "iam:AddRoleToInstanceProfile",
                           "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
                "Resource": f"arn:aws:iam::{account}:instance-profile/*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned",
                                     "aws:ResourceTag/topology.kubernetes.io/region": region},
                    "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowInstanceProfileCreationTagged",
                "Effect": "Allow",
                "Action": ["iam:CreateInstanceProfile", "iam:TagInstanceProfile"],
                "Resource": f"arn:aws:iam::{account}:instance-profile/*",
                "Condition": {
                    "StringEquals": {**owned, "aws:RequestTag/topology.kubernetes.io/region": region},
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Action": ["iam:GetInstanceProfile", "iam:ListInstanceProfiles"],
                "Resource": f"arn:aws:iam::{account}:instance-profile/*",
            },
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": f"arn:aws:eks:{region}:{account}:cluster/{cluster}",
            },
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


@dataclass(frozen=True)
class KarpenterArgs:
    cluster_name: str
    region: str
    cluster_name_output: pulumi.Input[str]
    #: resources the controller must not start before (system node group, pod identity agent)
    cluster_ready: list[pulumi.Resource]
    k8s_provider: k8s.Provider
    high_availability: bool
    service_monitor: bool
    observability_namespace: str
    depends_on_monitoring: list[pulumi.Resource]


class Karpenter(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    node_role: aws.iam.Role
    queue: aws.sqs.Queue

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:aws:Karpenter", name, None, opts)
        cluster = args.cluster_name
        child = pulumi.ResourceOptions(parent=self)

        # Nodes Karpenter launches use this role; an EC2_LINUX access entry lets them join the cluster.
        self.node_role = role_with_policies(
            f"{name}-node-role",
            f"{cluster}-karpenter-node",
            "ec2.amazonaws.com",
            ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly",
             "AmazonSSMManagedInstanceCore"],
            self,
        )
        self.node_access_entry = aws.eks.AccessEntry(
            f"{name}-node-access-entry",
            cluster_name=args.cluster_name_output,
            principal_arn=self.node_role.arn,
            type="EC2_LINUX",
            opts=child,
        )

        # Interruption queue: SSE, TLS only, messages older than 5 minutes are useless to Karpenter.
        self.queue = aws.sqs.Queue(
            f"{name}-interruption-queue",
            name=f"{cluster}-karpenter",
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
                name=f"{cluster}-karpenter-{suffix}",
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
        self.controller_role = aws.iam.Role(
            f"{name}-controller-role",
            name=f"{cluster}-karpenter-controller",
            assume_role_policy=trust_policy("pods.eks.amazonaws.com", tag_session=True),
            opts=child,
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        aws.iam.RolePolicy(
            f"{name}-controller-policy",
            role=self.controller_role.name,
            policy=pulumi.Output.all(account, self.queue.arn, self.node_role.arn).apply(
                lambda a: json.dumps(controller_policy(cluster, args.region, a[0], a[1], a[2]))
            ),
            opts=child,
        )
        self.pod_identity = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            cluster_name=args.cluster_name_output,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            role_arn=self.controller_role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.cluster_ready),
        )

        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        self.namespace = GovernedNamespace(
            f"{name}-ns",
            GovernedNamespaceArgs(
                NamespaceSpec(
                    name=NAMESPACE,
                    layer="system",
                    pod_security="restricted",
                    quota=Quota(requests_cpu="4", requests_memory="8Gi", limits_cpu="8", limits_memory="16Gi",
                                pods=20, services=10, persistentvolumeclaims=0),
                    limit_range=LimitRange(max_cpu="4", max_memory="8Gi"),
                    labels={},
                ),
                layer_namespaces={"observability": args.observability_namespace},
                tenant_namespaces=[],
            ),
            pulumi.ResourceOptions(parent=self, providers=[args.k8s_provider]),
        )
        self.crd_release = release(
            f"{name}-crd", versions.KARPENTER_CRD, release_name="karpenter-crd", namespace=NAMESPACE,
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[self.namespace])),
        )
        replicas = 2 if args.high_availability else 1
        values = {
            "replicas": replicas,
            "serviceAccount": {"name": SERVICE_ACCOUNT},
            "settings": {"clusterName": cluster, "interruptionQueue": self.queue.name},
            "nodeSelector": {"kubernetes.io/os": "linux", **SYSTEM_LABEL},
            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
            "controller": {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                         "limits": {"cpu": "1", "memory": "1Gi"}}},
            "podDisruptionBudget": {"name": "karpenter", "maxUnavailable": 1},
            "serviceMonitor": {"enabled": False},
        }
        self.release = release(
            f"{name}-controller", versions.KARPENTER, release_name="karpenter", namespace=NAMESPACE, values=values,
            skip_crds=True,
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(
                    depends_on=[self.crd_release, self.pod_identity, self.node_access_entry, *args.cluster_ready]
                ),
            ),
        )
        self.service_monitor = None
        if args.service_monitor:
            self.service_monitor = k8s.apiextensions.CustomResource(
                f"{name}-servicemonitor",
                api_version=versions.PROMETHEUS_OPERATOR_API,
                kind="ServiceMonitor",
                metadata={"name": "karpenter", "namespace": NAMESPACE},
                spec={
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "karpenter"}},
                    "namespaceSelector": {"matchNames": [NAMESPACE]},
                    "endpoints": [{"port": "http-metrics", "path": "/metrics", "interval": "30s"}],
                },
                opts=pulumi.ResourceOptions.merge(
                    k8s_opts, pulumi.ResourceOptions(depends_on=[self.release, *args.depends_on_monitoring])
                ),
            )
        self.register_outputs(
            {"node_role_name": self.node_role.name, "interruption_queue": self.queue.name,
             "controller_role_arn": self.controller_role.arn}
        )
