"""Spend budgets of the AI gateway's virtual keys (``gateway.ai.keys[].budget_usd_per_day``).

agentgateway 1.4 prices every answer from its model cost catalog (``llm.cost.total``, USD) but keeps no spend of its
own (1.5 added a database for that). Its global rate limit does the counting instead: after each answer the proxy
sends the key's consumer with the cost in micro-dollars as the hit count to Envoy's rate limit service, which keeps
one counter per consumer and UTC day in the platform's Redis (its own ACL user, keys ``ai-budgets:*``) and refuses
the key's calls (HTTP 429) once the day's budget is spent. Prices come from ``gateway.ai.providers[].price`` only.
"""

from __future__ import annotations

from typing import Any

import pulumi
import yaml

from catalog import versions
from components.traffic.kgateway import RESTRICTED_CONTAINER, RESTRICTED_POD
from config.ai_gateway import AiGateway, AiKey
from config.data import BUDGETS_REDIS_USER
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata
from kit.shared import Shared

DOMAIN = "ai-budgets"
GRPC_PORT = 8081
HTTP_PORT = 8080  # health check (and /json)
METRICS_PORT = 9090
MICRO_USD = 1_000_000
#: The hit count of one answer: its realized cost in micro-dollars (agentgateway needs an unsigned integer).
COST = f"uint(llm.cost.total * {float(MICRO_USD)})"
CONFIG_DIR = "/data/ratelimit/config"


def service_name(ai: AiGateway) -> str:
    return f"{ai.name}-budgets"


def budgeted(ai: AiGateway) -> list[AiKey]:
    return [k for k in ai.keys if k.budget_usd_per_day]


def limit_of(key: AiKey) -> int:
    """The day's limit in micro-dollars (config caps it below uint32)."""
    return round((key.budget_usd_per_day or 0) * MICRO_USD)


def service_config(ai: AiGateway) -> str:
    """The rate limit service's configuration: one descriptor per budgeted consumer, a day's window each."""
    descriptors = [
        {"key": "consumer", "value": k.consumer, "rate_limit": {"unit": "day", "requests_per_unit": limit_of(k)}}
        for k in budgeted(ai)
    ]
    return yaml.safe_dump({"domain": DOMAIN, "descriptors": descriptors}, sort_keys=False)


def global_limit(ai: AiGateway) -> dict[str, Any]:
    """The ``global`` half of a budgeted key's rate limit entry (the conditional entry picks the key)."""
    return {
        "backendRef": {"name": service_name(ai), "port": GRPC_PORT},
        "domain": DOMAIN,
        "failureMode": ai.budget_failure_mode,
        "descriptors": [
            {"entries": [{"name": "consumer", "expression": "apiKey.consumer"}], "unit": "Tokens", "cost": COST}
        ],
    }


def service_objects(ai: AiGateway, namespace: str, replicas: int) -> list[dict[str, Any]]:
    """ConfigMap, Deployment and Service of the rate limit service, on the system nodes, reading Redis as its own
    user from Secret ``ai-budgets-redis`` (config.data.BUDGETS_REDIS_USER)."""
    name = service_name(ai)
    labels = {"app.kubernetes.io/name": "ratelimit", "app.kubernetes.io/instance": name}
    env = [
        {"name": "REDIS_SOCKET_TYPE", "value": "tcp"},
        *(
            {"name": var, "valueFrom": {"secretKeyRef": {"name": f"{BUDGETS_REDIS_USER}-redis", "key": var}}}
            for var in ("REDIS_URL", "REDIS_AUTH", "REDIS_TLS")
        ),
        {"name": "CACHE_KEY_PREFIX", "value": f"{BUDGETS_REDIS_USER}:"},
        {"name": "RUNTIME_ROOT", "value": "/data"},
        {"name": "RUNTIME_SUBDIRECTORY", "value": "ratelimit"},
        {"name": "RUNTIME_APPDIRECTORY", "value": "config"},
        {"name": "RUNTIME_WATCH_ROOT", "value": "false"},
        {"name": "RUNTIME_IGNOREDOTFILES", "value": "true"},
        {"name": "USE_STATSD", "value": "false"},
        {"name": "USE_PROMETHEUS", "value": "true"},
        {"name": "PROMETHEUS_ADDR", "value": f":{METRICS_PORT}"},
        {"name": "LOG_FORMAT", "value": "json"},
    ]
    container = {
        "name": "ratelimit",
        "image": versions.RATELIMIT_IMAGE,
        "command": ["/bin/ratelimit"],
        "env": env,
        "ports": [
            {"name": "grpc", "containerPort": GRPC_PORT},
            {"name": "http", "containerPort": HTTP_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
        ],
        "imagePullPolicy": "Always",
        "readinessProbe": {"httpGet": {"path": "/healthcheck", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthcheck", "port": "http"}, "periodSeconds": 20},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(name, namespace, labels),
            "data": {"budgets.yaml": service_config(ai)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(name, namespace, labels),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": {**RESTRICTED_POD, "runAsUser": 65532, "runAsGroup": 65532},
                        "nodeSelector": dict(SYSTEM_LABELS),
                        "tolerations": [SYSTEM_TOLERATION],
                        "containers": [container],
                        "volumes": [{"name": "config", "configMap": {"name": name}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(name, namespace, labels),
            "spec": {
                "selector": dict(labels),
                "ports": [
                    {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "appProtocol": "kubernetes.io/h2c"},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
                ],
            },
        },
    ]


class AiBudgets(pulumi.ComponentResource):
    """The budget counter, after Redis (its connection Secret comes from the Redis component)."""

    def __init__(
        self,
        name: str,
        ai: AiGateway,
        replicas: int,
        shared: Shared,
        after: tuple[pulumi.Resource, ...],
        parent: pulumi.Resource | None = None,
    ):
        """``parent``: the AI gateway's component (one node in the diagram)."""
        super().__init__("agentic:k8s:AiBudgets", name, None, shared.k8s_opts(parent=parent))
        ns = shared.namespaces["gateway"]
        scope = shared.scope(self, name, ns, depends_on=(shared.namespace_resources["gateway"], *after))
        for obj in service_objects(ai, ns, replicas):
            scope.apply(obj)
        self.register_outputs({})
