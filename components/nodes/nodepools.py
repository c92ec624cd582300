"""Karpenter NodePools and EC2NodeClasses from config: GPU pools (tainted, GPU-limited) and the CPU pool.

The manifests are built by pure functions (:func:`gpu_nodepool`, :func:`nodeclass`, …) so they can be checked
against the pinned Karpenter CRD schemas (catalog/crds/karpenter) without the engine; :class:`NodePools` registers
them through the kit.
"""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.nodes.efa import EFA_SG_TAG, placement_group_name, user_data
from config.pools import CpuPool, Disruption, GpuPool, Volume
from kit.labels import GPU_PRESENT, GPU_TAINT, KARPENTER_DISCOVERY, POOL, metadata
from kit.shared import Shared


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
    return {"consolidationPolicy": d.consolidation_policy, "consolidateAfter": d.consolidate_after, "budgets": budgets}


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
    name: str,
    *,
    cluster: str,
    node_role: str,
    ami_alias: str,
    root: Volume,
    data: Volume | None,
    capacity_reservations: list[str],
    tags: dict[str, str],
    efa: bool = False,
    placement_group: str | None = None,
    instance_store: bool = False,
    user_data: str | None = None,
) -> dict[str, Any]:
    """``efa``: also the EFA security group (terms are ORed: nodes carry both groups); ``placement_group``: the
    cluster placement group's name; ``instance_store``: NVMe disks as RAID0 for the kubelet's and containerd's
    storage; ``user_data``: a nodeadm NodeConfig Karpenter merges with its own."""
    security_groups: list[dict[str, Any]] = [{"tags": {KARPENTER_DISCOVERY: cluster}}]
    if efa:
        security_groups.append({"tags": {EFA_SG_TAG: cluster}})
    spec: dict[str, Any] = {
        "role": node_role,
        "amiSelectorTerms": [{"alias": ami_alias}],
        "subnetSelectorTerms": [{"tags": {KARPENTER_DISCOVERY: cluster}}],
        "securityGroupSelectorTerms": security_groups,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [_ebs("/dev/xvda", root)] + ([_ebs("/dev/xvdb", data)] if data else []),
        "tags": {**tags, KARPENTER_DISCOVERY: cluster, POOL: name},
    }
    if capacity_reservations:
        spec["capacityReservationSelectorTerms"] = [{"id": cr} for cr in capacity_reservations]
    if placement_group:
        spec["placementGroupSelector"] = {"name": placement_group}
    if instance_store:
        spec["instanceStorePolicy"] = "RAID0"
    if user_data:
        spec["userData"] = user_data
    return {
        "apiVersion": versions.KARPENTER_NODECLASS_API,
        "kind": "EC2NodeClass",
        "metadata": metadata(name),
        "spec": spec,
    }


def gpu_nodepool(pool: GpuPool) -> dict[str, Any]:
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(pool.instance_families)},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    if pool.gpu_counts:
        requirements.append(
            {
                "key": "karpenter.k8s.aws/instance-gpu-count",
                "operator": "In",
                "values": [str(c) for c in pool.gpu_counts],
            }
        )
    else:
        requirements.append({"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]})
    limits = {
        "nvidia.com/gpu": str(pool.limits.gpus),
        "cpu": str(pool.limits.cpu),
        "memory": f"{pool.limits.memory_gib}Gi",
    }
    return _nodepool(
        pool.name,
        pool.weight,
        limits,
        pool.disruption,
        {POOL: pool.name, GPU_PRESENT: "true"},
        requirements,
        taints=[GPU_TAINT],
    )


def _nodepool(
    name: str,
    weight: int,
    limits: dict[str, str],
    disruption: Disruption,
    labels: dict[str, str],
    requirements: list[dict[str, Any]],
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": name}
    }
    if taints:
        template_spec["taints"] = taints
    template_spec["expireAfter"] = disruption.expire_after
    template_spec["requirements"] = requirements
    return {
        "apiVersion": versions.KARPENTER_NODEPOOL_API,
        "kind": "NodePool",
        "metadata": metadata(name),
        "spec": {
            "weight": weight,
            "limits": limits,
            "disruption": _disruption(disruption),
            "template": {"metadata": {"labels": labels}, "spec": template_spec},
        },
    }


def cpu_nodepool(pool: CpuPool) -> dict[str, Any]:
    requirements = [
        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": list(pool.instance_categories)},
        {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
        {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    return _nodepool(
        pool.name,
        pool.weight,
        {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gib}Gi"},
        pool.disruption,
        {POOL: pool.name},
        requirements,
    )


class NodePools(pulumi.ComponentResource):
    """Registers every pool's EC2NodeClass and NodePool. Both depend on ``karpenter`` (CRDs and the controller whose
    finalizers clean up nodes on destroy)."""

    def __init__(
        self,
        name: str,
        gpu_pools: list[GpuPool],
        cpu_pool: CpuPool,
        node_role_name: pulumi.Input[str],
        karpenter: pulumi.Resource,
        shared: Shared,
        after: tuple[pulumi.Resource, ...] = (),
    ):
        super().__init__("agentic:k8s:NodePools", name, None, shared.k8s_opts())
        scope = shared.scope(self, name, depends_on=(karpenter, *after))
        self.nodepools: dict[str, pulumi.CustomResource] = {}
        self.nodeclasses: dict[str, pulumi.CustomResource] = {}
        pools: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for pool in gpu_pools:
            pools.append(
                (
                    pool.name,
                    gpu_nodepool(pool),
                    dict(
                        ami_alias=pool.ami_alias,
                        root=pool.root_volume,
                        data=pool.data_volume,
                        capacity_reservations=list(pool.capacity_reservations),
                        efa=pool.efa,
                        placement_group=placement_group_name(shared.prefix, pool.name)
                        if pool.placement_group
                        else None,
                        instance_store=pool.model_cache == "instance_store",
                        user_data=user_data(pool),
                    ),
                )
            )
        pools.append(
            (
                cpu_pool.name,
                cpu_nodepool(cpu_pool),
                dict(ami_alias=cpu_pool.ami_alias, root=cpu_pool.root_volume, data=None, capacity_reservations=[]),
            )
        )
        role = pulumi.Output.from_input(node_role_name)
        for pool_name, nodepool, nc in pools:
            manifest = role.apply(
                lambda r, pn=pool_name, nc=nc: nodeclass(  # type: ignore[misc]
                    pn, cluster=shared.prefix, node_role=r, tags=shared.tags, **nc
                )
            )
            ec2nc = scope.apply(
                {
                    "apiVersion": versions.KARPENTER_NODECLASS_API,
                    "kind": "EC2NodeClass",
                    "metadata": metadata(pool_name),
                    "spec": manifest.apply(lambda m: m["spec"]),
                },
                name=f"{pool_name}-nodeclass",
            )
            self.nodeclasses[pool_name] = ec2nc
            self.nodepools[pool_name] = scope.apply(nodepool, name=pool_name, depends_on=[ec2nc])
        self.register_outputs({"nodepools": list(self.nodepools)})
