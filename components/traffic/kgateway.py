"""kgateway (Envoy) and the Gateway ``ai-gateway``: the charts on the system nodes, the GatewayParameters that make the
gateway's Service the cluster's one LoadBalancer (an NLB from the AWS Load Balancer Controller: scheme from config,
target type ip, TLS at the NLB when asked), its listeners, and JWT authentication at the edge (a JWT
GatewayExtension whose JWKS comes from the identity provider through a TLS Backend, enforced by a TrafficPolicy on
the Gateway). Per-route rate limits are on the routes (components.serving.routes)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pulumi

from catalog import versions
from config.serving import GatewayConfig, RateLimit
from kit.helm import HelmValues, release
from kit.labels import SYSTEM_LABELS, SYSTEM_TOLERATION, metadata, namespaces_in
from kit.monitors import pod_monitor
from kit.shared import Shared

#: The label kgateway puts on a Gateway's proxy pods (Gateway API's gateway-name label).
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"

GATEWAY_CLASS = "kgateway"  # created by the kgateway controller
NLB_CLASS = "service.k8s.aws/nlb"
NLB = "service.beta.kubernetes.io/aws-load-balancer"
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
SECONDS = {"second": 1, "minute": 60, "hour": 3600}
#: Envoy's smallest token-bucket fill interval.
MIN_FILL_MS = 50


def gateway_replicas(high_availability: bool) -> int:
    """Envoy proxy replicas of the Gateway (set in its GatewayParameters): rate limits are divided among them."""
    return 2 if high_availability else 1


class _Controller(HelmValues):
    replica_count: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]


class KgatewayValues(HelmValues):
    controller: _Controller
    pod_security_context: dict[str, Any]
    security_context: dict[str, Any]


def kgateway_values(ha: bool) -> KgatewayValues:
    return KgatewayValues(
        controller=_Controller(
            replica_count=2 if ha else 1, node_selector=dict(SYSTEM_LABELS), tolerations=[SYSTEM_TOLERATION]
        ),
        pod_security_context=RESTRICTED_POD,
        security_context=RESTRICTED_CONTAINER,
    )


def service_annotations(g: GatewayConfig) -> dict[str, str]:
    """What the AWS Load Balancer Controller reads from the gateway's Service."""
    ann = {
        f"{NLB}-type": "external",
        f"{NLB}-nlb-target-type": "ip",
        f"{NLB}-scheme": g.scheme,
        f"{NLB}-attributes": "load_balancing.cross_zone.enabled=true",
    }
    if g.tls == "nlb":
        ann[f"{NLB}-ssl-cert"] = str(g.certificate_arn)
        ann[f"{NLB}-ssl-ports"] = "443"
    return ann


def in_cluster_host(g: GatewayConfig, namespace: str) -> str:
    """The name in-cluster clients (model configs, BYO agents, tenants) call the gateway by: its proxy Service."""
    return f"{g.name}.{namespace}.svc.cluster.local"


def served_hostnames(g: GatewayConfig, namespace: str) -> list[str]:
    """Hosts the listeners and routes serve: the configured hostnames plus the in-cluster Service name (empty: any
    host). Without the latter, in-cluster clients' Host header would match no listener."""
    return [*g.hostnames, in_cluster_host(g, namespace)] if g.hostnames else []


def listeners(g: GatewayConfig, namespace: str, route_namespaces: list[str]) -> list[dict[str, Any]]:
    """HTTP for every served host (HTTPS for the configured hostnames when the gateway terminates TLS; in-cluster
    traffic stays on HTTP inside the mesh of NetworkPolicies); routes attach from ``route_namespaces`` only: the
    gateway namespace and, when a model is rolled out by Flagger, the inference namespace where Flagger writes its
    route."""
    same = {"namespaces": {"from": "Selector", "selector": namespaces_in(route_namespaces)}}

    def per_host(protocol: str, port: int, hosts: list[str], extra: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "name": protocol.lower() + ("" if len(hosts) <= 1 else f"-{i}"),
                "port": port,
                "protocol": protocol,
                "allowedRoutes": same,
                **({"hostname": host} if host else {}),
                **extra,
            }
            for i, host in enumerate(hosts or [""])
        ]

    out = per_host("HTTP", 80, served_hostnames(g, namespace), {})
    if g.tls == "gateway":
        tls = {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": str(g.tls_secret)}]}
        out += per_host("HTTPS", 443, list(g.hostnames), {"tls": tls})
    return out


def gateway_objects(
    g: GatewayConfig, namespace: str, route_namespaces: list[str] | None = None, replicas: int = 1
) -> list[dict[str, Any]]:
    """GatewayParameters + Gateway, and the JWT chain when configured."""
    service: dict[str, Any] = {
        "type": "LoadBalancer",
        "loadBalancerClass": NLB_CLASS,
        "extraAnnotations": service_annotations(g),
        "externalTrafficPolicy": "Local",
    }
    if g.load_balancer_source_ranges:
        service["loadBalancerSourceRanges"] = list(g.load_balancer_source_ranges)
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": versions.KGATEWAY_API,
            "kind": "GatewayParameters",
            "metadata": metadata(g.name, namespace),
            "spec": {
                "kube": {
                    "deployment": {"replicas": replicas},
                    "service": service,
                    # Envoy's stats on :9091 (container port http-monitoring), scraped by a PodMonitor
                    "stats": {"enabled": True},
                    "podTemplate": {"securityContext": RESTRICTED_POD},
                    "envoyContainer": {"securityContext": RESTRICTED_CONTAINER},
                }
            },
        },
        {
            "apiVersion": versions.GATEWAY_API,
            "kind": "Gateway",
            "metadata": metadata(g.name, namespace),
            "spec": {
                "gatewayClassName": GATEWAY_CLASS,
                "infrastructure": {
                    "parametersRef": {"group": "gateway.kgateway.dev", "kind": "GatewayParameters", "name": g.name}
                },
                "listeners": listeners(g, namespace, route_namespaces or [namespace]),
            },
        },
    ]
    if g.jwt:
        url = urlsplit(g.jwt.jwks_url)
        host, port = str(url.hostname), url.port or 443
        backend = f"{g.name}-jwks"
        provider: dict[str, Any] = {
            "name": "idp",
            "issuer": g.jwt.issuer,
            "jwks": {
                "remote": {
                    "url": g.jwt.jwks_url,
                    "cacheDuration": "300s",
                    "backendRef": {"group": "gateway.kgateway.dev", "kind": "Backend", "name": backend, "port": port},
                }
            },
        }
        if g.jwt.audiences:
            provider["audiences"] = list(g.jwt.audiences)
        objs += [
            {
                "apiVersion": versions.KGATEWAY_API,
                "kind": "Backend",
                "metadata": metadata(backend, namespace),
                "spec": {"type": "Static", "static": {"hosts": [{"host": host, "port": port}]}},
            },
            {
                "apiVersion": versions.KGATEWAY_API,
                "kind": "BackendConfigPolicy",
                "metadata": metadata(backend, namespace),
                "spec": {
                    "targetRefs": [{"group": "gateway.kgateway.dev", "kind": "Backend", "name": backend}],
                    "tls": {"sni": host, "wellKnownCACertificates": "System"},
                },
            },
            {
                "apiVersion": versions.KGATEWAY_API,
                "kind": "GatewayExtension",
                "metadata": metadata(f"{g.name}-jwt", namespace),
                "spec": {"type": "JWT", "jwt": {"providers": [provider]}},
            },
            {
                "apiVersion": versions.KGATEWAY_API,
                "kind": "TrafficPolicy",
                "metadata": metadata(f"{g.name}-jwt", namespace),
                "spec": {
                    "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": g.name}],
                    "jwtAuth": {"extensionRef": {"name": f"{g.name}-jwt"}},
                },
            },
        ]
    return objs


def token_bucket(limit: RateLimit, replicas: int = 1) -> dict[str, Any]:
    """Envoy's local token bucket for ``limit``: ``requests`` per ``per`` for the route across the gateway, i.e. each
    of its ``replicas`` proxies refills requests/replicas per period, and holds at most burst/replicas (default:
    requests/replicas). Envoy caps the bucket at maxTokens, so a fill larger than the bucket would lower the rate:
    the rate is refilled in the smallest steps (the reduced fraction, every ``fillInterval`` of at least 50 ms)."""
    from fractions import Fraction

    rate = Fraction(limit.requests, SECONDS[limit.per] * 1000 * replicas)  # tokens per millisecond per proxy
    tokens, interval = rate.numerator, rate.denominator
    if interval < MIN_FILL_MS:
        scale = -(-MIN_FILL_MS // interval)
        tokens, interval = tokens * scale, interval * scale
    capacity = -(-(limit.burst or limit.requests) // replicas)
    return {
        "maxTokens": max(capacity, tokens),
        "tokensPerFill": tokens,
        "fillInterval": _duration(interval),
    }


def _duration(ms: int) -> str:
    """A Gateway API duration (``^([0-9]{1,5}(h|m|s|ms)){1,4}$``): the largest whole unit, e.g. 200ms, 1s, 2h."""
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


class Gateway(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        cfg: GatewayConfig,
        crds: pulumi.Resource,
        lb_controller: pulumi.Resource,
        shared: Shared,
        route_namespaces: list[str] | None = None,
    ):
        super().__init__("agentic:k8s:Gateway", name, None, shared.k8s_opts())
        namespace = shared.namespaces["gateway"]
        scope = shared.scope(self, name, namespace, depends_on=(shared.namespace_resources["gateway"],))
        self.crds_release = release(
            f"{name}-kgateway-crds",
            versions.KGATEWAY_CRDS,
            release_name="kgateway-crds",
            namespace=namespace,
            opts=scope.opts([crds]),
        )
        self.controller = release(
            f"{name}-kgateway",
            versions.KGATEWAY,
            release_name="kgateway",
            namespace=namespace,
            values=kgateway_values(shared.high_availability),
            skip_crds=True,
            opts=scope.opts([self.crds_release, crds, *shared.cluster_ready]),
        )
        # The gateway Service (the NLB) goes before the load balancer controller on destroy: it depends on it.
        self.objects = {
            f"{obj['kind']}/{obj['metadata']['name']}": scope.apply(obj, depends_on=[self.controller, lb_controller])
            for obj in gateway_objects(cfg, namespace, route_namespaces, gateway_replicas(shared.high_availability))
        }
        self.gateway = self.objects[f"Gateway/{cfg.name}"]
        if shared.monitoring_crds is not None:
            shared.scope(self, name, namespace, depends_on=(self.gateway, shared.monitoring_crds)).apply(
                pod_monitor(f"{cfg.name}-envoy", namespace, {GATEWAY_NAME_LABEL: cfg.name}, "http-monitoring"),
                name="monitor",
            )
        self.register_outputs({})
