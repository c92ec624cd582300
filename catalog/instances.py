"""GPU instance catalog and on-demand prices: the one file the cost figures in the plan come from.

Source: Amazon EC2 On-Demand pricing, region us-east-1, Linux, shared tenancy, as published by AWS
(https://aws.amazon.com/ec2/pricing/on-demand/). Transcribed 2025-07-01, after AWS's June 2025 price reduction
for P4d and P5. Other regions differ (typically +0-30 %); reserved capacity and spot are cheaper. The plan uses these
figures only as a *ceiling* (the most a pool's GPU limit could cost per hour on demand), never as a bill.
Re-check with ``aws pricing get-products --service-code AmazonEC2`` before budgeting.

EFA interfaces and instance store per type: EC2 User Guide, "Supported instance types" for Elastic Fabric Adapter
(maximum EFA interfaces) and "Instance store volumes" (NVMe SSD size), transcribed 2026-12-03. P3 (V100) has neither:
EBS only, no EFA (only p3dn.24xlarge has both, not catalogued).
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_SOURCE = "AWS EC2 On-Demand, us-east-1, Linux (transcribed 2025-07-01)"


@dataclass(frozen=True)
class InstanceType:
    name: str
    gpus: int
    gpu_model: str
    vcpus: int
    memory_gib: int
    usd_per_hour: float
    efa_interfaces: int = 0
    instance_store_gib: int = 0

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def usd_per_gpu_hour(self) -> float:
        return self.usd_per_hour / self.gpus


def _family(
    family: str,
    gpu_model: str,
    rows: list[tuple[str, int, int, int, float]],
    efa: dict[str, int] | None = None,
    store: dict[str, int] | None = None,
) -> list[InstanceType]:
    """``efa``: EFA interfaces per size (absent: none); ``store``: instance-store GiB per size (absent: EBS only)."""
    return [
        InstanceType(
            f"{family}.{size}", g, gpu_model, cpu, mem, price, (efa or {}).get(size, 0), (store or {}).get(size, 0)
        )
        for size, g, cpu, mem, price in rows
    ]


#: Instance store (GiB, NVMe) of the G sizes: g5, g6 and g6e share them to within a few percent (g6's 12x-48x carry
#: 3760/7520 GB instead of 3800/7600).
_G_STORE = {
    "xlarge": 250,
    "2xlarge": 450,
    "4xlarge": 600,
    "8xlarge": 900,
    "16xlarge": 1900,
    "12xlarge": 3800,
    "24xlarge": 3800,
    "48xlarge": 7600,
}
#: EFA on the G families: one interface from 8xlarge up (g6e: 2 on 24xlarge, 4 on 48xlarge).
_G_EFA = {"8xlarge": 1, "12xlarge": 1, "16xlarge": 1, "24xlarge": 1, "48xlarge": 1}


GPU_INSTANCES: dict[str, InstanceType] = {
    t.name: t
    for t in [
        *_family("p5", "H100 80GB", [("48xlarge", 8, 192, 2048, 55.04)], {"48xlarge": 32}, {"48xlarge": 30720}),
        *_family("p4d", "A100 40GB", [("24xlarge", 8, 96, 1152, 21.96)], {"24xlarge": 4}, {"24xlarge": 8000}),
        *_family("p4de", "A100 80GB", [("24xlarge", 8, 96, 1152, 27.45)], {"24xlarge": 4}, {"24xlarge": 8000}),
        *_family(
            "p3",
            "V100 16GB",
            [("2xlarge", 1, 8, 61, 3.06), ("8xlarge", 4, 32, 244, 12.24), ("16xlarge", 8, 64, 488, 24.48)],
        ),
        *_family(
            "g5",
            "A10G 24GB",
            [
                ("xlarge", 1, 4, 16, 1.006),
                ("2xlarge", 1, 8, 32, 1.212),
                ("4xlarge", 1, 16, 64, 1.624),
                ("8xlarge", 1, 32, 128, 2.448),
                ("16xlarge", 1, 64, 256, 4.096),
                ("12xlarge", 4, 48, 192, 5.672),
                ("24xlarge", 4, 96, 384, 8.144),
                ("48xlarge", 8, 192, 768, 16.288),
            ],
            _G_EFA,
            _G_STORE,
        ),
        *_family(
            "g6",
            "L4 24GB",
            [
                ("xlarge", 1, 4, 16, 0.805),
                ("2xlarge", 1, 8, 32, 0.978),
                ("4xlarge", 1, 16, 64, 1.323),
                ("8xlarge", 1, 32, 128, 2.014),
                ("16xlarge", 1, 64, 256, 3.397),
                ("12xlarge", 4, 48, 192, 4.602),
                ("24xlarge", 4, 96, 384, 6.675),
                ("48xlarge", 8, 192, 768, 13.35),
            ],
            _G_EFA,
            _G_STORE,
        ),
        *_family(
            "g6e",
            "L40S 48GB",
            [
                ("xlarge", 1, 4, 32, 1.861),
                ("2xlarge", 1, 8, 64, 2.242),
                ("4xlarge", 1, 16, 128, 3.004),
                ("8xlarge", 1, 32, 256, 4.529),
                ("16xlarge", 1, 64, 512, 7.577),
                ("12xlarge", 4, 48, 384, 10.493),
                ("24xlarge", 4, 96, 768, 15.066),
                ("48xlarge", 8, 192, 1536, 30.131),
            ],
            {**_G_EFA, "24xlarge": 2, "48xlarge": 4},
            _G_STORE,
        ),
    ]
}


@dataclass(frozen=True)
class NodeShape:
    """A CPU instance type's size (EC2 instance type specifications), for simulated nodes in the control-plane tests."""

    name: str
    vcpus: int
    memory_gib: int


#: The system node group's and the CPU pool's instance types (vCPU, GiB), from the EC2 instance type pages.
NODE_SHAPES: dict[str, NodeShape] = {
    s.name: s
    for fam in ("m7i", "m6i", "c7i", "r7i")
    for s in [
        NodeShape(f"{fam}.{size}", cpu, mem * {"m": 4, "c": 2, "r": 8}[fam[0]])
        for size, cpu, mem in [("large", 2, 2), ("xlarge", 4, 4), ("2xlarge", 8, 8), ("4xlarge", 16, 16)]
    ]
}

GPU_FAMILIES: tuple[str, ...] = tuple(sorted({t.family for t in GPU_INSTANCES.values()}))


def instances_of(families: list[str], gpu_counts: list[int] | None = None) -> list[InstanceType]:
    """Catalog entries a GPU pool with these families (and optional GPU-count filter) could launch."""
    return [t for t in GPU_INSTANCES.values() if t.family in families and (not gpu_counts or t.gpus in gpu_counts)]


def max_gpus_per_node(families: list[str], gpu_counts: list[int] | None = None) -> int:
    return max((t.gpus for t in instances_of(families, gpu_counts)), default=0)


@dataclass(frozen=True)
class PoolCost:
    pool: str
    gpu_limit: int
    worst_instance: str
    usd_per_gpu_hour: float

    @property
    def ceiling_usd_per_hour(self) -> float:
        return round(self.gpu_limit * self.usd_per_gpu_hour, 2)


def pool_cost_ceiling(pool: str, families: list[str], gpu_limit: int, gpu_counts: list[int] | None = None) -> PoolCost:
    """The hourly on-demand cost if the pool filled its GPU limit with its most expensive-per-GPU instance type."""
    candidates = instances_of(families, gpu_counts)
    if not candidates:
        raise ValueError(f"pool {pool!r}: no catalogued instance type in families {families}")
    worst = max(candidates, key=lambda t: t.usd_per_gpu_hour)
    return PoolCost(pool, gpu_limit, worst.name, worst.usd_per_gpu_hour)
