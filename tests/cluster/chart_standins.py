"""Stand-ins for objects pinned charts make from a plan's release values: the suite cannot render charts (no chart
download), so these build what the chart's template builds, for the real API server to judge."""

from __future__ import annotations

from typing import Any


def chart_pool(release: dict[str, Any]) -> dict[str, Any]:
    """What the chart's template renders for the InferencePool from a release's values (routerlib v0.10.0)."""
    router = release["values"]["router"]
    servers = router["modelServers"]
    spec: dict[str, Any] = {
        "targetPorts": [{"number": p["number"]} for p in servers["targetPorts"]],
        "selector": {"matchLabels": {k: str(v) for k, v in servers["matchLabels"].items()}},
        "endpointPickerRef": {
            "name": f"{release['name'].lower().strip()[:40]}-epp",
            "port": {"number": router["epp"].get("extProcPort", 9002)},
            "failureMode": router["inferencePool"].get("failureMode", "FailOpen"),
        },
    }
    if servers.get("protocol") == "http":
        spec["appProtocol"] = "http"
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": release["name"], "namespace": release["namespace"]},
        "spec": spec,
    }


def releases_of(plan) -> list[dict[str, Any]]:
    return [
        dict(r.inputs)
        for r in plan.run.registrations
        if r.type == "kubernetes:helm.sh/v3:Release" and str(r.inputs.get("chart")).endswith("/llm-d-router-gateway")
    ]


def first_pool(plan) -> dict[str, Any]:
    return chart_pool(releases_of(plan)[0])
