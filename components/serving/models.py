"""Model servers on the GPU pools: per model variant a Deployment and a Service, per model a PodDisruptionBudget, a
ServiceAccount and (with monitoring) a ServiceMonitor. Pure builders first; :class:`ModelServers` registers them.

Engines: vLLM (OpenAI API on :8000) and TGI (on :8080, seed 001). Pods land only on their pool (node affinity on the
pool label, the GPU taint tolerated), request as many GPUs as they limit, carry ``karpenter.sh/do-not-disrupt`` so
consolidation never kills a loading or serving replica, and get a startup probe sized for the model's load time.
"""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.serving import multinode
from config.base import quantity
from config.pools import GpuPool
from config.serving import Model, ModelVariant
from kit.labels import GPU_TOLERATION, NAME, POOL, metadata, node_affinity_in, restricted_security_context
from kit.monitors import service_monitor
from kit.shared import Shared

DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
MODEL_LABEL = "agentic.platform/model"
VARIANT_LABEL = "agentic.platform/variant"
CACHE = "/models"
HOME = "/home/engine"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
#: The model servers' user: a high UID of no host user (the engines' images default to root; nothing they do needs it)
ENGINE_UID = 10001
#: engine -> (container port, health path, metrics path)
ENGINE_PORTS = {"vllm": (8000, "/health", "/metrics"), "tgi": (8080, "/health", "/metrics")}
#: vLLM serve flags the builder uses, each found in vLLM 0.34.0's vllm/engine/arg_utils.py (the wheel, read here);
#: the vllm package (CUDA torch) cannot be installed here to run its own parser, so a test
#: asserts the builder uses no flag outside this list. --disable-log-requests is left out: deprecated since 0.10
#: (request logging is off by default).
VLLM_FLAGS = {
    "--model",
    "--served-model-name",
    "--tensor-parallel-size",
    "--port",
    "--download-dir",
    "--max-model-len",
    "--enable-auto-tool-choice",
    "--tool-call-parser",
    "--load-format",
    "--runner",
    # multi-node (components/serving/multinode.py): arg_utils.py's parallel group, cli_args.py's --headless
    "--pipeline-parallel-size",
    "--nnodes",
    "--node-rank",
    "--master-addr",
    "--headless",
}
#: TGI launcher flags used (text-generation-launcher --help, 3.x).
TGI_FLAGS = {"--model-id", "--port", "--num-shard", "--max-total-tokens", "--huggingface-hub-cache"}


def _seconds(duration: str) -> int:
    total, num = 0, ""
    for ch in duration:
        if ch.isdigit():
            num += ch
        else:
            total += int(num) * {"s": 1, "m": 60, "h": 3600}[ch]
            num = ""
    return total


def model_source(m: Model, bucket: str | None) -> str:
    return f"s3://{bucket}/{m.weights_s3_prefix.strip('/')}" if m.weights_s3_prefix and bucket else m.hf_model


def engine_args(m: Model, bucket: str | None = None) -> list[str]:
    port = ENGINE_PORTS[m.engine][0]
    if m.engine == "tgi":
        args = [
            "--model-id",
            m.hf_model,
            "--port",
            str(port),
            "--num-shard",
            str(m.gpus),
            "--huggingface-hub-cache",
            CACHE,
        ]
        if m.max_model_len:
            args += ["--max-total-tokens", str(m.max_model_len)]
        return args
    args = [
        "--model",
        model_source(m, bucket),
        # clients name the model either way: the platform name (metrics' model_name) and the Hugging Face id that
        # model configs and BYO agents send; vLLM answers 404 for a name it does not serve
        "--served-model-name",
        m.name,
        m.hf_model,
        "--tensor-parallel-size",
        str(m.gpus_per_node),
        "--port",
        str(port),
        "--download-dir",
        CACHE,
    ]
    if m.weights_s3_prefix:
        args += ["--load-format", "runai_streamer"]
    if m.max_model_len:
        args += ["--max-model-len", str(m.max_model_len)]
    if m.tool_calling:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", str(m.tool_parser)]
    if m.embedding_dim is not None:
        args += ["--runner", "pooling"]  # /v1/embeddings (vLLM 0.34 --runner; the model's pooler)
    return args


def deployment_name(m: Model, v: ModelVariant | None = None) -> str:
    """``<model>-<variant>``; a Flagger-managed model's Deployment is ``<model>`` (Flagger adds ``-primary``); a
    multi-node model's LeaderWorkerSet is ``<model>-<variant>-lws`` (the LWS controller names its headless Service
    after the set: it must not take the name of the variant's Service, which routes reach)."""
    if m.rollout:
        return m.name
    return f"{m.name}-{(v or m.variants[0]).name}" + ("-lws" if m.multi_node else "")


def labels_of(m: Model, variant: str | None = None) -> dict[str, str]:
    out = {NAME: m.name, MODEL_LABEL: m.name}
    if variant:
        out[VARIANT_LABEL] = variant
    return out


def pod_template(
    m: Model, v: ModelVariant, bucket: str | None = None, *, pool: GpuPool | None = None, leader: bool = True
) -> dict[str, Any]:
    """The pod template of one variant: a single-node replica, or (multi-node model) its group's leader or worker."""
    port, health, _ = ENGINE_PORTS[m.engine]
    variant = None if m.rollout else v.name
    resources = {"nvidia.com/gpu": str(m.gpus_per_node), "cpu": m.cpu, "memory": m.memory}
    if m.multi_node and pool is not None and (efa := multinode.efa_interfaces(pool)):
        resources[multinode.EFA] = str(efa)
    shm = max(1, int(quantity(m.memory) / 2**30 / 4))
    env: list[dict[str, Any]] = [
        {"name": "HF_HOME", "value": CACHE},
        {"name": "HOME", "value": HOME},  # the engines write caches (torch, triton, vllm) under $HOME
    ]
    if m.multi_node and pool is not None:
        env += multinode.nccl_env(pool)
    mounts: list[dict[str, Any]] = [
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "cache", "mountPath": CACHE},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "home", "mountPath": HOME},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm}Gi"}},
        {"name": "cache", "emptyDir": {"sizeLimit": "200Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
        {"name": "home", "emptyDir": {"sizeLimit": "20Gi"}},
    ]
    if m.hf_token and m.engine == "vllm":  # huggingface_hub reads the token from a file: no secret in the environment
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/token"})
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "hf-token",
                "secret": {"secretName": m.hf_token.name, "items": [{"key": m.hf_token.key, "path": "token"}]},
            }
        )
    elif m.hf_token:  # TGI's launcher reads HF_TOKEN from its environment only
        env.append(
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": m.hf_token.name, "key": m.hf_token.key}}}
        )
    probe = {"httpGet": {"path": health, "port": "http"}}
    args = engine_args(m, bucket)
    if m.multi_node:
        args += multinode.multi_node_args(m, leader)
    container: dict[str, Any] = {
        "name": m.engine,
        "image": m.image(v),
        "args": args,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": env,
        "resources": {"requests": resources, "limits": resources},
    }
    if leader:  # a headless worker serves no HTTP: the leader's health covers the group (a lost worker fails it)
        container |= {
            "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": max(1, _seconds(m.load_timeout) // 10)},
            "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
            "livenessProbe": {**probe, "periodSeconds": 30, "failureThreshold": 5, "timeoutSeconds": 10},
        }
    else:
        del container["ports"]
    # Pod Security "restricted": a non-root high UID, a read-only root file system (caches, /tmp and $HOME are
    # volumes), no privilege escalation, no capabilities, the runtime's default seccomp profile. GPUs come from
    # the device plugin, which needs none of these.
    container |= {"volumeMounts": mounts, "securityContext": restricted_security_context(ENGINE_UID, ENGINE_UID)}
    return {
        "metadata": {"labels": labels_of(m, variant), "annotations": {DO_NOT_DISRUPT: "true"}},
        "spec": {
            "serviceAccountName": m.name,
            "automountServiceAccountToken": False,  # no Kubernetes API calls (Pod Identity brings its own token)
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": ENGINE_UID,
                "runAsGroup": ENGINE_UID,
                "fsGroup": ENGINE_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "affinity": node_affinity_in(POOL, [m.pool]),
            "tolerations": [GPU_TOLERATION],
            "terminationGracePeriodSeconds": 60,
            "containers": [container],
            "volumes": volumes,
        },
    }


def deployment(
    m: Model, v: ModelVariant, namespace: str, bucket: str | None = None, replicas: int | None = None
) -> dict[str, Any]:
    """The variant's Deployment; ``replicas`` None leaves the count to its autoscaler."""
    variant = None if m.rollout else v.name
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels_of(m, variant)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": pod_template(m, v, bucket),
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(deployment_name(m, v), namespace, labels_of(m, variant)),
        "spec": spec,
    }


def leader_worker_set(
    m: Model, v: ModelVariant, namespace: str, pool: GpuPool, bucket: str | None = None, replicas: int | None = None
) -> dict[str, Any]:
    """A multi-node model's variant: one LeaderWorkerSet whose groups are its replicas."""
    return multinode.leader_worker_set(
        deployment_name(m, v),
        namespace,
        metadata(deployment_name(m, v), namespace, labels_of(m, v.name)),
        pod_template(m, v, bucket, pool=pool, leader=True),
        pod_template(m, v, bucket, pool=pool, leader=False),
        m.pipeline_parallel,
        replicas,
        exclusive_zone=not pool.placement_group,
    )


def traffic_distribution(kubernetes_version: str) -> str:
    """Prefer endpoints in the caller's zone: ``PreferSameZone`` from Kubernetes 1.34 (where ``PreferClose`` is
    deprecated and the API server warns about it), ``PreferClose`` before."""
    major, minor = (int(x) for x in kubernetes_version.split(".")[:2])
    return "PreferSameZone" if (major, minor) >= (1, 34) else "PreferClose"


def service(
    m: Model, v: ModelVariant, namespace: str, kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION
) -> dict[str, Any]:
    port = ENGINE_PORTS[m.engine][0]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(f"{m.name}-{v.name}", namespace, labels_of(m, v.name)),
        "spec": {
            "selector": {**labels_of(m, v.name), **({multinode.WORKER_INDEX: "0"} if m.multi_node else {})},
            "trafficDistribution": traffic_distribution(kubernetes_version),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def model_objects(
    m: Model,
    namespace: str,
    *,
    monitoring: bool,
    bucket: str | None = None,
    kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION,
    pool: GpuPool | None = None,
) -> list[dict[str, Any]]:
    """Every object of one model: ServiceAccount, per variant Deployment (multi-node: LeaderWorkerSet) + Service (a
    Flagger-managed model: its one Deployment; Flagger owns its Services and route), PDB, monitor."""
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(m.name, namespace, labels_of(m))}
    ]
    for v in m.variants:
        replicas = None if m.autoscaling else v.replicas
        if m.multi_node:
            assert pool is not None, f"model {m.name} spans nodes: its pool is needed (EFA interfaces, placement)"
            out.append(leader_worker_set(m, v, namespace, pool, bucket, replicas))
        else:
            out.append(deployment(m, v, namespace, bucket, replicas))
        if not m.rollout:
            out.append(service(m, v, namespace, kubernetes_version))
    out.append(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(m.name, namespace, labels_of(m)),
            # one replica stays up (a multi-node model: one group's worth of pods; evicting any pod of a group
            # restarts that group)
            "spec": {"minAvailable": m.pipeline_parallel, "selector": {"matchLabels": labels_of(m)}},
        }
    )
    if monitoring:
        out.append(
            service_monitor(m.name, namespace, labels_of(m), "http", path=ENGINE_PORTS[m.engine][2], interval="15s")
        )
    return out


class ModelServers(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        models: list[Model],
        shared: Shared,
        bucket: pulumi.Input[str] | None = None,
        after: tuple[pulumi.Resource, ...] = (),
        kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION,
        pools: dict[str, GpuPool] | None = None,
        lws: pulumi.Resource | None = None,
    ):
        """``pools``: the GPU pools by name (multi-node models read EFA and placement from theirs); ``lws``: the
        LeaderWorkerSet controller release their sets wait for."""
        super().__init__("agentic:k8s:ModelServers", name, None, shared.k8s_opts())
        pools = pools or {}
        namespace = shared.namespaces["inference"]
        deps = (shared.namespace_resources["inference"], *after)
        monitoring = shared.monitoring_crds is not None
        self.objects: dict[str, list[pulumi.Resource]] = {}
        for m in models:
            scope = shared.scope(self, f"{name}-{m.name}", namespace, depends_on=deps)
            extra: tuple[pulumi.Resource, ...] = (shared.monitoring_crds,) if shared.monitoring_crds else ()
            made: list[pulumi.Resource] = []
            manifests = (
                pulumi.Output.from_input(bucket).apply(
                    lambda b, m=m: model_objects(  # type: ignore[misc]
                        m,
                        namespace,
                        monitoring=monitoring,
                        bucket=b,
                        kubernetes_version=kubernetes_version,
                        pool=pools.get(m.pool),
                    )
                )
                if bucket is not None and m.weights_s3_prefix
                else None
            )
            for i, obj in enumerate(
                model_objects(
                    m,
                    namespace,
                    monitoring=monitoring,
                    bucket="models-bucket",
                    kubernetes_version=kubernetes_version,
                    pool=pools.get(m.pool),
                )
            ):
                if manifests is not None and obj["kind"] in ("Deployment", "LeaderWorkerSet"):
                    spec = manifests.apply(lambda ms, i=i: ms[i]["spec"])  # type: ignore[misc]
                    obj = {**obj, "spec": spec}
                waits = {"ServiceMonitor": extra, "LeaderWorkerSet": (lws,) if lws else ()}.get(obj["kind"], ())
                made.append(scope.apply(obj, depends_on=waits))
            self.objects[m.name] = made
        self.register_outputs({})
