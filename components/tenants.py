"""Tenant namespaces (``tenant-<name>``): a governed namespace plus RBAC for the team's groups."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.namespaces import GovernedNamespace, GovernedNamespaceArgs, NamespaceSpec
from stacks.config import Tenant

#: What a tenant admin may do in their own namespace: run kagent agents and read what they run.
ADMIN_RULES = [
    {
        "apiGroups": ["kagent.dev"],
        "resources": ["agents", "modelconfigs", "remotemcpservers", "mcpservers"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "configmaps", "events"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]},
]
VIEWER_RULES = [
    {"apiGroups": ["kagent.dev"], "resources": ["agents", "modelconfigs", "remotemcpservers", "mcpservers"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
]


@dataclass(frozen=True)
class TenantArgs:
    tenant: Tenant
    layer_namespaces: dict[str, str]
    tenant_namespaces: list[str]


class TenantNamespace(pulumi.ComponentResource):
    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:platform:Tenant", name, None, opts)
        t = args.tenant
        self.governed = GovernedNamespace(
            f"{name}",
            GovernedNamespaceArgs(NamespaceSpec.for_tenant(t), args.layer_namespaces, args.tenant_namespaces),
            pulumi.ResourceOptions(parent=self),
        )
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.governed.namespace])
        self.roles = []
        for role, rules, groups in (("tenant-admin", ADMIN_RULES, t.admin_groups),
                                    ("tenant-viewer", VIEWER_RULES, t.viewer_groups)):
            meta = {"name": role, "namespace": t.namespace, "labels": {"agentic.platform/tenant": t.name}}
            r = k8s.rbac.v1.Role(f"{name}-{role}", metadata=meta, rules=rules, opts=after_ns)
            self.roles.append(r)
            if groups:
                k8s.rbac.v1.RoleBinding(
                    f"{name}-{role}-binding",
                    metadata={**meta, "name": f"{role}-binding"},
                    role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                    subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[r]),
                )
        self.namespace = pulumi.Output.from_input(t.namespace)
        self.register_outputs({"namespace": self.namespace})
