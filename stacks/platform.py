"""Compose the platform from the typed config: which components exist, in which order, and the stack outputs.

Where does a Kubernetes object come from? Namespaces/quotas/policies: components.namespaces (tenants:
components.tenants); NodePools/EC2NodeClasses: components.nodepools; Karpenter: components.karpenter; device plugin
and DCGM: components.gpu_software; Prometheus stack: components.monitoring; StorageClass: components.cluster.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.cluster import EksCluster, EksClusterArgs
from components.gpu_software import GpuSoftware, GpuSoftwareArgs
from components.karpenter import Karpenter, KarpenterArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.namespaces import GovernedNamespace, GovernedNamespaceArgs, NamespaceSpec
from components.network import Network, NetworkArgs
from components.nodepools import NodePools, NodePoolsArgs
from components.registry import ImageRegistry, RegistryArgs
from components.runtime_image import RuntimeImage, RuntimeImageArgs, git_sha
from components.tenants import TenantArgs, TenantNamespace
from stacks.config import Platform


def base_tags(cfg: Platform) -> dict[str, str]:
    return {
        "agentic.platform/environment": cfg.environment,
        "agentic.platform/cluster": cfg.cluster.name,
        "managed-by": "pulumi",
        **cfg.aws.tags,
    }


def build_platform(cfg: Platform) -> dict[str, pulumi.Output]:
    """Register every resource of the platform described by ``cfg``; returns (and exports) the stack outputs."""
    prefix = cfg.prefix
    tags = base_tags(cfg)
    ha = cfg.environment == "prod"
    notes: list[str] = []

    aws_provider = aws.Provider(f"{prefix}-aws", region=cfg.aws.region, default_tags={"tags": tags},
                                allowed_account_ids=[cfg.aws.account_id] if cfg.aws.account_id else None)
    aws_opts = pulumi.ResourceOptions(providers=[aws_provider])

    network = Network(f"{prefix}-network", NetworkArgs(cfg.network, cfg.cluster.name), aws_opts)
    cluster = EksCluster(
        f"{prefix}-cluster",
        EksClusterArgs(cfg.cluster, network.vpc_id, network.private_subnet_ids, network.public_subnet_ids, tags),
        aws_opts,
    )
    k8s_opts = pulumi.ResourceOptions(providers=[cluster.provider])

    layer_ns = {ns.layer: ns.name for ns in cfg.namespaces}
    tenant_ns = [t.namespace for t in cfg.tenants]
    namespaces = {
        ns.layer: GovernedNamespace(
            f"{prefix}-{ns.name}",
            GovernedNamespaceArgs(NamespaceSpec.for_layer(ns), layer_ns, tenant_ns),
            k8s_opts,
        )
        for ns in cfg.namespaces
    }
    for t in cfg.tenants:
        TenantNamespace(f"{prefix}-{t.namespace}", TenantArgs(t, layer_ns, tenant_ns), k8s_opts)

    monitoring = None
    if cfg.observability.prometheus:
        monitoring = Monitoring(
            f"{prefix}-monitoring",
            MonitoringArgs(cfg.observability, layer_ns["observability"], ha),
            pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[namespaces["observability"]]),
        )
    else:
        notes.append("Prometheus stack disabled (observability.prometheus: false): no ServiceMonitors are created.")

    cluster_ready = [cluster.system_node_group, cluster.pod_identity_addon]
    karpenter = Karpenter(
        f"{prefix}-karpenter",
        KarpenterArgs(
            cluster_name=cfg.cluster.name,
            region=cfg.aws.region,
            cluster_name_output=cluster.cluster_name,
            cluster_ready=cluster_ready,
            k8s_provider=cluster.provider,
            high_availability=ha,
            service_monitor=monitoring is not None,
            observability_namespace=layer_ns["observability"],
            depends_on_monitoring=[monitoring.release] if monitoring else [],
        ),
        aws_opts,
    )
    NodePools(
        f"{prefix}-nodepools",
        NodePoolsArgs(cfg.cluster.name, karpenter.node_role.name, list(cfg.gpu_pools), cfg.cpu_pool, tags,
                      karpenter.release),
        k8s_opts,
    )
    gpu = GpuSoftware(
        f"{prefix}-gpu",
        GpuSoftwareArgs(list(cfg.gpu_pools), cfg.observability.dcgm_exporter,
                        monitoring.release if monitoring else None, after=[karpenter.release]),
        k8s_opts,
    )
    notes += gpu.notes
    registry = ImageRegistry(f"{prefix}-registry", RegistryArgs(cfg.cluster.name, cfg.agent_runtime), aws_opts)
    runtime_image = None
    if cfg.agent_runtime.build:
        runtime_image = RuntimeImage(
            f"{prefix}-runtime-image",
            RuntimeImageArgs(registry.repository_url, registry.repository.registry_id, git_sha()),
            aws_opts,
        )

    outputs: dict[str, pulumi.Output] = {
        "cluster_name": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "oidc_issuer": cluster.oidc_issuer,
        "node_role_name": karpenter.node_role.name,
        "interruption_queue": karpenter.queue.name,
        "ecr_repository_url": registry.repository_url,
        "agent_runtime_image": runtime_image.ref if runtime_image else pulumi.Output.from_input(""),
        "vpc_id": network.vpc_id,
        "namespaces": pulumi.Output.from_input(layer_ns),
        "tenant_namespaces": pulumi.Output.from_input(tenant_ns),
        "plan_notes": pulumi.Output.from_input(notes),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
