"""Governed namespaces: one Namespace with its Pod Security labels, ResourceQuota, LimitRange and NetworkPolicies.

Network isolation is default-deny; the only allowed flows are those in :data:`FLOWS` (seed 001 and design §1):
gateway → agents/inference, agents → inference/data, tenants ↔ gateway/inference, tenants → the data stores they are
allowed, everyone → observability
(OTLP), observability → everyone (metrics scrape), DNS to kube-system, and HTTPS egress where a layer needs it
(inference: to the internet only, never private ranges).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from config.egress import IMDS, LINK_LOCAL, PRIVATE_RANGES
from config.tenancy import LayerNamespace, LimitRange, Quota, Tenant
from kit.labels import LAYER, NAMESPACE_NAME, TENANT, metadata, namespaces_in, pod_security_labels
from kit.shared import Shared

#: vLLM, agents and controllers, Prometheus-style exporters, Milvus, the Redis exporter, DCGM, agentgateway's
#: controller (9092) and proxies (15020)
METRICS_PORTS = [8000, 8080, 8889, 9090, 9091, 9092, 9121, 9400, 15020]  # 8889: the collector's span metrics
#: What Prometheus scrapes on the nodes' own addresses: node-exporter (host network) and the kubelet.
NODE_SCRAPE_PORTS = [9100, 10250]
OTLP_PORTS = [4317, 4318]

#: (source layer, destination layer, TCP ports). "tenant" stands for every tenant namespace, "*" for any namespace.
FLOWS: list[tuple[str, str, list[int]]] = [
    ("gateway", "agents", [8080]),
    ("gateway", "inference", [8000, 8080, 9002]),  # vLLM, TGI; llm-d endpoint pickers (InferencePool routing)
    ("gateway", "tenant", [8080]),
    ("agents", "inference", [8000, 8080]),
    ("agents", "data", [19530, 6379]),
    ("tenant", "inference", [8000, 8080]),
    ("tenant", "agents", [8080, 8083]),  # A2A to platform agents, kagent's controller API (8083)
    ("agents", "tenant", [8080]),  # kagent and platform agents call tenant agents over A2A
    ("agents", "gateway", [8080, 8090, 8443]),  # models through the gateway (Envoy: 8080/8443; AI gateway's MCP: 8090)
    ("tenant", "gateway", [8080, 8090, 8443]),
    ("*", "observability", OTLP_PORTS),
    ("keda", "observability", [9090]),  # KEDA's Prometheus scaler
    ("flagger", "observability", [9090]),  # Flagger's canary analysis
    ("observability", "*", METRICS_PORTS),
]

#: Data ports by store; a tenant reaches only those of the stores it is allowed (tenants[].allow).
DATA_PORTS = {"milvus": 19530, "redis": 6379}

#: Layers running controllers that watch the API server through its private endpoint (ENIs in the VPC).
#: kgateway and agentgateway; kagent's controller and the MCP tool server. (The llm-d endpoint pickers in the
#: inference namespace get a policy of their own: components.traffic.inference_pools.)
KUBE_API_CLIENTS = {"gateway", "agents"}
#: System namespaces whose servers the API server itself calls (metrics APIService, admission webhooks): ports.
KUBE_API_CALLBACKS: dict[str, list[int]] = {
    "keda": [6443, 9443],
    "external-secrets": [10250],
    "lws-system": [9443],  # the LeaderWorkerSet controller's admission webhooks (its pods and sets)
}

#: The EKS Pod Identity agent: pods with a Pod Identity role fetch credentials from this link-local address, which a
#: default-deny egress policy would block. Layers whose workloads carry such roles (external-secrets' operator,
#: Milvus on S3, model servers reading weights from S3, agents calling Bedrock) may reach it.
POD_IDENTITY_AGENT: dict[str, Any] = {"cidr": "169.254.170.23/32", "port": 80}
POD_IDENTITY_LAYERS = {
    "external-secrets",
    "data",
    "inference",
    "agents",
    "logging",
    "gateway",
}  # gateway: AI gateway to Bedrock

#: Layers that may open HTTPS connections leaving the cluster. ``True``: any address; ``False``: public only. Not
#: the agents layer nor tenants: each agent gets only what it needs (components.agents.egress).
HTTPS_EGRESS: dict[str, bool] = {
    "inference": False,
    "data": True,
    "observability": True,
    "gateway": False,
    "system": True,
    "keda": True,
    "flagger": True,
    "external-secrets": True,
    "logging": True,
    "lws-system": True,
}


#: Namespaces of platform controllers (Karpenter, KEDA, Flagger, external-secrets, Fluent Bit).
SYSTEM_LAYERS = {"system", "keda", "flagger", "external-secrets", "logging", "lws-system"}


@dataclass(frozen=True)
class NamespaceSpec:
    """What a governed namespace needs, whether it is a platform layer or a tenant."""

    name: str
    layer: str  # gateway | agents | inference | data | observability | tenant
    pod_security: str
    quota: Quota
    limit_range: LimitRange
    labels: dict[str, str]

    @staticmethod
    def for_layer(ns: LayerNamespace) -> NamespaceSpec:
        return NamespaceSpec(ns.name, ns.layer, ns.pod_security, ns.quota, ns.limit_range, dict(ns.labels))

    @staticmethod
    def for_tenant(t: Tenant) -> NamespaceSpec:
        return NamespaceSpec(t.namespace, "tenant", t.pod_security, t.quota, t.limit_range, {TENANT: t.name})


def _peers(layer: str, layer_namespaces: dict[str, str], tenant_namespaces: list[str]) -> list[str]:
    if layer == "tenant":
        return list(tenant_namespaces)
    if layer == "*":
        return []  # any namespace: expressed with an empty namespaceSelector
    ns = layer_namespaces.get(layer)
    return [ns] if ns else []


def _ns_peer(names: list[str]) -> dict:
    if not names:
        return {"namespaceSelector": {}}
    return {"namespaceSelector": namespaces_in(names)}


def _ports(ports: list[int]) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def quota_hard(q: Quota) -> dict[str, str]:
    hard = {
        "requests.cpu": q.requests_cpu,
        "requests.memory": q.requests_memory,
        "limits.cpu": q.limits_cpu,
        "limits.memory": q.limits_memory,
        "pods": str(q.pods),
        "services": str(q.services),
        "persistentvolumeclaims": str(q.persistentvolumeclaims),
        "requests.nvidia.com/gpu": str(q.gpus),
    }
    return hard


def network_policy_specs(
    me: NamespaceSpec,
    layer_namespaces: dict[str, str],
    tenant_namespaces: list[str],
    vpc_cidr: str | None = None,
    tenant_data: dict[str, list[int]] | None = None,
    vpc_services: dict[str, list[int]] | None = None,
) -> dict[str, dict]:
    """NetworkPolicy name -> spec for one namespace. Pure function: unit-tested without the engine.

    ``vpc_services``: namespace -> ports of AWS services inside the VPC it uses (ElastiCache, RDS).

    ``tenant_data``: the data ports each tenant namespace may reach (default: every data port for every tenant)."""
    if tenant_data is None:
        tenant_data = {ns: sorted(DATA_PORTS.values()) for ns in tenant_namespaces}
    specs: dict[str, dict] = {
        "default-deny-all": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
        "allow-same-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
    }
    for src, dst, ports in FLOWS:
        if dst in (me.layer, "*") and src != me.layer:
            peers = _peers(src, layer_namespaces, tenant_namespaces)
            if src != "*" and not peers:
                continue
            specs[f"allow-from-{src.replace('*', 'all')}"] = {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [_ns_peer(peers)], "ports": _ports(ports)}],
            }
        if src in (me.layer, "*") and dst != me.layer:
            peers = _peers(dst, layer_namespaces, tenant_namespaces)
            if dst != "*" and not peers:
                continue
            specs[f"allow-to-{dst.replace('*', 'all')}"] = {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [_ns_peer(peers)], "ports": _ports(ports)}],
            }
    data_ns = layer_namespaces.get("data")
    if me.layer == "data":
        rules = [
            {"from": [_ns_peer(allowed)], "ports": _ports([port])}
            for port in sorted(DATA_PORTS.values())
            if (allowed := sorted(ns for ns, ports in tenant_data.items() if port in ports))
        ]
        if rules:
            specs["allow-from-tenant"] = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": rules}
    if me.layer != "data" and data_ns and tenant_data.get(me.name):  # a tenant; the AI gateway's budget counter
        specs["allow-to-data"] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [_ns_peer([data_ns])], "ports": _ports(tenant_data[me.name])}],
        }
    if me.layer == "gateway":
        specs["allow-from-clients"] = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _ports([80, 443, 8080, 8090, 8443])}],
        }
    if me.layer in HTTPS_EGRESS:
        # Never the instance metadata service from a platform layer (its node role's credentials); system
        # controllers keep what their charts need.
        imds = [] if me.layer in SYSTEM_LAYERS else [IMDS]
        block: dict[str, Any] = (
            {"cidr": "0.0.0.0/0", "except": imds}
            if HTTPS_EGRESS[me.layer]
            else {"cidr": "0.0.0.0/0", "except": [*PRIVATE_RANGES, LINK_LOCAL]}
        )
        if not block["except"]:
            del block["except"]
        specs["allow-https-egress"] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": block}], "ports": _ports([443])}],
        }
    if vpc_cidr and (vpc_services or {}).get(me.name):
        specs["allow-vpc-services"] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": _ports(sorted((vpc_services or {})[me.name]))}
            ],
        }
    if me.layer == "observability" and vpc_cidr:
        specs["allow-scrape-nodes"] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": _ports(NODE_SCRAPE_PORTS)}],
        }
    if me.layer in POD_IDENTITY_LAYERS:
        specs["allow-pod-identity-agent"] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT["cidr"]}}],
                    "ports": _ports([POD_IDENTITY_AGENT["port"]]),
                }
            ],
        }
    if me.layer in KUBE_API_CALLBACKS and vpc_cidr:
        specs["allow-from-kube-api"] = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": _ports(KUBE_API_CALLBACKS[me.layer])}],
        }
    if me.layer in KUBE_API_CLIENTS and vpc_cidr:
        # kgateway's controller watches the API server; the private endpoint answers on 443 inside the VPC.
        specs["allow-kube-api"] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": _ports([443])}],
        }
    return specs


def system_namespace(name: str, pods: int = 20) -> NamespaceSpec:
    """A namespace for a platform controller (Karpenter, KEDA, Flagger): restricted Pod Security, a small quota."""
    return NamespaceSpec(
        name=name,
        layer=name if name in KUBE_API_CALLBACKS or name in ("keda", "flagger") else "system",
        pod_security="restricted",
        quota=Quota(
            requests_cpu="4",
            requests_memory="8Gi",
            limits_cpu="8",
            limits_memory="16Gi",
            pods=pods,
            services=10,
            persistentvolumeclaims=0,
        ),
        limit_range=LimitRange(max_cpu="4", max_memory="8Gi"),
        labels={},
    )


def namespace_objects(
    spec: NamespaceSpec,
    layer_namespaces: dict[str, str],
    tenant_namespaces: list[str],
    vpc_cidr: str | None = None,
    tenant_data: dict[str, list[int]] | None = None,
    vpc_services: dict[str, list[int]] | None = None,
) -> list[dict[str, Any]]:
    """The Namespace (Pod Security labels) and what governs it: ResourceQuota, LimitRange, NetworkPolicies."""
    labels = {LAYER: spec.layer, **pod_security_labels(spec.pod_security), **spec.labels}
    lr = spec.limit_range
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(spec.name, labels=labels)},
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": metadata(f"{spec.name}-quota", spec.name),
            "spec": {"hard": quota_hard(spec.quota)},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": metadata(f"{spec.name}-limits", spec.name),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": lr.default_cpu, "memory": lr.default_memory},
                        "defaultRequest": {"cpu": lr.default_request_cpu, "memory": lr.default_request_memory},
                        "max": {"cpu": lr.max_cpu, "memory": lr.max_memory},
                    }
                ]
            },
        },
    ]
    for policy, body in network_policy_specs(
        spec, layer_namespaces, tenant_namespaces, vpc_cidr, tenant_data, vpc_services
    ).items():
        objects.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": metadata(policy, spec.name),
                "spec": body,
            }
        )
    return objects


class GovernedNamespace(pulumi.ComponentResource):
    """A namespace nobody can misuse by accident: PSS labels, quota, limits, default-deny networking."""

    def __init__(self, name: str, spec: NamespaceSpec, shared: Shared, parent: pulumi.Resource | None = None):
        opts = pulumi.ResourceOptions(parent=parent) if parent is not None else shared.k8s_opts()
        super().__init__("agentic:platform:GovernedNamespace", name, None, opts)
        namespace, *governing = namespace_objects(
            spec,
            shared.namespaces,
            list(shared.tenant_namespaces),
            shared.vpc_cidr,
            shared.tenant_data,
            shared.vpc_services,
        )
        scope = shared.scope(self, name)
        self.namespace = scope.apply(namespace, name="ns")
        suffixes = {"ResourceQuota": "quota", "LimitRange": "limits"}
        self.children = [
            scope.apply(obj, name=suffixes.get(obj["kind"], obj["metadata"]["name"]), depends_on=[self.namespace])
            for obj in governing
        ]
        self.name = pulumi.Output.from_input(spec.name)
        self.register_outputs({"name": self.name})
