"""Issue #12 point 7: Fluent Bit to CloudWatch Logs through Pod Identity, retention from config."""

from __future__ import annotations

import json

from components.observability.logs import fluent_bit_values, write_policy
from tests.conftest import build_stack, stack_raw
from tests.helm_values import chart_defaults, unknown_keys


def test_values_are_chart_keys_and_ship_to_the_platform_group():
    values = fluent_bit_values("us-west-2", "/aws/eks/agentic-dev/containers").render()
    assert unknown_keys(values, chart_defaults("aws-for-fluent-bit")) == []
    assert values["cloudWatchLogs"]["logGroupName"] == "/aws/eks/agentic-dev/containers"
    assert values["cloudWatchLogs"]["autoCreateGroup"] is False and values["cloudWatch"] == {"enabled": False}
    assert values["tolerations"] == [{"operator": "Exists"}]


def test_log_group_role_and_privileged_namespace(plans):
    run = plans("dev").run
    [group] = run.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == 30 and group.inputs["kmsKeyId"]
    policy = json.loads(run.get("aws:iam/rolePolicy:RolePolicy", "agentic-dev-logs-policy").inputs["policy"])
    assert policy == write_policy(group.outputs["arn"])  # that group, nothing else
    assert group.outputs["arn"].endswith(":log-group:/aws/eks/agentic-dev/containers")
    assoc = next(
        a.inputs
        for a in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"] == "fluent-bit"
    )
    assert assoc["namespace"] == "logging"
    ns = next(
        r.inputs for r in run.of_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == "logging"
    )
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_retention_from_config_and_off_switch():
    raw = stack_raw("dev")
    raw["observability"]["log_retention_days"] = 90
    [group] = build_stack(raw).of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == 90
    raw["observability"]["logs"] = False
    assert build_stack(raw).of_type("aws:cloudwatch/logGroup:LogGroup") == []
