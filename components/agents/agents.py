"""Agents from config: the kagent objects (through the translator of the configured kagent line), the platform's MCP
tool server, a ServiceAccount per agent with a Pod Identity role when it needs AWS (Bedrock for its model, S3 read for
its knowledge), scaling, a PodMonitor for the platform runtime's agents, routes on the gateway for exposed agents,
and RBAC for people (agent-operator / agent-viewer bound to groups that EKS access entries map IAM principals onto).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import versions
from components.agents import kagent_v0_10
from components.agents.egress import egress_policy
from components.agents.kagent_v0_10 import (
    A2A_PORT,
    AGENT_NAME_LABEL,
    AGENT_POD_LABELS,
    Context,
    namespace_of,
    service_account,
)
from components.agents.scaling import scaling_objects
from components.agents.tools_server import tools_server_objects
from config.agents import Agent, KagentConfig, ModelConfigSpec
from kit.aws import arn, pod_identity_role
from kit.labels import metadata
from kit.monitors import pod_monitor
from kit.shared import Shared

#: kagent line -> translator (config + context -> manifests). A 1.x line is one more entry (see ARCHITECTURE.md).
TRANSLATORS: dict[str, Callable[[KagentConfig, Context], list[dict[str, Any]]]] = {
    kagent_v0_10.LINE: kagent_v0_10.translate,
}
OPERATOR_GROUP = "agentic:agent-operators"
VIEWER_GROUP = "agentic:agent-viewers"
KAGENT_RESOURCES = ["agents", "modelconfigs", "remotemcpservers", "mcpservers"]


def people_rbac(namespace: str) -> list[dict[str, Any]]:
    """agent-operator manages kagent objects and reads pods and logs; agent-viewer reads. Neither reads Secrets."""
    read = ["get", "list", "watch"]
    operator = [
        {
            "apiGroups": ["kagent.dev"],
            "resources": KAGENT_RESOURCES,
            "verbs": [*read, "create", "update", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods", "pods/log", "events", "services"], "verbs": read},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": read},
    ]
    viewer = [
        {"apiGroups": ["kagent.dev"], "resources": KAGENT_RESOURCES, "verbs": read},
        {"apiGroups": [""], "resources": ["pods", "events", "services"], "verbs": read},
    ]
    out = []
    for role, rules, group in (("agent-operator", operator, OPERATOR_GROUP), ("agent-viewer", viewer, VIEWER_GROUP)):
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": metadata(role, namespace),
                "rules": rules,
            }
        )
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": metadata(role, namespace),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [{"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}],
            }
        )
    return out


#: Seed 003 §4.4: the kube-agent's namespace-scoped Role (its Kubernetes tools), without the Secrets rule.
KUBE_TOOLS_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "statefulsets", "replicasets"],
        "verbs": ["get", "list", "watch", "update", "patch"],
    },
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": [""], "resources": ["services", "configmaps", "events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]


def kube_tools_rbac(a: Agent, namespace: str) -> list[dict[str, Any]]:
    """The Role and RoleBinding a BYO agent on the platform image needs for its Kubernetes tools, which act on its
    own namespace (KUBE_AGENT_NAMESPACE from the Downward API)."""
    if a.type != "BYO" or a.image is not None or not a.kubernetes_tools:
        return []
    rules = list(KUBE_TOOLS_RULES)
    if a.kubernetes_secrets_list:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})
    name = f"agent-{a.name}-kube-tools"
    labels = {AGENT_NAME_LABEL: a.name}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(name, namespace, labels),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(name, namespace, labels),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": service_account(a), "namespace": namespace}],
        },
    ]


def agent_route(a: Agent, namespace: str, gateway: str, gateway_ns: str) -> dict[str, Any]:
    """``/agents/<name>`` on the gateway -> the agent's Service on 8080 (the prefix stripped). The route lives in the
    gateway namespace (where the Gateway admits routes, and its JWT policy applies)."""
    return {
        "apiVersion": versions.GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": metadata(f"agent-{a.name}", gateway_ns),
        "spec": {
            "parentRefs": [{"name": gateway, "namespace": gateway_ns}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": f"/agents/{a.name}"}}],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                        }
                    ],
                    "backendRefs": [{"name": a.name, "namespace": namespace, "port": A2A_PORT}],
                }
            ],
        },
    }


def agent_reference_grant(names: list[str], namespace: str, gateway_ns: str) -> dict[str, Any]:
    """Lets the gateway namespace's agent routes reach exactly these agents' Services."""
    return {
        "apiVersion": versions.REFERENCE_GRANT_API,
        "kind": "ReferenceGrant",
        "metadata": metadata("gateway-to-agents", namespace),
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": gateway_ns}],
            "to": [{"group": "", "kind": "Service", "name": n} for n in sorted(names)],
        },
    }


def bedrock_statement(region: str, models: list[str]) -> dict[str, Any]:
    resources = []
    for m in sorted(set(models)):
        resources.append(arn(region, "bedrock", f"foundation-model/{m}", account=""))
        resources.append(arn(region, "bedrock", f"inference-profile/*{m}", account="*"))
    return {
        "Sid": "InvokeConfiguredModels",
        "Effect": "Allow",
        "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "Resource": resources,
    }


def s3_read_statements(region: str, locations: list[str]) -> list[dict[str, Any]]:
    out = []
    for i, loc in enumerate(sorted(set(locations))):
        bucket, _, prefix = loc.partition("/")
        prefix = prefix.strip("/")
        bucket_arn = arn(region, "s3", bucket, regional=False)
        out.append(
            {
                "Sid": f"ReadObjects{i}",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": f"{bucket_arn}/{prefix + '/' if prefix else ''}*",
            }
        )
        list_stmt: dict[str, Any] = {
            "Sid": f"ListBucket{i}",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": bucket_arn,
        }
        if prefix:
            list_stmt["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}}
        out.append(list_stmt)
    return out


def agent_policy(a: Agent, mcs: dict[str, ModelConfigSpec], region: str) -> dict[str, Any] | None:
    """The agent's AWS policy, or None when it needs no AWS access."""
    statements: list[dict[str, Any]] = []
    bedrock = [mcs[r] for r in (a.model_config_ref, a.memory_model_config) if r in mcs and mcs[r].provider == "Bedrock"]
    for mc in bedrock:
        statements.append(bedrock_statement(str(mc.bedrock_region), [mc.model]))
    statements += s3_read_statements(region, list(a.aws.s3_read))
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


class Agents(pulumi.ComponentResource):
    """Everything agents need in the cluster, after kagent and its CRDs exist (``after``)."""

    def __init__(
        self,
        name: str,
        cfg: KagentConfig,
        ctx: Context,
        shared: Shared,
        *,
        after: tuple[pulumi.Resource, ...],
        gateway: tuple[str, str] | None = None,
        prometheus: str = "",
        redis_tls: bool = False,
        keda: pulumi.Resource | None = None,
        cluster_name: pulumi.Input[str] | None = None,
        parent: pulumi.Resource | None = None,
    ):
        opts = pulumi.ResourceOptions(parent=parent) if parent is not None else shared.k8s_opts()
        super().__init__("agentic:agents:Agents", name, None, opts)
        self.objects: list[pulumi.Resource] = []
        by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for obj in TRANSLATORS[cfg.line](cfg, ctx):
            by_ns[obj["metadata"]["namespace"]].append(obj)
        agents_ns = ctx.agents_namespace
        for server in cfg.mcp_servers:
            if server.kind == "platform":
                env = {**ctx.auth_env, "AGENT_TOOLS": ",".join(server.tools)}  # exactly these (config requires some)
                for obj in tools_server_objects(
                    server, agents_ns, ctx.runtime_image, env, replicas=2 if shared.high_availability else 1
                ):
                    by_ns[obj["metadata"].get("namespace", agents_ns)].insert(0, obj)
        mcs = {mc.name: mc for mc in cfg.model_configs}
        servers = {s.name: s for s in cfg.mcp_servers}
        exposed: dict[str, list[str]] = defaultdict(list)
        for a in cfg.agents:
            ns = namespace_of(a, ctx)
            sa = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": metadata(service_account(a), ns, {AGENT_NAME_LABEL: a.name}),
            }
            by_ns[ns].insert(0, sa)
            by_ns[ns].extend(kube_tools_rbac(a, ns))
            if a.type == "BYO" and a.image is None and a.gitea is None:
                shared.notes.add(
                    f"agent {a.name}: its Gitea tools (seed 003 §7) are not usable: no Gitea is configured "
                    "(gitea: {url, token: <credential>} on the agent)"
                )
            policy = agent_policy(a, mcs, shared.region)
            if policy is not None:
                pod_identity_role(
                    f"{name}-{a.name}",
                    role_name=f"{shared.prefix}-agent-{a.name}",
                    policy=json.dumps(policy),
                    cluster_name=cluster_name or shared.cluster_name_output,
                    namespace=ns,
                    service_account=service_account(a),
                    parent=self,
                    depends_on=list(shared.cluster_ready),
                )
            egress, why = egress_policy(a, ns, mcs, servers)
            if egress is not None:
                by_ns[ns].append(egress)
                shared.notes.add(f"agent {a.name}: may leave the cluster for {', '.join(why)}")
            for obj in scaling_objects(a, ns, prometheus, redis_tls):
                by_ns[ns].append(obj)
            if a.expose and gateway is not None:
                by_ns[gateway[1]].append(agent_route(a, ns, *gateway))
                exposed[ns].append(a.name)
        if gateway is not None:
            for ns, names in exposed.items():
                by_ns[ns].append(agent_reference_grant(names, ns, gateway[1]))
        if cfg.access:
            by_ns[agents_ns].extend(people_rbac(agents_ns))
        deps = after + ((keda,) if keda is not None else ())
        accounts: dict[tuple[str, str], pulumi.Resource] = {}
        config_objects: list[pulumi.Resource] = []
        # Two passes: ServiceAccounts, model configs, MCP servers and the rest first; then the Agents, which wait for
        # the model configs and MCP servers they name and for their own ServiceAccount.
        for agents_pass in (False, True):
            for ns, objs in sorted(by_ns.items()):
                scope = shared.scope(self, f"{name}-{ns}", ns, depends_on=deps)
                for obj in objs:
                    if (obj["kind"] == "Agent") != agents_pass:
                        continue
                    meta = obj["metadata"]
                    extra: list[pulumi.Resource] = []
                    if obj["kind"] == "Agent":
                        sa = (
                            (obj["spec"].get("declarative") or obj["spec"].get("byo") or {})
                            .get("deployment", {})
                            .get("serviceAccountName")
                        )
                        extra = [*config_objects, *([accounts[(ns, sa)]] if (ns, sa) in accounts else [])]
                    elif obj["kind"] == "Deployment":
                        sa = obj["spec"]["template"]["spec"].get("serviceAccountName")
                        extra = [accounts[(ns, sa)]] if (ns, sa) in accounts else []
                    made = scope.apply(obj, depends_on=extra)
                    if obj["kind"] == "ServiceAccount":
                        accounts[(ns, meta["name"])] = made
                    elif obj["kind"] in ("ModelConfig", "RemoteMCPServer", "MCPServer"):
                        config_objects.append(made)
                    self.objects.append(made)
        if shared.monitoring_crds is not None:
            for a in cfg.agents:
                if a.type == "BYO" and a.image is None:  # the platform runtime serves /metrics on its A2A port
                    ns = namespace_of(a, ctx)
                    shared.scope(self, f"{name}-{ns}", ns, depends_on=(*after, shared.monitoring_crds)).apply(
                        pod_monitor(f"agent-{a.name}", ns, {**AGENT_POD_LABELS, AGENT_NAME_LABEL: a.name}, "http"),
                        name=f"monitor-{a.name}",
                    )
        for i, person in enumerate(cfg.access):
            group = OPERATOR_GROUP if person.role == "operator" else VIEWER_GROUP
            aws.eks.AccessEntry(
                f"{name}-access-{i}",
                cluster_name=cluster_name or shared.cluster_name_output,
                principal_arn=person.principal_arn,
                kubernetes_groups=[group],
                type="STANDARD",
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(shared.cluster_ready)),
            )
        self.register_outputs({})
