"""The network matrix proven by its semantics (issue #13 point 3, seed 001): the prod plan's rendered
NetworkPolicies and Namespaces, evaluated by agentic.plan.netpol, against a table of expected allow/deny cases for
every pair of layers and two tenants (tenant-search may use Redis and Milvus, tenant-support Milvus only). The table
would fail if one policy were widened or removed (checked below by dropping and widening policies)."""

from __future__ import annotations

import copy

import pytest

from agentic.plan.netpol import Cluster, Endpoint, from_objects

LAYERS = {
    "gateway": "ai-gateway",
    "agents": "ai-agents",
    "inference": "ai-inference",
    "data": "ai-data",
    "observability": "observability",
    "search": "tenant-search",
    "support": "tenant-support",
}
DNS = Endpoint("kube-system", {"k8s-app": "kube-dns"})
PUBLIC, PRIVATE = "52.94.236.248", "10.40.7.9"

#: (source, destination, port, allowed). Seed 001: gateway -> agents 8080, -> inference 8000/8080 (vLLM/TGI);
#: agents -> inference, data (19530, 6379), observability (OTLP); inference only from agents and gateway; tenants
#: isolated, reaching their own namespace, the gateway-facing paths, inference and the data they are allowed;
#: observability scrapes metrics ports (9090 among them) everywhere.
MATRIX = [
    ("gateway", "agents", 8080, True),
    ("gateway", "inference", 8000, True),
    ("gateway", "inference", 8080, True),
    ("gateway", "data", 6379, False),
    ("gateway", "data", 19530, False),
    ("gateway", "search", 8080, True),
    ("agents", "inference", 8000, True),
    ("agents", "inference", 8080, True),
    ("agents", "data", 19530, True),
    ("agents", "data", 6379, True),
    ("agents", "observability", 4317, True),
    ("agents", "observability", 4318, True),
    ("agents", "gateway", 8080, True),
    ("agents", "search", 8080, True),
    ("agents", "data", 5432, False),
    ("inference", "agents", 8080, False),
    ("inference", "data", 6379, False),
    ("inference", "data", 19530, False),
    ("inference", "gateway", 8080, False),
    ("inference", "observability", 4317, True),
    ("inference", "search", 8080, False),
    ("data", "agents", 8080, False),
    ("data", "inference", 8000, False),
    ("data", "gateway", 8080, False),
    ("observability", "agents", 9090, True),
    ("observability", "inference", 8000, True),
    ("observability", "data", 9091, True),
    ("observability", "search", 8080, True),
    ("observability", "agents", 5432, False),
    ("search", "support", 8080, False),
    ("support", "search", 8080, False),
    ("search", "inference", 8000, True),
    ("search", "inference", 8080, True),
    ("support", "inference", 8000, True),
    ("search", "data", 6379, True),
    ("search", "data", 19530, True),
    ("support", "data", 6379, False),
    ("support", "data", 19530, True),
    ("search", "agents", 8080, True),
    ("search", "gateway", 8080, True),
    ("search", "observability", 4317, True),
    ("search", "agents", 9090, False),
    ("inference", "agents", 9090, False),
]


@pytest.fixture(scope="module")
def cluster(plans) -> Cluster:
    return from_objects([r.inputs for r in plans("prod").run.kubernetes_objects()])


def pod(name: str) -> Endpoint:
    return Endpoint(LAYERS[name], {"app": "x"}, ip=PRIVATE)


@pytest.mark.parametrize("src,dst,port,allowed", MATRIX)
def test_matrix(cluster, src, dst, port, allowed):
    assert cluster.can_reach(pod(src), pod(dst), port) is allowed


def test_every_layer_pair_and_both_tenants_are_covered():
    pairs = {(s, d) for s, d, _, _ in MATRIX}
    names = set(LAYERS)
    assert {s for s, _ in pairs} == names and {d for _, d in pairs} == names
    assert ("search", "support") in pairs and ("support", "search") in pairs


@pytest.mark.parametrize("name", list(LAYERS))
def test_dns_everywhere(cluster, name):
    assert cluster.can_reach(pod(name), DNS, 53, "UDP") and cluster.can_reach(pod(name), DNS, 53, "TCP")


def test_inference_egress_public_https_only(cluster):
    outside_public, outside_private = Endpoint(None, ip=PUBLIC), Endpoint(None, ip=PRIVATE)
    assert cluster.can_reach(pod("inference"), outside_public, 443)
    assert not cluster.can_reach(pod("inference"), outside_private, 443)
    assert not cluster.can_reach(pod("inference"), outside_public, 80)
    assert not cluster.can_reach(pod("search"), outside_public, 443)  # tenants leave only through the platform


def test_the_matrix_would_fail_if_a_policy_were_removed_or_widened(cluster):
    base = cluster

    def variant(mutate) -> Cluster:
        policies = copy.deepcopy(base.policies)
        mutate(policies)
        return Cluster(policies, {ns: labels for ns, labels in base.ns_labels.items()})

    def failures(c: Cluster) -> list[tuple]:
        return [case for case in MATRIX if c.can_reach(pod(case[0]), pod(case[1]), case[2]) is not case[3]]

    assert failures(base) == []
    # removing the data namespace's tenant ingress denies tenant-search its Redis
    no_tenant = variant(
        lambda ps: ps.remove(
            next(
                p
                for p in ps
                if p["metadata"]["namespace"] == "ai-data" and p["metadata"]["name"] == "allow-from-tenant"
            )
        )
    )
    assert ("search", "data", 6379, True) in failures(no_tenant)

    # removing inference's policies (default-deny and its narrow allows) lets model servers call the gateway
    def open_inference(ps):
        ps[:] = [p for p in ps if p["metadata"]["namespace"] != "ai-inference"]

    assert ("inference", "gateway", 8080, False) in failures(variant(open_inference))

    # widening tenant-support's data egress to every port lets it reach Redis
    def widen(ps):
        for p in ps:
            if p["metadata"]["namespace"] == "ai-data" and p["metadata"]["name"] == "allow-from-tenant":
                for rule in p["spec"]["ingress"]:
                    rule["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] = [
                        "tenant-search",
                        "tenant-support",
                    ]
            if p["metadata"]["namespace"] == "tenant-support" and p["metadata"]["name"] == "allow-to-data":
                p["spec"]["egress"][0].pop("ports")

    assert ("support", "data", 6379, False) in failures(variant(widen))


# --- egress out of the cluster (issue #21 point 4) ------------------------------------------------------------------

IMDS_IP, POD_IDENTITY_IP = "169.254.169.254", "169.254.170.23"


def agent_pod(name: str, where: str = "agents") -> Endpoint:
    return Endpoint(LAYERS[where], {"app": "kagent", "kagent": name}, ip=PRIVATE)


def test_agents_leave_the_cluster_only_for_what_each_needs(cluster):
    public, private = Endpoint(None, ip=PUBLIC), Endpoint(None, ip=PRIVATE)
    # the namespace itself: no internet (it had 443 to anywhere)
    assert not cluster.can_reach(pod("agents"), public, 443)
    # support-agent (in tenant-support) calls Bedrock through the AI gateway (prod runs it): nothing outside; its
    # tenant neighbours get nothing outside either
    support = agent_pod("support-agent", "support")
    assert not cluster.can_reach(support, public, 443)
    assert not cluster.can_reach(support, private, 443)
    assert cluster.can_reach(support, pod("gateway"), 8080)
    assert not cluster.can_reach(pod("support"), public, 443)
    # sre-assistant calls the platform's model through the gateway: nothing outside
    assert not cluster.can_reach(agent_pod("sre-assistant"), public, 443)
    # and each keeps its in-cluster paths
    assert cluster.can_reach(agent_pod("sre-assistant"), pod("gateway"), 8080)


@pytest.mark.parametrize("name", list(LAYERS))
def test_no_platform_or_tenant_namespace_reaches_the_instance_metadata_service(cluster, name):
    imds = Endpoint(None, ip=IMDS_IP)
    for port in (80, 443):
        assert not cluster.can_reach(pod(name), imds, port), (name, port)
    assert not cluster.can_reach(agent_pod("support-agent", "support"), imds, 443)


def test_pod_identity_still_works_where_roles_are_used(cluster):
    agent = Endpoint(None, ip=POD_IDENTITY_IP)
    assert cluster.can_reach(pod("agents"), agent, 80) and cluster.can_reach(pod("data"), agent, 80)
    assert not cluster.can_reach(pod("search"), agent, 80)


def test_a_multi_node_group_reaches_itself_and_the_gateway_reaches_its_leader(cluster, plans):
    """Issue #24: the workers of prod's llama-405b join the leader's torch.distributed rendezvous (29501) and NCCL's
    bootstrap ports inside ai-inference; clients reach the leader's API through the gateway."""
    from components.serving.multinode import MASTER_PORT, WORKER_INDEX

    [lws] = [r.inputs for r in plans("prod").run.of_type("kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet")]
    tmpl = lws["spec"]["leaderWorkerTemplate"]
    leader = Endpoint("ai-inference", {**tmpl["leaderTemplate"]["metadata"]["labels"], WORKER_INDEX: "0"})
    worker = Endpoint("ai-inference", {**tmpl["workerTemplate"]["metadata"]["labels"], WORKER_INDEX: "1"})
    for port in (MASTER_PORT, 40000, 8000):
        assert cluster.can_reach(worker, leader, port) and cluster.can_reach(leader, worker, port)
    assert cluster.can_reach(Endpoint("ai-gateway", {}), leader, 8000)
    assert not cluster.can_reach(Endpoint("tenant-support", {}), worker, MASTER_PORT)
