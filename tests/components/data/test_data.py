"""Issue #11 points 2-6: Redis (Valkey chart in dev, ElastiCache in prod) behind one connection Secret shape, Milvus
(standalone / cluster on S3 through Pod Identity) with auth and the kb-init Job, tenant allowances, the data
policies, and bad input."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from components.data.milvus import kb_init_job, milvus_values
from components.data.redis import valkey_values
from config import ConfigError, parse_platform
from config.data import REDIS_ACL, MilvusConfig, RedisConfig, redis_acl
from config.secrets import SecretRef
from policies import data as data_policies
from policies.rules import Resource
from tests.conftest import FIXTURES, build_stack, redis_server, stack_raw
from tests.helm_values import chart_defaults, merged, unknown_keys

ES = "kubernetes:external-secrets.io/v1:ExternalSecret"
RELEASE = "kubernetes:helm.sh/v3:Release"


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return {p.path: p.message for p in exc.value.problems}


def external_secrets(run, name):
    return {
        e.inputs["metadata"]["namespace"]: e.inputs for e in run.of_type(ES) if e.inputs["metadata"]["name"] == name
    }


# --- Redis -------------------------------------------------------------------------------------------------------


def test_valkey_values_are_the_charts_and_validate_against_its_schema():
    values = valkey_values(
        RedisConfig(),
        SecretRef(name="redis-auth", key="password", source="generated"),
        monitoring=True,
        users=["ai-agents", "tenant-demo"],
    ).render()
    assert unknown_keys(values, chart_defaults("valkey")) == []
    jsonschema.validate(
        merged(chart_defaults("valkey"), values),
        json.loads((FIXTURES / "charts/valkey/values.schema.json").read_text()),
    )
    assert values["auth"] == {
        "enabled": True,
        "usersExistingSecret": "redis-auth",
        "aclUsers": {
            "default": {"permissions": "~* &* +@all", "passwordKey": "password"},
            "agents": {"permissions": REDIS_ACL.format(prefix="t:platform:"), "passwordKey": "agents"},
            "tenant-demo": {"permissions": REDIS_ACL.format(prefix="t:demo:"), "passwordKey": "tenant-demo"},
        },
    }
    assert values["dataStorage"] == {"enabled": True, "requestedSize": "8Gi", "className": "gp3"}
    assert values["metrics"]["serviceMonitor"]["enabled"] is True
    assert "password" not in json.dumps(values["auth"]["aclUsers"]["default"].get("password", ""))
    off = valkey_values(RedisConfig(), SecretRef(name="redis-auth", source="generated"), False, []).render()
    assert off["metrics"]["serviceMonitor"]["enabled"] is False


def test_dev_runs_valkey_with_auth_from_secrets_manager(plans):
    run = plans("dev").run
    valkey = run.get(RELEASE, "agentic-dev-redis-valkey")
    assert valkey.inputs["namespace"] == "ai-data" and valkey.inputs["version"] == "0.11.0"
    auth = external_secrets(run, "redis-auth")["ai-data"]
    assert sorted((d["secretKey"], d["remoteRef"]["key"]) for d in auth["spec"]["data"]) == [
        ("agents", "agentic/agentic-dev/redis-agents"),
        ("ai-budgets", "agentic/agentic-dev/redis-ai-budgets"),  # the AI gateway's budget counter
        ("password", "agentic/agentic-dev/redis-auth"),
        ("tenant-demo", "agentic/agentic-dev/redis-tenant-demo"),
        ("tenant-sandbox", "agentic/agentic-dev/redis-tenant-sandbox"),
    ]
    urn_of = {r.urn: r.name for r in run.registrations}
    assert "agentic-dev-redis-auth" in {urn_of.get(u) for u in valkey.dependencies}  # the Secret exists first
    assert not run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")


def test_prod_runs_elasticache_multi_az_tls_kms_auth_private(plans):
    run = plans("prod").run
    [group] = run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    g = group.inputs
    assert g["engine"] == "valkey" and g["numCacheClusters"] == 3 and g["nodeType"] == "cache.r7g.large"
    assert g["automaticFailoverEnabled"] and g["multiAzEnabled"]
    assert g["transitEncryptionEnabled"] and g["transitEncryptionMode"] == "required"
    assert g["atRestEncryptionEnabled"] and g["kmsKeyId"].startswith("arn:aws:kms:")
    assert "authToken" not in g and g["userGroupIds"]  # RBAC users, one per namespace, not one shared token
    users = {u.inputs["userName"]: u for u in run.of_type("aws:elasticache/user:User")}
    assert set(users) == {"default", "agents", "ai-budgets", "tenant-search", "tenant-support"} - {
        t for t in ("tenant-search", "tenant-support") if t not in users
    }
    assert users["default"].inputs["accessString"] == "on ~* +@all"
    # the AI gateway's budget counter: its own prefix, no scripting
    assert users["ai-budgets"].inputs["accessString"] == "on ~ai-budgets:* resetchannels -@all +@read +@write " + (
        "+@connection -@dangerous"
    )
    assert users["agents"].inputs["accessString"] == "on " + REDIS_ACL.format(prefix="t:platform:")
    assert all("passwords" in u.secret_paths or "passwords[0]" in str(u.secret_paths) for u in users.values())
    [subnets] = run.of_type("aws:elasticache/subnetGroup:SubnetGroup")
    named = [run.placeholders.values[i] for i in subnets.inputs["subnetIds"]]  # "<type> <name>.id"
    private = [r for r in run.of_type("aws:ec2/subnet:Subnet") if "-private-" in r.name]
    assert sorted(n.split()[1].removesuffix(".id") for n in named) == sorted(r.name for r in private)
    assert len(private) == 3
    [rule] = [
        r
        for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name == "agentic-prod-redis-from-nodes"
    ]
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == 6379
    assert rule.inputs["referencedSecurityGroupId"] and "cidrIpv4" not in rule.inputs  # nodes only, no CIDR
    assert not [r for r in run.of_type(RELEASE) if r.inputs["chart"] == "valkey"]


@pytest.mark.parametrize("stack,scheme", [("dev", "redis://"), ("prod", "rediss://")])
def test_one_connection_secret_shape_either_way(plans, stack, scheme):
    conn = external_secrets(plans(stack).run, "redis-connection")["ai-agents"]
    template = conn["spec"]["target"]["template"]
    assert set(template["data"]) == {
        "REDIS_URL",
        "REDIS_ADDRESS",
        "REDIS_USERNAME",
        "REDIS_PASSWORD",
        "REDIS_KEY_PREFIX",
        "REDIS_TLS",
    }
    assert template["data"]["REDIS_TLS"] == str(stack == "prod").lower()
    assert (template["data"]["REDIS_USERNAME"], template["data"]["REDIS_KEY_PREFIX"]) == ("agents", "t:platform:")
    url = template["data"]["REDIS_URL"]
    assert url.startswith(scheme + "agents:{{ .password | urlquery }}@") and url.endswith(":6379/0")
    assert conn["spec"]["data"][0]["remoteRef"]["key"] == f"agentic/agentic-{stack}/redis-agents"


def test_tenants_get_data_only_when_allowed():
    raw = stack_raw("dev")
    raw["tenants"][0].pop("allow")
    raw["gateway"]["ai"]["keys"] = []  # the AI gateway key of tenant sandbox needs its model allowance
    raw["tenants"].append({"name": "search", "quota": raw["tenants"][0]["quota"], "allow": {"redis": True}})
    run = build_stack(raw)
    assert set(external_secrets(run, "redis-connection")) == {"ai-agents", "tenant-search"}
    assert set(external_secrets(run, "milvus-connection")) == {"ai-agents", "ai-data"}

    def policy(ns, name):
        return next(
            (
                p.inputs["spec"]
                for p in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if p.inputs["metadata"]["namespace"] == ns and p.inputs["metadata"]["name"] == name
            ),
            None,
        )

    assert policy("tenant-search", "allow-to-data")["egress"][0]["ports"] == [{"protocol": "TCP", "port": 6379}]
    assert policy("tenant-sandbox", "allow-to-data") is None
    ingress = policy("ai-data", "allow-from-tenant")["ingress"]
    assert [
        (r["ports"][0]["port"], r["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]) for r in ingress
    ] == [(6379, ["tenant-demo", "tenant-search"])]  # demo: self-service, its own stack
    assert "tenant-demo" not in external_secrets(run, "redis-connection")  # its stack makes its connection Secret


def test_runtime_reads_the_rendered_redis_secret_from_a_real_redis_server(plans, tmp_path):
    """The exact REDIS_URL the plan renders (its template filled as external-secrets would) against a real
    redis-server with the agents' user and ACL: the runtime's session memory round-trips through it."""
    import asyncio
    import urllib.parse

    import redis

    from agent_runtime.memory import SessionMemory
    from agent_runtime.observability import Metrics

    template = external_secrets(plans("dev").run, "redis-connection")["ai-agents"]["spec"]["target"]["template"]
    password = "g3n/er+ated=pw"  # characters that must be URL-quoted, as the template does
    agents = ["--user", "agents", "on", f">{password}", *redis_acl("ai-agents").split()]
    with redis_server(tmp_path, "--user", "default", "off", *agents) as port:  # no password-only login
        url = (
            template["data"]["REDIS_URL"]
            .replace("{{ .password | urlquery }}", urllib.parse.quote_plus(password))
            .replace("valkey.ai-data.svc.cluster.local", "127.0.0.1")
            .replace(":6379/", f":{port}/")
        )

        async def roundtrip(u):
            mem = SessionMemory(u, "kube-agent", 3600, 50, Metrics(), template["data"]["REDIS_KEY_PREFIX"])
            try:
                await mem.append("s1", [{"role": "user", "content": "hello"}])
                return await mem.status()
            finally:
                await mem.close()

        assert asyncio.run(roundtrip(url)) == "ok"
        stored = redis.Redis.from_url(url, decode_responses=True)
        key = template["data"]["REDIS_KEY_PREFIX"] + "agent:kube-agent:session:s1"  # under its own prefix
        assert any("hello" in m for m in stored.lrange(key, 0, -1))
        stored.close()
        wrong = url.replace(urllib.parse.quote_plus(password), "wrong")
        assert asyncio.run(roundtrip(wrong)).startswith("degraded")


# --- Milvus ------------------------------------------------------------------------------------------------------


def test_milvus_values_standalone_and_cluster():
    dev = milvus_values(MilvusConfig(), "us-west-2", monitoring=True).render()
    prod = milvus_values(
        MilvusConfig(mode="cluster", storage_gib=500, query_nodes=3), "us-west-2", True, "bucket-x"
    ).render()
    for values in (dev, prod):
        assert unknown_keys(values, chart_defaults("milvus")) == []
        assert values["pulsarv3"] == {"enabled": False}  # 2.6: Woodpecker, no Pulsar
        assert "authorizationEnabled: true" in values["extraConfigFiles"]["user.yaml"]
        assert "password" not in values["extraConfigFiles"]["user.yaml"].lower()
        assert values["etcd"]["persistence"]["storageClass"] == "gp3"
    assert dev["cluster"] == {"enabled": False} and dev["minio"]["mode"] == "standalone"
    assert dev["standalone"]["persistence"]["persistentVolumeClaim"] == {"storageClass": "gp3", "size": "50Gi"}
    assert prod["cluster"] == {"enabled": True} and prod["minio"] == {"enabled": False}
    s3 = prod["externalS3"]
    assert s3["useIAM"] is True and s3["useSSL"] is True and s3["bucketName"] == "bucket-x"
    assert "accessKey" not in s3 and "secretKey" not in s3
    assert prod["queryNode"]["replicas"] == 3 and prod["etcd"]["replicaCount"] == 3
    assert prod["serviceAccount"] == {"create": True, "name": "milvus"}


def test_prod_milvus_bucket_is_private_encrypted_and_reached_by_pod_identity(plans):
    run = plans("prod").run
    bucket = run.get("aws:s3/bucket:Bucket", "agentic-prod-milvus-bucket-bucket")
    block = run.get(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "agentic-prod-milvus-bucket-public-access-block"
    )
    assert all(
        block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert run.get("aws:s3/bucketVersioning:BucketVersioning", "agentic-prod-milvus-bucket-versioning")
    tls = json.loads(
        run.get("aws:s3/bucketPolicy:BucketPolicy", "agentic-prod-milvus-bucket-tls-only").inputs["policy"]
    )
    assert tls["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assoc = next(
        a
        for a in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"] == "milvus"
    )
    assert assoc.inputs["namespace"] == "ai-data"
    policy = json.loads(run.get("aws:iam/rolePolicy:RolePolicy", "agentic-prod-milvus-policy").inputs["policy"])
    resources = {st["Sid"]: st["Resource"] for st in policy["Statement"]}
    assert resources["Objects"] == bucket.outputs["arn"] + "/*" and resources["Bucket"] == bucket.outputs["arn"]
    release = run.get(RELEASE, "agentic-prod-milvus-release")
    assert release.inputs["values"]["externalS3"]["bucketName"] == bucket.outputs["bucket"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_kb_init_job_runs_the_platform_image_after_milvus(plans, stack):
    run = plans(stack).run
    [job] = [r for r in run.of_type("kubernetes:batch/v1:Job") if r.inputs["metadata"]["name"].startswith("kb-init")]
    c = job.inputs["spec"]["template"]["spec"]["containers"][0]
    assert c["args"][:2] == ["kb", "init"] and "--bootstrap-root-password" in c["args"]
    from config.data import embedding_of

    embedding = embedding_of(plans(stack).config)
    assert embedding is not None and c["args"][c["args"].index("--dim") + 1] == str(embedding[2])
    # root's connection (the data namespace's own) and every identity's password for --tenant-users
    assert c["envFrom"] == [{"secretRef": {"name": "milvus-connection"}}, {"secretRef": {"name": "milvus-kb-users"}}]
    assert "--tenant-users" in c["args"]
    assert "@sha256:" in c["image"]  # the digest-pinned image the stack builds
    conn = external_secrets(run, "milvus-connection")["ai-data"]["spec"]["target"]["template"]["data"]
    assert conn == {
        "MILVUS_URI": "http://milvus.ai-data.svc.cluster.local:19530",
        "MILVUS_TOKEN": "root:{{ .password }}",
    }
    urn_of = {r.urn: r.name for r in run.registrations}
    assert f"agentic-{stack}-milvus-release" in {urn_of.get(u) for u in job.dependencies}


def test_kb_job_name_follows_what_it_does():
    a = kb_init_job(MilvusConfig(), "ai-data", "img", 1, 1024)["metadata"]["name"]
    assert a == kb_init_job(MilvusConfig(), "ai-data", "img", 1, 1024)["metadata"]["name"]
    assert a != kb_init_job(MilvusConfig(), "ai-data", "img", 1, 384)["metadata"]["name"]


def test_without_a_built_image_the_plan_says_the_collection_is_not_created():
    raw = stack_raw("dev")
    raw["agent_runtime"]["build"] = False
    raw["kagent"]["agents"] = [a for a in raw["kagent"]["agents"] if a["type"] != "BYO"]
    raw["kagent"]["mcp_servers"] = []
    for a in raw["kagent"]["agents"]:
        a["tools"] = [t for t in a.get("tools", []) if "mcp_server" not in t]
    run = build_stack(raw)
    assert not [r for r in run.of_type("kubernetes:batch/v1:Job")]
    assert any("kb init" in n for n in run.outputs["plan_notes"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_exports_data_endpoints_not_secrets(plans, stack):
    out = plans(stack).run.outputs["data_endpoints"]
    assert set(out) == {"redis", "milvus"}
    assert out["redis"]["tls"] is (stack == "prod") and out["redis"]["secret"] == "redis-connection"
    assert out["milvus"]["uri"] == "http://milvus.ai-data.svc.cluster.local:19530"
    assert "password" not in json.dumps(out).lower() and "PLANTED" not in json.dumps(out)


# --- bad input ---------------------------------------------------------------------------------------------------


def test_bad_data_config_is_rejected_with_path_and_fix():
    raw = stack_raw("dev")
    raw["data"] = {
        "redis": {"mode": "elasticache", "storage_gib": 20, "resources": {"cpu": "1"}},
        "milvus": {"mode": "cluster", "object_storage": "in_cluster"},
    }
    found = problems(raw)
    assert "ElastiCache sizes by node_type" in found["platform.data.redis.storage_gib"]
    assert "platform.data.redis.resources" in found
    assert "set s3" in found["platform.data.milvus.object_storage"]
    raw = stack_raw("dev")
    raw["data"] = {
        "redis": {"mode": "in_cluster", "node_type": "cache.r7g.large"},
        "milvus": {"mode": "standalone", "query_nodes": 4},
    }
    found = problems(raw)
    assert "set mode: elasticache" in found["platform.data.redis.node_type"]
    assert "set mode: cluster" in found["platform.data.milvus.query_nodes"]


def test_tenant_using_a_disabled_store_is_rejected():
    raw = stack_raw("dev")
    raw["data"]["redis"] = {"enabled": False}
    raw["tenants"][0]["allow"] = {"redis": True}
    assert "redis is disabled" in problems(raw)["platform.tenants[0].allow.redis"]


def test_prod_elasticache_without_replicas_has_no_failover():
    raw = stack_raw("prod")
    raw["data"]["redis"]["replicas"] = 0
    assert "at least 1 replica" in problems(raw)["platform.data.redis.replicas"]


# --- policies ----------------------------------------------------------------------------------------------------


def _resources(run):
    return [Resource(r.type, r.name, r.inputs) for r in run.registrations]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_data_policies_pass_on_the_committed_stacks(plans, stack):
    names = {"secrets-from-secrets-manager", "elasticache-tls-auth", "s3-private-tls-only", "volumes-encrypted"}
    assert [f for f in plans(stack).findings if f.policy in names] == []


def test_policy_secrets_only_from_external_secrets():
    tags = Resource("aws:ec2/vpc:Vpc", "vpc", {"tags": {"agentic.platform/environment": "prod"}})
    secret = Resource("kubernetes:core/v1:Secret", "s", {"metadata": {"name": "s"}, "data": {"k": "[secret]"}})
    assert data_policies.check_secrets_from_store([tags, secret])
    dev = Resource("aws:ec2/vpc:Vpc", "vpc", {"tags": {"agentic.platform/environment": "dev"}})
    assert data_policies.check_secrets_from_store([dev, secret]) == []
    es = Resource(ES, "es", {"spec": {"secretStoreRef": {"kind": "SecretStore", "name": "x"}}})
    assert "ClusterSecretStore" in data_policies.check_secrets_from_store([dev, es])[0][1]


def test_policy_elasticache_tls_and_auth(plans):
    [group] = plans("prod").run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert data_policies.check_elasticache(group.type, group.inputs) == []
    for key, value, words in (
        ("transitEncryptionEnabled", False, "in transit"),
        ("transitEncryptionMode", "preferred", "required"),
        ("atRestEncryptionEnabled", False, "at rest"),
        ("userGroupIds", None, "auth"),
    ):
        bad = {**group.inputs, key: value}
        assert any(words in m for m in data_policies.check_elasticache(group.type, bad)), key


def test_policy_buckets_private_and_tls_only(plans):
    resources = _resources(plans("prod").run)
    assert data_policies.check_buckets(resources) == []
    no_block = [r for r in resources if r.name != "agentic-prod-milvus-bucket-public-access-block"]
    assert [n for n, _ in data_policies.check_buckets(no_block)] == ["agentic-prod-milvus-bucket-bucket"]
    weak = [
        Resource(r.type, r.name, {**r.props, "policy": json.dumps({"Statement": []})})
        if r.name == "agentic-prod-models-bucket-tls-only"
        else r
        for r in resources
    ]
    if any(r.name == "agentic-prod-models-bucket-bucket" for r in resources):
        assert any("SecureTransport" in m for _, m in data_policies.check_buckets(weak))


def test_policy_volumes_on_encrypted_classes(plans):
    resources = _resources(plans("dev").run)
    assert data_policies.check_encrypted_volumes(resources) == []
    bad = []
    for r in resources:
        if r.name == "agentic-dev-redis-valkey":
            props = copy.deepcopy(dict(r.props))
            props["values"]["dataStorage"]["className"] = "gp2"
            r = Resource(r.type, r.name, props)
        bad.append(r)
    assert any("gp2" in m for _, m in data_policies.check_encrypted_volumes(bad))
    plain_sc = Resource(
        "kubernetes:storage.k8s.io/v1:StorageClass",
        "sc",
        {"metadata": {"name": "plain"}, "parameters": {"type": "gp3"}},
    )
    assert any("encrypted" in m for _, m in data_policies.check_encrypted_volumes([plain_sc]))
