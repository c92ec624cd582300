"""The root of the typed config: ``agentic-platform:platform``, composed of one model per domain.

Field-level rules (types, ranges, DNS-1123 names, CIDRs) live on the models; each domain module also holds the rules
that look across the tree (``check_*``), gathered by :mod:`config.validate`. Components receive these models (or
slices of them), never raw dicts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.agents import AgentRuntimeImage, KagentConfig
from config.base import Strict
from config.cluster import AwsConfig, ClusterConfig, NetworkConfig
from config.data import DataConfig
from config.observability import ObservabilityConfig
from config.pools import CpuPool, GpuPool
from config.secrets import SecretsConfig
from config.serving import GatewayConfig, Model
from config.tenancy import Layer, LayerNamespace, Tenant
from config.workflows import Workflow


class Platform(Strict):
    """Root of ``agentic-platform:platform``."""

    environment: Literal["dev", "staging", "prod"]
    aws: AwsConfig
    network: NetworkConfig = NetworkConfig()
    cluster: ClusterConfig
    gpu_pools: list[GpuPool] = Field(default_factory=list)
    cpu_pool: CpuPool
    namespaces: list[LayerNamespace] = Field(min_length=1)
    tenants: list[Tenant] = Field(default_factory=list)
    gateway: GatewayConfig = GatewayConfig()
    models: list[Model] = Field(default_factory=list)
    data: DataConfig = DataConfig()
    secrets: SecretsConfig = SecretsConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    kagent: KagentConfig = KagentConfig()
    agent_runtime: AgentRuntimeImage = AgentRuntimeImage()
    workflows: list[Workflow] = Field(
        default_factory=list, max_length=100, description="Agent workflows on Argo Workflows (seed 000's Workflow)"
    )

    @property
    def prefix(self) -> str:
        """Prefix of every resource name: the cluster name (unique per account and region)."""
        return self.cluster.name

    @property
    def high_availability(self) -> bool:
        return self.environment == "prod"

    def namespace_for(self, layer: Layer) -> LayerNamespace | None:
        return next((ns for ns in self.namespaces if ns.layer == layer), None)

    def pool(self, name: str) -> GpuPool | None:
        return next((p for p in self.gpu_pools if p.name == name), None)
