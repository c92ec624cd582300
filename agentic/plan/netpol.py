"""NetworkPolicy semantics, small and explicit: can a pod in namespace A reach a pod (or an address) in namespace B on
port P, given the rendered NetworkPolicies? Both sides are evaluated as Kubernetes does: the source's egress and the
destination's ingress, each allowing everything until some policy of that type selects the pod, then only what one
of the selecting policies' rules admits (peers: namespaceSelector AND podSelector, ipBlock with excepts; ports).

ipBlock against pod addresses is implementation-defined in Kubernetes; here pods have addresses in the VPC (the VPC
CNI gives them VPC IPs), so an ipBlock admits them when they fall inside it: the conservative reading for "is this
flow denied?" checks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

NAMESPACE_NAME = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Endpoint:
    namespace: str | None  # None: outside the cluster (then ``ip`` is required)
    labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], set(e.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _in_block(ip: str | None, block: dict[str, Any]) -> bool:
    if ip is None:
        return False
    addr = ipaddress.ip_address(ip)
    if addr not in ipaddress.ip_network(block["cidr"]):
        return False
    return not any(addr in ipaddress.ip_network(x) for x in block.get("except") or [])


class Cluster:
    def __init__(self, policies: list[dict[str, Any]], namespace_labels: dict[str, dict[str, str]]):
        self.policies = policies
        self.ns_labels = {ns: {NAMESPACE_NAME: ns, **labels} for ns, labels in namespace_labels.items()}

    def _peer_matches(self, peer: dict[str, Any], policy_ns: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            return _in_block(other.ip, peer["ipBlock"])
        if other.namespace is None:
            return False
        ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
        if ns_sel is not None:
            if not _selects(ns_sel, self.ns_labels.get(other.namespace, {NAMESPACE_NAME: other.namespace})):
                return False
        elif other.namespace != policy_ns:
            return False  # a podSelector alone means the policy's own namespace
        return pod_sel is None or _selects(pod_sel, other.labels)

    @staticmethod
    def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
        if not ports:
            return True
        for p in ports:
            if p.get("protocol", "TCP") != protocol:
                continue
            start = p.get("port")
            if start is None or (start == port if p.get("endPort") is None else start <= port <= p["endPort"]):
                return True
        return False

    def _allowed(self, direction: str, me: Endpoint, other: Endpoint, port: int, protocol: str) -> bool:
        if me.namespace is None:
            return True  # outside the cluster: no NetworkPolicy applies
        kind = "Ingress" if direction == "ingress" else "Egress"
        selecting = [
            p
            for p in self.policies
            if p["metadata"]["namespace"] == me.namespace
            and kind in p["spec"].get("policyTypes", [])
            and _selects(p["spec"].get("podSelector", {}), me.labels)
        ]
        if not selecting:
            return True
        key = "from" if direction == "ingress" else "to"
        for p in selecting:
            for rule in p["spec"].get(direction) or []:
                peers = rule.get(key)
                if peers is not None and not any(self._peer_matches(x, me.namespace, other) for x in peers):
                    continue
                if self._port_matches(rule.get("ports"), port, protocol):
                    return True
        return False

    def can_reach(self, src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return self._allowed("egress", src, dst, port, protocol) and self._allowed("ingress", dst, src, port, protocol)


def from_objects(objects: list[dict[str, Any]]) -> Cluster:
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    labels = {
        o["metadata"]["name"]: dict(o["metadata"].get("labels") or {}) for o in objects if o.get("kind") == "Namespace"
    }
    return Cluster(policies, labels)
