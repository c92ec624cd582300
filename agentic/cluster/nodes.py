"""Nodes shaped like a stack's pools, for the scheduler to bind to (there is no kubelet: bound pods never run).

Each Karpenter pool of the config becomes Node objects of one instance type from the catalog (capacity: cpu,
memory, pods, ``nvidia.com/gpu``, ``vpc.amazonaws.com/efa`` on EFA pools; labels: ``karpenter.sh/nodepool``, instance type, zone, capacity type, the pool's
own labels from its rendered NodePool; taints from the NodePool), as many as the pool's limits allow (at most
``MAX_PER_POOL``); the system node group adds ``desired_size`` nodes with its taint. A heartbeat process renews each
node's Lease so the node lifecycle controller keeps them Ready.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.instances import GPU_INSTANCES, NODE_SHAPES
from kit.labels import SYSTEM_LABELS, SYSTEM_TAINT_KEY

SIMULATED = "agentic.test/simulated-node"
EFA = "vpc.amazonaws.com/efa"
MAX_PER_POOL = 4
MAX_PODS = 110  # the kubelet's default; EKS' per-ENI figures differ by instance type and are not modelled


@dataclass
class NodeSpec:
    name: str
    pool: str
    instance_type: str
    vcpus: int
    memory_gib: int
    gpus: int
    zone: str
    capacity_type: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    efa: int = 0  # EFA interfaces the device plugin advertises (pools with efa: true)

    def manifest(self) -> dict[str, Any]:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": self.instance_type,
            "topology.kubernetes.io/zone": self.zone,
            "topology.kubernetes.io/region": self.zone[:-1],
            SIMULATED: "true",
            **self.labels,
        }
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
            "spec": {"taints": self.taints} if self.taints else {},
        }

    def status(self) -> dict[str, Any]:
        # allocatable as the kubelet reports it on EKS: capacity less system/kube reserved (approximated)
        capacity = {"cpu": str(self.vcpus), "memory": f"{self.memory_gib}Gi", "pods": str(MAX_PODS)}
        allocatable = {
            "cpu": f"{self.vcpus * 1000 - 100 - (self.vcpus // 4) * 10}m",
            "memory": f"{self.memory_gib * 1024 - 1024}Mi",
            "pods": str(MAX_PODS),
        }
        if self.gpus:
            capacity["nvidia.com/gpu"] = allocatable["nvidia.com/gpu"] = str(self.gpus)
        if self.efa:
            capacity[EFA] = allocatable[EFA] = str(self.efa)
        now = _now()
        return {
            "status": {
                "capacity": capacity,
                "allocatable": allocatable,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "simulated node (no kubelet): kept Ready by the harness",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    },
                    *(
                        {
                            "type": t,
                            "status": "False",
                            "reason": "KubeletHasNo" + t.removesuffix("Pressure") + "Pressure",
                            "lastHeartbeatTime": now,
                            "lastTransitionTime": now,
                        }
                        for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
                    ),
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "kubeletVersion": "v1.35.4",
                    "kubeProxyVersion": "",
                    "containerRuntimeVersion": "containerd://2.1.0",
                    "kernelVersion": "6.12.0",
                    "osImage": "Amazon Linux 2023 (simulated)",
                    "machineID": self.name,
                    "systemUUID": self.name,
                    "bootID": self.name,
                },
            }
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _zones(cfg: Any) -> list[str]:
    net = cfg.network
    if net.availability_zones:
        return list(net.availability_zones)
    return [f"{cfg.aws.region}{c}" for c in "abcdef"[: net.az_count]]


def _nodepool_template(objects: list[dict[str, Any]], name: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    for o in objects:
        if o.get("kind") == "NodePool" and o["metadata"]["name"] == name:
            tmpl = o["spec"]["template"]
            return dict((tmpl.get("metadata") or {}).get("labels") or {}), list(tmpl["spec"].get("taints") or [])
    return {}, []


def node_specs(cfg: Any, objects: list[dict[str, Any]]) -> list[NodeSpec]:
    """Nodes for a platform config (``config.Platform``) and its rendered objects (the NodePools' labels/taints)."""
    zones = _zones(cfg)
    specs: list[NodeSpec] = []
    ng = cfg.cluster.system_node_group
    shape = NODE_SHAPES[ng.instance_types[0]]
    for i in range(ng.desired_size):
        specs.append(
            NodeSpec(
                f"system-{i}",
                "system",
                shape.name,
                shape.vcpus,
                shape.memory_gib,
                0,
                zones[i % len(zones)],
                "on-demand",
                {
                    **SYSTEM_LABELS,
                    "eks.amazonaws.com/nodegroup": "system",
                    "eks.amazonaws.com/capacityType": "ON_DEMAND",
                },
                [{"key": SYSTEM_TAINT_KEY, "value": "true", "effect": "NoSchedule"}],
            )
        )
    for pool in cfg.gpu_pools:
        counts = set(pool.gpu_counts) or {1, 2, 4, 8}
        candidates = [t for t in GPU_INSTANCES.values() if t.family in pool.instance_families and t.gpus in counts]
        itype = max(candidates, key=lambda t: (t.gpus, t.vcpus))  # the largest: a pod that fits anywhere fits it
        n = max(1, min(MAX_PER_POOL, pool.limits.gpus // itype.gpus, pool.limits.cpu // itype.vcpus))
        labels, taints = _nodepool_template(objects, pool.name)
        for i in range(n):
            specs.append(
                NodeSpec(
                    f"{pool.name}-{i}",
                    pool.name,
                    itype.name,
                    itype.vcpus,
                    itype.memory_gib,
                    itype.gpus,
                    # a cluster placement group lives in one AZ: all of the pool's nodes land there
                    zones[0] if pool.placement_group else zones[i % len(zones)],
                    pool.capacity_types[0],
                    {
                        "karpenter.sh/nodepool": pool.name,
                        "karpenter.sh/capacity-type": pool.capacity_types[0],
                        **labels,
                    },
                    taints,
                    efa=itype.efa_interfaces if pool.efa else 0,
                )
            )
    cpu = cfg.cpu_pool
    if cpu is not None:
        shape = NODE_SHAPES["m7i.4xlarge"]
        labels, taints = _nodepool_template(objects, cpu.name)
        n = max(1, min(MAX_PER_POOL, cpu.cpu_limit // shape.vcpus))
        for i in range(n):
            specs.append(
                NodeSpec(
                    f"{cpu.name}-{i}",
                    cpu.name,
                    shape.name,
                    shape.vcpus,
                    shape.memory_gib,
                    0,
                    zones[i % len(zones)],
                    cpu.capacity_types[0],
                    {"karpenter.sh/nodepool": cpu.name, "karpenter.sh/capacity-type": cpu.capacity_types[0], **labels},
                    taints,
                )
            )
    return specs


def register(client: Any, specs: list[NodeSpec]) -> None:
    """Create the nodes (as the admin: NodeRestriction limits only node identities) and set their status."""
    for spec in specs:
        client.apply(spec.manifest())
        client.request("PATCH", f"/api/v1/nodes/{spec.name}/status", spec.status(), "application/merge-patch+json")
        renew(client, spec.name)


def renew(client: Any, node: str) -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": _micro_now()},
    }
    client.apply(lease)


def heartbeat(kubeconfig: Path, interval: float = 10.0) -> None:
    """Renew the Lease (and the Ready condition's heartbeat) of every simulated node, until killed."""
    import yaml

    from agentic.cluster.client import Client

    doc = yaml.safe_load(kubeconfig.read_text())
    user = doc["users"][0]["user"]
    client = Client(
        doc["clusters"][0]["cluster"]["server"],
        Path(doc["clusters"][0]["cluster"]["certificate-authority"]),
        (Path(user["client-certificate"]), Path(user["client-key"])),
    )
    beats = 0
    while True:
        try:
            nodes = client.get("/api/v1/nodes", labelSelector=f"{SIMULATED}=true").get("items", [])
            for node in nodes:
                renew(client, node["metadata"]["name"])
                if beats % 4 == 0:
                    conditions = [
                        {**c, "lastHeartbeatTime": _now()} for c in node.get("status", {}).get("conditions", [])
                    ]
                    client.request(
                        "PATCH",
                        f"/api/v1/nodes/{node['metadata']['name']}/status",
                        {"status": {"conditions": conditions}},
                        "application/strategic-merge-patch+json",
                    )
        except Exception as e:  # the API server restarting or stopping: try again next beat
            print(f"heartbeat: {e}", file=sys.stderr, flush=True)
        beats += 1
        time.sleep(interval)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--heartbeat":
        heartbeat(Path(sys.argv[2]))
    else:
        print("usage: python -m agentic.cluster.nodes --heartbeat KUBECONFIG", file=sys.stderr)
        sys.exit(2)
