"""Scaling of agents from config (seed 000/001): an HPA on CPU 70 % / memory 80 % that scales up fast and down
slowly, or KEDA on ``agent_active_sessions`` through Prometheus, or KEDA on the length of a Redis list (with a
TriggerAuthentication reading the Redis URL's Secret). Each targets the Deployment kagent names after the agent;
the Agent then leaves ``replicas`` unset so the autoscaler owns it. Pure builders."""

from __future__ import annotations

from typing import Any

from catalog import versions
from config.agents import Agent
from config.data import redis_key_prefix
from kit.labels import metadata

#: Seed 000: scale up at once (100 % or 4 pods per 15 s, whichever is more), down by 10 % a minute after 5 minutes.
BEHAVIOR = {
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15},
            {"type": "Pods", "value": 4, "periodSeconds": 15},
        ],
    },
    "scaleDown": {
        "stabilizationWindowSeconds": 300,
        "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
    },
}
SESSIONS_QUERY = 'sum(agent_active_sessions{{namespace="{ns}", agent_name="{agent}"}})'


def _target(a: Agent) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": a.name}


def hpa(a: Agent, namespace: str) -> dict[str, Any]:
    sc = a.scaling
    assert sc is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(a.name, namespace),
        "spec": {
            "scaleTargetRef": _target(a),
            "minReplicas": sc.min_replicas,
            "maxReplicas": sc.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": sc.target_cpu_utilization},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": sc.target_memory_utilization},
                    },
                },
            ],
            "behavior": BEHAVIOR,
        },
    }


def keda_objects(a: Agent, namespace: str, prometheus: str, redis_tls: bool = False) -> list[dict[str, Any]]:
    sc = a.scaling
    assert sc is not None
    out: list[dict[str, Any]] = []
    if sc.kind == "keda-sessions":
        trigger = {
            "type": "prometheus",
            "metadata": {
                "serverAddress": prometheus,
                "query": SESSIONS_QUERY.format(ns=namespace, agent=a.name),
                "threshold": str(sc.sessions_per_replica),
            },
        }
    else:
        auth = f"{a.name}-redis"
        out.append(
            {
                "apiVersion": versions.KEDA_API,
                "kind": "TriggerAuthentication",
                "metadata": metadata(auth, namespace),
                "spec": {
                    "secretTargetRef": [
                        {"parameter": "address", "name": "redis-connection", "key": "REDIS_ADDRESS"},
                        {"parameter": "username", "name": "redis-connection", "key": "REDIS_USERNAME"},
                        {"parameter": "password", "name": "redis-connection", "key": "REDIS_PASSWORD"},
                    ]
                },
            }
        )
        trigger = {
            "type": "redis",
            "metadata": {
                "listName": redis_key_prefix(namespace) + str(sc.list_name),  # its user sees its prefix only
                "listLength": str(sc.list_length),
                "enableTLS": "true" if redis_tls else "false",
            },
            "authenticationRef": {"name": auth},
        }
    out.append(
        {
            "apiVersion": versions.KEDA_API,
            "kind": "ScaledObject",
            "metadata": metadata(a.name, namespace),
            "spec": {
                "scaleTargetRef": {"name": a.name},
                "minReplicaCount": sc.min_replicas,
                "maxReplicaCount": sc.max_replicas,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": BEHAVIOR}},
                "triggers": [trigger],
            },
        }
    )
    return out


def scaling_objects(a: Agent, namespace: str, prometheus: str, redis_tls: bool = False) -> list[dict[str, Any]]:
    if a.scaling is None:
        return []
    return [hpa(a, namespace)] if a.scaling.kind == "hpa" else keda_objects(a, namespace, prometheus, redis_tls)
