"""Governed namespaces: one Namespace with its Pod Security labels, ResourceQuota, LimitRange and NetworkPolicies.

Network isolation is default-deny; the only allowed flows are those in :data:`FLOWS` (seed 001 and design §1):
gateway → agents/inference, agents → inference/data, tenants ↔ gateway/inference/data, everyone → observability
(OTLP), observability → everyone (metrics scrape), DNS to kube-system, and HTTPS egress where a layer needs it
(inference: to the internet only, never private ranges).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from stacks.config import LayerNamespace, LimitRange, Quota, Tenant

NAME_LABEL = "kubernetes.io/metadata.name"
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
METRICS_PORTS = [8000, 8080, 9090, 9400]  # vLLM, agents, exporters, DCGM
OTLP_PORTS = [4317, 4318]

#: (source layer, destination layer, TCP ports). "tenant" stands for every tenant namespace, "*" for any namespace.
FLOWS: list[tuple[str, str, list[int]]] = [
    ("gateway", "agents", [8080]),
    ("gateway", "inference", [8000]),
    ("gateway", "tenant", [8080]),
    ("agents", "inference", [8000]),
    ("agents", "data", [19530, 6379]),
    ("tenant", "inference", [8000]),
    ("tenant", "data", [19530, 6379]),
    ("tenant", "agents", [8080]),
    ("*", "observability", OTLP_PORTS),
    ("observability", "*", METRICS_PORTS),
]

#: Layers that may open HTTPS connections leaving the cluster. ``True``: any address; ``False``: public only.
HTTPS_EGRESS: dict[str, bool] = {"agents": True, "inference": False, "data": True, "observability": True,
                                 "gateway": False, "system": True}

POD_SECURITY_VERSION = "latest"


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
    def for_layer(ns: LayerNamespace) -> "NamespaceSpec":
        return NamespaceSpec(ns.name, ns.layer, ns.pod_security, ns.quota, ns.limit_range, dict(ns.labels))

    @staticmethod
    def for_tenant(t: Tenant) -> "NamespaceSpec":
        return NamespaceSpec(
            t.namespace, "tenant", t.pod_security, t.quota, t.limit_range, {"agentic.platform/tenant": t.name}
        )


@dataclass(frozen=True)
class GovernedNamespaceArgs:
    spec: NamespaceSpec
    #: layer -> namespace name, for every platform layer; plus all tenant namespace names
    layer_namespaces: dict[str, str]
    tenant_namespaces: list[str]


def _peers(layer: str, args: GovernedNamespaceArgs) -> list[str]:
    if layer == "tenant":
        return list(args.tenant_namespaces)
    if layer == "*":
        return []  # any namespace: expressed with an empty namespaceSelector
    ns = args.layer_namespaces.get(layer)
    return [ns] if ns else []


def _ns_peer(names: list[str]) -> dict:
    if not names:
        return {"namespaceSelector": {}}
    return {"namespaceSelector": {"matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": sorted(names)}]}}


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


def network_policy_specs(args: GovernedNamespaceArgs) -> dict[str, dict]:
    """NetworkPolicy name -> spec for one namespace. Pure function: unit-tested without the engine."""
    me = args.spec
    specs: dict[str, dict] = {
        "default-deny-all": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {NAME_LABEL: "kube-system"}},
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
            peers = _peers(src, args)
            if src != "*" and not peers:
                continue
            specs[f"allow-from-{src.replace('*', 'all')}"] = {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [_ns_peer(peers)], "ports": _ports(ports)}],
            }
        if src in (me.layer, "*") and dst != me.layer:
            peers = _peers(dst, args)
            if dst != "*" and not peers:
                continue
            specs[f"allow-to-{dst.replace('*', 'all')}"] = {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [_ns_peer(peers)], "ports": _ports(ports)}],
            }
    if me.layer == "gateway":
        specs["allow-from-clients"] = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _ports([80, 443, 8080, 8443])}],
        }
    if me.layer in HTTPS_EGRESS:
        block = {"cidr": "0.0.0.0/0"} if HTTPS_EGRESS[me.layer] else {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}
        specs["allow-https-egress"] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": block}], "ports": _ports([443])}],
        }
    return specs


class GovernedNamespace(pulumi.ComponentResource):
    """A namespace nobody can misuse by accident: PSS labels, quota, limits, default-deny networking."""

    def __init__(self, name: str, args: GovernedNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:platform:GovernedNamespace", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            "app.kubernetes.io/managed-by": "pulumi",
            "agentic.platform/layer": spec.layer,
            "pod-security.kubernetes.io/enforce": spec.pod_security,
            "pod-security.kubernetes.io/enforce-version": POD_SECURITY_VERSION,
            "pod-security.kubernetes.io/warn": spec.pod_security,
            "pod-security.kubernetes.io/audit": spec.pod_security,
            **spec.labels,
        }
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns", metadata={"name": spec.name, "labels": labels}, opts=child
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        meta = lambda n: {"name": n, "namespace": spec.name, "labels": {"app.kubernetes.io/managed-by": "pulumi"}}  # noqa: E731
        self.quota = k8s.core.v1.ResourceQuota(
            f"{name}-quota", metadata=meta(f"{spec.name}-quota"), spec={"hard": quota_hard(spec.quota)}, opts=in_ns
        )
        lr = spec.limit_range
        self.limit_range = k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta(f"{spec.name}-limits"),
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": lr.default_cpu, "memory": lr.default_memory},
                        "defaultRequest": {"cpu": lr.default_request_cpu, "memory": lr.default_request_memory},
                        "max": {"cpu": lr.max_cpu, "memory": lr.max_memory},
                    }
                ]
            },
            opts=in_ns,
        )
        self.network_policies = [
            k8s.networking.v1.NetworkPolicy(f"{name}-{policy}", metadata=meta(policy), spec=body, opts=in_ns)
            for policy, body in network_policy_specs(args).items()
        ]
        self.name = pulumi.Output.from_input(spec.name)
        self.register_outputs({"name": self.name})
