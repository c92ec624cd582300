"""RBAC journeys, answered by the API server's own authorizer (SubjectAccessReview).

The expectations are written from the seeds and the design, not read back from the rendered Roles:

- seed 003 §4.2/§4.4, the kube-agent (a BYO agent running the platform image): in each namespace it manages, read
  pods, pods/log, events, services, configmaps, deployments; update/patch deployments and deployments/scale;
  ``list`` (not ``get``) secrets; nothing in other namespaces and nothing cluster-wide;
- the platform MCP tool server (``kube-agent-mcp``, README "Agents"): read pods, logs, events, services,
  deployments, configmaps and patch deployments in its configured namespaces; no Secrets; nothing elsewhere;
- agent-operator manages kagent objects in the agents namespace, agent-viewer only reads them; neither reads Secrets;
- a tenant's admins act in their namespace only (no other namespace, no cluster-scoped object), its viewers read.

Identities whose rights come only from a Helm chart (external-secrets, kagent's controller) cannot be checked here:
the charts are not applied offline; ``journeys`` says so in each outcome's ``why``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READ = ("get", "list", "watch")


@dataclass(frozen=True)
class Journey:
    who: str  # a readable identity
    user: str
    groups: tuple[str, ...]
    verb: str
    resource: str
    namespace: str | None
    expect: bool
    why: str
    group: str = ""
    subresource: str = ""
    name: str = ""  # one object (resourceNames in a Role)


@dataclass(frozen=True)
class Outcome:
    journey: Journey
    allowed: bool
    reason: str

    @property
    def ok(self) -> bool:
        return self.allowed == self.journey.expect

    @property
    def line(self) -> str:
        j = self.journey
        res = f"{j.group + '/' if j.group else ''}{j.resource}{'/' + j.subresource if j.subresource else ''}"
        res += f" {j.name}" if j.name else ""
        where = f"in {j.namespace}" if j.namespace else "cluster-wide"
        verdict = "allowed" if self.allowed else "denied"
        return f"{j.who} {j.verb} {res} {where}: {verdict}, expected {'allowed' if j.expect else 'denied'} ({j.why})"


def _sa(namespace: str, name: str) -> tuple[str, tuple[str, ...]]:
    return (
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


def _ns(cfg: Any, layer: str) -> str:
    ns = cfg.namespace_for(layer)
    return ns.name if ns else layer


def _other_namespaces(cfg: Any, mine: set[str]) -> list[str]:
    every = [ns.name for ns in cfg.namespaces] + [t.namespace for t in cfg.tenants]
    return [n for n in every if n not in mine][:2]


def kube_agent_journeys(cfg: Any) -> list[Journey]:
    agents_ns = _ns(cfg, "agents")
    out: list[Journey] = []
    for agent in cfg.kagent.agents:
        if agent.type != "BYO":
            continue
        if agent.image is not None or not agent.kubernetes_tools:
            continue
        managed = [agent.namespace or agents_ns]
        user, groups = _sa(agents_ns, f"agent-{agent.name}")
        who = f"BYO agent {agent.name} (seed 003 kube-agent) SA {agents_ns}/agent-{agent.name}"
        seed = "seed 003 §4.4"
        for ns in managed:
            for res, grp, sub in (
                ("pods", "", ""),
                ("pods", "", "log"),
                ("events", "", ""),
                ("services", "", ""),
                ("configmaps", "", ""),
                ("deployments", "apps", ""),
            ):
                for verb in ("get", "list"):
                    if sub and verb == "list":
                        continue
                    out.append(Journey(who, user, groups, verb, res, ns, True, seed, grp, sub))
            for verb in ("update", "patch"):
                out.append(Journey(who, user, groups, verb, "deployments", ns, True, seed, "apps"))
                out.append(Journey(who, user, groups, verb, "deployments", ns, True, seed, "apps", "scale"))
            # seed 003 gives 'list' on Secrets believing it returns names only; a list returns their data, so the
            # platform grants it only when the agent's config asks (kubernetes_secrets_list)
            lists = bool(agent.kubernetes_secrets_list)
            out.append(Journey(who, user, groups, "list", "secrets", ns, lists, f"{seed}: list only if configured"))
            out.append(Journey(who, user, groups, "get", "secrets", ns, False, f"{seed}: list only, never get"))
            out.append(Journey(who, user, groups, "delete", "deployments", ns, False, f"{seed}: no delete", "apps"))
        for ns in _other_namespaces(cfg, set(managed)):
            out.append(Journey(who, user, groups, "list", "pods", ns, False, f"{seed}: namespace-scoped"))
        out.append(Journey(who, user, groups, "list", "nodes", None, False, f"{seed}: nothing cluster-wide"))
        out.append(Journey(who, user, groups, "list", "secrets", None, False, f"{seed}: nothing cluster-wide"))
    return out


def tool_server_journeys(cfg: Any) -> list[Journey]:
    agents_ns = _ns(cfg, "agents")
    out: list[Journey] = []
    for server in cfg.kagent.mcp_servers:
        if server.kind != "platform":
            continue
        namespaces = list(server.namespaces or [agents_ns])
        user, groups = _sa(agents_ns, "kube-agent-mcp")
        who = f"MCP tool server {server.name} (SA {agents_ns}/kube-agent-mcp)"
        for ns in namespaces:
            for res in ("pods", "events", "services", "configmaps"):
                out.append(Journey(who, user, groups, "list", res, ns, True, "README: reads its namespaces"))
            out.append(Journey(who, user, groups, "get", "pods", ns, True, "README: reads logs", "", "log"))
            out.append(Journey(who, user, groups, "patch", "deployments", ns, True, "README: restarts", "apps"))
            out.append(Journey(who, user, groups, "list", "secrets", ns, False, "README: no access to Secrets"))
            out.append(Journey(who, user, groups, "get", "secrets", ns, False, "README: no access to Secrets"))
            out.append(Journey(who, user, groups, "delete", "pods", ns, False, "design: no deletes"))
        for ns in _other_namespaces(cfg, set(namespaces)):
            out.append(Journey(who, user, groups, "list", "pods", ns, False, "only its configured namespaces"))
        out.append(Journey(who, user, groups, "list", "namespaces", None, False, "nothing cluster-wide"))
    return out


def people_journeys(cfg: Any) -> list[Journey]:
    from components.agents.agents import OPERATOR_GROUP, VIEWER_GROUP

    agents_ns = _ns(cfg, "agents")
    out: list[Journey] = []
    op = ("agent-operator (person)", "alice", (OPERATOR_GROUP, "system:authenticated"))
    vw = ("agent-viewer (person)", "bob", (VIEWER_GROUP, "system:authenticated"))
    for who, user, groups in (op, vw):
        out.append(Journey(who, user, groups, "list", "agents", agents_ns, True, "design: reads agents", "kagent.dev"))
        out.append(Journey(who, user, groups, "get", "pods", agents_ns, True, "design: reads pods"))
        out.append(Journey(who, user, groups, "get", "secrets", agents_ns, False, "design: never reads Secrets"))
        out.append(Journey(who, user, groups, "list", "secrets", agents_ns, False, "design: never reads Secrets"))
        for ns in _other_namespaces(cfg, {agents_ns}):
            out.append(Journey(who, user, groups, "list", "pods", ns, False, "agents namespace only"))
        out.append(Journey(who, user, groups, "create", "namespaces", None, False, "nothing cluster-wide"))
    who, user, groups = op
    out.append(Journey(who, user, groups, "create", "agents", agents_ns, True, "design: manages agents", "kagent.dev"))
    out.append(Journey(who, user, groups, "delete", "agents", agents_ns, True, "design: manages agents", "kagent.dev"))
    who, user, groups = vw
    out.append(Journey(who, user, groups, "create", "agents", agents_ns, False, "design: viewer only", "kagent.dev"))
    return out


def tenant_journeys(cfg: Any, tenant_stacks: list[Any]) -> list[Journey]:
    """Tenants of the platform config (admin_groups / viewer_groups) and self-service tenant stacks."""
    tenants: list[tuple[str, list[str], list[str]]] = []
    for t in cfg.tenants:
        if t.self_service:
            continue
        tenants.append((t.namespace, list(t.admin_groups), list(t.viewer_groups)))
    for ts in tenant_stacks:
        tenants.append((ts.namespace, ts.groups("admin"), ts.groups("viewer")))
    agents_ns = _ns(cfg, "agents")
    out: list[Journey] = []
    for ns, admins, viewers in tenants:
        others = [n for n in _other_namespaces(cfg, {ns}) if n != ns] + [agents_ns]
        for role, groups in (("admin", admins), ("viewer", viewers)):
            if not groups:
                continue
            who = f"tenant {ns} {role} ({groups[0]})"
            g = (groups[0], "system:authenticated")
            user = f"{ns}-{role}"
            out.append(Journey(who, user, g, "list", "pods", ns, True, "design: reads its namespace"))
            out.append(Journey(who, user, g, "get", "pods", ns, True, "design: reads logs", "", "log"))
            out.append(Journey(who, user, g, "list", "agents", ns, True, "design: sees its agents", "kagent.dev"))
            out.append(Journey(who, user, g, "create", "agents", ns, role == "admin", f"design: {role}", "kagent.dev"))
            out.append(Journey(who, user, g, "get", "secrets", ns, False, "design: never reads Secret data by get"))
            # A list returns every Secret's data: the connection Secrets of its agents included (issue #21 point 1)
            out.append(Journey(who, user, g, "list", "secrets", ns, False, "#21: a list returns the data"))
            for other in dict.fromkeys(others):
                out.append(Journey(who, user, g, "list", "pods", other, False, "design: nothing outside its namespace"))
                out.append(Journey(who, user, g, "list", "secrets", other, False, "design: no secret in another"))
            out.append(Journey(who, user, g, "create", "namespaces", None, False, "design: nothing cluster-wide"))
            out.append(
                Journey(
                    who,
                    user,
                    g,
                    "create",
                    "clusterrolebindings",
                    None,
                    False,
                    "design: nothing cluster-wide",
                    "rbac.authorization.k8s.io",
                )
            )
    return out


def workflow_journeys(cfg: Any) -> list[Journey]:
    """Issue #25 point 3: each workflow's ServiceAccount may get only the Agents its steps call (and report step
    results); Argo's controller acts in the agents namespace and its own, nowhere else."""
    out: list[Journey] = []
    agents_ns = _ns(cfg, "agents")
    every = sorted({a.name for a in cfg.kagent.agents if (a.namespace or agents_ns) == agents_ns})
    for wf in cfg.workflows:
        user, groups = _sa(agents_ns, f"workflow-{wf.name}")
        who = f"workflow {wf.name}"
        calls = sorted({s.agent for s in wf.steps})
        for agent in every:
            ok = agent in calls
            why = "#25: calls it" if ok else "#25: only the agents its steps name"
            out.append(Journey(who, user, groups, "get", "agents", agents_ns, ok, why, "kagent.dev", "", agent))
        out.append(
            Journey(who, user, groups, "list", "agents", agents_ns, False, "#25: get by name only", "kagent.dev")
        )
        out.append(
            Journey(
                who, user, groups, "create", "workflowtaskresults", agents_ns, True, "Argo's executor", "argoproj.io"
            )
        )
        out.append(Journey(who, user, groups, "get", "secrets", agents_ns, False, "#25: no Secrets"))
        out.append(Journey(who, user, groups, "create", "pods", agents_ns, False, "#25: the controller makes pods"))
    if cfg.workflows:
        user, groups = _sa("argo-workflows", "argo-workflows-workflow-controller")
        who = "Argo controller"
        out.append(Journey(who, user, groups, "create", "pods", agents_ns, True, "#25: runs steps", ""))
        out.append(
            Journey(who, user, groups, "watch", "workflows", agents_ns, True, "#25: its namespace", "argoproj.io")
        )
        for other in _other_namespaces(cfg, {agents_ns}):
            out.append(Journey(who, user, groups, "create", "pods", other, False, "#25: the agents namespace only"))
        out.append(
            Journey(who, user, groups, "list", "workflows", None, False, "#25: nothing cluster-wide", "argoproj.io")
        )
        out.append(Journey(who, user, groups, "get", "secrets", agents_ns, False, "#25: no Secrets"))
    return out


def journeys(cfg: Any, tenant_stacks: list[Any] | None = None) -> list[Journey]:
    return [
        *workflow_journeys(cfg),
        *kube_agent_journeys(cfg),
        *tool_server_journeys(cfg),
        *people_journeys(cfg),
        *tenant_journeys(cfg, tenant_stacks or []),
    ]


def run(client: Any, items: list[Journey]) -> list[Outcome]:
    out = []
    for j in items:
        allowed, reason = client.can_i(
            j.user, list(j.groups), j.verb, j.resource, j.namespace, j.group, j.subresource, j.name
        )
        out.append(Outcome(j, allowed, reason))
    return out
