"""Karpenter GPU pools and the CPU pool, with their cross-field rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from catalog.instances import GPU_FAMILIES, instances_of, max_gpus_per_node
from config.base import ROOT, AmiAlias, CapacityType, DnsLabel, Duration, Problem, Strict, duplicates

if TYPE_CHECKING:
    from config.platform import Platform


class Volume(Strict):
    size_gib: int = Field(ge=20, le=16384)
    iops: int = Field(default=3000, ge=3000, le=16000)
    throughput_mibps: int = Field(default=125, ge=125, le=1000)


class Budget(Strict):
    nodes: str = Field(pattern=r"^((100|[0-9]{1,2})%|[0-9]{1,6})$", description="'10%' or an absolute count")
    schedule: str | None = Field(
        default=None,
        pattern=r"^((@(annually|yearly|monthly|weekly|daily|midnight|hourly))|(\S+ \S+ \S+ \S+ \S+))$",
        description="Cron schedule the budget is active on (5 fields or @daily etc.); needs duration",
    )
    duration: str | None = Field(
        default=None,
        pattern=r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$",
        description="How long the schedule's window lasts, in h/m (e.g. '10h', '1h30m')",
    )
    reasons: list[Literal["Underutilized", "Empty", "Drifted", "Unhealthy"]] = Field(
        default_factory=list,
        description="Disruption methods the budget limits (none = all, node repair's 'Unhealthy' included)",
    )


class Disruption(Strict):
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmpty"
    consolidate_after: Duration = "10m"
    expire_after: Duration = "720h"
    budgets: list[Budget] = Field(default_factory=lambda: [Budget(nodes="10%")])


class GpuPoolLimits(Strict):
    gpus: int = Field(ge=1, le=10_000, description="Most GPUs the pool may run at once (cost guardrail)")
    cpu: int = Field(ge=1, le=1_000_000, description="vCPU limit")
    memory_gib: int = Field(ge=1, le=100_000_000)


class GpuPool(Strict):
    name: DnsLabel
    instance_families: list[Literal[GPU_FAMILIES]] = Field(min_length=1)  # type: ignore[valid-type]
    gpu_counts: list[Literal[1, 2, 4, 8]] = Field(
        default_factory=list, description="Allowed GPUs per node (empty = any size of the families)"
    )
    capacity_types: list[CapacityType] = Field(
        min_length=1, description="In order of preference; more than one lets Karpenter fall back"
    )
    capacity_reservations: list[Annotated[str, Field(pattern=r"^cr-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="EC2 capacity reservation ids; required when capacity_types has 'reserved'"
    )
    limits: GpuPoolLimits
    ami_alias: AmiAlias
    root_volume: Volume = Volume(size_gib=100)
    data_volume: Volume | None = Field(default=None, description="Extra volume for model weights/cache")
    disruption: Disruption = Disruption()
    weight: int = Field(default=10, ge=1, le=100)
    efa: bool = Field(
        default=False,
        description="Elastic Fabric Adapter between the pool's nodes (multi-node models need it): every instance type "
        "must have EFA; adds the EFA device plugin and a security group open to itself",
    )
    placement_group: bool = Field(
        default=False, description="Launch the pool's nodes in a cluster placement group (one AZ, lowest latency)"
    )
    model_cache: Literal["ebs", "instance_store"] = Field(
        default="ebs",
        description="Where images and model caches live: 'instance_store' = the instance's NVMe disks as RAID0 "
        "(Karpenter instanceStorePolicy), the kubelet's and containerd's storage on local NVMe",
    )
    fast_image_pull: bool = Field(
        default=False,
        description="Pull and unpack image layers in parallel (SOCI snapshotter, nodeadm FastImagePull; AL2023 "
        "AMIs from v20250821)",
    )


class CpuPool(Strict):
    name: DnsLabel = "general"
    instance_categories: list[Literal["c", "m", "r", "t"]] = Field(
        default_factory=lambda: ["c", "m", "r"]  # type: ignore[arg-type]
    )
    architectures: list[Literal["amd64", "arm64"]] = Field(
        default_factory=lambda: ["amd64"]  # type: ignore[arg-type]
    )
    capacity_types: list[CapacityType] = Field(
        default_factory=lambda: ["spot", "on-demand"],  # type: ignore[arg-type]
        min_length=1,
    )
    cpu_limit: int = Field(default=200, ge=1, le=1_000_000)
    memory_limit_gib: int = Field(default=800, ge=1, le=100_000_000)
    ami_alias: AmiAlias
    root_volume: Volume = Volume(size_gib=50)
    disruption: Disruption = Disruption(consolidation_policy="WhenEmptyOrUnderutilized", consolidate_after="1m")
    weight: int = Field(default=50, ge=1, le=100)


def check_pools(cfg: Platform) -> list[Problem]:
    out = duplicates(cfg.gpu_pools, "name", f"{ROOT}.gpu_pools")
    for i, pool in enumerate(cfg.gpu_pools):
        p = f"{ROOT}.gpu_pools[{i}]"
        if len(set(pool.capacity_types)) != len(pool.capacity_types):
            out.append(Problem(f"{p}.capacity_types", "lists a capacity type twice"))
        if ("reserved" in pool.capacity_types) != bool(pool.capacity_reservations):
            out.append(
                Problem(
                    f"{p}.capacity_reservations",
                    "list the capacity reservation ids when capacity_types includes 'reserved' (and only then)",
                )
            )
        candidates = instances_of(list(pool.instance_families), list(pool.gpu_counts))
        if cfg.environment == "prod" and len(candidates) * len(pool.capacity_types) < 2:
            out.append(
                Problem(
                    f"{p}.capacity_types",
                    f"pool '{pool.name}' can launch a single SKU ({candidates[0].name if candidates else 'none'}) "
                    "with a single capacity type: one capacity error blocks it. Add a capacity type or a family",
                )
            )
        if max_gpus_per_node(list(pool.instance_families), list(pool.gpu_counts)) == 0:
            out.append(
                Problem(
                    f"{p}.gpu_counts",
                    f"no instance of families {list(pool.instance_families)} has {list(pool.gpu_counts)} GPUs: "
                    "widen gpu_counts or change the families",
                )
            )
        if candidates:
            smallest = min(candidates, key=lambda t: (t.vcpus, t.memory_gib))
            if pool.limits.cpu < smallest.vcpus or pool.limits.memory_gib < smallest.memory_gib:
                out.append(
                    Problem(
                        f"{p}.limits",
                        f"cpu {pool.limits.cpu} / memory_gib {pool.limits.memory_gib} cannot hold even one node: the "
                        f"smallest instance the pool can launch ({smallest.name}) has {smallest.vcpus} vCPU and "
                        f"{smallest.memory_gib} GiB",
                    )
                )
        for b_name, disruption in (("disruption", pool.disruption),):
            out += _check_budgets(disruption, f"{p}.{b_name}")
        for vol_name in ("root_volume", "data_volume"):
            vol = getattr(pool, vol_name)
            if vol is not None and vol.iops > 500 * vol.size_gib:
                out.append(
                    Problem(f"{p}.{vol_name}.iops", f"gp3 allows at most 500 IOPS per GiB ({500 * vol.size_gib} here)")
                )
    out += _check_budgets(cfg.cpu_pool.disruption, f"{ROOT}.cpu_pool.disruption")
    if cfg.cpu_pool.name in {g.name for g in cfg.gpu_pools}:
        out.append(Problem(f"{ROOT}.cpu_pool.name", f"'{cfg.cpu_pool.name}' is also a GPU pool name: rename one"))
    return out


def _check_budgets(d: Disruption, path: str) -> list[Problem]:
    """The NodePool CRD's rule: a budget's schedule and duration are set together or not at all."""
    return [
        Problem(
            f"{path}.budgets[{i}]",
            "set schedule and duration together (or neither): Karpenter refuses one without the other",
        )
        for i, b in enumerate(d.budgets)
        if (b.schedule is None) != (b.duration is None)
    ]
