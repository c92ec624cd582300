"""The LeaderWorkerSet controller (kubernetes-sigs/lws, pinned chart) for multi-node models: installed only when a
model spans nodes, in its own ``lws-system`` namespace (restricted Pod Security, quota, default-deny NetworkPolicies
with the API server's webhook calls on 9443 let in), on the system nodes. Its webhooks inject the group's
environment (``LWS_LEADER_ADDRESS``, ``LWS_WORKER_INDEX``) and exclusive-topology affinity into the model pods."""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.tenancy.namespaces import GovernedNamespace, system_namespace
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION
from kit.shared import Shared

NAMESPACE = "lws-system"
RELEASE = "lws"


class _Manager(HelmValues):
    repository: str
    tag: str
    pull_policy: str


class _Image(HelmValues):
    manager: _Manager


class LwsValues(HelmValues):
    replica_count: int
    image: _Image
    enable_prometheus: bool
    enable_cert_manager: bool
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    resources: dict[str, dict[str, str]]


def lws_values(ha: bool) -> LwsValues:
    """The chart's committed values name image tag ``main`` (its release script rewrites it): pin the tag here.
    Its webhook certificates come from the controller's own rotation (no cert-manager)."""
    return LwsValues(
        replica_count=2 if ha else 1,
        image=_Image(
            manager=_Manager(
                repository="registry.k8s.io/lws/lws", tag=f"v{versions.LWS.version}", pull_policy="IfNotPresent"
            )
        ),
        enable_prometheus=False,
        enable_cert_manager=False,
        node_selector=dict(SYSTEM_LABELS),
        tolerations=[SYSTEM_TOLERATION],
        resources={"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    )


class LeaderWorkerSetController(pulumi.ComponentResource):
    def __init__(self, name: str, shared: Shared, after: tuple[Any, ...] = ()):
        super().__init__("agentic:k8s:LeaderWorkerSet", name, None, shared.k8s_opts())
        self.namespace = GovernedNamespace(f"{name}-ns", system_namespace(NAMESPACE), shared, parent=self)
        scope = shared.scope(self, name, NAMESPACE, depends_on=(self.namespace, *shared.cluster_ready, *after))
        self.release = release(
            f"{name}-chart",
            versions.LWS,
            release_name=RELEASE,
            namespace=NAMESPACE,
            values=lws_values(shared.high_availability),
            opts=scope.opts(),
        )
        self.register_outputs({})
