"""Pure builders of the nodes domain, without the engine: the Karpenter controller policy against the upstream 1.14
CloudFormation reference and the AWS calls of the pinned 1.15.2 controller, partition-aware ARNs, NodePool/EC2NodeClass
manifests against the pinned CRDs, and the typed chart values against each chart's own values.yaml."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.nodes.efa import efa_values
from components.nodes.gpu_software import dcgm_service_monitor, dcgm_values, device_plugin_values
from components.nodes.karpenter import KarpenterValues, controller_policy, karpenter_values
from components.nodes.nodepools import cpu_nodepool, gpu_nodepool, nodeclass
from components.serving.lws import lws_values
from config import parse_platform
from kit.aws import partition
from tests.conftest import stack_raw, validate_custom
from tests.helm_values import chart_defaults, unknown_keys

#: Sid -> actions of the Karpenter controller policies in the upstream getting-started CloudFormation template,
#: website/content/en/v1.14/getting-started/getting-started-with-karpenter/cloudformation.yaml of
#: aws/karpenter-provider-aws at 1d927085d ("docs: update for patch release v1.14.1").
UPSTREAM_1_14 = {
    "AllowScopedEC2InstanceAccessActions": {"ec2:RunInstances", "ec2:CreateFleet"},
    "AllowScopedEC2LaunchTemplateAccessActions": {"ec2:RunInstances", "ec2:CreateFleet"},
    "AllowScopedEC2InstanceActionsWithTags": {"ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"},
    "AllowScopedResourceCreationTagging": {"ec2:CreateTags"},
    "AllowScopedResourceTagging": {"ec2:CreateTags"},
    "AllowScopedDeletion": {"ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"},
    "AllowPassingInstanceRole": {"iam:PassRole"},
    "AllowScopedInstanceProfileCreationActions": {"iam:CreateInstanceProfile"},
    "AllowScopedInstanceProfileTagActions": {"iam:TagInstanceProfile"},
    "AllowScopedInstanceProfileActions": {
        "iam:AddRoleToInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:DeleteInstanceProfile",
    },
    "AllowAPIServerEndpointDiscovery": {"eks:DescribeCluster"},
    "AllowInterruptionQueueActions": {"sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"},
    "AllowZonalShiftStatusReadOnly": {"arc-zonal-shift:GetManagedResource"},
    "AllowRegionalReadActions": {
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
    },
    "AllowSSMReadActions": {"ssm:GetParameter"},
    "AllowPricingReadActions": {"pricing:GetProducts"},
    "AllowUnscopedInstanceProfileListAction": {"iam:ListInstanceProfiles"},
    "AllowInstanceProfileReadActions": {"iam:GetInstanceProfile"},
}


#: Every AWS call the pinned controller makes: the client interfaces in pkg/aws/sdk.go of
#: github.com/aws/karpenter-provider-aws@v1.15.2 (Go module proxy), less iam:GetRole, sqs:SendMessage and
#: timestream:WriteRecords, which only its tests call. 1.15 added ec2:RebootInstances (node repair's reboot action,
#: awsFeatureGates.rebootForRepair); the rest are 1.14.1's. ec2:DescribeAvailabilityZones, which the platform used
#: to grant, is called by neither (only by the fake client of the tests), so it is no longer granted.
CALLS_1_15 = {
    "ec2:DescribeCapacityReservations",
    "ec2:DescribePlacementGroups",
    "ec2:DescribeImages",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstanceTypeOfferings",
    "ec2:DescribeSpotPriceHistory",
    "ec2:DescribeInstanceStatus",
    "ec2:CreateFleet",
    "ec2:TerminateInstances",
    "ec2:RebootInstances",
    "ec2:DescribeInstances",
    "ec2:RunInstances",
    "ec2:CreateTags",
    "ec2:CreateLaunchTemplate",
    "ec2:DeleteLaunchTemplate",
    "iam:GetInstanceProfile",
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:ListInstanceProfiles",
    "eks:DescribeCluster",
    "pricing:GetProducts",
    "ssm:GetParameter",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueUrl",
    "arc-zonal-shift:GetManagedResource",
}


def policy(region="us-east-1", partition_="aws", reboot=False):
    return controller_policy("c1", region, partition_, "111122223333", "arn:q", "arn:node-role", reboot)


def test_every_call_of_the_pinned_controller_is_granted_and_nothing_else():
    """Action by action against 1.15.2: with reboot repair every call is granted, without it all but the reboot."""
    granted = set().union(*(actions(s) for s in policy(reboot=True)["Statement"]))
    assert granted == CALLS_1_15 | {"iam:PassRole"}  # PassRole: RunInstances hands the node role to EC2
    without = set().union(*(actions(s) for s in policy()["Statement"]))
    assert CALLS_1_15 - without == {"ec2:RebootInstances"}


def test_reboot_is_granted_only_on_this_clusters_karpenter_instances():
    [reboot] = [s for s in policy(reboot=True)["Statement"] if "ec2:RebootInstances" in actions(s)]
    assert reboot["Resource"] == "arn:aws:ec2:us-east-1:*:instance/*"
    assert reboot["Condition"] == {
        "StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/c1": "owned"},
        "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
    }


def actions(statement) -> set[str]:
    a = statement["Action"]
    return {a} if isinstance(a, str) else set(a)


@pytest.mark.parametrize("sid", sorted(UPSTREAM_1_14))
def test_every_upstream_karpenter_action_is_granted_in_its_statement(sid):
    by_sid = {s["Sid"]: s for s in policy()["Statement"]}
    assert sid in by_sid, f"statement {sid} of the upstream 1.14 policy is missing"
    assert UPSTREAM_1_14[sid] <= actions(by_sid[sid])


def test_karpenter_1_12_needs_instance_status_and_placement_groups():
    stmts = policy()["Statement"]
    granted = set().union(*(actions(s) for s in stmts))
    assert {"ec2:DescribeInstanceStatus", "ec2:DescribePlacementGroups"} <= granted
    launch = next(s for s in stmts if s["Sid"] == "AllowScopedEC2InstanceAccessActions")
    assert "arn:aws:ec2:us-east-1:*:placement-group/*" in launch["Resource"]


def test_list_instance_profiles_is_unscoped_as_iam_requires():
    stmt = next(s for s in policy()["Statement"] if s["Sid"] == "AllowUnscopedInstanceProfileListAction")
    assert stmt["Resource"] == "*"


@pytest.mark.parametrize(
    "region, expected", [("us-east-1", "aws"), ("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn")]
)
def test_arns_follow_the_partition_of_the_region(region, expected):
    assert partition(region) == expected
    doc = str(policy(region, partition(region)))
    assert f"arn:{expected}:ec2:{region}" in doc and f"arn:{expected}:eks:{region}:111122223333:cluster/c1" in doc
    other = {"aws", "aws-us-gov", "aws-cn"} - {expected}
    assert not any(f"arn:{o}:" in doc for o in other)


def test_govcloud_stack_plans_with_govcloud_arns():
    from tests.conftest import build_stack

    raw = stack_raw("dev")
    raw["aws"]["region"] = "us-gov-west-1"
    raw["network"]["availability_zones"] = []
    run = build_stack(raw)
    import json

    pol = json.loads(
        next(
            r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("karpenter-controller-policy")
        ).inputs["policy"]
    )
    assert all(":aws:" not in str(s["Resource"]) for s in pol["Statement"])
    attachments = [r.inputs["policyArn"] for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert attachments and all(a.startswith("arn:aws-us-gov:iam::aws:policy/") for a in attachments)


# --- NodePools / EC2NodeClasses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pool_builders_validate_against_the_karpenter_crds(stack):
    cfg = parse_platform(stack_raw(stack))
    for pool in cfg.gpu_pools:
        validate_custom(gpu_nodepool(pool))
        validate_custom(
            nodeclass(
                pool.name,
                cluster="c1",
                node_role="r",
                ami_alias=pool.ami_alias,
                root=pool.root_volume,
                data=pool.data_volume,
                capacity_reservations=list(pool.capacity_reservations),
                tags={"a": "b"},
            )
        )
    validate_custom(cpu_nodepool(cfg.cpu_pool))


def test_dcgm_service_monitor_validates():
    validate_custom(dcgm_service_monitor())


# --- typed chart values ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chart, values",
    [
        ("karpenter", lambda: karpenter_values("c1", "queue", True, node_repair=True, reboot=True)),
        ("nvidia-device-plugin", lambda: device_plugin_values(["g5"])),
        ("aws-efa-k8s-device-plugin", lambda: efa_values()),
        ("lws", lambda: lws_values(True)),
        ("dcgm-exporter", lambda: dcgm_values()),
    ],
)
def test_every_values_key_exists_in_the_chart(chart, values):
    assert unknown_keys(values().render(), chart_defaults(chart)) == []


def test_a_values_typo_fails_before_the_chart_could_ignore_it():
    good = karpenter_values("c1", "q", False).model_dump(by_alias=True)
    with pytest.raises(ValidationError, match="replcas"):
        KarpenterValues.model_validate({**good, "replcas": 2})
    assert unknown_keys({"settings": {"clusterNme": "x"}}, chart_defaults("karpenter")) == ["settings.clusterNme"]
