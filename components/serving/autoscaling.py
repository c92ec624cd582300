"""KEDA: autoscaling of model servers on the engine's queue depth through Prometheus. A ScaledObject owns the replica
count of its Deployment (the Deployment sets none); the HPA KEDA creates scales up fast and down slowly."""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.observability.monitoring import prometheus_url
from components.serving.models import deployment_name
from components.tenancy.namespaces import GovernedNamespace, system_namespace
from config.serving import Model
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata
from kit.shared import Shared

NAMESPACE = "keda"
#: engine -> PromQL of requests waiting for a slot, per model (labels added by the model's ServiceMonitor).
QUEUE_QUERIES = {
    "vllm": 'sum(vllm:num_requests_waiting{{namespace="{ns}", model_name="{model}"}})',
    "tgi": 'sum(tgi_queue_size{{namespace="{ns}", service=~"{model}-.*"}})',
}


def scaled_object(m: Model, namespace: str, prometheus: str) -> dict[str, Any]:
    assert m.autoscaling is not None
    a = m.autoscaling
    return {
        "apiVersion": versions.KEDA_API,
        "kind": "ScaledObject",
        "metadata": metadata(m.name, namespace),
        "spec": {
            # a multi-node model scales whole groups through its LeaderWorkerSet's scale subresource
            "scaleTargetRef": (
                {"apiVersion": versions.LWS_API, "kind": "LeaderWorkerSet", "name": deployment_name(m)}
                if m.multi_node
                else {"name": deployment_name(m)}
            ),
            "minReplicaCount": a.min_replicas,
            "maxReplicaCount": a.max_replicas,
            "cooldownPeriod": a.cooldown_seconds,
            "pollingInterval": a.polling_interval_seconds,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleUp": {
                            "stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 60}],
                        },
                        "scaleDown": {
                            "stabilizationWindowSeconds": a.scale_down_stabilization_seconds,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
                        },
                    }
                }
            },
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": prometheus,
                        "query": QUEUE_QUERIES[m.engine].format(ns=namespace, model=m.name),
                        "threshold": str(a.queue_depth_target),
                    },
                }
            ],
        },
    }


class _Operator(HelmValues):
    replica_count: int


class KedaValues(HelmValues):
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    operator: _Operator


class Autoscaling(pulumi.ComponentResource):
    def __init__(self, name: str, models: list[Model], shared: Shared):
        super().__init__("agentic:k8s:Autoscaling", name, None, shared.k8s_opts())
        self.namespace = GovernedNamespace(f"{name}-ns", system_namespace(NAMESPACE), shared, parent=self)
        scope = shared.scope(self, name, NAMESPACE, depends_on=(self.namespace, *shared.cluster_ready))
        values = KedaValues(
            node_selector=dict(SYSTEM_LABELS),
            tolerations=[SYSTEM_TOLERATION],
            operator=_Operator(replica_count=2 if shared.high_availability else 1),
        )
        self.release = release(
            f"{name}-keda", versions.KEDA, release_name="keda", namespace=NAMESPACE, values=values, opts=scope.opts()
        )
        inference = shared.namespaces["inference"]
        prometheus = prometheus_url(shared.namespaces["observability"])
        objects = shared.scope(self, name, inference, depends_on=(self.release,))
        self.scaled = {}
        for m in models:
            if m.autoscaling:
                self.scaled[m.name] = objects.apply(scaled_object(m, inference, prometheus))
                if m.autoscaling.min_replicas == 0:
                    shared.notes.add(
                        f"model '{m.name}' scales to zero (dev only): with no replica there is no queue to measure, "
                        f"so it wakes when scaled by hand (kubectl -n {inference} scale deploy/{deployment_name(m)} "
                        "--replicas=1); a gateway-side wake-up trigger is not built yet."
                    )
        self.register_outputs({})
