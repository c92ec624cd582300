"""Serving at scale: models spread over nodes (LeaderWorkerSet), EFA between GPU nodes, cold-start settings of the
GPU pools (instance-store cache, parallel image pulls) and GPU node repair, with their cross-field rules."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from catalog.instances import InstanceType, instances_of
from catalog.versions import FAST_IMAGE_PULL_AMI, KARPENTER, KARPENTER_NODE_REPAIR_SINCE, KARPENTER_REBOOT_REPAIR_SINCE
from config.base import ROOT, Problem, quantity

if TYPE_CHECKING:
    from config.platform import Platform
    from config.pools import GpuPool
    from config.serving import Model

#: The catalogued instance types with EFA (catalog.instances: efa_interfaces), for the fix in messages.
EFA_FAMILIES_HINT = "p4d, p4de, p5, or g5/g6/g6e from 8xlarge up"


def _version(v: str) -> tuple[int, ...]:
    """A dotted chart version as a tuple of numbers, for ordering; AMI release dates (vYYYYMMDD) compare as strings."""
    return tuple(int(x) for x in v.lstrip("v").split("."))


def pool_types(pool: GpuPool) -> list[InstanceType]:
    return instances_of(list(pool.instance_families), list(pool.gpu_counts))


def check_pools_at_scale(cfg: Platform) -> list[Problem]:
    out: list[Problem] = []
    for i, pool in enumerate(cfg.gpu_pools):
        p = f"{ROOT}.gpu_pools[{i}]"
        types = pool_types(pool)
        if pool.efa and (without := [t.name for t in types if not t.efa_interfaces]):
            out.append(
                Problem(
                    f"{p}.efa",
                    f"{', '.join(without)} have no EFA: narrow instance_families / gpu_counts to EFA types "
                    f"({EFA_FAMILIES_HINT}) or set efa: false",
                )
            )
        if pool.model_cache == "instance_store":
            if without := [t.name for t in types if not t.instance_store_gib]:
                out.append(
                    Problem(
                        f"{p}.model_cache",
                        f"{', '.join(without)} have no instance store to build a RAID0 cache from: use "
                        "model_cache: ebs or instance families with NVMe disks (p4d, p5, g5, g6, g6e)",
                    )
                )
            if pool.data_volume is not None:
                out.append(
                    Problem(
                        f"{p}.data_volume",
                        "model_cache: instance_store puts caches on the local NVMe RAID0: remove data_volume",
                    )
                )
        if pool.fast_image_pull:
            family, _, release = pool.ami_alias.partition("@")
            if family != "al2023":
                out.append(
                    Problem(
                        f"{p}.fast_image_pull",
                        f"needs an AL2023 AMI (nodeadm's FastImagePull feature gate), not {family}: use "
                        f"ami_alias al2023@{FAST_IMAGE_PULL_AMI} or newer, or remove fast_image_pull",
                    )
                )
            elif release < FAST_IMAGE_PULL_AMI:
                out.append(
                    Problem(
                        f"{p}.ami_alias",
                        f"{pool.ami_alias} predates FastImagePull (first in AL2023 {FAST_IMAGE_PULL_AMI}): use "
                        f"al2023@{FAST_IMAGE_PULL_AMI} or newer, or remove fast_image_pull",
                    )
                )
    health = cfg.cluster.node_health
    if health.repair and _version(KARPENTER.version) < _version(KARPENTER_NODE_REPAIR_SINCE):
        out.append(
            Problem(
                f"{ROOT}.cluster.node_health.repair",
                f"Karpenter {KARPENTER.version} has no node repair (it arrived in {KARPENTER_NODE_REPAIR_SINCE}): "
                "remove repair or move the Karpenter pin",
            )
        )
    if health.reboot_gpu_faults and not health.repair:
        out.append(
            Problem(
                f"{ROOT}.cluster.node_health.reboot_gpu_faults",
                "rebooting is one of node repair's actions: set repair: true as well, or remove reboot_gpu_faults",
            )
        )
    elif health.reboot_gpu_faults and _version(KARPENTER.version) < _version(KARPENTER_REBOOT_REPAIR_SINCE):
        out.append(
            Problem(
                f"{ROOT}.cluster.node_health.reboot_gpu_faults",
                f"Karpenter {KARPENTER.version} cannot reboot a node for repair (rebootForRepair arrived in "
                f"{KARPENTER_REBOOT_REPAIR_SINCE}): remove reboot_gpu_faults or move the Karpenter pin",
            )
        )
    if health.repair:
        out += _budgets_blocking_repair(cfg)
    if health.repair and cfg.gpu_pools and not health.monitoring_agent:
        out.append(
            Problem(
                f"{ROOT}.cluster.node_health.monitoring_agent",
                "GPU faults (XID errors, lost GPUs) reach Karpenter's node repair only as the agent's "
                "AcceleratedHardwareReady condition: enable monitoring_agent",
            )
        )
    return out


def _budgets_blocking_repair(cfg: Platform) -> list[Problem]:
    """Karpenter 1.15 repairs nodes as a voluntary disruption: an always-active budget of 0 nodes that covers the
    reason Unhealthy (no reasons = every reason) means a broken node of that pool is never repaired."""
    pools = [(f"{ROOT}.gpu_pools[{i}]", p.disruption) for i, p in enumerate(cfg.gpu_pools)]
    pools.append((f"{ROOT}.cpu_pool", cfg.cpu_pool.disruption))
    return [
        Problem(
            f"{path}.disruption.budgets[{j}]",
            "nodes: 0 at all times, for every reason, stops node repair (cluster.node_health.repair) from ever "
            "replacing a broken node of this pool: list the reasons it holds back (e.g. [Drifted, Underutilized, "
            "Empty]), give it a schedule and duration, or allow at least one node",
        )
        for path, d in pools
        for j, b in enumerate(d.budgets)
        if b.schedule is None and b.nodes.rstrip("%") == "0" and (not b.reasons or "Unhealthy" in b.reasons)
    ]


def check_model_fit(cfg: Platform) -> list[Problem]:
    """Each pod of a model fits one node of its pool; a multi-node model's nodes are EFA-connected vLLM pods."""
    out: list[Problem] = []
    pools = {p.name: (j, p) for j, p in enumerate(cfg.gpu_pools)}
    for i, m in enumerate(cfg.models):
        p = f"{ROOT}.models[{i}]"
        if m.pool not in pools:
            continue  # reported by check_models
        j, pool = pools[m.pool]
        types = pool_types(pool)
        biggest = max((t.gpus for t in types), default=0)
        if m.gpus % m.pipeline_parallel:
            out.append(
                Problem(
                    f"{p}.pipeline_parallel",
                    f"{m.pipeline_parallel} nodes do not divide {m.gpus} GPUs evenly: each node runs the same "
                    f"tensor-parallel share (e.g. pipeline_parallel: {max(1, math.ceil(m.gpus / max(biggest, 1)))} "
                    f"for {m.gpus} GPUs on {biggest}-GPU nodes)",
                )
            )
            continue
        if m.gpus_per_node > biggest:
            nodes = math.ceil(m.gpus / max(biggest, 1))
            out.append(
                Problem(
                    f"{p}.gpus" if not m.multi_node else f"{p}.pipeline_parallel",
                    f"{m.gpus_per_node} GPUs per node do not fit on one node of pool '{pool.name}' (at most "
                    f"{biggest}): spread the replica over nodes with pipeline_parallel: {nodes} (a multi-node model "
                    "on an EFA pool), lower gpus, or add a larger instance family to the pool",
                )
            )
        fitting = [t for t in types if t.gpus >= m.gpus_per_node]
        if fitting and (
            max(t.vcpus for t in fitting) < quantity(m.cpu)
            or max(t.memory_gib for t in fitting) * 2**30 < quantity(m.memory)
        ):
            big = max(fitting, key=lambda t: (t.vcpus, t.memory_gib))
            out.append(
                Problem(
                    f"{p}.cpu",
                    f"cpu {m.cpu} / memory {m.memory} do not fit on any node of pool "
                    f"'{pool.name}' (largest: {big.name}, {big.vcpus} vCPU, {big.memory_gib} GiB)",
                )
            )
        if m.multi_node:
            out += _check_multi_node(m, p, pool, f"{ROOT}.gpu_pools[{j}]")
            out += _check_efa_image(cfg, m, p)
    return out


def _check_multi_node(m: Model, p: str, pool: GpuPool, pool_path: str) -> list[Problem]:
    out: list[Problem] = []
    if m.engine != "vllm":
        out.append(
            Problem(
                f"{p}.engine", "only vLLM serves one replica across nodes: set engine: vllm or pipeline_parallel: 1"
            )
        )
    if m.rollout:
        out.append(
            Problem(
                f"{p}.rollout",
                "Flagger rolls out Deployments, not LeaderWorkerSets: use variants with static weights for a "
                "multi-node model",
            )
        )
    if not pool.efa:
        out.append(
            Problem(
                f"{p}.pool",
                f"a multi-node model talks between its nodes over EFA: set {pool_path}.efa: true (pool "
                f"'{pool.name}' must then hold only EFA types: {EFA_FAMILIES_HINT})",
            )
        )
    return out


#: Images known to lack the EFA userspace (libfabric, aws-ofi-nccl): NCCL silently falls back to TCP sockets there.
NO_EFA_IMAGES = ("vllm/vllm-openai:", "docker.io/vllm/vllm-openai:")


def _check_efa_image(cfg: Platform, m: Model, p: str) -> list[Problem]:
    """The upstream vLLM image carries no EFA userspace (vllm-project/vllm#55635): a multi-node model on it would
    run its collectives over TCP. An error in prod, a warning in dev."""
    out = []
    for j, v in enumerate(m.variants):
        image = m.image(v)
        if image.startswith(NO_EFA_IMAGES):
            out.append(
                Problem(
                    f"{p}.variants[{j}].image",
                    f"{image} has no EFA userspace (libfabric, aws-ofi-nccl): NCCL would fall back to TCP between "
                    "the nodes. Set an EFA-enabled vLLM image (built FROM it with the EFA installer --skip-kmod, or "
                    "the AWS Deep Learning Containers vLLM image, mirrored into your ECR)",
                    "error" if cfg.environment == "prod" else "warning",
                )
            )
    return out


def check_scale(cfg: Platform) -> list[Problem]:
    return check_pools_at_scale(cfg) + check_model_fit(cfg)
