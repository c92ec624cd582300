"""NVIDIA software on GPU nodes: the device plugin (AL2023 GPU AMIs need it; Bottlerocket's NVIDIA variants ship
it) and the DCGM exporter, whose ServiceMonitor exists only when the prometheus-operator CRDs are installed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.helm import release
from components.nodepools import GPU_TAINT, POOL_LABEL
from stacks import versions
from stacks.config import GpuPool

NAMESPACE = "kube-system"
GPU_TOLERATION = {"key": GPU_TAINT["key"], "operator": "Exists", "effect": GPU_TAINT["effect"]}


def pools_needing_device_plugin(pools: list[GpuPool]) -> list[str]:
    return [p.name for p in pools if p.ami_alias.startswith("al2023@")]


def device_plugin_values(pool_names: list[str]) -> dict:
    return {
        "tolerations": [GPU_TOLERATION, {"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": sorted(pool_names)}]}
                    ]
                }
            }
        },
        "priorityClassName": "system-node-critical",
    }


def dcgm_values() -> dict:
    return {
        "tolerations": [GPU_TOLERATION],
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "serviceMonitor": {"enabled": False},  # ours below, first-class and schema-checked
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "512Mi"}},
    }


def dcgm_service_monitor(namespace: str) -> dict:
    return {
        "apiVersion": versions.PROMETHEUS_OPERATOR_API,
        "kind": "ServiceMonitor",
        "metadata": {"name": "dcgm-exporter", "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "agentic-platform"}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "dcgm-exporter"}},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}],
        },
    }


@dataclass(frozen=True)
class GpuSoftwareArgs:
    gpu_pools: list[GpuPool]
    dcgm_exporter: bool
    #: the release that installs the prometheus-operator CRDs, or None when observability is off
    monitoring_crds: pulumi.Resource | None
    after: list[pulumi.Resource] = field(default_factory=list)


class GpuSoftware(pulumi.ComponentResource):
    notes: list[str]

    def __init__(self, name: str, args: GpuSoftwareArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:k8s:GpuSoftware", name, None, opts)
        self.notes = []
        self.device_plugin = None
        self.dcgm = None
        self.service_monitor = None
        after = pulumi.ResourceOptions(parent=self, depends_on=args.after)
        needing = pools_needing_device_plugin(args.gpu_pools)
        if needing:
            self.device_plugin = release(
                f"{name}-nvidia-device-plugin", versions.NVIDIA_DEVICE_PLUGIN, release_name="nvidia-device-plugin",
                namespace=NAMESPACE, values=device_plugin_values(needing), opts=after,
            )
        elif args.gpu_pools:
            self.notes.append("NVIDIA device plugin not installed: every GPU pool uses Bottlerocket, which ships it.")
        if args.gpu_pools and args.dcgm_exporter:
            self.dcgm = release(
                f"{name}-dcgm-exporter", versions.DCGM_EXPORTER, release_name="dcgm-exporter", namespace=NAMESPACE,
                values=dcgm_values(), opts=after,
            )
            if args.monitoring_crds is not None:
                sm = dcgm_service_monitor(NAMESPACE)
                self.service_monitor = k8s.apiextensions.CustomResource(
                    f"{name}-dcgm-servicemonitor",
                    api_version=sm["apiVersion"],
                    kind=sm["kind"],
                    metadata=sm["metadata"],
                    spec=sm["spec"],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[args.monitoring_crds, self.dcgm]),
                )
            else:
                self.notes.append(
                    "DCGM exporter ServiceMonitor left out: observability.prometheus is off, so the "
                    "prometheus-operator CRDs are not installed. GPU metrics are exposed on :9400 but not scraped."
                )
        self.register_outputs({"notes": self.notes})
