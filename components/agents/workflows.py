"""The Argo Workflows component: the official chart's controller in its own namespace (restricted Pod Security,
quota, default-deny NetworkPolicies), managing the agents namespace only, and each configured workflow's objects
(built in ``workflow_objects``, where the seed-to-Argo mapping is written down)."""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.agents.workflow_objects import (
    CONTROLLER,
    NAMESPACE,
    RELEASE,
    RUNBOOK,
    cron_workflow,
    identity_objects,
    notify_egress,
    semaphores,
    workflow_template,
)
from components.tenancy.namespaces import GovernedNamespace, system_namespace
from config.workflows import Workflow
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata
from kit.monitors import prometheus_rule, service_monitor
from kit.shared import Shared

#: The controller's rights in the namespace it manages (the chart's controller ClusterRole, as a Role there).
CONTROLLER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "get", "list", "watch", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "watch", "list"]},
    {
        "apiGroups": [""],
        "resources": ["persistentvolumeclaims", "persistentvolumeclaims/finalizers"],
        "verbs": ["create", "update", "delete", "get"],
    },
    {
        "apiGroups": ["argoproj.io"],
        "resources": [
            "workflows",
            "workflows/finalizers",
            "workflowtasksets",
            "workflowtasksets/finalizers",
            "workflowtasksets/status",
            "workflowartifactgctasks",
        ],
        "verbs": ["get", "list", "watch", "update", "patch", "delete", "create"],
    },
    {
        "apiGroups": ["argoproj.io"],
        "resources": ["workflowtemplates", "workflowtemplates/finalizers"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["argoproj.io"],
        "resources": ["workflowtaskresults", "workflowtaskresults/finalizers"],
        "verbs": ["list", "watch", "deletecollection"],
    },
    {
        "apiGroups": ["argoproj.io"],
        "resources": ["cronworkflows", "cronworkflows/finalizers"],
        "verbs": ["get", "list", "watch", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["create", "get", "delete"]},
]
#: In its own namespace: its configuration and the leader-election lease.
CONTROLLER_HOME_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "watch", "list"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]


def controller_rbac(managed: str) -> list[dict[str, Any]]:
    subject = [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": NAMESPACE}]
    out = []
    for ns, rules in ((managed, CONTROLLER_RULES), (NAMESPACE, CONTROLLER_HOME_RULES)):
        out += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": metadata(CONTROLLER, ns),
                "rules": rules,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": metadata(CONTROLLER, ns),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CONTROLLER},
                "subjects": subject,
            },
        ]
    return out


def alert_groups() -> list[dict[str, Any]]:
    failed = (
        'sum by (namespace, workflow) (increase(argo_workflows_agentic_workflow_runs_total{status=~"Failed|Error"}[15m]))'
        " > 0"
    )
    return [
        {
            "name": "agent-workflows",
            "rules": [
                {
                    "alert": "WorkflowFailed",
                    "expr": failed,
                    "for": "0m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "Agent workflow {{ $labels.workflow }} had failed runs in the last 15 minutes",
                        "runbook_url": RUNBOOK,
                    },
                }
            ],
        }
    ]


class _Metrics(HelmValues):
    enabled: bool
    secure: bool


class _ServiceMonitor(HelmValues):
    enabled: bool


class _Rbac(HelmValues):
    create: bool


class _Controller(HelmValues):
    extra_args: list[str]
    rbac: _Rbac
    workflow_namespaces: list[str]
    metrics_config: _Metrics
    service_monitor: _ServiceMonitor
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    replicas: int
    resources: dict[str, dict[str, str]]


class _Enabled(HelmValues):
    enabled: bool


class _Crds(HelmValues):
    install: bool
    full: bool
    keep: bool


class _WorkflowRbac(HelmValues):
    rbac: _Rbac


class ArgoWorkflowsValues(HelmValues):
    crds: _Crds
    single_namespace: bool
    create_aggregate_roles: bool
    controller: _Controller
    workflow: _WorkflowRbac
    server: _Enabled


def chart_values(managed: str, ha: bool) -> ArgoWorkflowsValues:
    return ArgoWorkflowsValues(
        crds=_Crds(install=True, full=True, keep=True),
        single_namespace=True,  # --namespaced: it watches one namespace, the one named below
        create_aggregate_roles=False,
        controller=_Controller(
            extra_args=["--managed-namespace", managed],
            rbac=_Rbac(create=False),  # controller_rbac(): Roles in the managed namespace and its own
            workflow_namespaces=[managed],
            metrics_config=_Metrics(enabled=True, secure=False),
            service_monitor=_ServiceMonitor(enabled=False),  # ours below, in the platform's one shape
            node_selector=dict(SYSTEM_LABELS),
            tolerations=[SYSTEM_TOLERATION],
            replicas=2 if ha else 1,
            resources={"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        ),
        workflow=_WorkflowRbac(rbac=_Rbac(create=False)),  # each workflow has its own ServiceAccount and Role
        server=_Enabled(enabled=False),  # runs are started and read with kubectl / the argo CLI
    )


class Workflows(pulumi.ComponentResource):
    """Argo Workflows and one WorkflowTemplate (and CronWorkflow) per configured workflow."""

    def __init__(
        self,
        name: str,
        workflows: list[Workflow],
        image: Any,
        shared: Shared,
        after: tuple[pulumi.Resource, ...] = (),
    ):
        super().__init__("agentic:agents:Workflows", name, None, shared.k8s_opts())
        managed = shared.namespaces["agents"]
        self.namespace = GovernedNamespace(f"{name}-ns", system_namespace(NAMESPACE), shared, parent=self)
        home = shared.scope(self, name, NAMESPACE, depends_on=(self.namespace, *shared.cluster_ready))
        rbac = [
            home.apply(obj, name=f"{obj['kind'].lower()}-{obj['metadata']['namespace']}")
            for obj in controller_rbac(managed)
        ]
        self.release = release(
            f"{name}-argo",
            versions.ARGO_WORKFLOWS,
            release_name=RELEASE,
            namespace=NAMESPACE,
            values=chart_values(managed, shared.high_availability),
            opts=home.opts(tuple(rbac)),
        )
        if shared.monitoring_crds is not None:
            monitors = shared.scope(self, name, NAMESPACE, depends_on=(self.release, shared.monitoring_crds))
            monitors.apply(
                service_monitor(
                    CONTROLLER,
                    NAMESPACE,
                    {"app.kubernetes.io/component": "workflow-controller", "app.kubernetes.io/instance": RELEASE},
                    "metrics",
                )
            )
            monitors.apply(prometheus_rule("agent-workflows", NAMESPACE, alert_groups()))
        objects = shared.scope(self, name, managed, depends_on=(self.release, *after))
        cm = semaphores(workflows, managed)
        if cm is not None:
            objects.apply(cm)
        for wf in workflows:
            for obj in identity_objects(wf, managed):
                objects.apply(obj)
            objects.apply(workflow_template(wf, managed, image))
            if wf.schedule:
                objects.apply(cron_workflow(wf, managed))
            if wf.notify_on_failure:
                objects.apply(notify_egress(wf, managed))
            required = " ".join(f"-p {p.name}=..." for p in wf.input if p.required)
            shared.notes.add(
                f"workflow '{wf.name}': {len(wf.steps)} steps on Argo Workflows in {managed}"
                + (f", scheduled '{wf.schedule.cron}' ({wf.schedule.timezone})" if wf.schedule else "")
                + f"; start a run: argo submit -n {managed} --from workflowtemplate/{wf.name} {required}".rstrip()
            )
            if wf.concurrency and wf.concurrency.policy != "queue":
                shared.notes.add(
                    f"workflow '{wf.name}': concurrency policy '{wf.concurrency.policy}' applies to its scheduled "
                    "runs (CronWorkflow concurrencyPolicy); Argo queues runs submitted by hand past the limit"
                )
        self.register_outputs({})
