"""Agent workflows on Argo Workflows (decision 13; seed 000's Workflow and WorkflowRun): the official chart's
controller in its own namespace, managing the agents namespace only (``--namespaced --managed-namespace``, its RBAC a
Role there, not a ClusterRole), and per workflow a WorkflowTemplate whose DAG tasks call kagent agents over A2A.

Seed -> Argo, point by point:

- ``input[]`` -> ``spec.arguments.parameters`` (``required``: no default, so a run must give it; ``default``;
  ``enum``); ``{{ .input.x }}`` -> ``{{workflow.parameters.x}}``.
- ``steps[]`` -> one DAG task each, ``dependsOn`` -> ``dependencies`` (parallel steps are siblings sharing one);
  each task runs the agent-runtime image's ``workflow-step`` command, which sends the step's input as A2A
  ``message/send`` (protocol 0.3) to the agent's own Service (kagent's A2A endpoint for it, port 8080) and writes
  each ``output`` (picked by path from the reply) to a file Argo reads as an output parameter;
  ``{{ .steps.s.output.y }}`` -> ``{{tasks.s.outputs.parameters.y}}``.
- ``timeout`` -> the task's ``activeDeadlineSeconds`` (per attempt); ``retries`` -> ``retryStrategy.limit``
  (``retryPolicy: Always``: failures and timeouts); the workflow ``timeout`` -> ``spec.activeDeadlineSeconds``.
- ``concurrency`` -> ``synchronization.semaphores`` on a ConfigMap key holding ``max_concurrent``: ``queue`` is
  Argo's behaviour (runs past the limit wait, Pending); ``replace`` / ``reject`` become the CronWorkflow's
  ``concurrencyPolicy`` Replace / Forbid for scheduled runs (Argo queues runs submitted by hand; the plan says so).
- ``onWorkflowFailure: notify`` -> ``onExit``: a step posting to the Slack webhook (a credential synced from
  Secrets Manager) when ``{{workflow.status}}`` is not Succeeded.
- ``WorkflowRun`` -> an Argo ``Workflow`` with ``workflowTemplateRef`` (``kubectl create`` or ``argo submit
  --from``); its ``status.phase`` and ``status.nodes[]`` (phase, startedAt, finishedAt per step) are the run status.
- a ``schedule`` -> a CronWorkflow running the template.

Each workflow's pods run as its own ServiceAccount whose Role may ``get`` only the Agents its steps name (the step
checks that before calling) and report results (``workflowtaskresults``), nothing else.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from catalog import versions
from config.egress import PUBLIC
from config.workflows import REFERENCE, Workflow, WorkflowStep
from kit.labels import metadata, restricted_security_context

NAMESPACE = "argo-workflows"
RELEASE = "argo-workflows"
CONTROLLER = f"{RELEASE}-workflow-controller"  # the chart's fullname for the controller (SA, Service, Deployment)
SEMAPHORES = "workflow-semaphores"
OUTPUTS = "/tmp/outputs"
RUNTIME_UID = 10001
AGENT_PORT = 8080
WORKFLOW_LABEL = "agentic.dev/workflow"
NOTIFY_LABEL = "agentic.dev/workflow-notify"  # the exit handler's pod: the only workflow pod leaving the cluster
RUNBOOK = "https://github.com/agentic-platform/agentic-platform/blob/main/docs/runbooks.md#workflowfailed"
#: step duration buckets (seconds): agent turns take seconds to minutes
BUCKETS = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0]


def argo_text(text: str) -> str:
    """Seed 000's references in Argo's syntax (config.workflows refused anything else inside {{ }})."""

    def one(m: re.Match[str]) -> str:
        kind, name, output = m.group(1), m.group(2), m.group(3)
        return (
            f"{{{{workflow.parameters.{name}}}}}"
            if kind == "input"
            else f"{{{{tasks.{name}.outputs.parameters.{output}}}}}"
        )

    return REFERENCE.sub(one, text)


def service_account(wf: Workflow) -> str:
    return f"workflow-{wf.name}"


def agent_url(agent: str, namespace: str) -> str:
    return f"http://{agent}.{namespace}.svc.cluster.local:{AGENT_PORT}/"


def _restricted(container: dict[str, Any]) -> dict[str, Any]:
    return {
        **container,
        "securityContext": restricted_security_context(RUNTIME_UID),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def step_args(wf: Workflow, step: WorkflowStep, namespace: str) -> list[str]:
    """The ``workflow-step`` command line of one step; its fields come in as the task's input parameters."""
    args = [
        "workflow-step",
        "--agent",
        step.agent,
        "--namespace",
        namespace,
        "--url",
        agent_url(step.agent, namespace),
        "--workflow",
        wf.name,
        "--run",
        "{{workflow.name}}",
        "--step",
        step.name,
        "--timeout",
        str(max(step.timeout_seconds - 5, 5)),
        "--outputs-dir",
        OUTPUTS,
    ]
    for key, value in step.input.items():
        if isinstance(value, str):
            args += ["--field", f"{key}={{{{inputs.parameters.{key}}}}}"]
        elif any(REFERENCE.search(v) for v in value):
            args += [x for i in range(len(value)) for x in ("--item", f"{key}={{{{inputs.parameters.{key}-{i}}}}}")]
        else:
            args += ["--field-json", f"{key}={json.dumps(value)}"]
    for out in step.output:
        args += ["--output", f"{out.name}={out.path}"]
    return args


def _step_parameters(step: WorkflowStep) -> list[dict[str, str]]:
    """The task's arguments: each templated input field (lists item by item), in Argo's reference syntax."""
    params = []
    for key, value in step.input.items():
        if isinstance(value, str):
            params.append({"name": key, "value": argo_text(value)})
        elif any(REFERENCE.search(v) for v in value):
            params += [{"name": f"{key}-{i}", "value": argo_text(v)} for i, v in enumerate(value)]
    return params


def _metric_labels(wf: Workflow, **extra: str) -> list[dict[str, str]]:
    return [{"key": "workflow", "value": wf.name}, *({"key": k, "value": v} for k, v in extra.items())]


def step_template(wf: Workflow, step: WorkflowStep, namespace: str, image: Any) -> dict[str, Any]:
    params = _step_parameters(step)
    return {
        "name": f"step-{step.name}",
        "inputs": {"parameters": [{"name": p["name"]} for p in params]},
        "outputs": {
            "parameters": [{"name": o.name, "valueFrom": {"path": f"{OUTPUTS}/{o.name}"}} for o in step.output]
        },
        "activeDeadlineSeconds": step.timeout_seconds,
        "retryStrategy": {"limit": step.retries, "retryPolicy": "Always", "backoff": {"duration": "5s", "factor": 2}},
        "metrics": {
            "prometheus": [
                {
                    "name": "agentic_workflow_step_duration_seconds",
                    "help": "Duration of agent workflow steps (one A2A call to an agent, all attempts)",
                    "labels": _metric_labels(wf, step=step.name, agent=step.agent, status="{{status}}"),
                    "histogram": {"value": "{{duration}}", "buckets": BUCKETS},
                }
            ]
        },
        "container": _restricted({"name": "main", "image": image, "args": step_args(wf, step, namespace)}),
    }


def notify_templates(wf: Workflow, image: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The exit handler (runs after every run) and its step, which posts only when the run did not succeed."""
    assert wf.notify_on_failure is not None
    ref = wf.notify_on_failure
    return {
        "name": "notify-on-failure",
        "steps": [
            [
                {
                    "name": "notify",
                    "template": "notify-slack",
                    "when": "{{workflow.status}} != Succeeded",
                }
            ]
        ],
    }, {
        "name": "notify-slack",
        "metadata": {"labels": {NOTIFY_LABEL: wf.name}},
        "retryStrategy": {"limit": 2, "retryPolicy": "Always"},
        "activeDeadlineSeconds": 60,
        "container": _restricted(
            {
                "name": "main",
                "image": image,
                "args": [
                    "workflow-notify",
                    "--workflow",
                    wf.name,
                    "--run",
                    "{{workflow.name}}",
                    "--status",
                    "{{workflow.status}}",
                    "--failures",
                    "{{workflow.failures}}",
                ],
                "env": [
                    {
                        "name": "WORKFLOW_NOTIFY_WEBHOOK",
                        "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
                    }
                ],
            }
        ),
    }


def workflow_template(wf: Workflow, namespace: str, image: Any) -> dict[str, Any]:
    parameters = []
    for p in wf.input:
        param: dict[str, Any] = {"name": p.name}
        if p.default is not None:
            param["value"] = p.default
        if p.enum:
            param["enum"] = list(p.enum)
        if p.description:
            param["description"] = p.description
        parameters.append(param)
    tasks = []
    for step in wf.steps:
        task: dict[str, Any] = {"name": step.name, "template": f"step-{step.name}"}
        if step.depends_on:
            task["dependencies"] = list(step.depends_on)
        params = _step_parameters(step)
        if params:
            task["arguments"] = {"parameters": params}
        tasks.append(task)
    dag: dict[str, Any] = {"name": "main", "dag": {"tasks": tasks}}
    if wf.outputs:
        dag["outputs"] = {
            "parameters": [{"name": k, "valueFrom": {"parameter": argo_text(v)}} for k, v in wf.outputs.items()]
        }
    templates = [dag, *(step_template(wf, s, namespace, image) for s in wf.steps)]
    spec: dict[str, Any] = {
        "entrypoint": "main",
        "serviceAccountName": service_account(wf),
        "automountServiceAccountToken": True,  # the step reads its Agents with it; the executor reports results
        "arguments": {"parameters": parameters},
        "activeDeadlineSeconds": wf.timeout_seconds,
        "podMetadata": {"labels": {WORKFLOW_LABEL: wf.name}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "podGC": {"strategy": "OnPodSuccess"},
        "ttlStrategy": {"secondsAfterCompletion": 7 * 24 * 3600},
        "metrics": {
            "prometheus": [
                {
                    "name": "agentic_workflow_runs",
                    "help": "Agent workflow runs by final status",
                    "labels": _metric_labels(wf, status="{{workflow.status}}"),
                    "counter": {"value": "1"},
                },
                {
                    "name": "agentic_workflow_duration_seconds",
                    "help": "Duration of agent workflow runs",
                    "labels": _metric_labels(wf, status="{{workflow.status}}"),
                    "histogram": {"value": "{{workflow.duration}}", "buckets": BUCKETS},
                },
            ]
        },
    }
    if wf.concurrency:
        spec["synchronization"] = {"semaphores": [{"configMapKeyRef": {"name": SEMAPHORES, "key": wf.name}}]}
    if wf.notify_on_failure:
        handler, slack = notify_templates(wf, image)
        templates += [handler, slack]
        spec["onExit"] = handler["name"]
    spec["templates"] = templates
    meta = metadata(wf.name, namespace, {WORKFLOW_LABEL: wf.name})
    if wf.description:
        meta["annotations"] = {"workflows.argoproj.io/description": wf.description}
    return {"apiVersion": versions.ARGO_WORKFLOWS_API, "kind": "WorkflowTemplate", "metadata": meta, "spec": spec}


CONCURRENCY_POLICY = {"queue": "Allow", "replace": "Replace", "reject": "Forbid"}


def cron_workflow(wf: Workflow, namespace: str) -> dict[str, Any]:
    assert wf.schedule is not None
    s = wf.schedule
    spec: dict[str, Any] = {
        "schedules": [s.cron],
        "timezone": s.timezone,
        "concurrencyPolicy": CONCURRENCY_POLICY[wf.concurrency.policy if wf.concurrency else "queue"],
        "startingDeadlineSeconds": 300,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "workflowSpec": {
            "workflowTemplateRef": {"name": wf.name},
            "arguments": {"parameters": [{"name": k, "value": v} for k, v in s.input.items()]},
        },
    }
    return {
        "apiVersion": versions.ARGO_WORKFLOWS_API,
        "kind": "CronWorkflow",
        "metadata": metadata(wf.name, namespace, {WORKFLOW_LABEL: wf.name}),
        "spec": spec,
    }


def notify_egress(wf: Workflow, namespace: str) -> dict[str, Any]:
    """The exit handler's pod may reach public HTTPS (the Slack webhook); no other workflow pod leaves the cluster (the
    agents namespace has no HTTPS egress of its own)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(f"workflow-{wf.name}-notify", namespace, {WORKFLOW_LABEL: wf.name}),
        "spec": {
            "podSelector": {"matchLabels": {NOTIFY_LABEL: wf.name}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": copy.deepcopy(PUBLIC)}], "ports": [{"protocol": "TCP", "port": 443}]}],
        },
    }


def semaphores(workflows: list[Workflow], namespace: str) -> dict[str, Any] | None:
    data = {wf.name: str(wf.concurrency.max_concurrent) for wf in workflows if wf.concurrency}
    if not data:
        return None
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(SEMAPHORES, namespace), "data": data}


def identity_objects(wf: Workflow, namespace: str) -> list[dict[str, Any]]:
    """The workflow's ServiceAccount and a Role: get the Agents it calls, report step results. Nothing else."""
    sa = service_account(wf)
    labels = {WORKFLOW_LABEL: wf.name}
    rules = [
        {
            "apiGroups": ["kagent.dev"],
            "resources": ["agents"],
            "resourceNames": sorted({s.agent for s in wf.steps}),
            "verbs": ["get"],
        },
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]},
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(sa, namespace, labels)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(sa, namespace, labels),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(sa, namespace, labels),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
        },
    ]
