"""Tools against local fakes: a Kubernetes API server, a Gitea server with real bare git repositories, the file
sandbox's every escape, and config-declared HTTP API tools."""

from __future__ import annotations

from typing import Any

import pytest
from fake_llm import serve_app as serve
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from agent_runtime.observability import Metrics
from agent_runtime.tools import ToolRegistry, files, gitea, http_api, kubernetes

pytestmark = pytest.mark.anyio


def registry(tools: list) -> ToolRegistry:
    reg = ToolRegistry(Metrics(), "t")
    reg.extend(tools)
    return reg


# --- Kubernetes ------------------------------------------------------------------------------------------------------

NOW = "2026-11-25T00:00:00Z"


def pod(name: str, phase: str = "Running", restarts: int = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team-a", "creationTimestamp": NOW},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:v1"}]},
        "status": {
            "phase": phase,
            "podIP": "10.0.0.5",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "restartCount": restarts,
                    "image": "app:v1",
                    "imageID": "",
                    "state": {"running": {"startedAt": NOW}},
                }
            ],
        },
    }


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team-a", "creationTimestamp": NOW},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "app:v1",
                            "env": [
                                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}},
                                {"name": "LOG_LEVEL", "value": "info"},
                            ],
                        }
                    ]
                },
            },
        },
        "status": {"readyReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas},
    }


@pytest.fixture(scope="module")
def kube_api():
    calls: list[tuple[str, str, Any]] = []
    app = FastAPI()

    def lst(kind: str, items: list) -> dict:
        return {"kind": kind, "apiVersion": "v1", "metadata": {}, "items": items}

    @app.api_route("/{path:path}", methods=["GET", "PATCH"])
    async def handle(path: str, request: Request) -> Any:
        body = await request.json() if request.method == "PATCH" else None
        calls.append((request.method, "/" + path + ("?" + request.url.query if request.url.query else ""), body))
        p = "/" + path
        routes = {
            "/api/v1/namespaces/team-a/pods": lst("PodList", [pod("web-1"), pod("worker-1", "Pending", 3)]),
            "/api/v1/namespaces/team-a/pods/web-1": pod("web-1"),
            "/apis/apps/v1/namespaces/team-a/deployments": lst("DeploymentList", [deployment("web")]),
            "/apis/apps/v1/namespaces/team-a/deployments/web": deployment("web"),
            "/apis/apps/v1/namespaces/team-a/deployments/web/scale": {
                "kind": "Scale",
                "metadata": {"name": "web"},
                "spec": {"replicas": 5},
            },
            "/api/v1/namespaces/team-a/services": lst(
                "ServiceList",
                [
                    {
                        "metadata": {"name": "web"},
                        "spec": {
                            "type": "ClusterIP",
                            "clusterIP": "172.20.0.10",
                            "ports": [{"port": 80, "protocol": "TCP"}],
                        },
                    }
                ],
            ),
            "/api/v1/namespaces/team-a/configmaps": lst(
                "ConfigMapList", [{"metadata": {"name": "cfg"}, "data": {"a": "1"}}]
            ),
            "/api/v1/namespaces/team-a/configmaps/cfg": {"metadata": {"name": "cfg"}, "data": {"DB_HOST": "db"}},
            "/api/v1/namespaces/team-a/secrets": lst(
                "SecretList", [{"metadata": {"name": "db"}, "type": "Opaque", "data": {"password": "c3VwZXJzZWNyZXQ="}}]
            ),
            "/api/v1/namespaces/team-a/events": lst(
                "EventList",
                [
                    {
                        "metadata": {"name": "e1"},
                        "type": "Warning",
                        "reason": "BackOff",
                        "message": "Back-off restarting failed container",
                        "involvedObject": {"kind": "Pod", "name": "worker-1"},
                        "lastTimestamp": NOW,
                    }
                ],
            ),
        }
        if p == "/api/v1/namespaces/team-a/pods/web-1/log":
            from fastapi.responses import PlainTextResponse

            return PlainTextResponse("line 1\nerror: DB_HOST not set\n")
        if p in routes:
            return routes[p]
        return JSONResponse({"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}, status_code=404)

    url, server = serve(app)
    yield url, calls
    server.should_exit = True


@pytest.fixture
def k8s_tools(kube_api, make_settings):
    url, calls = kube_api
    calls.clear()
    return registry(kubernetes.tools(make_settings(kube_api_url=url, namespace="team-a"))), calls


async def test_twelve_kubernetes_tools_scoped_to_the_namespace(k8s_tools):
    reg, calls = k8s_tools
    assert sorted(reg.tools) == sorted(
        [
            "k8s_list_pods",
            "k8s_get_pod",
            "k8s_get_pod_logs",
            "k8s_list_deployments",
            "k8s_get_deployment",
            "k8s_restart_deployment",
            "k8s_scale_deployment",
            "k8s_list_services",
            "k8s_list_configmaps",
            "k8s_get_configmap",
            "k8s_list_secrets",
            "k8s_get_events",
        ]
    )
    out = (await reg.call("k8s_list_pods", {})).output
    assert "web-1" in out and "worker-1" in out and "Pending" in out and "RESTARTS" in out
    assert "phase: Running" in (await reg.call("k8s_get_pod", {"name": "web-1"})).output
    assert "DB_HOST not set" in (await reg.call("k8s_get_pod_logs", {"name": "web-1", "tail": 50})).output
    assert "2/2" in (await reg.call("k8s_list_deployments", {})).output
    dep = (await reg.call("k8s_get_deployment", {"name": "web"})).output
    assert "env DB_PASSWORD=<from secret/configmap>" in dep and "env LOG_LEVEL=info" in dep
    assert "172.20.0.10" in (await reg.call("k8s_list_services", {})).output
    assert "cfg" in (await reg.call("k8s_list_configmaps", {})).output
    assert "DB_HOST" in (await reg.call("k8s_get_configmap", {"name": "cfg"})).output
    assert "BackOff" in (await reg.call("k8s_get_events", {"limit": 5})).output
    assert all("/namespaces/team-a/" in path for _, path, _ in calls), calls
    assert ("GET", "/api/v1/namespaces/team-a/pods/web-1/log?tailLines=50") in [(m, p) for m, p, _ in calls]


async def test_secrets_listed_by_name_only(k8s_tools):
    reg, _ = k8s_tools
    out = (await reg.call("k8s_list_secrets", {})).output
    assert "db" in out and "Opaque" in out
    assert "c3VwZXJzZWNyZXQ=" not in out and "supersecret" not in out


async def test_restart_and_scale_send_the_right_patches(k8s_tools):
    reg, calls = k8s_tools
    assert "rolling restart" in (await reg.call("k8s_restart_deployment", {"name": "web"})).output
    method, path, body = calls[-1]
    assert (method, path) == ("PATCH", "/apis/apps/v1/namespaces/team-a/deployments/web")
    assert "kubectl.kubernetes.io/restartedAt" in body["spec"]["template"]["metadata"]["annotations"]
    assert "scaled to 5" in (await reg.call("k8s_scale_deployment", {"name": "web", "replicas": 5})).output
    assert calls[-1] == ("PATCH", "/apis/apps/v1/namespaces/team-a/deployments/web/scale", {"spec": {"replicas": 5}})


async def test_kubernetes_errors_are_reported_not_raised(k8s_tools):
    reg, _ = k8s_tools
    r = await reg.call("k8s_get_pod", {"name": "missing"})
    assert not r.ok and "404 not found" in r.output
    r = await reg.call("k8s_scale_deployment", {"name": "web", "replicas": -1})
    assert not r.ok and "invalid arguments" in r.output


# --- Gitea -------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gitea_api():
    calls: list[tuple[str, str, Any, str]] = []
    app = FastAPI()

    @app.api_route("/api/v1/{path:path}", methods=["GET", "POST", "DELETE"])
    async def handle(path: str, request: Request) -> Any:
        body = await request.json() if request.method == "POST" else None
        calls.append((request.method, "/" + path, body, request.headers.get("authorization", "")))
        if request.headers.get("authorization") != "token gitea-token-123":
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        p = "/" + path
        if p == "/user/repos" and request.method == "GET":
            return [{"full_name": "ops/charts", "private": True, "default_branch": "main"}]
        if p == "/user/repos":
            return {"full_name": f"ops/{body['name']}", "clone_url": f"http://gitea/ops/{body['name']}.git"}
        if p == "/repos/ops/charts" and request.method == "GET":
            return {
                "full_name": "ops/charts",
                "description": "helm charts",
                "private": True,
                "default_branch": "main",
                "clone_url": "http://gitea/ops/charts.git",
                "updated_at": NOW,
            }
        if p == "/repos/ops/charts" and request.method == "DELETE":
            return JSONResponse(None, status_code=204)
        if p == "/repos/ops/charts/branches":
            return [{"name": "main", "commit": {"id": "abcdef1234567890"}}]
        if p == "/admin/users":
            return [{"login": "root", "email": "root@example.com", "is_admin": True}]
        if p == "/repos/ops/charts/hooks" and request.method == "POST":
            return {"id": 7, "config": body["config"], "events": body["events"]}
        if p == "/repos/ops/charts/hooks":
            return [{"id": 7, "config": {"url": "http://argocd/webhook"}, "events": ["push"], "active": True}]
        return JSONResponse({"message": "not found"}, status_code=404)

    url, server = serve(app)
    yield url, calls
    server.should_exit = True


@pytest.fixture
def gitea_tools(gitea_api, make_settings):
    url, calls = gitea_api
    calls.clear()
    return registry(gitea.tools(make_settings(gitea_url=url, gitea_token="gitea-token-123"))), calls


async def test_gitea_api_tools(gitea_tools):
    reg, calls = gitea_tools
    assert "ops/charts" in (await reg.call("gitea_list_repos", {})).output
    assert "helm charts" in (await reg.call("gitea_get_repo", {"owner": "ops", "name": "charts"})).output
    assert "created ops/new" in (await reg.call("gitea_create_repo", {"name": "new", "private": True})).output
    assert calls[-1][2]["private"] is True
    assert "deleted ops/charts" in (await reg.call("gitea_delete_repo", {"owner": "ops", "name": "charts"})).output
    assert "abcdef123456" in (await reg.call("gitea_list_branches", {"owner": "ops", "repo": "charts"})).output
    assert "root" in (await reg.call("gitea_list_users", {})).output
    hook = await reg.call(
        "gitea_create_webhook", {"owner": "ops", "repo": "charts", "target_url": "http://argocd/webhook"}
    )
    assert "webhook 7" in hook.output and calls[-1][2]["events"] == ["push"]
    assert "argocd" in (await reg.call("gitea_list_webhooks", {"owner": "ops", "repo": "charts"})).output
    assert all(auth == "token gitea-token-123" for *_, auth in calls)
    assert len([t for t in reg.tools if t.startswith("gitea_")]) == 12


async def test_gitea_not_configured(make_settings):
    reg = registry(gitea.tools(make_settings()))
    r = await reg.call("gitea_list_repos", {})
    assert not r.ok and "--gitea-url" in r.output


async def test_gitea_http_error_is_reported(gitea_tools):
    reg, _ = gitea_tools
    r = await reg.call("gitea_get_repo", {"owner": "ops", "name": "missing"})
    assert not r.ok and "404" in r.output


async def test_git_clone_outside_roots_is_refused(make_settings, tmp_path):
    reg = registry(gitea.tools(make_settings(gitea_url="http://g", gitea_token="t")))
    r = await reg.call("gitea_clone_repo", {"repo_url": "http://g/ops/charts.git", "path": "/etc/evil"})
    assert not r.ok and "outside the allowed directories" in r.output


# --- files --------------------------------------------------------------------------------------------------------


@pytest.fixture
def file_tools(make_settings, tmp_path):
    settings = make_settings(file_roots=[str(tmp_path / "work"), str(tmp_path / "home")], file_max_bytes=100)
    (tmp_path / "home").mkdir()
    return registry(files.tools(settings)), tmp_path


async def test_file_tools_inside_roots(file_tools):
    reg, tmp = file_tools
    target = tmp / "work" / "sub" / "a.txt"
    assert (await reg.call("file_write", {"path": str(target), "content": "hello"})).ok
    assert (await reg.call("file_read", {"path": str(target)})).output == "hello"
    listing = (await reg.call("file_list", {"path": str(tmp / "work")})).output
    assert "sub/" in listing
    assert (await reg.call("file_read", {"path": "sub/a.txt"})).output == "hello"  # relative to the first root
    assert (await reg.call("file_list", {"path": str(tmp / "home")})).ok


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "sub/../../x", "", "/tmp/../etc/shadow"])
async def test_file_escapes_refused(file_tools, bad):
    reg, _ = file_tools
    for tool, args in (
        ("file_read", {"path": bad}),
        ("file_write", {"path": bad, "content": "x"}),
        ("file_list", {"path": bad}),
    ):
        r = await reg.call(tool, args)
        assert not r.ok, (tool, bad, r.output)


async def test_symlink_escape_refused(file_tools):
    reg, tmp = file_tools
    outside = tmp / "outside.txt"
    outside.write_text("secret")
    (tmp / "work" / "link").symlink_to(outside)
    (tmp / "work" / "dirlink").symlink_to(tmp)
    for args in ({"path": str(tmp / "work" / "link")}, {"path": str(tmp / "work" / "dirlink" / "outside.txt")}):
        r = await reg.call("file_read", args)
        assert not r.ok and "outside the allowed directories" in r.output
    r = await reg.call("file_write", {"path": str(tmp / "work" / "link"), "content": "pwned"})
    assert not r.ok and outside.read_text() == "secret"


async def test_oversized_files_refused(file_tools):
    reg, tmp = file_tools
    big = tmp / "work" / "big.txt"
    big.write_text("x" * 500)
    assert "limit is 100" in (await reg.call("file_read", {"path": str(big)})).output
    assert "larger than" in (await reg.call("file_write", {"path": str(big), "content": "y" * 500})).output


# --- HTTP API tools ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ticket_api():
    state = {"fail": 0, "calls": []}
    app = FastAPI()

    @app.post("/api/v1/tickets")
    async def create(request: Request) -> Any:
        state["calls"].append((await request.json(), request.headers.get("authorization")))
        if state["fail"] > 0:
            state["fail"] -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        return {"ticket_id": "T-1", "status": "open"}

    url, server = serve(app)
    yield url, state
    server.should_exit = True


async def test_http_api_tool_from_config(ticket_api, make_settings, tmp_path, monkeypatch):
    url, state = ticket_api
    state["calls"].clear()
    spec_file = tmp_path / "tools.yaml"
    spec_file.write_text(f"""
tools:
  - name: create_ticket
    description: Create a support ticket
    endpoint: {url}/api/v1/tickets
    method: POST
    timeout: 5
    retries: 2
    bearer_token_env: TICKET_TOKEN
    parameters:
      type: object
      properties:
        title: {{type: string, maxLength: 200}}
        priority: {{type: string, enum: [low, medium, high, urgent]}}
      required: [title]
""")
    monkeypatch.setenv("TICKET_TOKEN", "tk-1")
    reg = registry(http_api.tools(make_settings(http_tools_file=str(spec_file))))
    state["fail"] = 2
    r = await reg.call("create_ticket", {"title": "Login broken", "priority": "high"})
    assert r.ok and "T-1" in r.output
    assert len(state["calls"]) == 3 and state["calls"][-1] == (
        {"title": "Login broken", "priority": "high"},
        "Bearer tk-1",
    )
    bad = await reg.call("create_ticket", {"priority": "whenever"})
    assert not bad.ok and "invalid arguments" in bad.output
    state["fail"] = 5
    r = await reg.call("create_ticket", {"title": "x"})
    assert not r.ok and "failed after 3 attempt(s): HTTP 503" in r.output
    state["fail"] = 0
    monkeypatch.delenv("TICKET_TOKEN")
    r = await reg.call("create_ticket", {"title": "x"})
    assert not r.ok and "TICKET_TOKEN is not set" in r.output


def test_http_tool_spec_rejects_bad_config(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tools:\n  - name: x\n    description: d\n    endpoint: ftp://nope\n")
    with pytest.raises(Exception, match="endpoint"):
        http_api.load_specs(str(bad))
