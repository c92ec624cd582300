"""Per-tenant data credentials (issue #21 point 1), Redis: every namespace whose agents use Redis has its own user,
limited to its own key prefix, with its own generated password; the administrator's password stays in the data
namespace. Proven with a real redis-server running the ACL the dev plan renders for Valkey, and the agent runtime's
own session memory (its Lua script included) speaking as each user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_runtime.memory import SessionMemory
from agent_runtime.observability import Metrics
from tests.conftest import redis_server


def _of(plan, kind: str) -> list[dict]:
    return [dict(r.inputs) for r in plan.run.kubernetes_objects() if r.inputs.get("kind") == kind]


def _acl(plan) -> dict[str, str]:
    release = next(
        dict(r.inputs)
        for r in plan.run.registrations
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs.get("name") == "valkey"
    )
    return {user: spec["permissions"] for user, spec in release["values"]["auth"]["aclUsers"].items()}


def _connections(plan) -> dict[str, dict]:
    """namespace -> the redis-connection ExternalSecret there."""
    return {
        o["metadata"]["namespace"]: o
        for o in _of(plan, "ExternalSecret")
        if o["metadata"]["name"] == "redis-connection"
    }


@pytest.fixture(scope="module")
def server(plans, tmp_path_factory):
    """redis-server with the dev plan's Valkey ACL, each user with a test password (its name reversed)."""
    acl = _acl(plans("dev"))
    tmp: Path = tmp_path_factory.mktemp("redis-acl")
    lines = [f"user {u} reset on >{u[::-1]}-pw {perm}" for u, perm in acl.items() if u != "default"]
    lines.append(f"user default reset on >admin-pw {acl['default']}")
    (tmp / "users.acl").write_text("\n".join(lines) + "\n")
    with redis_server(tmp, "--aclfile", str(tmp / "users.acl")) as port:
        yield port, acl


def _url(port: int, user: str) -> str:
    return f"redis://{user}:{user[::-1]}-pw@127.0.0.1:{port}/0"


def test_every_redis_namespace_has_its_own_user_and_the_admin_is_no_agents(plans):
    dev = plans("dev")
    acl = _acl(dev)
    assert set(acl) == {"default", "agents", "tenant-sandbox", "tenant-demo", "ai-budgets"}  # ai-budgets: a service
    conns = _connections(dev)
    for ns, conn in conns.items():
        template = conn["spec"]["target"]["template"]["data"]
        user = template["REDIS_USERNAME"]
        assert user == ("agents" if ns == "ai-agents" else ns)
        assert f"~{template['REDIS_KEY_PREFIX']}*" in acl[user]
        # the password is the user's own Secrets Manager secret, never the administrator's
        (remote,) = [d["remoteRef"]["key"] for d in conn["spec"]["data"]]
        assert remote.endswith(f"/redis-{user}") and "redis-auth" not in remote


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_tenant_is_given_the_administrators_password(plans, stack):
    plan = plans(stack)
    for ns, conn in _connections(plan).items():
        assert "redis-auth" not in json.dumps(conn), ns
    tenancy = plan.run.outputs["tenancy"]
    assert "redis-auth" not in (tenancy if isinstance(tenancy, str) else json.dumps(tenancy))


@pytest.mark.anyio
async def test_a_tenant_uses_its_own_keys_through_the_runtime(server):
    port, _ = server
    mem = SessionMemory(_url(port, "tenant-sandbox"), "helper", 120, 10, Metrics(), key_prefix="t:sandbox:")
    await mem.append("s1", [{"role": "user", "content": "hello"}])
    assert [m["content"] for m in await mem.history("s1")] == ["hello"]
    assert await mem.status() == "ok"
    await mem.close()


@pytest.mark.anyio
async def test_a_tenants_credentials_are_refused_on_other_tenants_and_the_platforms_keys(server):
    import redis.asyncio as aioredis
    from redis.exceptions import NoPermissionError

    port, _ = server
    platform = SessionMemory(_url(port, "agents"), "kube-agent", 120, 10, Metrics(), key_prefix="t:platform:")
    await platform.append("ops", [{"role": "user", "content": "platform secret"}])
    await platform.close()
    demo = aioredis.from_url(_url(port, "tenant-demo"), decode_responses=True)
    try:
        for attempt in (
            demo.lrange("t:platform:agent:kube-agent:session:ops", 0, -1),
            demo.get("t:sandbox:anything"),
            demo.set("t:platform:x", "1"),
            demo.keys("*"),
            demo.flushall(),
            demo.config_get("*"),
            demo.eval("return redis.call('GET', KEYS[1])", 1, "t:sandbox:x"),
        ):
            with pytest.raises(NoPermissionError):
                await attempt
        # and its own keys work
        await demo.set("t:demo:x", "1")
        assert await demo.get("t:demo:x") == "1"
    finally:
        await demo.aclose()
    # the runtime with a foreign prefix is refused too: it degrades to its in-process fallback, it never reads
    borrowed = SessionMemory(_url(port, "tenant-demo"), "kube-agent", 120, 10, Metrics(), key_prefix="t:platform:")
    assert await borrowed.history("ops") == []
    assert borrowed.degraded
    await borrowed.close()


# --- Milvus: a user, role and database per namespace ------------------------------------------------------------


def test_each_milvus_namespace_gets_its_own_user_and_database_never_root(plans):
    dev = plans("dev")
    conns = {
        o["metadata"]["namespace"]: o
        for o in _of(dev, "ExternalSecret")
        if o["metadata"]["name"] == "milvus-connection"
    }
    for ns, conn in conns.items():
        (remote,) = [d["remoteRef"]["key"] for d in conn["spec"]["data"]]
        template = conn["spec"]["target"]["template"]["data"]
        if ns == "ai-data":  # the kb-init job's, in the platform's data namespace
            assert remote.endswith("/milvus-root") and template["MILVUS_TOKEN"].startswith("root:")
            continue
        identity = "kb_platform" if ns == "ai-agents" else "kb_" + ns.removeprefix("tenant-")
        assert remote.endswith(f"/milvus-{'agents' if ns == 'ai-agents' else ns}") and "milvus-root" not in remote
        assert template["MILVUS_TOKEN"] == identity + ":{{ .password }}" and template["MILVUS_DB_NAME"] == identity
    job = next(o for o in _of(dev, "Job") if o["metadata"]["name"].startswith("kb-init-"))
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert "--tenant-users" in container["args"]
    assert {"secretRef": {"name": "milvus-kb-users"}} in container["envFrom"]
    users = next(o for o in _of(dev, "ExternalSecret") if o["metadata"]["name"] == "milvus-kb-users")
    assert sorted(d["secretKey"] for d in users["spec"]["data"]) == ["kb_platform", "kb_sandbox"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_tenant_is_given_milvus_root(plans, stack):
    plan = plans(stack)
    for o in _of(plan, "ExternalSecret"):
        if o["metadata"]["namespace"].startswith("tenant-"):
            assert "milvus-root" not in json.dumps(o), o["metadata"]
    tenancy = plan.run.outputs["tenancy"]
    assert "milvus-root" not in (tenancy if isinstance(tenancy, str) else json.dumps(tenancy))
