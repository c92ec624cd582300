"""The request path: the gateway and the models served on the GPU pools, with their cross-field rules."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import Field

from catalog.instances import instances_of, max_gpus_per_node
from catalog.versions import VLLM_IMAGE
from config.base import (
    ROOT, DnsLabel, Hostname, Image, NonEmpty, Problem, Quantity, ServiceName, Strict, duplicates, quantity, unknown_ref,
)

if TYPE_CHECKING:
    from config.platform import Platform


class GatewayConfig(Strict):
    enabled: bool = True
    name: DnsLabel = "ai-gateway"
    hostnames: list[Hostname] = Field(default_factory=list)
    model_header: str = Field(default="x-model-id", pattern=r"^[A-Za-z0-9-]+$")
    tls_secret: DnsLabel | None = Field(default=None, description="Secret with the HTTPS listener certificate")


class ModelVariant(Strict):
    name: DnsLabel = Field(description="Suffix of the Deployment/Service, e.g. 'primary', 'canary'")
    image: Image = Field(default=VLLM_IMAGE, description="Model server image; default: the catalog's vLLM release")
    replicas: int = Field(default=1, ge=0, le=1000)
    weight: int = Field(ge=0, le=100, description="Share of the model's route traffic, percent")


class Model(Strict):
    name: ServiceName = Field(description="Also the name of its Services: a DNS-1035 label (starts with a letter)")
    hf_model: NonEmpty = Field(pattern=r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$",
                               description="Model id vLLM serves, e.g. meta-llama/Llama-3.1-8B-Instruct")
    pool: DnsLabel = Field(description="GPU pool (platform.gpu_pools[].name) the model runs on")
    gpus: int = Field(ge=1, le=8, description="GPUs per replica (tensor parallel size)")
    cpu: Quantity = "8"
    memory: Quantity = "64Gi"
    route_header_value: str | None = Field(default=None, description="Gateway header value; default the name")
    variants: list[ModelVariant] = Field(min_length=1)
    max_model_len: int | None = Field(default=None, ge=256, le=10_000_000)

    @property
    def header_value(self) -> str:
        return self.route_header_value or self.name


def check_models(cfg: "Platform") -> list[Problem]:
    out = duplicates(cfg.models, "name", f"{ROOT}.models")
    pools = {p.name: p for p in cfg.gpu_pools}
    headers = Counter(m.header_value for m in cfg.models)
    gpus_on_pool: dict[str, list[tuple[str, int]]] = {}
    for i, m in enumerate(cfg.models):
        p = f"{ROOT}.models[{i}]"
        total = sum(v.weight for v in m.variants)
        if total != 100:
            out.append(
                Problem(
                    f"{p}.variants",
                    f"route weights sum to {total}, not 100: adjust variants[].weight "
                    f"({', '.join(f'{v.name}={v.weight}' for v in m.variants)})",
                )
            )
        out += duplicates(m.variants, "name", f"{p}.variants")
        if headers[m.header_value] > 1:
            out.append(Problem(f"{p}.route_header_value", f"'{m.header_value}' routes to more than one model"))
        pool = pools.get(m.pool)
        if pool is None:
            out.append(Problem(f"{p}.pool", unknown_ref("GPU pool", m.pool, pools, "platform.gpu_pools")))
            continue
        biggest = max_gpus_per_node(list(pool.instance_families), list(pool.gpu_counts))
        if m.gpus > biggest:
            out.append(
                Problem(
                    f"{p}.gpus",
                    f"{m.gpus} GPUs per replica do not fit on one node of pool '{pool.name}' (at most {biggest}): "
                    "lower gpus or add a larger instance family to the pool",
                )
            )
        fitting = [t for t in instances_of(list(pool.instance_families), list(pool.gpu_counts)) if t.gpus >= m.gpus]
        if fitting and (max(t.vcpus for t in fitting) < quantity(m.cpu)
                        or max(t.memory_gib for t in fitting) * 2**30 < quantity(m.memory)):
            big = max(fitting, key=lambda t: (t.vcpus, t.memory_gib))
            out.append(Problem(f"{p}.cpu", f"cpu {m.cpu} / memory {m.memory} do not fit on any node of pool "
                                           f"'{pool.name}' (largest: {big.name}, {big.vcpus} vCPU, {big.memory_gib} GiB)"))
        gpus_on_pool.setdefault(m.pool, []).append((m.name, m.gpus * sum(v.replicas for v in m.variants)))
    for i, pool in enumerate(cfg.gpu_pools):
        users = gpus_on_pool.get(pool.name, [])
        need = sum(n for _, n in users)
        if need > pool.limits.gpus:
            who = ", ".join(f"model '{n}' requests {g} GPUs" for n, g in users)
            out.append(
                Problem(
                    f"{ROOT}.gpu_pools[{i}].limits.gpus",
                    f"must be >= {need} because {who} on pool '{pool.name}'",
                )
            )
    return out


def check_quota_covers(cfg: "Platform") -> list[Problem]:
    """The inference namespace quota must admit every model replica the stack itself deploys."""
    out: list[Problem] = []
    idx = next((i for i, ns in enumerate(cfg.namespaces) if ns.layer == "inference"), None)
    if idx is None or not cfg.models:
        return out
    quota = cfg.namespaces[idx].quota
    lr = cfg.namespaces[idx].limit_range
    for i, m in enumerate(cfg.models):
        for res, top in (("cpu", lr.max_cpu), ("memory", lr.max_memory)):
            if quantity(getattr(m, res)) > quantity(top):
                out.append(Problem(f"{ROOT}.models[{i}].{res}",
                                   f"{getattr(m, res)} is above the inference namespace's LimitRange max_{res} {top}: "
                                   f"raise platform.namespaces[{idx}].limit_range.max_{res} or lower it"))
    gpus = sum(m.gpus * v.replicas for m in cfg.models for v in m.variants)
    cpu = sum(quantity(m.cpu) * v.replicas for m in cfg.models for v in m.variants)
    mem = sum(quantity(m.memory) * v.replicas for m in cfg.models for v in m.variants)
    p = f"{ROOT}.namespaces[{idx}].quota"
    if gpus > quota.gpus:
        out.append(Problem(f"{p}.gpus", f"must be >= {gpus}: the models in this stack request {gpus} GPUs"))
    if cpu > quantity(quota.requests_cpu):
        out.append(Problem(f"{p}.requests_cpu", f"must be >= {cpu.normalize():f}: the models request that much CPU"))
    if mem > quantity(quota.requests_memory):
        gib = (Decimal(mem) / 2**30).quantize(Decimal("0.1"))
        out.append(Problem(f"{p}.requests_memory", f"must be >= {gib}Gi: the models request that much memory"))
    return out
