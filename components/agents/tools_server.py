"""The platform's own MCP tool server: ``agent-runtime mcp`` from the platform image as Deployment + Service
``kube-agent-mcp`` in the agents namespace, with its own ServiceAccount and, in each namespace config allows, the Role
seed 003 §4 lists: read pods, logs, events, services, deployments and configmaps; patch deployments (restart) and
their scale. No access to Secrets: RBAC cannot grant Secret names without their data (config refuses the tool)."""

from __future__ import annotations

from typing import Any

from components.agents.kagent_v0_10 import RUNTIME_UID, TOOLS_PORT, TOOLS_SERVER
from config.agents import McpServer
from kit.labels import NAME, metadata

LABELS = {NAME: TOOLS_SERVER}
RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods", "pods/log", "events", "services", "configmaps"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
]


def scope_namespaces(server: McpServer, agents_ns: str) -> list[str]:
    return sorted(set(server.namespaces) or {agents_ns})


def tools_server_objects(
    server: McpServer, agents_ns: str, image: Any, env: dict[str, str], replicas: int
) -> list[dict[str, Any]]:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(TOOLS_SERVER, agents_ns, LABELS)}
    container_env = [
        {"name": "KUBE_AGENT_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        *({"name": k, "value": v} for k, v in sorted(env.items())),
    ]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(TOOLS_SERVER, agents_ns, LABELS),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": TOOLS_SERVER,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUNTIME_UID,
                        "runAsGroup": RUNTIME_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "mcp",
                            "image": image,
                            "args": ["mcp", "--port", str(TOOLS_PORT)],
                            "ports": [{"name": "http", "containerPort": TOOLS_PORT}],
                            "env": container_env,
                            "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10},
                            "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 20},
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(TOOLS_SERVER, agents_ns, LABELS),
        "spec": {
            "selector": dict(LABELS),
            "ports": [{"name": "http", "port": TOOLS_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    out: list[dict[str, Any]] = [sa, deployment, service]
    for ns in scope_namespaces(server, agents_ns):
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": metadata(f"{TOOLS_SERVER}-tools", ns, LABELS),
                "rules": RULES,
            }
        )
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": metadata(f"{TOOLS_SERVER}-tools", ns, LABELS),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{TOOLS_SERVER}-tools"},
                "subjects": [{"kind": "ServiceAccount", "name": TOOLS_SERVER, "namespace": agents_ns}],
            }
        )
    return out
