"""Issue #25: seed 000's Workflow as Argo Workflows objects (points 1-5): the chart and its controller's reach, the
WorkflowTemplate mapped point by point, the CronWorkflow, each workflow's identity, metrics and the alert (checked
by promtool), and every bad input refused with its path."""

from __future__ import annotations

import copy
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from components.agents.workflow_objects import SEMAPHORES, argo_text
from components.agents.workflows import CONTROLLER_RULES, alert_groups, chart_values
from config import ConfigError, parse_platform
from tests.conftest import stack_raw

WT = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"
CRON = "kubernetes:argoproj.io/v1alpha1:CronWorkflow"


def _one(plans, typ: str, name: str) -> dict[str, Any]:
    return next(r.inputs for r in plans("dev").run.of_type(typ) if r.inputs["metadata"]["name"] == name)


def test_the_seed_workflow_maps_point_by_point(plans):
    cfg = plans("dev").config
    wf = cfg.workflows[0]
    t = _one(plans, WT, wf.name)
    spec = t["spec"]
    assert t["metadata"]["namespace"] == "ai-agents"
    params = {p["name"]: p for p in spec["arguments"]["parameters"]}
    assert "value" not in params["topic"]  # required: a run must give it
    assert params["depth"]["value"] == "standard" and params["depth"]["enum"] == ["quick", "standard", "deep"]
    templates = {x["name"]: x for x in spec["templates"]}
    dag = {task["name"]: task for task in templates["main"]["dag"]["tasks"]}
    for step in wf.steps:
        task, tpl = dag[step.name], templates[f"step-{step.name}"]
        assert task.get("dependencies", []) == list(step.depends_on)
        assert tpl["activeDeadlineSeconds"] == step.timeout_seconds
        assert tpl["retryStrategy"]["limit"] == step.retries and tpl["retryStrategy"]["retryPolicy"] == "Always"
        assert [o["name"] for o in tpl["outputs"]["parameters"]] == [o.name for o in step.output]
        args = tpl["container"]["args"]
        assert args[0] == "workflow-step" and args[args.index("--agent") + 1] == step.agent
        assert args[args.index("--url") + 1] == f"http://{step.agent}.ai-agents.svc.cluster.local:8080/"
        for o in step.output:
            assert f"{o.name}={o.path}" in args
    # the parallel analyses are siblings on one dependency; their inputs come from research's output
    assert dag["analyze-trends"]["dependencies"] == dag["analyze-sentiment"]["dependencies"] == ["research"]
    data = {p["name"]: p["value"] for p in dag["analyze-trends"]["arguments"]["parameters"]}
    assert data == {"data": "{{tasks.research.outputs.parameters.research_data}}", "analysis_type": "trend"}
    assert templates["main"]["outputs"]["parameters"] == [
        {"name": "report", "valueFrom": {"parameter": "{{tasks.review.outputs.parameters.final_report}}"}}
    ]
    assert spec["activeDeadlineSeconds"] == wf.timeout_seconds
    assert spec["synchronization"] == {"semaphores": [{"configMapKeyRef": {"name": SEMAPHORES, "key": wf.name}}]}
    assert _one(plans, "kubernetes:core/v1:ConfigMap", SEMAPHORES)["data"] == {wf.name: "5"}
    # failure notification: the exit handler posts only when the run did not succeed, the webhook from its Secret
    assert spec["onExit"] == "notify-on-failure"
    [[notify]] = templates["notify-on-failure"]["steps"]
    assert notify["when"] == "{{workflow.status}} != Succeeded"
    env = templates["notify-slack"]["container"]["env"]
    assert env == [
        {
            "name": "WORKFLOW_NOTIFY_WEBHOOK",
            "valueFrom": {"secretKeyRef": {"name": "workflow-slack-webhook", "key": "url"}},
        }
    ]
    es = _one(plans, "kubernetes:external-secrets.io/v1:ExternalSecret", "workflow-slack-webhook")
    assert es["metadata"]["namespace"] == "ai-agents"
    # only the exit handler's pod may leave the cluster, to public HTTPS
    labels = templates["notify-slack"]["metadata"]["labels"]
    egress = _one(plans, "kubernetes:networking.k8s.io/v1:NetworkPolicy", f"workflow-{wf.name}-notify")["spec"]
    assert egress["podSelector"]["matchLabels"] == labels and not any(
        "metadata" in templates[f"step-{s.name}"] for s in wf.steps
    )
    [rule] = egress["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert rule["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in rule["to"][0]["ipBlock"]["except"]


def test_the_schedule_is_a_cron_workflow_running_the_template(plans):
    cron = _one(plans, CRON, "research-report-workflow")["spec"]
    assert cron["schedules"] == ["0 6 * * 1"] and cron["timezone"] == "UTC"
    assert cron["workflowSpec"]["workflowTemplateRef"] == {"name": "research-report-workflow"}
    assert {p["name"]: p["value"] for p in cron["workflowSpec"]["arguments"]["parameters"]} == {
        "topic": "Weekly AI platform trends",
        "depth": "quick",
    }
    assert cron["concurrencyPolicy"] == "Allow"  # queue: Argo's semaphore queues
    notes = plans("dev").run.outputs["plan_notes"]
    assert (
        "workflow 'research-report-workflow': 5 steps on Argo Workflows in ai-agents, scheduled '0 6 * * 1' (UTC); "
        "start a run: argo submit -n ai-agents --from workflowtemplate/research-report-workflow -p topic=..."
    ) in notes


@pytest.mark.parametrize(("policy", "expected"), [("queue", "Allow"), ("replace", "Replace"), ("reject", "Forbid")])
def test_concurrency_policies_map_to_argo(policy, expected):
    from components.agents.workflow_objects import cron_workflow

    raw = stack_raw("dev")
    raw["workflows"][0]["concurrency"]["policy"] = policy
    wf = parse_platform(raw).workflows[0]
    assert cron_workflow(wf, "ai-agents")["spec"]["concurrencyPolicy"] == expected


def test_each_workflow_may_get_only_the_agents_it_names(plans):
    role = _one(plans, "kubernetes:rbac.authorization.k8s.io/v1:Role", "workflow-research-report-workflow")
    assert role["rules"][0] == {
        "apiGroups": ["kagent.dev"],
        "resources": ["agents"],
        "resourceNames": ["analysis-agent", "research-agent", "reviewer-agent", "writer-agent"],
        "verbs": ["get"],
    }
    assert role["rules"][1]["resources"] == ["workflowtaskresults"]
    assert len(role["rules"]) == 2
    t = _one(plans, WT, "research-report-workflow")
    assert t["spec"]["serviceAccountName"] == "workflow-research-report-workflow"


def test_the_controller_manages_the_agents_namespace_only(plans):
    run = plans("dev").run
    release = next(
        r.inputs for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "argo-workflows"
    )
    values = release["values"]
    assert release["namespace"] == "argo-workflows"
    assert values["singleNamespace"] is True and values["controller"]["extraArgs"] == [
        "--managed-namespace",
        "ai-agents",
    ]
    assert values["controller"]["rbac"]["create"] is False and values["createAggregateRoles"] is False
    assert values["server"]["enabled"] is False
    assert values["controller"]["nodeSelector"] and values["controller"]["tolerations"]
    roles = [
        r.inputs
        for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
        if r.inputs["metadata"]["name"] == "argo-workflows-workflow-controller"
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["ai-agents", "argo-workflows"]
    assert not any(
        r.inputs["metadata"]["name"].startswith("argo-workflows")
        for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    )
    # its namespace is governed like every layer: restricted Pod Security, quota, default deny
    ns = next(
        r.inputs
        for r in run.of_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == "argo-workflows"
    )
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    kinds = {
        (r.inputs["kind"], r.inputs["metadata"]["name"])
        for r in run.kubernetes_objects()
        if r.inputs["metadata"].get("namespace") == "argo-workflows"
    }
    assert ("NetworkPolicy", "default-deny-all") in kinds and any(k == "ResourceQuota" for k, _ in kinds)
    assert ("ServiceMonitor", "argo-workflows-workflow-controller") in kinds


def test_chart_values_are_the_charts_own_keys():
    from tests.helm_values import chart_defaults, unknown_keys

    values = chart_values("ai-agents", ha=True).render()
    assert unknown_keys(values, chart_defaults("argo-workflows")) == []
    assert unknown_keys({"controller": {"extraArg": []}}, chart_defaults("argo-workflows")) == ["controller.extraArg"]


def test_controller_rules_are_the_charts_rules():
    """The Role in the managed namespace grants what the chart's controller ClusterRole grants (nothing cluster-wide)."""
    verbs = {
        (g, r): set(rule["verbs"]) for rule in CONTROLLER_RULES for g in rule["apiGroups"] for r in rule["resources"]
    }
    assert verbs[("argoproj.io", "workflows")] >= {"get", "list", "watch", "update", "patch", "create", "delete"}
    assert verbs[("", "pods")] >= {"create", "delete", "watch"}
    assert ("", "secrets") not in verbs


def test_seed_references_become_argo_references():
    assert argo_text("{{ .input.topic }} and {{.steps.write-report.output.report}}") == (
        "{{workflow.parameters.topic}} and {{tasks.write-report.outputs.parameters.report}}"
    )


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": alert_groups()}, sort_keys=False))
    return path


def test_the_failed_workflow_alert_fires_and_stays_silent(rules_file, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make deps installs it)")
    assert subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True).returncode == 0
    series = 'argo_workflows_agentic_workflow_runs_total{{namespace="ai-agents",workflow="w",status="{s}"}}'
    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series.format(s="Failed"), "values": "0 0 0 1 1 1"},
                    {"series": series.format(s="Succeeded"), "values": "0 1 2 3 4 5"},
                ],
                "alert_rule_test": [
                    {"eval_time": "2m", "alertname": "WorkflowFailed", "exp_alerts": []},
                    {
                        "eval_time": "4m",
                        "alertname": "WorkflowFailed",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "namespace": "ai-agents", "workflow": "w"},
                                "exp_annotations": {
                                    "summary": "Agent workflow w had failed runs in the last 15 minutes",
                                    "runbook_url": alert_groups()[0]["rules"][0]["annotations"]["runbook_url"],
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    out = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_runbook_has_the_alerts_section():
    from tests.conftest import PROJECT_ROOT

    anchor = alert_groups()[0]["rules"][0]["annotations"]["runbook_url"].split("#")[1]
    assert f"## {anchor}".lower() in (PROJECT_ROOT / "docs" / "runbooks.md").read_text().lower()


# --- bad input ----------------------------------------------------------------------------------------------------


def _problems(mutate) -> list[str]:
    raw = stack_raw("dev")
    mutate(raw["workflows"][0], raw)
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return [f"{p.path}: {p.message}" for p in exc.value.problems]


def _steps(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in wf["steps"]}


BAD = {
    "unknown agent": (
        lambda wf, raw: _steps(wf)["review"].update(agent="reviewr-agent"),
        "platform.workflows[0].steps[4].agent: agent 'reviewr-agent' is not in namespace ai-agents; did you mean "
        "'reviewer-agent'?",
    ),
    "agent in another namespace": (
        lambda wf, raw: raw["kagent"]["agents"].__setitem__(
            1, {**raw["kagent"]["agents"][1], "namespace": "tenant-sandbox"}
        ),
        "platform.workflows[0].steps[0].agent: agent 'research-agent' is not in namespace ai-agents",
    ),
    "workflow in a tenant namespace": (
        lambda wf, raw: wf.update(namespace="tenant-sandbox"),
        "platform.workflows[0].namespace: workflows run in the agents namespace 'ai-agents'",
    ),
    "dependency cycle": (
        lambda wf, raw: _steps(wf)["research"].update(dependsOn=["review"]),
        "platform.workflows[0].steps: dependsOn forms a cycle (research -> review -> write-report",
    ),
    "unknown input": (
        lambda wf, raw: _steps(wf)["research"]["input"].update(topic="{{ .input.subject }}"),
        "platform.workflows[0].steps[0].input.topic: input 'subject' is not in the workflow's input",
    ),
    "unknown step output": (
        lambda wf, raw: _steps(wf)["review"]["input"].update(document="{{ .steps.write-report.output.draft }}"),
        "platform.workflows[0].steps[4].input.document: output 'draft' is not in step write-report (defined: report)",
    ),
    "output of a step that runs later": (
        lambda wf, raw: _steps(wf)["analyze-trends"]["input"].update(data="{{ .steps.review.output.final_report }}"),
        "platform.workflows[0].steps[1].input.data: step 'review' does not run before this one",
    ),
    "not a reference": (
        lambda wf, raw: _steps(wf)["research"]["input"].update(topic="{{ .env.HOME }}"),
        "platform.workflows[0].steps[0].input.topic: '{{ .env.HOME }}' is not a reference",
    ),
    "parallel without a shared dependency": (
        lambda wf, raw: (
            _steps(wf)["analyze-sentiment"].update(dependsOn=["research"], parallel=True)
            or _steps(wf)["analyze-trends"].update(parallel=False)
            or _steps(wf)["write-report"].update(parallel=True)
        ),
        "platform.workflows[0].steps[2].parallel: a parallel step runs beside siblings that wait for the same step",
    ),
    "retries out of range": (
        lambda wf, raw: _steps(wf)["research"].update(retries=11),
        "platform.workflows[0].steps[0].retries: ",
    ),
    "timeout out of range": (
        lambda wf, raw: _steps(wf)["research"].update(timeout_seconds=5),
        "platform.workflows[0].steps[0].timeout_seconds: ",
    ),
    "workflow timeout shorter than every step": (
        lambda wf, raw: wf.update(timeout_seconds=60) or [s.update(timeout_seconds=120) for s in wf["steps"]],
        "platform.workflows[0].timeout_seconds: 60s is shorter than every step's timeout",
    ),
    "default outside the enum": (
        lambda wf, raw: wf["input"][1].update(default="bottomless"),
        "platform.workflows[0].input[1]: ",
    ),
    "schedule without a required input": (
        lambda wf, raw: wf["schedule"]["input"].pop("topic"),
        "platform.workflows[0].schedule.input: scheduled runs need the required inputs: topic",
    ),
    "bad cron": (
        lambda wf, raw: wf["schedule"].update(cron="every monday"),
        "platform.workflows[0].schedule.cron: ",
    ),
    "bad output path": (
        lambda wf, raw: _steps(wf)["research"]["output"][0].update(path="result.data"),
        "platform.workflows[0].steps[0].output[0].path: ",
    ),
    "a literal webhook": (
        lambda wf, raw: wf.update(notify_on_failure="https://hooks.slack.com/services/T/B/x"),
        "platform.workflows[0].notify_on_failure: ",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_workflows_are_refused_with_their_path(case):
    mutate, expected = BAD[case]
    found = _problems(mutate)
    assert any(p.startswith(expected) or expected in p for p in found), found


def test_the_dev_workflow_is_valid_and_its_copy_with_changes_is_not_silently_accepted():
    raw = stack_raw("dev")
    assert parse_platform(copy.deepcopy(raw)).workflows[0].name == "research-report-workflow"
    raw["workflows"][0]["steps"][0]["tiemout_seconds"] = 5
    with pytest.raises(ConfigError, match=r"platform\.workflows\[0\]\.steps\[0\]\.tiemout_seconds"):
        parse_platform(raw)
