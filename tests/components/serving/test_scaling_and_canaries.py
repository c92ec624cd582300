"""KEDA and Flagger: ScaledObjects on the engine's queue depth owning the replica count, Canaries with the seed's
steps and thresholds over the engines' metrics, one owner per object, chart values the charts know, and the
network paths these controllers need."""

from __future__ import annotations

import json

import pytest

from components.serving.autoscaling import KedaValues, scaled_object
from components.serving.canary import FlaggerValues, canary, metric_templates
from components.serving.models import model_objects
from components.tenancy.namespaces import network_policy_specs, system_namespace
from config.serving import GatewayConfig, Model
from tests.conftest import validate_custom
from tests.helm_values import chart_defaults, unknown_keys

BASE = {"hf_model": "org/m", "pool": "g5", "gpus": 1, "variants": [{"name": "primary", "weight": 100}]}


def model(**kw):
    return Model.model_validate({"name": "m", **BASE, **kw})


@pytest.mark.parametrize(
    "engine, metric",
    [
        ("vllm", 'vllm:num_requests_waiting{namespace="ai-inference", model_name="m"}'),
        ("tgi", 'tgi_queue_size{namespace="ai-inference", service=~"m-.*"}'),
    ],
)
def test_scaled_object_on_queue_depth(engine, metric):
    m = model(
        engine=engine,
        autoscaling={
            "min_replicas": 1,
            "max_replicas": 6,
            "queue_depth_target": 7,
            "cooldown_seconds": 120,
            "scale_down_stabilization_seconds": 900,
        },
    )
    so = scaled_object(m, "ai-inference", "http://prom:9090")
    validate_custom(json.loads(json.dumps(so)))
    spec = so["spec"]
    assert spec["scaleTargetRef"] == {"name": "m-primary"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (1, 6, 120)
    trigger = spec["triggers"][0]
    assert trigger["type"] == "prometheus" and metric in trigger["metadata"]["query"]
    assert trigger["metadata"]["threshold"] == "7" and trigger["metadata"]["serverAddress"] == "http://prom:9090"
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert (
        behavior["scaleDown"]["stabilizationWindowSeconds"] == 900
        and behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    )
    [dep] = [o for o in model_objects(m, "ai-inference", monitoring=True) if o["kind"] == "Deployment"]
    assert "replicas" not in dep["spec"]  # the ScaledObject owns it


def test_canary_follows_the_seed():
    g = GatewayConfig(hostnames=["ai.example.com"])
    m = model(rollout={}, autoscaling={"max_replicas": 3})
    c = canary(m, g, "ai-inference", "ai-gateway")
    validate_custom(json.loads(json.dumps(c)))
    spec = c["spec"]
    assert spec["provider"] == "gatewayapi:v1" and spec["targetRef"]["name"] == "m"
    assert spec["analysis"]["stepWeights"] == [10, 25, 50]
    thresholds = {x["name"]: x["thresholdRange"]["max"] for x in spec["analysis"]["metrics"]}
    assert thresholds == {"error-rate": 1.0, "latency-ratio": 1.5}
    assert spec["service"]["gatewayRefs"] == [{"name": "ai-gateway", "namespace": "ai-gateway"}]
    assert spec["service"]["match"] == [{"headers": {"x-model-id": {"exact": "m"}}}]
    assert spec["autoscalerRef"] == {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "m"}
    blue = canary(model(rollout={"strategy": "bluegreen", "iterations": 4}), g, "ai-inference", "ai-gateway")
    assert blue["spec"]["analysis"]["iterations"] == 4 and "stepWeights" not in blue["spec"]["analysis"]


@pytest.mark.parametrize("engine", ["vllm", "tgi"])
def test_metric_templates_are_valid_and_compare_canary_with_primary(engine):
    error, latency = metric_templates(engine, "ai-inference", "http://prom:9090")
    for t in (error, latency):
        validate_custom(json.loads(json.dumps(t)))
    assert "{{ target }}-primary-" in latency["spec"]["query"] and "{{ interval }}" in error["spec"]["query"]


def test_flagger_owns_the_services_and_route_of_a_model_it_rolls_out(plans):
    run = plans("prod").run
    services = {r.inputs["metadata"]["name"] for r in run.of_type("kubernetes:core/v1:Service")}
    routes = {r.inputs["metadata"]["name"] for r in run.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")}
    assert not any(s.startswith("llama-70b") for s in services) and "model-llama-70b" not in routes
    assert "model-llama-8b" in routes and "llama-8b-primary" in services
    canaries = run.of_type("kubernetes:flagger.app/v1beta1:Canary")
    assert [c.inputs["metadata"]["name"] for c in canaries] == ["llama-70b"]
    grant = run.of_type("kubernetes:gateway.networking.k8s.io/v1beta1:ReferenceGrant")[0].inputs
    assert all(not t["name"].startswith("llama-70b") for t in grant["spec"]["to"])


def test_chart_values_are_keys_the_charts_know():
    keda = KedaValues.model_validate({"nodeSelector": {}, "tolerations": [], "operator": {"replicaCount": 2}})
    assert unknown_keys(keda.render(), chart_defaults("keda")) == []
    flagger = FlaggerValues.model_validate(
        {
            "meshProvider": "gatewayapi:v1",
            "metricsServer": "http://p:9090",
            "nodeSelector": {},
            "tolerations": [],
            "leaderElection": {"enabled": True, "replicaCount": 2},
        }
    )
    assert unknown_keys(flagger.render(), chart_defaults("flagger")) == []


def test_keda_and_flagger_reach_prometheus_and_the_api_server_reaches_keda():
    layers = {"observability": "observability", "keda": "keda", "flagger": "flagger", "inference": "ai-inference"}
    keda = network_policy_specs(system_namespace("keda"), layers, [], "10.0.0.0/16")
    assert keda["allow-from-kube-api"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 6443},
        {"protocol": "TCP", "port": 9443},
    ]
    assert {"protocol": "TCP", "port": 9090} in keda["allow-to-observability"]["egress"][0]["ports"]
    from components.tenancy.namespaces import NamespaceSpec
    from config.tenancy import Quota

    obs = NamespaceSpec(
        "observability",
        "observability",
        "baseline",
        Quota(requests_cpu="1", requests_memory="1Gi", limits_cpu="1", limits_memory="1Gi"),
        system_namespace("x").limit_range,
        {},
    )
    specs = network_policy_specs(obs, layers, [], "10.0.0.0/16")
    assert specs["allow-from-keda"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9090}]
    assert specs["allow-from-flagger"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9090}]
