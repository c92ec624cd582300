"""Spend budgets of the AI gateway's keys (issue #23 point 3), proven with the real counter: Envoy's rate limit
service (built from the commit of the pinned image by ``make controlplane``) on a real redis-server holding the ACL
the dev plan renders for Valkey, configured from the dev plan's ConfigMap and Deployment environment. The test
speaks for agentgateway as its global rate limit does (remoteratelimit.rs at v1.4.1): before a call, a check with
``hits_addend`` 0; after the answer, the answer's cost (``llm.cost.total`` from the catalog price) in micro-dollars.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from agentic.cluster.binaries import NotBuilt, find_ratelimit
from components.traffic import ai_budgets
from config import parse_platform
from tests.conftest import redis_server, stack_raw


def _objs(plan) -> list[dict]:
    return [dict(r.inputs) for r in plan.run.kubernetes_objects()]


def _one(objs, kind, name) -> dict:
    [o] = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return o


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _ratelimit(env: dict[str, str], config_dir: Path) -> Iterator[int]:
    try:
        binary = find_ratelimit()
    except NotBuilt as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))
    http = _free_port()
    ports = {"PORT": http, "GRPC_PORT": _free_port(), "DEBUG_PORT": _free_port()}
    env = {
        **env,
        **{k: str(v) for k, v in ports.items()},
        "HOST": "127.0.0.1",
        "GRPC_HOST": "127.0.0.1",
        "DEBUG_HOST": "127.0.0.1",
        "PROMETHEUS_ADDR": f"127.0.0.1:{_free_port()}",
        "RUNTIME_ROOT": str(config_dir),
    }
    log = config_dir / "ratelimit.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthcheck", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the rate limit service did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield http
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def counter(plans, tmp_path_factory):
    """The dev plan's budget counter, running: (its HTTP port, a Redis admin client, the dev config)."""
    dev = plans("dev")
    objs = _objs(dev)
    name = ai_budgets.service_name(parse_platform(stack_raw("dev")).gateway.ai)
    config_map = _one(objs, "ConfigMap", name)
    [container] = _one(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    release = next(
        dict(r.inputs)
        for r in dev.run.registrations
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs.get("name") == "valkey"
    )
    acl = release["values"]["auth"]["aclUsers"]
    tmp: Path = tmp_path_factory.mktemp("budgets")
    (tmp / "users.acl").write_text(
        f"user ai-budgets reset on >budget-pw {acl['ai-budgets']['permissions']}\n"
        f"user default reset on >admin-pw {acl['default']['permissions']}\n"
    )
    # the ConfigMap mounted where the Deployment's RUNTIME_* variables say the service reads it
    plain = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    [mount] = container["volumeMounts"]
    assert mount["mountPath"] == "/".join([plain["RUNTIME_ROOT"], plain["RUNTIME_SUBDIRECTORY"], "config"])
    config_dir = tmp / "data"
    (config_dir / plain["RUNTIME_SUBDIRECTORY"] / "config").mkdir(parents=True)
    for file, text in config_map["data"].items():
        (config_dir / plain["RUNTIME_SUBDIRECTORY"] / "config" / file).write_text(text)
    from_secret = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert from_secret == {"REDIS_URL", "REDIS_AUTH", "REDIS_TLS"}
    with redis_server(tmp, "--aclfile", str(tmp / "users.acl")) as port:
        env = {**plain, "REDIS_URL": f"127.0.0.1:{port}", "REDIS_AUTH": "ai-budgets:budget-pw", "REDIS_TLS": "false"}
        with _ratelimit(env, config_dir) as http:
            admin = redis.Redis(port=port, username="default", password="admin-pw", decode_responses=True)
            yield http, admin, parse_platform(stack_raw("dev"))


def _ask(http: int, consumer: str, hits: int) -> str:
    """One descriptor as agentgateway sends it: ``consumer`` with a per-descriptor hit count."""
    body = {"domain": ai_budgets.DOMAIN, "descriptors": [{"entries": [{"key": "consumer", "value": consumer}]}]}
    body["descriptors"][0]["hitsAddend"] = str(hits)
    req = urllib.request.Request(f"http://127.0.0.1:{http}/json", data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return str(json.load(r)["overallCode"])
    except urllib.error.HTTPError as e:  # the service answers OVER_LIMIT with 429
        return str(json.load(e)["overallCode"])


def test_a_tenant_key_is_refused_once_its_day_budget_is_spent(counter, plans):
    http, admin, cfg = counter
    [key] = [k for k in cfg.gateway.ai.keys if k.budget_usd_per_day]
    assert key.tenant == "sandbox" and key.budget_usd_per_day == 25
    # the policy the proxy runs: the key's conditional entry counts its answers' cost against this service
    objs = _objs(plans("dev"))
    limits = _one(objs, "AgentgatewayPolicy", "llm-gateway-token-limits")["spec"]["traffic"]["rateLimit"]
    [mine] = [c for c in limits["conditional"] if key.consumer in c["condition"]]
    [desc] = mine["policy"]["global"]["descriptors"]
    assert desc["unit"] == "Tokens" and desc["cost"] == ai_budgets.COST
    assert desc["entries"] == [{"name": "consumer", "expression": "apiKey.consumer"}]
    assert mine["policy"]["global"]["backendRef"]["name"] == ai_budgets.service_name(cfg.gateway.ai)
    # an answer of 1M input and 1M output tokens from the Bedrock fallback, at the dev catalog's price
    [bedrock] = [p for p in cfg.gateway.ai.providers if p.kind == "bedrock"]
    assert bedrock.price is not None
    cost = round((bedrock.price.input + bedrock.price.output) * ai_budgets.MICRO_USD)
    calls = 0
    while _ask(http, key.consumer, 0) == "OK":  # the check before the call
        assert _ask(http, key.consumer, cost) in ("OK", "OVER_LIMIT")  # the answer's cost, after it
        calls += 1
        assert calls < 100
    spent = calls * cost / ai_budgets.MICRO_USD
    assert spent > key.budget_usd_per_day and (calls - 1) * cost / ai_budgets.MICRO_USD <= key.budget_usd_per_day
    assert _ask(http, "tenant-other", 0) == "OK", "a consumer without a budget is not counted"
    # the counter lives under the service user's own prefix only
    keys = admin.keys("*")
    assert keys and all(k.startswith("ai-budgets:") for k in keys)


def test_the_counter_user_cannot_touch_other_keys(counter):
    _, admin, _ = counter
    port = admin.connection_pool.connection_kwargs["port"]
    me = redis.Redis(port=port, username="ai-budgets", password="budget-pw")
    me.set("ai-budgets:probe", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        me.get("t:platform:session")
    with pytest.raises(redis.exceptions.NoPermissionError):
        me.eval("return 1", 0)


def test_the_service_config_limits_each_budgeted_key_per_day():
    cfg = parse_platform(stack_raw("dev"))
    conf = yaml.safe_load(ai_budgets.service_config(cfg.gateway.ai))
    assert conf == {
        "domain": "ai-budgets",
        "descriptors": [
            {
                "key": "consumer",
                "value": "tenant-sandbox",
                "rate_limit": {"unit": "day", "requests_per_unit": 25_000_000},
            }
        ],
    }
