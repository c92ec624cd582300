"""Every label, annotation and taint key the platform writes, plus helpers for object metadata and tolerations.

One module, so a reader finds what a key means and who sets it in one place (kagent's translator does the same).
"""

from __future__ import annotations

from typing import Any

# --- label keys ----------------------------------------------------------------------------------------------------
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "pulumi"
PART_OF = "app.kubernetes.io/part-of"
PLATFORM = "agentic-platform"
NAME = "app.kubernetes.io/name"
NAMESPACE_NAME = "kubernetes.io/metadata.name"  # set by the API server on every namespace
LAYER = "agentic.platform/layer"
TENANT = "agentic.platform/tenant"
POOL = "agentic.platform/pool"  # node label of Karpenter pools, also an EC2 tag
SYSTEM_NODE_ROLE = "node.agentic.platform/role"
GPU_PRESENT = "nvidia.com/gpu.present"
KARPENTER_DISCOVERY = "karpenter.sh/discovery"

#: Pod Security admission labels (https://kubernetes.io/docs/concepts/security/pod-security-admission/)
POD_SECURITY_MODES = ("enforce", "warn", "audit")
POD_SECURITY_VERSION = "latest"

#: Label prefixes the platform owns: user-supplied labels may not set them.
RESERVED_PREFIXES = (
    "pod-security.kubernetes.io/",
    "agentic.platform/",
    "kubernetes.io/",
    "app.kubernetes.io/managed-by",
)

# --- nodes: labels and taints ----------------------------------------------------------------------------------------
SYSTEM_LABELS = {SYSTEM_NODE_ROLE: "system"}
SYSTEM_TAINT_KEY = "CriticalAddonsOnly"
GPU_TAINT_KEY = "nvidia.com/gpu"
#: The system node group's taint in the EKS API's spelling (aws.eks.NodeGroup).
SYSTEM_TAINT_EKS = {"key": SYSTEM_TAINT_KEY, "value": "true", "effect": "NO_SCHEDULE"}
#: The GPU pools' taint in the Kubernetes spelling (Karpenter NodePool).
GPU_TAINT = {"key": GPU_TAINT_KEY, "value": "true", "effect": "NoSchedule"}
#: Tolerations that let a pod onto the system nodes / GPU nodes.
SYSTEM_TOLERATION = {"key": SYSTEM_TAINT_KEY, "operator": "Exists"}
GPU_TOLERATION = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}


def managed(labels: dict[str, str] | None = None) -> dict[str, str]:
    """The labels every object the platform creates carries, plus ``labels``."""
    return {MANAGED_BY: MANAGER, PART_OF: PLATFORM, **(labels or {})}


def metadata(
    name: str,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = managed(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def pod_security_labels(level: str) -> dict[str, str]:
    labels = {f"pod-security.kubernetes.io/{mode}": level for mode in POD_SECURITY_MODES}
    labels["pod-security.kubernetes.io/enforce-version"] = POD_SECURITY_VERSION
    return labels


def match_labels(labels: dict[str, str]) -> dict[str, Any]:
    return {"matchLabels": dict(labels)}


def namespaces_in(names: list[str]) -> dict[str, Any]:
    """A namespaceSelector for exactly these namespaces (by the API server's own name label)."""
    return {"matchExpressions": [{"key": NAMESPACE_NAME, "operator": "In", "values": sorted(names)}]}


def node_affinity_in(key: str, values: list[str]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": "In", "values": sorted(values)}]}]
            }
        }
    }


def restricted_security_context(uid: int, gid: int | None = None) -> dict[str, Any]:
    """A container ``securityContext`` that Pod Security "restricted" admits: a non-root high UID, a read-only root
    file system (writable paths are volumes), no privilege escalation, no capabilities, the default seccomp profile."""
    ctx: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": uid}
    if gid is not None:
        ctx["runAsGroup"] = gid
    return {
        **ctx,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
