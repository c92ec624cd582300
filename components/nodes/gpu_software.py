"""NVIDIA software on GPU nodes: the device plugin (AL2023 GPU AMIs need it; Bottlerocket's NVIDIA variants ship
it) and the DCGM exporter, whose ServiceMonitor exists only when the prometheus-operator CRDs are installed."""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from config.pools import GpuPool
from kit.helm import HelmValues, release
from kit.labels import GPU_PRESENT, GPU_TOLERATION, POOL, SYSTEM_TOLERATION, node_affinity_in
from kit.monitors import service_monitor
from kit.shared import Shared

NAMESPACE = "kube-system"


class DevicePluginValues(HelmValues):
    tolerations: list[dict[str, str]]
    affinity: dict[str, Any]
    priority_class_name: str


class _Toggle(HelmValues):
    enabled: bool


class DcgmValues(HelmValues):
    tolerations: list[dict[str, str]]
    node_selector: dict[str, str]
    service_monitor: _Toggle
    resources: dict[str, dict[str, str]]


def pools_needing_device_plugin(pools: list[GpuPool]) -> list[str]:
    return [p.name for p in pools if p.ami_alias.startswith("al2023@")]


def device_plugin_values(pool_names: list[str]) -> DevicePluginValues:
    return DevicePluginValues(
        tolerations=[GPU_TOLERATION, SYSTEM_TOLERATION],
        affinity=node_affinity_in(POOL, pool_names),
        priority_class_name="system-node-critical",
    )


def dcgm_values() -> DcgmValues:
    return DcgmValues(
        tolerations=[GPU_TOLERATION],
        node_selector={GPU_PRESENT: "true"},
        service_monitor=_Toggle(enabled=False),  # ours below, first-class and schema-checked
        resources={"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "512Mi"}},
    )


def dcgm_service_monitor() -> dict[str, Any]:
    return service_monitor(
        "dcgm-exporter",
        NAMESPACE,
        {"app.kubernetes.io/name": "dcgm-exporter"},
        "metrics",
        interval="15s",
        scrape_timeout="10s",
    )


class GpuSoftware(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        gpu_pools: list[GpuPool],
        dcgm_exporter: bool,
        shared: Shared,
        after: tuple[pulumi.Resource, ...] = (),
    ):
        super().__init__("agentic:k8s:GpuSoftware", name, None, shared.k8s_opts())
        scope = shared.scope(self, name, NAMESPACE, depends_on=after)
        self.device_plugin = None
        self.dcgm = None
        self.service_monitor = None
        needing = pools_needing_device_plugin(gpu_pools)
        if needing:
            self.device_plugin = release(
                f"{name}-nvidia-device-plugin",
                versions.NVIDIA_DEVICE_PLUGIN,
                release_name="nvidia-device-plugin",
                namespace=NAMESPACE,
                values=device_plugin_values(needing),
                opts=scope.opts(),
            )
        elif gpu_pools:
            shared.notes.add("NVIDIA device plugin not installed: every GPU pool uses Bottlerocket, which ships it.")
        if gpu_pools and dcgm_exporter:
            self.dcgm = release(
                f"{name}-dcgm-exporter",
                versions.DCGM_EXPORTER,
                release_name="dcgm-exporter",
                namespace=NAMESPACE,
                values=dcgm_values(),
                opts=scope.opts(),
            )
            if shared.monitoring_crds is not None:
                self.service_monitor = scope.apply(
                    dcgm_service_monitor(), name="dcgm-servicemonitor", depends_on=[shared.monitoring_crds, self.dcgm]
                )
            else:
                shared.notes.add(
                    "DCGM exporter ServiceMonitor left out: observability.prometheus is off, so the "
                    "prometheus-operator CRDs are not installed. GPU metrics are exposed on :9400 but not scraped."
                )
        elif gpu_pools:
            shared.notes.add("DCGM exporter not installed (observability.dcgm_exporter: false): no GPU metrics.")
        self.register_outputs({})
