"""Model-aware routing (issue #23 point 4) on the real API server: prod's ``inference_pool`` model. The pool is
owned by its llm-d-router-gateway release, which the suite cannot render (no chart download), so the pool is built
here the way the chart's ``_inferencepool.yaml`` template builds it from the release's values (a stand-in for the
render) and applied to prod's control plane with the pinned InferencePool CRD. The journey then follows a request
from the AI gateway's route to the pool, its picker and the model's pods."""

from __future__ import annotations

import copy

import pytest

from agentic.cluster import apply as capply
from agentic.plan.netpol import Endpoint, from_objects
from tests.cluster.chart_standins import chart_pool, releases_of
from tests.cluster.test_differential import api_verdict, offline_verdict

GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"


@pytest.fixture(scope="module")
def prod(plans):
    return plans("prod")


@pytest.fixture(scope="module")
def client(verified):
    c = verified("prod").client
    capply.install_crds(c, groups={"inference.networking.k8s.io", "llm-d.ai"})
    return c


def test_prod_pools_are_accepted_by_the_api_server_and_a_broken_one_is_refused(prod, client):
    [release] = releases_of(prod)
    pool = chart_pool(release)
    assert not api_verdict(client, pool), "the pool the chart makes from prod's values"
    assert not offline_verdict(pool)
    closed = copy.deepcopy(pool)
    closed["spec"]["endpointPickerRef"]["failureMode"] = "FailClose"  # endpoint_picker.failure_mode: FailClose
    assert not api_verdict(client, closed)
    broken = copy.deepcopy(pool)
    broken["spec"]["endpointPickerRef"]["failureMode"] = "FailClosed"  # not the API's spelling
    assert "Unsupported value" in api_verdict(client, broken)
    assert offline_verdict(broken)


def test_a_request_reaches_the_pool_its_picker_and_the_models_pods(prod, client):
    objs = [dict(r.inputs) for r in prod.run.kubernetes_objects()]
    [route] = [o for o in objs if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "ai-llama-8b"]
    [ref] = route["spec"]["rules"][0]["backendRefs"]
    ns = route["metadata"]["namespace"]
    [backend] = [o for o in objs if o["kind"] == ref["kind"] and o["metadata"]["name"] == ref["name"]]
    first = backend["spec"]["ai"]["groups"][0]["providers"][0]["custom"]["backendRef"]
    assert first["kind"] == "InferencePool" and first["group"] == "inference.networking.k8s.io"
    [release] = [r for r in releases_of(prod) if r["name"] == first["name"]]
    assert release["namespace"] == ns, "a custom provider's backendRef is namespace-local"
    pool = chart_pool(release)
    assert not api_verdict(client, pool)
    # the pool selects the model's pods on the port vLLM listens on
    [deploy] = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "llama-8b-primary"]
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert pool["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = [p["containerPort"] for c in deploy["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
    assert pool["spec"]["targetPorts"][0]["number"] in ports
    # the picker: pinned image, not the chart's "main"; the configured replicas and failure mode
    epp = release["values"]["router"]["epp"]
    assert epp["image"]["tag"] != "main" and epp["image"]["pullPolicy"] == "IfNotPresent"
    assert epp["replicas"] == 2 and release["values"]["router"]["inferencePool"]["failureMode"] == "FailOpen"
    # agentgateway's controller reads InferencePools only with the inference extension on
    [controller] = [
        dict(r.inputs)
        for r in prod.run.registrations
        if r.type == "kubernetes:helm.sh/v3:Release" and str(r.inputs.get("chart")).endswith("/agentgateway")
    ]
    assert controller["values"]["inferenceExtension"] == {"enabled": True}
    # the network: the proxy reaches the picker's ext-proc port and the pods; the picker reaches the pods' metrics
    cluster = from_objects(objs)
    proxy = Endpoint("ai-gateway", {GATEWAY_NAME_LABEL: "llm-gateway"})
    picker = Endpoint(ns, {"app": f"{release['name']}-epp"})
    model = Endpoint(ns, labels)
    assert cluster.can_reach(proxy, picker, pool["spec"]["endpointPickerRef"]["port"]["number"])
    assert cluster.can_reach(proxy, model, 8000)
    assert cluster.can_reach(picker, model, 8000)
