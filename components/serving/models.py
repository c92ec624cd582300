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
from config.base import quantity
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
        str(m.gpus),
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
    """``<model>-<variant>``; a Flagger-managed model's Deployment is ``<model>`` (Flagger adds ``-primary``)."""
    if m.rollout:
        return m.name
    return f"{m.name}-{(v or m.variants[0]).name}"


def labels_of(m: Model, variant: str | None = None) -> dict[str, str]:
    out = {NAME: m.name, MODEL_LABEL: m.name}
    if variant:
        out[VARIANT_LABEL] = variant
    return out


def deployment(
    m: Model, v: ModelVariant, namespace: str, bucket: str | None = None, replicas: int | None = None
) -> dict[str, Any]:
    """The variant's Deployment; ``replicas`` None leaves the count to its autoscaler."""
    port, health, _ = ENGINE_PORTS[m.engine]
    name = deployment_name(m, v)
    variant = None if m.rollout else v.name
    resources = {"nvidia.com/gpu": str(m.gpus), "cpu": m.cpu, "memory": m.memory}
    shm = max(1, int(quantity(m.memory) / 2**30 / 4))
    env: list[dict[str, Any]] = [
        {"name": "HF_HOME", "value": CACHE},
        {"name": "HOME", "value": HOME},  # the engines write caches (torch, triton, vllm) under $HOME
    ]
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
    container = {
        "name": m.engine,
        "image": m.image(v),
        "args": engine_args(m, bucket),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": env,
        "resources": {"requests": resources, "limits": resources},
        "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": max(1, _seconds(m.load_timeout) // 10)},
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 30, "failureThreshold": 5, "timeoutSeconds": 10},
        "volumeMounts": mounts,
        # Pod Security "restricted": a non-root high UID, a read-only root file system (caches, /tmp and $HOME are
        # volumes), no privilege escalation, no capabilities, the runtime's default seccomp profile. GPUs come from
        # the device plugin, which needs none of these.
        "securityContext": restricted_security_context(ENGINE_UID, ENGINE_UID),
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels_of(m, variant)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
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
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace, labels_of(m, variant)),
        "spec": spec,
    }


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
            "selector": labels_of(m, v.name),
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
) -> list[dict[str, Any]]:
    """Every object of one model: ServiceAccount, per variant Deployment + Service (a Flagger-managed model: its one
    Deployment; Flagger owns its Services and route), PDB, monitor."""
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(m.name, namespace, labels_of(m))}
    ]
    for v in m.variants:
        out.append(deployment(m, v, namespace, bucket, None if m.autoscaling else v.replicas))
        if not m.rollout:
            out.append(service(m, v, namespace, kubernetes_version))
    out.append(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(m.name, namespace, labels_of(m)),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels_of(m)}},
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
    ):
        super().__init__("agentic:k8s:ModelServers", name, None, shared.k8s_opts())
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
                        m, namespace, monitoring=monitoring, bucket=b, kubernetes_version=kubernetes_version
                    )
                )
                if bucket is not None and m.weights_s3_prefix
                else None
            )
            for i, obj in enumerate(
                model_objects(
                    m, namespace, monitoring=monitoring, bucket="models-bucket", kubernetes_version=kubernetes_version
                )
            ):
                if manifests is not None and obj["kind"] == "Deployment":
                    spec = manifests.apply(lambda ms, i=i: ms[i]["spec"])  # type: ignore[misc]
                    obj = {**obj, "spec": spec}
                made.append(scope.apply(obj, depends_on=extra if obj["kind"] == "ServiceMonitor" else ()))
            self.objects[m.name] = made
        self.register_outputs({})
