"""Layer and tenant namespaces: Pod Security labels, quotas (GPUs where needed), limits, default-deny + allows."""

from __future__ import annotations

from components.tenancy.namespaces import NamespaceSpec, network_policy_specs
from config import parse_platform
from tests.conftest import stack_raw

NS = "kubernetes:core/v1:Namespace"


def args_for(layer: str, stack="prod"):
    cfg = parse_platform(stack_raw(stack))
    layer_ns = {ns.layer: ns.name for ns in cfg.namespaces}
    tenants = [t.namespace for t in cfg.tenants]
    spec = (
        NamespaceSpec.for_layer(cfg.namespace_for(layer))
        if layer != "tenant"
        else NamespaceSpec.for_tenant(cfg.tenants[0])
    )
    return spec, layer_ns, tenants


def peers(rule_list, key):
    return [p["namespaceSelector"] for r in rule_list for p in r[key]]


def test_pod_security_labels_per_layer(plans):
    run = plans("prod").run
    labels = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in run.of_type(NS)}
    expected = {
        "ai-gateway": "restricted",
        "ai-agents": "baseline",
        "ai-inference": "restricted",
        "ai-data": "baseline",
        "observability": "baseline",
        "tenant-search": "baseline",
        "karpenter": "restricted",
    }
    for ns, level in expected.items():
        assert labels[ns]["pod-security.kubernetes.io/enforce"] == level, ns
        assert labels[ns]["pod-security.kubernetes.io/warn"] == level


def test_quota_and_limits_from_config(plans):
    run = plans("prod").run
    quotas = {
        r.inputs["metadata"]["namespace"]: r.inputs["spec"]["hard"]
        for r in run.of_type("kubernetes:core/v1:ResourceQuota")
    }
    assert quotas["ai-inference"]["requests.nvidia.com/gpu"] == "48"
    assert quotas["ai-agents"]["requests.nvidia.com/gpu"] == "0"  # GPUs blocked outside inference
    assert quotas["ai-agents"]["pods"] == "200" and quotas["tenant-search"]["services"] == "10"
    limits = {
        r.inputs["metadata"]["namespace"]: r.inputs["spec"]["limits"][0]
        for r in run.of_type("kubernetes:core/v1:LimitRange")
    }
    assert limits["ai-inference"]["max"] == {"cpu": "96", "memory": "1200Gi"}


def test_default_deny_and_dns_everywhere(plans):
    run = plans("prod").run
    by_ns = {}
    for r in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        by_ns.setdefault(r.inputs["metadata"]["namespace"], {})[r.inputs["metadata"]["name"]] = r.inputs["spec"]
    namespaces = {r.inputs["metadata"]["name"] for r in run.of_type(NS)}
    assert set(by_ns) == namespaces
    for _ns, policies in by_ns.items():
        assert policies["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert policies["allow-dns"]["egress"][0]["ports"][0] == {"protocol": "UDP", "port": 53}


def test_flows_gateway_agents_inference_data():
    agents = network_policy_specs(*args_for("agents"))
    sel = agents["allow-from-gateway"]["ingress"][0]["from"][0]["namespaceSelector"]
    assert sel["matchExpressions"][0]["values"] == ["ai-gateway"]
    assert agents["allow-to-inference"]["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8000},
        {"protocol": "TCP", "port": 8080},
    ]  # vLLM, TGI
    assert {p["port"] for p in agents["allow-to-data"]["egress"][0]["ports"]} == {19530, 6379}
    inference = network_policy_specs(*args_for("inference"))
    froms = inference["allow-from-gateway"]["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]
    assert froms["values"] == ["ai-gateway"]
    assert "allow-from-agents" in inference and "allow-from-tenant" in inference
    assert "allow-to-data" not in inference  # inference never reaches the data layer


def test_inference_egress_is_public_https_only():
    inference = network_policy_specs(*args_for("inference"))
    block = inference["allow-https-egress"]["egress"][0]["to"][0]["ipBlock"]
    assert block == {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]}
    assert inference["allow-https-egress"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]


def test_everything_reaches_observability_and_is_scraped():
    for layer in ("agents", "inference", "data", "gateway", "tenant"):
        specs = network_policy_specs(*args_for(layer))
        assert {p["port"] for p in specs["allow-to-observability"]["egress"][0]["ports"]} == {4317, 4318}
        assert "allow-from-observability" in specs
    obs = network_policy_specs(*args_for("observability"))
    assert obs["allow-to-all"]["egress"][0]["to"] == [{"namespaceSelector": {}}]


def test_tenants_isolated_from_each_other_and_gateway_ingress():
    tenant = network_policy_specs(*args_for("tenant"))
    assert tenant["allow-from-gateway"]["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0][
        "values"
    ] == ["ai-gateway"]
    data = network_policy_specs(*args_for("data"))
    assert data["allow-from-tenant"]["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "tenant-search",
        "tenant-support",
    ]
    assert "allow-https-egress" not in tenant  # tenants leave the cluster only through the platform


def test_tenant_rbac(plans):
    run = plans("prod").run
    bindings = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs
        for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    }
    admin = bindings[("tenant-search", "tenant-admin-binding")]
    assert admin["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-search-admins"}
    ]
    roles = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["rules"]
        for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    }
    # no Secrets at all: an RBAC list returns their data, and the namespace holds its agents' data credentials
    assert not any("secrets" in x["resources"] for x in roles[("tenant-search", "tenant-admin")])


def test_only_controller_namespaces_reach_the_private_api_endpoint():
    """kgateway (gateway), kagent's controller and the MCP tool server (agents) watch the API server."""
    for layer in ("gateway", "agents"):
        spec, layers, tenants = args_for(layer)
        specs = network_policy_specs(spec, layers, tenants, "10.40.0.0/16")
        assert specs["allow-kube-api"]["egress"] == [
            {"to": [{"ipBlock": {"cidr": "10.40.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]}
        ]
    for layer in ("inference", "data", "tenant"):
        assert "allow-kube-api" not in network_policy_specs(*args_for(layer), "10.40.0.0/16")


def test_pod_identity_agent_reachable_only_where_pod_identity_roles_run():
    from components.tenancy.namespaces import system_namespace

    for layer in ("data", "inference", "agents", "gateway"):  # gateway: the AI gateway signs Bedrock calls
        specs = network_policy_specs(*args_for(layer))
        egress = specs["allow-pod-identity-agent"]["egress"][0]
        assert egress == {
            "to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}],
            "ports": [{"protocol": "TCP", "port": 80}],
        }
    for layer in ("observability", "tenant"):
        assert "allow-pod-identity-agent" not in network_policy_specs(*args_for(layer))
    layers = {"observability": "observability"}
    assert "allow-pod-identity-agent" in network_policy_specs(system_namespace("external-secrets"), layers, [])
