"""Proving the BYO wiring is real (issue #10): the dev plan's BYO agent container (env, args, the Secrets it reads,
the port kagent probes) runs as a real `agent-runtime` process with exactly that environment, addresses rewritten to
local fakes (the fake OpenAI server, a real redis-server, milvus-lite). kagent's readiness probe path answers 200, the
agent card is served, and an a2a-sdk 0.3 client's message/send round-trips through the gateway header the plan set.
The platform MCP Deployment runs the same way and lists exactly the configured tools to an MCP client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.agents.kagent_v0_10 import A2A_PORT, READINESS_PATH, TOOLS_PORT, TOOLS_SERVER
from config.data import redis_acl
from tests.conftest import redis_server

RUNTIME_TESTS = Path(__file__).resolve().parents[3] / "agent_runtime" / "tests"
sys.path.insert(0, str(RUNTIME_TESTS))
from fake_llm import FakeLLM, free_port  # noqa: E402


def _es_template(run: Any, namespace: str, name: str) -> dict[str, str]:
    es = next(
        e.inputs
        for e in run.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if e.inputs["metadata"]["namespace"] == namespace and e.inputs["metadata"]["name"] == name
    )
    return es["spec"]["target"]["template"]["data"]


def _fill(template: str, password: str) -> str:
    """What external-secrets does with the template: the password in, URL-quoted where the template says so."""
    return template.replace("{{ .password | urlquery }}", urllib.parse.quote_plus(password)).replace(
        "{{ .password }}", password
    )


def _container_env(env: list[dict[str, Any]], namespace: str, secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    out = {}
    for e in env:
        if "value" in e:
            out[e["name"]] = e["value"]
        elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            out[e["name"]] = namespace  # the Downward API
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            out[e["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            raise AssertionError(f"unsupported env source {e}")
    return out


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 30) -> httpx.Response:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture(scope="module")
def llm():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def redis_with_password(tmp_path):
    """The agents' own Redis user with the ACL the platform renders (the administrator off)."""
    password = "wired/pw+1"
    agents = ["--user", "agents", "on", f">{password}", *redis_acl("ai-agents").split()]
    with redis_server(tmp_path, "--user", "default", "off", *agents) as port:
        yield port, password


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KUBE_AGENT", "AGENT_", "REDIS", "MILVUS", "KAGENT", "OTEL"))
    }
    return subprocess.Popen(
        [sys.executable, "-m", "agent_runtime.cli", *args],
        env={**base, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_byo_agent_runs_with_the_rendered_container(plans, llm, redis_with_password, tmp_path):
    run = plans("dev").run
    agent = next(
        a.inputs for a in run.of_type("kubernetes:kagent.dev/v1alpha2:Agent") if a.inputs["spec"]["type"] == "BYO"
    )
    ns, name = agent["metadata"]["namespace"], agent["metadata"]["name"]
    dep = agent["spec"]["byo"]["deployment"]
    assert dep["args"] == ["serve"]
    redis_port, password = redis_with_password
    secrets = {s["secretRef"]["name"]: _es_template(run, ns, s["secretRef"]["name"]) for s in dep["envFrom"]}
    env = _container_env(dep["env"], ns, secrets)
    for secret in secrets.values():
        env.update({k: _fill(v, password) for k, v in secret.items()})
    # Addresses rewritten to the local fakes; everything else exactly as rendered.
    gateway = env["KUBE_AGENT_LLM_URL"]
    assert gateway == "http://ai-gateway.ai-gateway.svc.cluster.local/v1"
    env["KUBE_AGENT_LLM_URL"] = llm.url
    env["REDIS_URL"] = env["REDIS_URL"].replace("valkey.ai-data.svc.cluster.local:6379", f"127.0.0.1:{redis_port}")
    assert env["MILVUS_URI"] == "http://milvus.ai-data.svc.cluster.local:19530"
    env["MILVUS_URI"] = str(tmp_path / "kb.db")
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT")
    port = free_port()
    # kagent's own variables on BYO pods; the port kagent probes is the runtime's default (A2A_PORT): moved for the test
    env.update(
        KAGENT_NAME=name,
        KAGENT_NAMESPACE=ns,
        KAGENT_URL="http://kagent-controller.ai-agents:8083",
        AGENT_PUBLIC_URL=f"http://127.0.0.1:{port}/",
        AGENT_PORT=str(port),
        AGENT_HOST="127.0.0.1",
        HOME=str(tmp_path),
        AGENT_FILE_ROOTS=str(tmp_path),
    )
    from agent_runtime.settings import Settings

    assert Settings.model_fields["port"].default == A2A_PORT  # in the pod the runtime listens where kagent probes
    proc = _start(dep["args"], env)
    try:
        probe = _wait_http(f"http://127.0.0.1:{port}{READINESS_PATH}", proc)
        assert probe.status_code == 200
        card = probe.json()
        assert card["name"] == name and card["protocolVersion"] == "0.3.0"

        async def send() -> str:
            from a2a.client import A2ACardResolver, ClientConfig, ClientFactory, create_text_message_object
            from a2a.types import Message

            async with httpx.AsyncClient(timeout=30) as http:
                resolved = await A2ACardResolver(http, f"http://127.0.0.1:{port}").get_agent_card()
                client = ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create(resolved)
                events = [e async for e in client.send_message(create_text_message_object(content="status?"))]
                return next(e for e in events if isinstance(e, Message)).parts[0].root.text

        llm.reset()
        llm.reply("all pods are running")
        assert asyncio.run(send()) == "all pods are running"
        assert llm.requests[-1]["model"] == "meta-llama/Llama-3.1-8B-Instruct"
        assert llm.headers[-1]["x-model-id"] == "llama-8b"  # the gateway routes on this header
        import redis

        stored = redis.Redis(port=redis_port, username="agents", password=password, decode_responses=True)
        assert env["REDIS_KEY_PREFIX"] == "t:platform:"  # its session under its own prefix, as its user
        key = next(stored.scan_iter(match="t:platform:agent:*:session:*"))
        assert any("status?" in m for m in stored.lrange(key, 0, -1))
    finally:
        proc.kill()
        proc.wait()


def test_platform_mcp_server_lists_exactly_the_configured_tools(plans, tmp_path):
    run = plans("dev").run
    dep = next(
        d.inputs for d in run.of_type("kubernetes:apps/v1:Deployment") if d.inputs["metadata"]["name"] == TOOLS_SERVER
    )
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["mcp", "--port", str(TOOLS_PORT)]
    assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    env = _container_env(c["env"], dep["metadata"]["namespace"], {})
    port = free_port()
    args = [a if a != str(TOOLS_PORT) else str(port) for a in c["args"]]
    proc = _start(
        args, {**env, "AGENT_HOST": "127.0.0.1", "HOME": str(tmp_path), "KUBE_AGENT_LLM_URL": "http://127.0.0.1:9/v1"}
    )
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/health", proc).status_code == 200

        async def names() -> set[str]:
            from mcp.client.client import Client

            async with Client(f"http://127.0.0.1:{port}/mcp") as mcp:
                return {t.name for t in (await mcp.list_tools()).tools}

        configured = next(
            s
            for s in run.of_type("kubernetes:kagent.dev/v1alpha2:RemoteMCPServer")
            if s.inputs["spec"]["url"].startswith(f"http://{TOOLS_SERVER}.")
        )
        server_cfg = plans("dev").config.kagent.mcp_servers[0]
        assert configured.inputs["metadata"]["name"] == server_cfg.name
        assert asyncio.run(names()) == set(server_cfg.tools)
    finally:
        proc.kill()
        proc.wait()
