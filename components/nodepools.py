"""Karpenter NodePools and EC2NodeClasses from config: GPU pools (tainted, GPU-limited) and the CPU pool.

The manifests are built by pure functions (:func:`gpu_nodepool`, :func:`nodeclass`, …) so they can be checked
against the Karpenter 1.14.1 CRD schemas without the engine; :class:`NodePools` registers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks import versions
from stacks.config import CpuPool, Disruption, GpuPool, Volume

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
POOL_LABEL = "agentic.platform/pool"


def _disruption(d: Disruption) -> dict[str, Any]:
    budgets = []
    for b in d.budgets:
        budget: dict[str, Any] = {"nodes": b.nodes}
        if b.schedule:
            budget["schedule"] = b.schedule
        if b.duration:
            budget["duration"] = b.duration
        if b.reasons:
            budget["reasons"] = list(b.reasons)
        budgets.append(budget)
    return {"consolidationPolicy": d.consolidation_policy, "consolidateAfter": d.consolidate_after,
            "budgets": budgets}


def _ebs(device: str, v: Volume) -> dict[str, Any]:
    return {
        "deviceName": device,
        "ebs": {
            "volumeSize": f"{v.size_gib}Gi",
            "volumeType": "gp3",
            "iops": v.iops,
            "throughput": v.throughput_mibps,
            "encrypted": True,
            "deleteOnTermination": True,
        },
    }


def nodeclass(
    name: str, *, cluster: str, node_role: str, ami_alias: str, root: Volume, data: Volume | None,
    capacity_reservations: list[str], tags: dict[str, str],
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "role": node_role,
        "amiSelectorTerms": [{"alias": ami_alias}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": cluster}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": cluster}}],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [_ebs("/dev/xvda", root)] + ([_ebs("/dev/xvdb", data)] if data else []),
        "tags": {**tags, "karpenter.sh/discovery": cluster, "agentic.platform/pool": name},
    }
    if capacity_reservations:
        spec["capacityReservationSelectorTerms"] = [{"id": cr} for cr in capacity_reservations]
    return {"apiVersion": versions.KARPENTER_NODECLASS_API, "kind": "EC2NodeClass", "metadata": {"name": name},
            "spec": spec}


def gpu_nodepool(pool: GpuPool) -> dict[str, Any]:
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(pool.instance_families)},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    if pool.gpu_counts:
        requirements.append(
            {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "In",
             "values": [str(c) for c in pool.gpu_counts]}
        )
    else:
        requirements.append({"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]})
    return {
        "apiVersion": versions.KARPENTER_NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {"name": pool.name},
        "spec": {
            "weight": pool.weight,
            "limits": {"nvidia.com/gpu": str(pool.limits.gpus), "cpu": str(pool.limits.cpu),
                       "memory": f"{pool.limits.memory_gib}Gi"},
            "disruption": _disruption(pool.disruption),
            "template": {
                "metadata": {"labels": {POOL_LABEL: pool.name, "nvidia.com/gpu.present": "true"}},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool.name},
                    "taints": [GPU_TAINT],
                    "expireAfter": pool.disruption.expire_after,
                    "requirements": requirements,
                },
            },
        },
    }


def cpu_nodepool(pool: CpuPool) -> dict[str, Any]:
    return {
        "apiVersion": versions.KARPENTER_NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {"name": pool.name},
        "spec": {
            "weight": pool.weight,
            "limits": {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gib}Gi"},
            "disruption": _disruption(pool.disruption),
            "template": {
                "metadata": {"labels": {POOL_LABEL: pool.name}},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool.name},
                    "expireAfter": pool.disruption.expire_after,
                    "requirements": [
                        {"key": "karpenter.k8s.aws/instance-category", "operator": "In",
                         "values": list(pool.instance_categories)},
                        {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]},
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
                        {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
                        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                    ],
                },
            },
        },
    }


@dataclass(frozen=True)
class NodePoolsArgs:
    cluster_name: str
    node_role_name: pulumi.Input[str]
    gpu_pools: list[GpuPool]
    cpu_pool: CpuPool
    tags: dict[str, str]
    #: the Karpenter release: CRDs and the controller whose finalizers clean up nodes on destroy
    karpenter: pulumi.Resource


class NodePools(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodePoolsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:k8s:NodePools", name, None, opts)
        self.nodepools: dict[str, k8s.apiextensions.CustomResource] = {}
        self.nodeclasses: dict[str, k8s.apiextensions.CustomResource] = {}
        pools: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for pool in args.gpu_pools:
            pools.append((pool.name, gpu_nodepool(pool), dict(
                ami_alias=pool.ami_alias, root=pool.root_volume, data=pool.data_volume,
                capacity_reservations=list(pool.capacity_reservations))))
        cpu = args.cpu_pool
        pools.append((cpu.name, cpu_nodepool(cpu), dict(
            ami_alias=cpu.ami_alias, root=cpu.root_volume, data=None, capacity_reservations=[])))
        for pool_name, nodepool, nc in pools:
            role = pulumi.Output.from_input(args.node_role_name)
            manifest = role.apply(
                lambda r, pn=pool_name, nc=nc: nodeclass(pn, cluster=args.cluster_name, node_role=r, tags=args.tags,
                                                         **nc)
            )
            ec2nc = k8s.apiextensions.CustomResource(
                f"{name}-{pool_name}-nodeclass",
                api_version=versions.KARPENTER_NODECLASS_API,
                kind="EC2NodeClass",
                metadata={"name": pool_name},
                spec=manifest.apply(lambda m: m["spec"]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.karpenter]),
            )
            np = k8s.apiextensions.CustomResource(
                f"{name}-{pool_name}",
                api_version=versions.KARPENTER_NODEPOOL_API,
                kind="NodePool",
                metadata=nodepool["metadata"],
                spec=nodepool["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.karpenter, ec2nc]),
            )
            self.nodeclasses[pool_name] = ec2nc
            self.nodepools[pool_name] = np
        self.register_outputs({"nodepools": list(self.nodepools)})
