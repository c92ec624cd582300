"""Model servers: pure builders for both engines (schema-valid, scheduling, probes, flags), the S3 weights path, the
registered objects in the dev/prod plans, the capacity table, and the bad inputs of issue #9."""

from __future__ import annotations

import json

import pytest

from components.serving.models import (
    DO_NOT_DISRUPT,
    TGI_FLAGS,
    VLLM_FLAGS,
    engine_args,
    model_objects,
)
from components.serving.weights import read_policy
from config import ConfigError, parse_platform
from config.serving import Model
from kit.aws import tls_only_policy
from tests.conftest import build_stack, stack_raw, validate_object

VLLM = {
    "name": "llama-8b",
    "hf_model": "meta-llama/Llama-3.1-8B-Instruct",
    "pool": "g5",
    "gpus": 2,
    "cpu": "8",
    "memory": "64Gi",
    "max_model_len": 16384,
    "tool_calling": True,
    "tool_parser": "llama3_json",
    "hf_token": {"name": "hf", "key": "token"},
    "variants": [{"name": "primary", "replicas": 2, "weight": 100}],
}
TGI = {
    "name": "mixtral",
    "engine": "tgi",
    "hf_model": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "pool": "g5",
    "gpus": 4,
    "cpu": "16",
    "memory": "96Gi",
    "max_model_len": 8192,
    "variants": [{"name": "primary", "replicas": 1, "weight": 100}],
}


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


@pytest.mark.parametrize("spec", [VLLM, TGI], ids=["vllm", "tgi"])
def test_builders_are_schema_valid(spec):
    for obj in model_objects(Model.model_validate(spec), "ai-inference", monitoring=True):
        validate_object(json.loads(json.dumps(obj)), "1.35")


def test_vllm_pod_spec():
    objs = model_objects(Model.model_validate(VLLM), "ai-inference", monitoring=True)
    [dep] = by_kind(objs, "Deployment")
    pod = dep["spec"]["template"]
    c = pod["spec"]["containers"][0]
    assert pod["metadata"]["annotations"][DO_NOT_DISRUPT] == "true"
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0] == {
        "key": "agentic.platform/pool",
        "operator": "In",
        "values": ["g5"],
    }
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    assert (
        c["resources"]["requests"] == c["resources"]["limits"] == {"nvidia.com/gpu": "2", "cpu": "8", "memory": "64Gi"}
    )
    args = c["args"]
    assert (
        args[args.index("--tensor-parallel-size") + 1] == "2"
        and args[args.index("--served-model-name") + 1] == "llama-8b"
    )
    assert args[args.index("--max-model-len") + 1] == "16384"
    assert "--enable-auto-tool-choice" in args and args[args.index("--tool-call-parser") + 1] == "llama3_json"
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] == 30 * 60  # load_timeout 30m
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/dev/shm", "/models"} <= mounts
    shm = next(v for v in pod["spec"]["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    # the Hugging Face token is a mounted file (huggingface_hub's HF_TOKEN_PATH), never an environment value
    assert {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/huggingface/token"} in c["env"]
    assert not any(e["name"] == "HF_TOKEN" for e in c["env"])
    token = next(v for v in pod["spec"]["volumes"] if v["name"] == "hf-token")
    assert token["secret"] == {"secretName": "hf", "items": [{"key": "token", "path": "token"}]}
    # Pod Security restricted: non-root high UID, read-only root, no token, writable caches as volumes
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] and sc["runAsUser"] >= 10000 and sc["readOnlyRootFilesystem"]
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert {m["mountPath"] for m in c["volumeMounts"]} >= {"/models", "/tmp", "/home/engine", "/dev/shm"}
    from policies.pod_security import violations

    assert violations(pod["spec"])["restricted"] == []
    assert dep["spec"]["replicas"] == 2 and c["image"] == "vllm/vllm-openai:v0.34.0"
    [svc] = by_kind(objs, "Service")
    assert svc["spec"]["trafficDistribution"] == "PreferSameZone" and svc["spec"]["ports"][0]["port"] == 8000
    [pdb] = by_kind(objs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    [sm] = by_kind(objs, "ServiceMonitor")
    assert sm["spec"]["endpoints"][0]["port"] == "http"
    assert by_kind(model_objects(Model.model_validate(VLLM), "ai-inference", monitoring=False), "ServiceMonitor") == []


def test_engine_flags_are_ones_the_engines_accept():
    """vLLM: the flags of `vllm serve` (engine-args reference at the pinned release); TGI: text-generation-launcher."""
    for spec, known in ((VLLM, VLLM_FLAGS), ({**VLLM, "weights_s3_prefix": "llama/8b"}, VLLM_FLAGS), (TGI, TGI_FLAGS)):
        flags = {a for a in engine_args(Model.model_validate(spec), "bucket") if a.startswith("--")}
        assert flags <= known, flags - known
    tgi = engine_args(Model.model_validate(TGI))
    assert tgi[tgi.index("--num-shard") + 1] == "4" and tgi[tgi.index("--port") + 1] == "8080"


def test_s3_weights_stream_from_the_bucket_with_a_read_only_role():
    args = engine_args(Model.model_validate({**VLLM, "weights_s3_prefix": "llama/8b"}), "models-abc")
    assert args[args.index("--model") + 1] == "s3://models-abc/llama/8b" and "runai_streamer" in args
    pol = read_policy("arn:aws:s3:::models-abc", "arn:aws:kms:k", "llama/8b/")
    actions = {a for st in pol["Statement"] for a in st["Action"]}
    assert actions == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    assert pol["Statement"][0]["Resource"] == "arn:aws:s3:::models-abc/llama/8b/*"
    deny = tls_only_policy("arn:aws:s3:::b")["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_autoscaled_models_leave_replicas_to_the_scaler():
    spec = {**VLLM, "autoscaling": {"max_replicas": 4}, "variants": [{"name": "primary", "weight": 100}]}
    [dep] = by_kind(model_objects(Model.model_validate(spec), "ai-inference", monitoring=False), "Deployment")
    assert "replicas" not in dep["spec"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_model_variant_is_served_in_the_plans(plans, stack):
    run = plans(stack).run
    cfg = plans(stack).config
    from components.serving.models import deployment_name

    deps = {
        r.inputs["metadata"]["name"]: r
        for r in run.of_type("kubernetes:apps/v1:Deployment")
        + run.of_type("kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet")
    }
    for m in cfg.models:
        for v in m.variants:
            d = deps[deployment_name(m, v)]
            assert ("replicas" in d.inputs["spec"]) is (m.autoscaling is None)
            assert d.inputs["metadata"]["namespace"] == "ai-inference" and d.provider
    assert len(run.of_type("kubernetes:policy/v1:PodDisruptionBudget")) == len(cfg.models)


def test_s3_models_get_the_bucket_role_and_pod_identity():
    raw = stack_raw("dev")
    raw["models"][0]["weights_s3_prefix"] = "llama/8b"
    run = build_stack(raw)
    [bucket] = run.of_type("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucketPrefix"].startswith("agentic-dev-models-")
    assert run.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].inputs["blockPublicPolicy"]
    sse = run.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0]
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    pia = [
        r
        for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.inputs["serviceAccount"] == "llama-8b"
    ]
    assert pia and pia[0].inputs["namespace"] == "ai-inference"
    dep = next(
        r for r in run.of_type("kubernetes:apps/v1:Deployment") if r.inputs["metadata"]["name"] == "llama-8b-primary"
    )
    args = dep.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--model") + 1].startswith("s3://agentic-dev-models-")


def test_capacity_table_in_the_summary(plans):
    from agentic.plan.tables import model_capacity

    rows = {r["model"]: r for r in model_capacity(plans("prod").config)}
    assert (
        rows["llama-70b"]["gpus_at_max"] == 16 and rows["llama-70b"]["pool_limit"] == 32 and rows["llama-70b"]["fits"]
    )
    assert rows["llama-405b"]["gpus_at_max"] == 16 and rows["llama-405b"]["pool_gpus_at_max"] == 32  # 1 group x 2 x 8
    assert rows["embed"]["pool_gpus_at_max"] == 10  # llama-8b autoscaled to 8 + embed 2 on g5
    assert rows["llama-70b"]["max_replicas"] == 2  # Flagger's primary and canary side by side


# --- bad input (issue #9) -------------------------------------------------------------------------------------------


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize(
    "mutate, path, fragment",
    [
        (lambda m: m.update(pool="p9"), "platform.models[0].pool", "is not in platform.gpu_pools"),
        (lambda m: m.update(gpus=8), "platform.models[0].gpus", "do not fit on one node"),
        (lambda m: m["variants"][0].update(weight=60), "platform.models[0].variants", "sum to 60"),
        (
            lambda m: m.update(rollout={"max_error_rate_percent": None, "max_latency_ratio": None}),
            "platform.models[0].rollout",
            "without metrics",
        ),
        (
            lambda m: m.update(autoscaling={"max_replicas": 3}),
            "platform.models[0].variants[0].replicas",
            "no fixed replica count",
        ),
        (
            lambda m: m.update(engine="tgi", tool_calling=True, tool_parser="hermes"),
            "platform.models[0].tool_parser",
            "vLLM option",
        ),
        (
            lambda m: m.update(engine="tgi", weights_s3_prefix="w/x"),
            "platform.models[0].weights_s3_prefix",
            "vLLM option",
        ),
        (lambda m: m.update(tool_calling=True), "platform.models[0].tool_parser", "needs a tool-call parser"),
        (lambda m: m.update(rollout={"step_weights": [50, 10]}), "platform.models[0].rollout.step_weights", "rise"),
    ],
)
def test_bad_model_input_is_refused_with_path_and_fix(mutate, path, fragment):
    raw = stack_raw("dev")
    raw["models"][0] = {
        "name": "llama-8b",
        "hf_model": "meta-llama/Llama-3.1-8B-Instruct",
        "pool": "g5",
        "gpus": 1,
        "cpu": "4",
        "memory": "24Gi",
        "variants": [{"name": "primary", "replicas": 1, "weight": 100}],
    }
    mutate(raw["models"][0])
    found = problems(raw)
    assert any(p.startswith(path) and fragment in p for p in found), found


def test_scale_to_zero_only_in_dev():
    raw = stack_raw("prod")
    m = raw["models"][1]
    m["variants"] = [{"name": "primary", "weight": 100}]
    m["autoscaling"] = {"min_replicas": 0, "max_replicas": 3}
    assert any("scale to zero is allowed only in dev" in p for p in problems(raw))
    raw = stack_raw("dev")
    raw["models"][0]["variants"] = [{"name": "primary", "weight": 100}]
    raw["models"][0]["autoscaling"] = {"min_replicas": 0, "max_replicas": 2}
    parse_platform(raw)


def test_pool_limit_must_hold_every_model_at_max_replicas():
    raw = stack_raw("prod")
    raw["models"][1]["variants"] = [{"name": "primary", "weight": 100}]
    raw["models"][1]["autoscaling"] = {"max_replicas": 30}
    found = problems(raw)
    assert any(
        p.startswith("platform.gpu_pools[2].limits.gpus: must be >= 32") and "llama-8b" in p and "embed" in p
        for p in found
    ), found
