"""The real agent-runtime, holding a token for the kube-agent's rendered ServiceAccount (TokenRequest), drives its
Kubernetes tools through its own MCP API against the real API server: what seed 003 allows works, the rest comes
back as a clear tool error."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from agentic.cluster.harness import free_port

AGENTS_NS = "ai-agents"
SA = "agent-kube-agent"


def _kubeconfig(path: Path, server: str, ca: Path, token: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": str(ca)}}],
                "users": [{"name": "kube-agent", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "kube-agent"}}],
                "current-context": "c",
            }
        )
    )
    return path


def _start(kubeconfig: Path, namespace: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "AGENT_", "KUBE_AGENT_"))}
    env.update(KUBECONFIG=str(kubeconfig), KUBE_AGENT_NAMESPACE=namespace)
    exe = Path(sys.executable).parent / "agent-runtime"
    proc = subprocess.Popen(
        [str(exe), "mcp", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"agent-runtime mcp did not start: {log.read_text()[-2000:]}")


async def _call(port: int, calls: list[tuple[str, dict]]) -> list[tuple[bool, str]]:
    from mcp.client.client import Client

    out = []
    async with Client(f"http://127.0.0.1:{port}/mcp") as mcp:
        for name, args in calls:
            result = await mcp.call_tool(name, args)
            out.append((bool(result.is_error), result.content[0].text if result.content else ""))
    return out


@pytest.fixture(scope="module")
def kube_agent_token(verified):
    v = verified("dev")
    return v, v.client.token_for(AGENTS_NS, SA)


def test_kube_agent_tools_work_against_the_real_api_server(kube_agent_token, tmp_path):
    v, token = kube_agent_token
    assert v.control_plane.state is not None
    kubeconfig = _kubeconfig(
        tmp_path / "kc", v.control_plane.state.server, v.control_plane.dir / "pki" / "ca.crt", token
    )
    proc, port = _start(kubeconfig, AGENTS_NS, tmp_path / "runtime.log")
    try:
        results = asyncio.run(
            _call(
                port,
                [
                    ("k8s_list_pods", {}),
                    ("k8s_list_deployments", {}),
                    ("k8s_get_deployment", {"name": "kube-agent-mcp"}),
                    ("k8s_scale_deployment", {"name": "kube-agent-mcp", "replicas": 2}),
                    ("k8s_restart_deployment", {"name": "kube-agent-mcp"}),
                    ("k8s_get_events", {}),
                    ("k8s_list_secrets", {}),
                ],
            )
        )
    finally:
        proc.terminate()
        proc.wait(10)
    (pods_err, pods), (deps_err, deps), (get_err, dep), (scale_err, _), (restart_err, _), (ev_err, _), secrets = results
    assert not pods_err and pods.startswith(f"namespace {AGENTS_NS}")
    assert not deps_err and "kube-agent-mcp" in deps
    assert not get_err and "kube-agent-mcp" in dep
    assert not scale_err and not restart_err and not ev_err
    d = v.client.read("apps/v1", "Deployment", "kube-agent-mcp", AGENTS_NS)
    assert d["spec"]["replicas"] == 2
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    # Secrets: the platform does not grant 'list' (a list returns data): a clear tool error, not a crash
    assert secrets == (True, secrets[1]) and "403 forbidden by RBAC" in secrets[1]


def test_another_namespace_is_a_clear_tool_error(kube_agent_token, tmp_path):
    v, token = kube_agent_token
    assert v.control_plane.state is not None
    kubeconfig = _kubeconfig(
        tmp_path / "kc", v.control_plane.state.server, v.control_plane.dir / "pki" / "ca.crt", token
    )
    proc, port = _start(kubeconfig, "ai-inference", tmp_path / "runtime.log")
    try:
        results = asyncio.run(
            _call(port, [("k8s_list_pods", {}), ("k8s_scale_deployment", {"name": "x", "replicas": 1})])
        )
        assert proc.poll() is None, "the runtime crashed"
    finally:
        proc.terminate()
        proc.wait(10)
    assert all(err and "403 forbidden by RBAC" in text for err, text in results), results
