"""Tenant namespaces (``tenant-<name>``): a governed namespace plus RBAC for the team's groups."""

from __future__ import annotations

from typing import Any

import pulumi

from components.tenancy.namespaces import GovernedNamespace, NamespaceSpec
from config.tenancy import Tenant
from kit.labels import TENANT, metadata
from kit.shared import Shared

#: What a tenant admin may do in their own namespace: run kagent agents and read what they run.
ADMIN_RULES = [
    {
        "apiGroups": ["kagent.dev"],
        "resources": ["agents", "modelconfigs", "remotemcpservers", "mcpservers"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": [""],
        "resources": ["pods", "pods/log", "services", "configmaps", "events"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "patch"]},
    # no Secrets: a list returns their data, and the namespace holds its agents' data credentials
]
VIEWER_RULES = [
    {
        "apiGroups": ["kagent.dev"],
        "resources": ["agents", "modelconfigs", "remotemcpservers", "mcpservers"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
]


def rbac_objects(t: Tenant) -> list[dict[str, Any]]:
    """Roles ``tenant-admin`` / ``tenant-viewer`` in the tenant namespace, bound to the team's groups."""
    out: list[dict[str, Any]] = []
    for role, rules, groups in (
        ("tenant-admin", ADMIN_RULES, t.admin_groups),
        ("tenant-viewer", VIEWER_RULES, t.viewer_groups),
    ):
        labels = {TENANT: t.name}
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": metadata(role, t.namespace, labels),
                "rules": rules,
            }
        )
        if groups:
            out.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": metadata(f"{role}-binding", t.namespace, labels),
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups],
                }
            )
    return out


class TenantNamespace(pulumi.ComponentResource):
    def __init__(self, name: str, tenant: Tenant, shared: Shared, parent: pulumi.Resource | None = None):
        opts = pulumi.ResourceOptions(parent=parent) if parent is not None else shared.k8s_opts()
        super().__init__("agentic:platform:Tenant", name, None, opts)
        self.governed = GovernedNamespace(name, NamespaceSpec.for_tenant(tenant), shared, parent=self)
        scope = shared.scope(self, name, depends_on=(self.governed.namespace,))
        self.objects = [scope.apply(obj, name=obj["metadata"]["name"]) for obj in rbac_objects(tenant)]
        self.namespace = pulumi.Output.from_input(tenant.namespace)
        self.register_outputs({"namespace": self.namespace})
