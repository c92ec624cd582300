"""The request path's builders and their registration: Gateway API CRDs first, the NLB annotations, listeners per
TLS mode, the JWT chain, chart values against each chart's values.yaml, routes with header matches and weights, the
ReferenceGrant, the 404 default route, and destroy order (the gateway Service before the load balancer controller)."""

from __future__ import annotations

import json

import pytest

from components.serving.routes import OPENAI_PATHS, route_objects
from components.traffic.gateway_api import gateway_api_crds
from components.traffic.kgateway import gateway_objects, kgateway_values, service_annotations
from components.traffic.lb_controller import lb_controller_values, upstream_policy
from config import ConfigError, parse_platform
from config.serving import GatewayConfig, Model
from tests.conftest import stack_raw, validate_custom, validate_object
from tests.helm_values import chart_defaults, unknown_keys

JWT = {"issuer": "https://login.example.com/", "jwks_url": "https://login.example.com/keys", "audiences": ["agentic"]}


def kinds(objs):
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objs}


def test_gateway_api_crds_are_the_standard_channel_and_valid():
    crds = gateway_api_crds()
    names = {c["metadata"]["name"] for c in crds}
    assert {
        "gateways.gateway.networking.k8s.io",
        "httproutes.gateway.networking.k8s.io",
        "referencegrants.gateway.networking.k8s.io",
        "gatewayclasses.gateway.networking.k8s.io",
    } <= names
    assert all(c["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == "v1.6.1" for c in crds)
    validate_object(crds[0], "1.35")


@pytest.mark.parametrize(
    "tls, extra",
    [
        ("none", {}),
        ("gateway", {"tls_secret": "gw-tls"}),
        ("nlb", {"certificate_arn": "arn:aws:acm:us-east-1:111122223333:certificate/ab"}),
    ],
)
def test_gateway_listeners_and_nlb_per_tls_mode(tls, extra):
    g = GatewayConfig(tls=tls, scheme="internet-facing", load_balancer_source_ranges=["203.0.113.0/24"], **extra)
    objs = kinds(gateway_objects(g, "ai-gateway"))
    for o in objs.values():
        validate_custom(json.loads(json.dumps(o)))
    gw = objs["Gateway/ai-gateway"]["spec"]
    assert gw["gatewayClassName"] == "kgateway"
    listeners = {ls["name"]: ls for ls in gw["listeners"]}
    assert ("https" in listeners) is (tls == "gateway")
    if tls == "gateway":
        assert listeners["https"]["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "gw-tls"}]
    svc = objs["GatewayParameters/ai-gateway"]["spec"]["kube"]["service"]
    assert svc["type"] == "LoadBalancer" and svc["loadBalancerClass"] == "service.k8s.aws/nlb"
    ann = svc["extraAnnotations"]
    assert ann["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert ann["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
    assert ("service.beta.kubernetes.io/aws-load-balancer-ssl-cert" in ann) is (tls == "nlb")
    assert svc["loadBalancerSourceRanges"] == ["203.0.113.0/24"]


def test_internal_is_the_default_scheme():
    assert service_annotations(GatewayConfig())["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"


def test_jwt_at_the_edge():
    objs = kinds(gateway_objects(GatewayConfig(jwt=JWT), "ai-gateway"))
    for o in objs.values():
        validate_custom(json.loads(json.dumps(o)))
    ext = objs["GatewayExtension/ai-gateway-jwt"]["spec"]
    provider = ext["jwt"]["providers"][0]
    assert ext["type"] == "JWT" and provider["issuer"] == JWT["issuer"] and provider["audiences"] == ["agentic"]
    assert provider["jwks"]["remote"]["url"] == JWT["jwks_url"]
    assert objs["Backend/ai-gateway-jwks"]["spec"]["static"]["hosts"] == [{"host": "login.example.com", "port": 443}]
    assert objs["BackendConfigPolicy/ai-gateway-jwks"]["spec"]["tls"]["sni"] == "login.example.com"
    policy = objs["TrafficPolicy/ai-gateway-jwt"]["spec"]
    assert (
        policy["targetRefs"][0]["kind"] == "Gateway" and policy["jwtAuth"]["extensionRef"]["name"] == "ai-gateway-jwt"
    )
    assert not any(
        k.startswith(("GatewayExtension", "Backend")) for k in kinds(gateway_objects(GatewayConfig(), "ai-gateway"))
    )


def test_chart_values_are_keys_the_charts_know():
    assert unknown_keys(kgateway_values(True).render(), chart_defaults("kgateway")) == []
    lbc = lb_controller_values("c1", "us-east-1", "vpc-1", True).render()
    assert unknown_keys(lbc, chart_defaults("aws-load-balancer-controller")) == []
    assert lbc["enableServiceMutatorWebhook"] is False and lbc["replicaCount"] == 2


def test_lb_controller_policy_is_upstreams_in_the_stacks_partition():
    aws = upstream_policy("aws")
    gov = upstream_policy("aws-us-gov")
    assert len(aws["Statement"]) == len(gov["Statement"]) >= 15
    assert "arn:aws:" not in json.dumps(gov)
    actions = {a for s in aws["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
        "ec2:AuthorizeSecurityGroupIngress",
    } <= actions


def model(name, variants, **kw):
    return Model.model_validate(
        {"name": name, "hf_model": "org/x", "pool": "g5", "gpus": 1, "variants": variants, **kw}
    )


def test_routes_match_the_model_header_on_the_openai_paths_with_weights():
    g = GatewayConfig(hostnames=["ai.example.com"], rate_limit={"requests": 60, "per": "minute", "burst": 10})
    m = model("llama", [{"name": "primary", "weight": 80}, {"name": "canary", "weight": 20}], route_timeout="90s")
    tgi = model("mixtral", [{"name": "primary", "weight": 100}], engine="tgi")
    objs = kinds(route_objects([m, tgi], g, "ai-gateway", "ai-inference"))
    for o in objs.values():
        validate_custom(json.loads(json.dumps(o)))
    rule = objs["HTTPRoute/model-llama"]["spec"]["rules"][0]
    assert [mt["path"]["value"] for mt in rule["matches"]] == list(OPENAI_PATHS)
    assert all(mt["headers"] == [{"type": "Exact", "name": "x-model-id", "value": "llama"}] for mt in rule["matches"])
    assert [(b["name"], b["weight"], b["port"]) for b in rule["backendRefs"]] == [
        ("llama-primary", 80, 8000),
        ("llama-canary", 20, 8000),
    ]
    assert rule["timeouts"] == {"request": "90s"}
    assert objs["HTTPRoute/model-mixtral"]["spec"]["rules"][0]["backendRefs"][0]["port"] == 8080
    bucket = objs["TrafficPolicy/model-llama-rate-limit"]["spec"]["rateLimit"]["local"]["tokenBucket"]
    assert bucket == {"maxTokens": 10, "tokensPerFill": 1, "fillInterval": "1s"}  # 60 a minute, bursting to 10
    grant = objs["ReferenceGrant/gateway-to-models"]
    assert grant["metadata"]["namespace"] == "ai-inference"
    assert grant["spec"]["from"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "ai-gateway"}
    ]
    assert sorted(t["name"] for t in grant["spec"]["to"]) == ["llama-canary", "llama-primary", "mixtral-primary"]
    unknown = objs["HTTPRoute/unknown-model"]["spec"]["rules"][0]
    assert unknown["filters"][0]["extensionRef"] == {
        "group": "gateway.kgateway.dev",
        "kind": "DirectResponse",
        "name": "unknown-model",
    }
    direct = objs["DirectResponse/unknown-model"]["spec"]
    assert direct["status"] == 404 and json.loads(direct["body"])["error"]["type"] == "model_not_found"


def test_plans_install_crds_before_kgateway_and_the_nlb_goes_before_its_controller(plans):
    from tests.components.foundation.test_foundation import depends

    run = plans("prod").run
    releases = {r.inputs["name"]: r for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    [crds] = [c for c in run.of_type("kubernetes:yaml/v2:ConfigGroup") if "gateway-api" in c.inputs["files"][0]]
    assert crds.inputs["files"] == ["catalog/data/gateway-api-v1.6.1/*.yaml"]
    assert depends(run, releases["kgateway-crds"], crds) and depends(run, releases["kgateway"], crds)
    from tests.conftest import PROJECT_ROOT

    assert len(list(PROJECT_ROOT.glob(crds.inputs["files"][0]))) == 5  # the path resolves from the project dir
    gateway = next(
        r
        for r in run.of_type("kubernetes:gateway.networking.k8s.io/v1:Gateway")
        if r.inputs["spec"]["gatewayClassName"] != "agentgateway"  # the AI gateway is in the cluster, not on the NLB
    )
    params = next(r for r in run.of_type("kubernetes:gateway.kgateway.dev/v1alpha1:GatewayParameters"))
    for obj in (gateway, params):
        assert releases["aws-load-balancer-controller"].urn in obj.dependencies
    assert releases["kgateway"].inputs["values"]["controller"]["nodeSelector"] == {
        "node.agentic.platform/role": "system"
    }
    [pia] = [
        r
        for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.inputs["serviceAccount"] == "aws-load-balancer-controller"
    ]
    assert pia.inputs["namespace"] == "kube-system"


@pytest.mark.parametrize(
    "gateway, path, fragment",
    [
        ({"tls": "gateway"}, "platform.gateway.tls_secret", "certificate Secret"),
        ({"tls": "nlb"}, "platform.gateway.certificate_arn", "ACM certificate"),
        ({"tls_secret": "x"}, "platform.gateway.tls_secret", "only used with tls: gateway"),
        ({"jwt": {**JWT, "jwks_url": "http://login.example.com/keys"}}, "platform.gateway.jwt.jwks_url", "https"),
        ({"enabled": False}, "platform.gateway.enabled", "served through the gateway"),
        ({"scheme": "public"}, "platform.gateway.scheme", "Input should be"),
    ],
)
def test_bad_gateway_input(gateway, path, fragment):
    raw = stack_raw("dev")
    raw["gateway"] = gateway
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    found = [str(p) for p in exc.value.problems]
    assert any(p.startswith(path) and fragment in p for p in found), found


def test_gateway_envoy_metrics_are_scraped(plans):
    """kgateway exposes Envoy's stats on :9091 (port http-monitoring) when GatewayParameters turn stats on
    (install/helm proxy-deployment.yaml); a PodMonitor selects the Gateway's proxy pods."""
    run = plans("dev").run
    params = next(r.inputs for r in run.registrations if r.inputs.get("kind") == "GatewayParameters")
    assert params["spec"]["kube"]["stats"] == {"enabled": True}
    monitor = next(
        r.inputs
        for r in run.registrations
        if r.inputs.get("kind") == "PodMonitor" and r.inputs["metadata"]["name"] == "ai-gateway-envoy"
    )
    assert monitor["spec"]["selector"]["matchLabels"] == {"gateway.networking.k8s.io/gateway-name": "ai-gateway"}
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http-monitoring"


@pytest.mark.parametrize(
    ("requests", "per", "burst", "replicas"),
    [
        (600, "minute", 120, 1),
        (600, "minute", 120, 2),
        (120, "minute", None, 2),
        (7, "minute", 3, 1),
        (50, "second", 5, 1),
        (100_000, "second", None, 3),
        (1, "hour", None, 2),
    ],
)
def test_the_token_bucket_gives_the_configured_rate(requests, per, burst, replicas):
    """Envoy refills tokensPerFill every fillInterval and caps the bucket at maxTokens: simulated over one period,
    the gateway (all replicas) admits the configured rate, and a fill never exceeds the bucket."""
    import re
    from fractions import Fraction

    from components.traffic.kgateway import SECONDS, token_bucket
    from config.serving import RateLimit

    b = token_bucket(RateLimit(requests=requests, per=per, burst=burst), replicas)
    assert re.fullmatch(r"([0-9]{1,5}(h|m|s|ms)){1,4}", b["fillInterval"])  # the CRD's pattern
    value, unit = re.fullmatch(r"([0-9]+)(h|m|s|ms)", b["fillInterval"]).groups()
    interval = Fraction(int(value)) * {"h": 3600, "m": 60, "s": 1, "ms": Fraction(1, 1000)}[unit]
    assert interval >= Fraction(1, 20) and b["tokensPerFill"] <= b["maxTokens"]
    rate = b["tokensPerFill"] / interval * replicas  # tokens per second across the gateway
    assert rate == Fraction(requests, SECONDS[per])
    assert b["maxTokens"] * replicas >= (burst or requests)
