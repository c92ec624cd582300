"""What the plan says about each model's cold start: where its image and weights come from, where they are cached,
and how its GPUs add up on its pool (groups x nodes x GPUs against the pool's limit and cost ceiling)."""

from __future__ import annotations

from catalog.instances import pool_cost_ceiling
from config.platform import Platform
from config.serving import Model
from kit.shared import Notes


def weights_source(m: Model) -> str:
    if m.weights_s3_prefix:
        return f"streamed from the models bucket (s3 prefix {m.weights_s3_prefix}, vLLM Run:ai streamer: no disk copy)"
    return f"downloaded from Hugging Face ({m.hf_model}{', gated: hf_token' if m.hf_token else ''}) into the cache"


def model_lines(cfg: Platform) -> list[str]:
    out = []
    for m in cfg.models:
        pool = cfg.pool(m.pool)
        if pool is None:
            continue
        images = sorted({m.image(v) for v in m.variants})
        cache = (
            "instance-store NVMe RAID0 (images and the model cache on local disks)"
            if pool.model_cache == "instance_store"
            else f"EBS root volume ({pool.root_volume.size_gib} GiB, {pool.root_volume.throughput_mibps} MiB/s)"
        )
        pulls = "SOCI parallel pull and unpack" if pool.fast_image_pull else "sequential layer unpack"
        cost = pool_cost_ceiling(
            pool.name, list(pool.instance_families), m.gpus * m.max_replicas, list(pool.gpu_counts)
        )
        shape = (
            f"{m.max_replicas} group{'s' if m.max_replicas != 1 else ''} x {m.pipeline_parallel} nodes x {m.gpus_per_node} GPUs (LeaderWorkerSet, EFA)"
            if m.multi_node
            else f"{m.max_replicas} replicas x {m.gpus} GPUs"
        )
        out.append(
            f"model '{m.name}' on pool '{pool.name}': {shape} = {m.gpus * m.max_replicas} of the pool's "
            f"{pool.limits.gpus} GPUs, at most ${cost.ceiling_usd_per_hour:,.2f}/h on demand; image "
            f"{', '.join(images)} ({pulls}); weights {weights_source(m)}; cache on {cache}"
        )
    return out


def serving_notes(cfg: Platform, notes: Notes) -> None:
    for line in model_lines(cfg):
        notes.add(line)
