"""Agent guardrails (issue #10): every Agent's model config and tools resolve within the stack, BYO agents run images
from the platform's ECR repository pinned by digest, destructive tools require approval unless explicitly waived, and
no agent ServiceAccount can read Secret data. Plain functions over resource properties, importing nothing from the
project (the pack installs alone)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

try:  # in-process: the policies package; `pulumi preview --policy-pack policies`: this directory on sys.path
    from policies.common import get as _get
except ImportError:  # pragma: no cover
    from common import get as _get  # type: ignore[no-redef]

AGENT = "kubernetes:kagent.dev/v1alpha2:Agent"
MODEL_CONFIG = "kubernetes:kagent.dev/v1alpha2:ModelConfig"
REMOTE_MCP = "kubernetes:kagent.dev/v1alpha2:RemoteMCPServer"
KMCP = "kubernetes:kagent.dev/v1alpha1:MCPServer"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ROLE_KINDS = {"kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"}
BINDING_KINDS = {
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
}
APPROVAL_WAIVED = "agentic.platform/approval-waived"
DESTRUCTIVE_WORDS = (
    "restart",
    "delete",
    "remove",
    "write",
    "push",
    "scale",
    "create",
    "update",
    "patch",
    "apply",
    "exec",
    "commit",
    "drop",
    "kill",
    "rollback",
    "deploy",
)
ECR_IMAGE = re.compile(
    r"^(?P<registry>[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?)/(?P<repo>[^:@]+)"
    r"(:[^@]+)?@sha256:[0-9a-f]{64}$"
)


def _meta(r: Any) -> tuple[str, str]:
    return _get(r.props, "metadata", "namespace") or "", _get(r.props, "metadata", "name") or ""


def destructive(tool: str) -> bool:
    return any(w in DESTRUCTIVE_WORDS for w in tool.lower().replace("-", "_").split("_"))


def check_agent_references(resources: list[Any]) -> list[tuple[str, str]]:
    """An Agent's modelConfig (same namespace), MCP servers and agents-as-tools name objects the stack creates."""
    have: dict[str, set[tuple[str, str]]] = {
        "ModelConfig": set(),
        "RemoteMCPServer": set(),
        "MCPServer": set(),
        "Agent": set(),
    }
    for r in resources:
        kind = {MODEL_CONFIG: "ModelConfig", REMOTE_MCP: "RemoteMCPServer", KMCP: "MCPServer", AGENT: "Agent"}.get(
            r.type
        )
        if kind:
            have[kind].add(_meta(r))
    out = []
    for r in resources:
        if r.type != AGENT:
            continue
        ns, name = _meta(r)
        decl = _get(r.props, "spec", "declarative") or {}
        refs = []
        if decl.get("modelConfig"):
            refs.append(("ModelConfig", ns, decl["modelConfig"]))
        if _get(decl, "memory", "modelConfig"):
            refs.append(("ModelConfig", ns, decl["memory"]["modelConfig"]))
        for t in decl.get("tools") or []:
            if t.get("type") == "McpServer":
                ref = t.get("mcpServer") or {}
                refs.append((ref.get("kind") or "RemoteMCPServer", ref.get("namespace") or ns, ref.get("name")))
            elif t.get("type") == "Agent":
                ref = t.get("agent") or {}
                refs.append(("Agent", ref.get("namespace") or ns, ref.get("name")))
        for kind, rns, rname in refs:
            if (rns, rname) not in have.get(kind, set()):
                out.append(
                    (r.name, f"Agent {ns}/{name} references {kind} {rns}/{rname}, which this stack does not create")
                )
    return out


STACK_REFERENCE = "pulumi:pulumi:StackReference"


def check_byo_images(resources: list[Any]) -> list[tuple[str, str]]:
    """BYO agents run images from this platform's ECR repositories, pinned by digest."""
    repos = set()
    for r in resources:
        if r.type == ECR_REPOSITORY:
            for key in ("name", "repositoryUrl"):
                if isinstance(r.props.get(key), str):
                    repos.add(r.props[key].rsplit("/", 1)[-1] if key == "repositoryUrl" else r.props[key])
        elif r.type == STACK_REFERENCE:  # a tenant stack runs its platform stack's image
            url = (r.props.get("outputs") or {}).get("ecr_repository_url")
            if isinstance(url, str) and "/" in url:
                repos.add(url.split("/", 1)[1])
    out = []
    for r in resources:
        if r.type != AGENT or _get(r.props, "spec", "type") != "BYO":
            continue
        image = _get(r.props, "spec", "byo", "deployment", "image")
        m = ECR_IMAGE.match(image) if isinstance(image, str) else None
        if m is None:
            out.append((r.name, f"BYO agent image {image!r} is not an ECR image pinned by digest (@sha256:...)"))
        elif m.group("repo") not in repos:
            out.append(
                (
                    r.name,
                    f"BYO agent image repository {m.group('repo')!r} is not one of this platform's ECR "
                    f"repositories ({', '.join(sorted(repos)) or 'none'})",
                )
            )
    return out


def check_tool_approval(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Destructive MCP tools an Agent may call require approval, unless the Agent says they are waived."""
    if resource_type != AGENT:
        return []
    waived = set(filter(None, (_get(props, "metadata", "annotations", APPROVAL_WAIVED) or "").split(",")))
    out = []
    for t in _get(props, "spec", "declarative", "tools") or []:
        ref = t.get("mcpServer") or {}
        required = set(ref.get("requireApproval") or [])
        for tool in ref.get("toolNames") or []:
            if destructive(tool) and tool not in required and tool not in waived:
                out.append(
                    f"destructive tool {tool!r} of {ref.get('name')} runs without approval: add it to "
                    f"requireApproval or waive it explicitly ({APPROVAL_WAIVED})"
                )
    return out


def _reads_secrets(rules: Iterable[Any]) -> bool:
    for rule in rules or []:
        groups, resources, verbs = (set(rule.get(k) or []) for k in ("apiGroups", "resources", "verbs"))
        if ({"", "*"} & groups) and ({"secrets", "*"} & resources) and ({"get", "list", "watch", "*"} & verbs):
            return True
    return False


def check_agent_secret_access(resources: list[Any]) -> list[tuple[str, str]]:
    """No ServiceAccount an Agent runs as is bound to a role that reads Secrets."""
    agent_accounts = set()
    for r in resources:
        if r.type == AGENT:
            ns, _ = _meta(r)
            spec = _get(r.props, "spec") or {}
            dep = _get(spec, "declarative", "deployment") or _get(spec, "byo", "deployment") or {}
            if dep.get("serviceAccountName"):
                agent_accounts.add((ns, dep["serviceAccountName"]))
    roles: dict[tuple[Any, Any, Any], Any] = {
        (
            _get(r.props, "metadata", "namespace") or "",
            r.props.get("kind") or r.type.rsplit(":", 1)[-1],
            _meta(r)[1],
        ): r.props.get("rules")
        for r in resources
        if r.type in ROLE_KINDS
    }
    out = []
    for r in resources:
        if r.type not in BINDING_KINDS:
            continue
        ns = _get(r.props, "metadata", "namespace") or ""
        ref = r.props.get("roleRef") or {}
        rules = roles.get((ns if ref.get("kind") == "Role" else "", ref.get("kind"), ref.get("name")))
        for s in r.props.get("subjects") or []:
            if (
                s.get("kind") == "ServiceAccount"
                and (s.get("namespace") or ns, s.get("name")) in agent_accounts
                and _reads_secrets(rules or [])
            ):
                out.append(
                    (
                        r.name,
                        f"agent ServiceAccount {s.get('namespace') or ns}/{s.get('name')} is bound to "
                        f"{ref.get('kind')} {ref.get('name')}, which reads Secrets",
                    )
                )
    return out
