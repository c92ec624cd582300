"""What every policy module shares. Imports nothing from the project (the pack installs alone)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get(d: Any, *path: str, default: Any = None) -> Any:
    """``d[path[0]][path[1]]...``, or ``default`` where the path leaves the mappings."""
    for key in path:
        if not isinstance(d, Mapping) or key not in d:
            return default
        d = d[key]
    return d


#: Kinds whose objects carry pod templates (a LeaderWorkerSet: its leader's and its workers').
WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "LeaderWorkerSet"}


def pod_templates(kind: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every pod template (``{metadata, spec}``) of a workload; a Pod is its own template."""
    if kind == "Pod":
        return [props]
    if kind == "CronJob":
        found = [get(props, "spec", "jobTemplate", "spec", "template")]
    elif kind == "LeaderWorkerSet":
        lwt = get(props, "spec", "leaderWorkerTemplate") or {}
        found = [lwt.get("leaderTemplate"), lwt.get("workerTemplate")]
    elif kind in WORKLOAD_KINDS:
        found = [get(props, "spec", "template")]
    else:
        found = []
    return [t for t in found if isinstance(t, Mapping)]
