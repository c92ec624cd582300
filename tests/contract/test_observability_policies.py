"""Observability policies (issue #12 point 8), each failing and passing."""

from __future__ import annotations

import copy

import pytest

from policies import observability as obs
from policies.rules import Resource
from tests.conftest import build_stack, stack_raw, without_prometheus

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def resources(run):
    return [Resource(r.type, r.name, copy.deepcopy(r.inputs)) for r in run.registrations]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stacks_pass(plans, stack):
    names = {"alerts-have-severity-and-runbook", "monitors-need-monitoring", "pods-fit-namespace-pod-security"}
    assert [f for f in plans(stack).findings if f.policy in names] == []


def test_alert_rules_need_severity_and_runbook(plans):
    rules = plans("dev").run.of_type(RULE)
    assert len(rules) == 2  # the platform's alerts, the agent workflows' (Argo Workflows)
    for r in rules:
        assert obs.check_rules_annotated(RULE, r.inputs) == []
    [rule] = [r for r in rules if r.inputs["metadata"]["name"] != "agent-workflows"]
    bad = copy.deepcopy(rule.inputs)
    bad["spec"]["groups"][0]["rules"][0]["labels"] = {}
    bad["spec"]["groups"][0]["rules"][1]["annotations"].pop("runbook_url")
    found = obs.check_rules_annotated(RULE, bad)
    assert any("no severity" in m for m in found) and any("no runbook_url" in m for m in found)


def test_monitors_only_with_monitoring(plans):
    assert obs.check_monitors_need_monitoring(resources(plans("dev").run)) == []
    off = build_stack(without_prometheus(stack_raw("dev")))
    assert obs.check_monitors_need_monitoring(resources(off)) == []  # the platform creates none without it
    stray = resources(off) + [
        Resource(
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
            "stray",
            {"metadata": {"name": "stray", "namespace": "ai-agents"}},
        )
    ]
    assert [n for n, _ in obs.check_monitors_need_monitoring(stray)] == ["stray"]


def test_pods_fit_their_namespace_level(plans):
    res = resources(plans("dev").run)
    assert obs.check_pod_security(res) == []
    for r in res:
        if r.type == "kubernetes:apps/v1:Deployment" and r.props["metadata"]["name"] == "kube-agent-mcp":
            r.props["spec"]["template"]["spec"]["hostNetwork"] = True
    found = obs.check_pod_security(res)
    assert len(found) == 1 and "needs Pod Security 'privileged'" in found[0][1] and "hostNetwork" in found[0][1]
