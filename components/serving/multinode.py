"""Models served across nodes: one LeaderWorkerSet per variant (``leaderworkerset.x-k8s.io/v1``), each group one
replica of ``pipeline_parallel`` pods. vLLM's multi-node launch without Ray (the ``mp`` executor, vLLM >= 0.11): every
pod runs ``vllm serve`` with ``--nnodes``/``--node-rank``/``--master-addr``; the leader (rank 0) serves the OpenAI API
and the health and metrics endpoints, the workers run ``--headless``. The LWS controller injects
``LWS_LEADER_ADDRESS`` and ``LWS_WORKER_INDEX`` into every container (Kubernetes expands ``$(VAR)`` in args from
them). The Service selects leaders only (worker index 0), so routes, probes and metrics are the single-node ones.

Without a cluster placement group (one AZ by construction) the set carries LWS's exclusive-topology annotation on
the zone: a group's pods share one zone (EFA does not cross AZs) and no two groups share a zone.
"""

from __future__ import annotations

from typing import Any

from catalog import versions
from catalog.instances import instances_of
from config.pools import GpuPool
from config.serving import Model

SET_NAME = "leaderworkerset.sigs.k8s.io/name"
GROUP_INDEX = "leaderworkerset.sigs.k8s.io/group-index"
WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
GROUP_KEY = "leaderworkerset.sigs.k8s.io/group-key"
EXCLUSIVE_TOPOLOGY = "leaderworkerset.sigs.k8s.io/exclusive-topology"
ZONE = "topology.kubernetes.io/zone"
EFA = "vpc.amazonaws.com/efa"
#: torch.distributed's rendezvous on the leader (vLLM --master-port default)
MASTER_PORT = 29501


def efa_interfaces(pool: GpuPool) -> int:
    """EFA interfaces a pod requests: every interface of the pool's smallest EFA type (one pod fills one node)."""
    counts = [t.efa_interfaces for t in instances_of(list(pool.instance_families), list(pool.gpu_counts))]
    return min(counts) if counts and min(counts) > 0 else 0


def rdma(pool: GpuPool) -> bool:
    """GPUDirect RDMA over EFA: P4d, P4de and P5 (not the G families)."""
    return all(t.family.startswith("p") for t in instances_of(list(pool.instance_families), list(pool.gpu_counts)))


def multi_node_args(m: Model, leader: bool) -> list[str]:
    """vLLM flags (0.34: vllm/engine/arg_utils.py, entrypoints/common/cli_args.py) that join a pod to its group."""
    args = [
        "--pipeline-parallel-size",
        str(m.pipeline_parallel),
        "--nnodes",
        str(m.pipeline_parallel),
        "--node-rank",
        "0" if leader else "$(LWS_WORKER_INDEX)",
        "--master-addr",
        "$(LWS_LEADER_ADDRESS)",
    ]
    return args if leader else [*args, "--headless"]


def nccl_env(pool: GpuPool) -> list[dict[str, str]]:
    """libfabric's EFA provider for NCCL (through the image's aws-ofi-nccl plugin)."""
    env = [{"name": "FI_PROVIDER", "value": "efa"}]
    if rdma(pool):
        env.append({"name": "FI_EFA_USE_DEVICE_RDMA", "value": "1"})
    return env


def leader_worker_set(
    name: str,
    namespace: str,
    metadata: dict[str, Any],
    leader: dict[str, Any],
    worker: dict[str, Any],
    size: int,
    replicas: int | None,
    exclusive_zone: bool,
) -> dict[str, Any]:
    """``replicas`` None leaves the count to the autoscaler (KEDA scales the set's scale subresource)."""
    meta = {**metadata, "name": name, "namespace": namespace}
    if exclusive_zone:
        meta["annotations"] = {**(meta.get("annotations") or {}), EXCLUSIVE_TOPOLOGY: ZONE}
    spec: dict[str, Any] = {
        "startupPolicy": "LeaderCreated",  # the leader is Ready only once its workers joined: never wait for it
        # replace one group at a time, bringing the new group up first (GPU capacity for one extra group)
        "rolloutStrategy": {
            "type": "RollingUpdate",
            "rollingUpdateConfiguration": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "leaderWorkerTemplate": {
            "size": size,
            "restartPolicy": "RecreateGroupOnPodRestart",  # a lost pod breaks the collective: restart the group
            "leaderTemplate": leader,
            "workerTemplate": worker,
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {"apiVersion": versions.LWS_API, "kind": "LeaderWorkerSet", "metadata": meta, "spec": spec}
