"""What the LeaderWorkerSet controller and its pod webhook would create, for the control plane in the suite (the LWS
controller does not run there): per group its leader pod ``<set>-<g>`` and workers ``<set>-<g>-<w>``, labelled and
annotated as LWS v0.10.0 does (``leaderworkerset.sigs.k8s.io/{name,group-index,worker-index,group-key}``, the
``size`` annotation), with the group's environment (``LWS_LEADER_ADDRESS``, ``LWS_GROUP_SIZE``,
``LWS_WORKER_INDEX``) and, when the set asks for an exclusive topology, the webhook's pod affinity (same domain as
the group) and anti-affinity (no other group there). The pods then go through the real API server's admission
(Pod Security, quota, LimitRanges) and the real scheduler like any other; only the controller is stood in for.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from components.serving.multinode import EXCLUSIVE_TOPOLOGY, GROUP_INDEX, GROUP_KEY, SET_NAME, WORKER_INDEX

SIZE = "leaderworkerset.sigs.k8s.io/size"


def _group_key(namespace: str, name: str, group: int) -> str:
    return hashlib.sha1(f"{namespace}/{name}-{group}".encode()).hexdigest()  # noqa: S324 - a label value, not security


def _affinity(spec: dict[str, Any], key: str, topology: str) -> None:
    aff = spec.setdefault("affinity", {})
    aff.setdefault("podAffinity", {}).setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(
        {
            "labelSelector": {"matchExpressions": [{"key": GROUP_KEY, "operator": "In", "values": [key]}]},
            "topologyKey": topology,
        }
    )
    aff.setdefault("podAntiAffinity", {}).setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(
        {
            "labelSelector": {
                "matchExpressions": [
                    {"key": GROUP_KEY, "operator": "Exists"},
                    {"key": GROUP_KEY, "operator": "NotIn", "values": [key]},
                ]
            },
            "topologyKey": topology,
        }
    )


def created_objects(lws: dict[str, Any]) -> list[dict[str, Any]]:
    """The headless Service that gives the pods their DNS names (the controller's), then every group's pods."""
    meta = lws["metadata"]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"clusterIP": "None", "selector": {SET_NAME: meta["name"]}, "publishNotReadyAddresses": True},
    }
    return [service, *group_pods(lws)]


def group_pods(lws: dict[str, Any]) -> list[dict[str, Any]]:
    meta, spec = lws["metadata"], lws["spec"]
    name, namespace = meta["name"], meta["namespace"]
    tmpl = spec["leaderWorkerTemplate"]
    size = int(tmpl.get("size", 1))
    topology = (meta.get("annotations") or {}).get(EXCLUSIVE_TOPOLOGY)
    out = []
    for g in range(int(spec.get("replicas", 1))):
        key = _group_key(namespace, name, g)
        for w in range(size):
            source = tmpl["leaderTemplate"] if w == 0 else tmpl.get("workerTemplate", tmpl["leaderTemplate"])
            pod_spec = copy.deepcopy(source["spec"])
            pod_name = f"{name}-{g}" if w == 0 else f"{name}-{g}-{w}"
            env = [
                {"name": "LWS_LEADER_ADDRESS", "value": f"{name}-{g}.{name}.{namespace}"},
                {"name": "LWS_GROUP_SIZE", "value": str(size)},
                {"name": "LWS_WORKER_INDEX", "value": str(w)},
            ]
            for c in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
                known = {e["name"] for e in c.get("env", [])}
                c["env"] = [e for e in env if e["name"] not in known] + c.get("env", [])
            if topology:
                _affinity(pod_spec, key, topology)
            labels = {
                **(source.get("metadata", {}).get("labels") or {}),
                SET_NAME: name,
                GROUP_INDEX: str(g),
                WORKER_INDEX: str(w),
                GROUP_KEY: key,
            }
            annotations = {**(source.get("metadata", {}).get("annotations") or {}), SIZE: str(size)}
            if topology:
                annotations[EXCLUSIVE_TOPOLOGY] = topology
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": pod_name,
                        "namespace": namespace,
                        "labels": labels,
                        "annotations": annotations,
                    },
                    "spec": {**pod_spec, "hostname": pod_name, "subdomain": name},
                }
            )
    return out
