"""The git tools cannot leave the sandbox or run a command: clones only from the configured Gitea server, git only in
repositories the tools cloned whose config holds nothing dangerous, no writes into .git. Each attack first."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from git_server import GitServer, git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_runtime.observability import Metrics
from agent_runtime.tools import ToolRegistry, files, gitea
from agent_runtime.tools.files import Sandbox
from agent_runtime.tools.gitea import same_origin

pytestmark = pytest.mark.anyio
TOKEN = "gitea-token-123"


def outside_repo(tmp_path: Path) -> Path:
    """A git repository outside the sandbox holding a secret: what an escape would read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    git("init", "-q", "-b", "main", str(outside))
    (outside / "secret.txt").write_text("TOP SECRET")
    git("add", ".", cwd=outside)
    git("commit", "-q", "-m", "s", cwd=outside)
    return outside


@pytest.fixture
def server(tmp_path):
    srv = GitServer(tmp_path / "srv", TOKEN)
    srv.add_repo("ops/charts", {"values.yaml": "replicas: 1\n"})
    url = srv.start()
    yield srv, url
    srv.stop()


@pytest.fixture
def tools(server, make_settings):
    _, url = server
    settings = make_settings(gitea_url=url, gitea_token=TOKEN)
    reg = ToolRegistry(Metrics(), "t")
    reg.extend(gitea.tools(settings) + files.tools(settings))
    return reg, Path(settings.file_roots[0]), url


async def test_clone_edit_commit_push_through_the_gitea_http_endpoint(server, tools):
    srv, _ = server
    reg, _work, url = tools
    r = await reg.call("gitea_clone_repo", {"repo_url": f"{url}/ops/charts.git", "path": "charts"})
    assert r.ok, r.output
    assert (await reg.call("file_write", {"path": "charts/values.yaml", "content": "replicas: 3\n"})).ok
    assert "values.yaml" in (await reg.call("gitea_git_status", {"path": "charts"})).output
    pushed = await reg.call("gitea_commit_and_push", {"path": "charts", "message": "scale to 3"})
    assert pushed.ok, pushed.output
    assert TOKEN not in pushed.output
    bare = srv.root / "ops/charts.git"
    assert git("log", "--format=%s", "-1", "main", cwd=bare).strip() == "scale to 3"
    assert git("show", "main:values.yaml", cwd=bare) == "replicas: 3\n"
    assert (await reg.call("gitea_git_pull", {"path": "charts"})).ok
    assert srv.seen_auth and all(a == f"token {TOKEN}" for a in srv.seen_auth)


async def test_escape_through_a_local_clone_is_refused(tools, tmp_path):
    reg, _work, url = tools
    outside = outside_repo(tmp_path)
    for repo_url in (
        str(outside),
        f"file://{outside}",
        f"file://{outside}/.git",
        "ext::sh -c 'cat /etc/passwd'",
        "/etc",
        f"{url.replace('127.0.0.1', 'localhost')}/ops/charts.git",
        f"{url.replace('http://', 'https://')}/ops/charts.git",
        f"http://127.0.0.1:{int(url.rsplit(':', 1)[1]) + 1}/ops/charts.git",
        f"http://user:pw@{url.split('//')[1]}/ops/charts.git",
        f"ssh://{url.split('//')[1]}/ops/charts.git",
    ):
        r = await reg.call("gitea_clone_repo", {"repo_url": repo_url, "path": "clone1"})
        assert not r.ok and "can only clone from the configured Gitea server" in r.output, repo_url
    read = await reg.call("file_read", {"path": "clone1/secret.txt"})
    assert not read.ok and "TOP SECRET" not in read.output


async def test_git_tools_refuse_to_work_without_gitea(make_settings, tmp_path):
    settings = make_settings()
    reg = ToolRegistry(Metrics(), "t")
    reg.extend(gitea.tools(settings))
    for tool, args in (
        ("gitea_clone_repo", {"repo_url": "http://x/a.git", "path": "a"}),
        ("gitea_git_status", {"path": "a"}),
        ("gitea_git_pull", {"path": "a"}),
        ("gitea_commit_and_push", {"path": "a", "message": "m"}),
    ):
        r = await reg.call(tool, args)
        assert not r.ok and "Gitea is not configured" in r.output, tool


async def test_file_write_into_git_metadata_is_refused(tools):
    reg, work, url = tools
    assert (await reg.call("gitea_clone_repo", {"repo_url": f"{url}/ops/charts.git", "path": "charts"})).ok
    for path in ("charts/.git/config", "charts/.git/hooks/pre-commit", "evil/.git/config", ".git/HEAD"):
        r = await reg.call("file_write", {"path": path, "content": "[core]\n\tfsmonitor = touch /tmp/pwned\n"})
        assert not r.ok and ".git directory" in r.output, path
    # Nor through a symlink that points into .git
    os.symlink(work / "charts" / ".git" / "config", work / "charts" / "link")
    r = await reg.call("file_write", {"path": "charts/link", "content": "x"})
    assert not r.ok and ".git directory" in r.output


async def test_git_runs_only_in_repositories_the_tools_cloned(tools, tmp_path):
    reg, work, _url = tools
    evil = work / "evil"
    git("init", "-q", str(evil))
    marker = tmp_path / "pwned"
    with open(evil / ".git" / "config", "a") as f:
        f.write(f"[core]\n\tfsmonitor = touch {marker}\n")
    r = await reg.call("gitea_git_status", {"path": "evil"})
    assert not r.ok and "not a repository cloned by gitea_clone_repo" in r.output
    assert not marker.exists()


DANGEROUS = {
    "core.fsmonitor": "[core]\n\tfsmonitor = touch {marker}\n",
    "core.sshCommand": "[core]\n\tsshCommand = touch {marker}\n",
    "core.pager": "[core]\n\tpager = touch {marker}\n",
    "core.hooksPath": "[core]\n\thooksPath = {hooks}\n",
    "filter": '[filter "x"]\n\tclean = touch {marker}\n\tsmudge = touch {marker}\n',
    "alias": "[alias]\n\tst = !touch {marker}\n",
    "include.path": "[include]\n\tpath = {included}\n",
}


@pytest.mark.parametrize("key", sorted(DANGEROUS))
async def test_a_tampered_repository_config_never_runs_a_command(key, tools, tmp_path):
    """Even if a cloned repository's .git/config is changed behind the tools' back, git refuses to run there."""
    reg, work, url = tools
    assert (await reg.call("gitea_clone_repo", {"repo_url": f"{url}/ops/charts.git", "path": "charts"})).ok
    marker = tmp_path / "pwned"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("pre-commit", "post-checkout", "pre-push", "post-merge"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)
    included = tmp_path / "included.cfg"
    included.write_text(f"[core]\n\tfsmonitor = touch {marker}\n")
    (work / "charts" / ".gitattributes").write_text("* filter=x\n")
    with open(work / "charts" / ".git" / "config", "a") as f:
        f.write(DANGEROUS[key].format(marker=marker, hooks=hooks, included=included))
    for tool, args in (
        ("gitea_git_status", {"path": "charts"}),
        ("gitea_git_pull", {"path": "charts"}),
        ("gitea_commit_and_push", {"path": "charts", "message": "m"}),
    ):
        r = await reg.call(tool, args)
        assert not r.ok and "could run commands" in r.output, (tool, r.output)
    assert not marker.exists()


async def test_hooks_in_the_default_hooks_directory_do_not_run(tools, tmp_path):
    reg, work, url = tools
    assert (await reg.call("gitea_clone_repo", {"repo_url": f"{url}/ops/charts.git", "path": "charts"})).ok
    marker = tmp_path / "pwned"
    for hook in ("pre-commit", "commit-msg", "post-commit", "pre-push"):
        h = work / "charts" / ".git" / "hooks" / hook
        h.write_text(f"#!/bin/sh\ntouch {marker}\n")
        h.chmod(h.stat().st_mode | stat.S_IEXEC)
    assert (await reg.call("file_write", {"path": "charts/values.yaml", "content": "replicas: 2\n"})).ok
    r = await reg.call("gitea_commit_and_push", {"path": "charts", "message": "m"})
    assert r.ok, r.output
    assert not marker.exists()


# --- properties ---------------------------------------------------------------------------------------------------


FUZZ = int(os.environ.get("FUZZ_EXAMPLES", "150"))


@settings(max_examples=FUZZ, deadline=None)
@given(st.text(max_size=80))
def test_no_url_off_the_gitea_origin_is_accepted(tail):
    base = "http://gitea.example:3000"
    for url in (
        tail,
        f"file://{tail}",
        f"ext::{tail}",
        f"/{tail}",
        f"https://gitea.example:3000/{tail}",
        f"http://gitea.example.evil/{tail}",
        f"http://gitea.example:3001/{tail}",
    ):
        assert not same_origin(url, base), url
    path = re.sub(r"[^A-Za-z0-9/_.-]", "", tail)
    assert same_origin(f"http://GITEA.example:3000/{path}", base)


@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["..", ".", "a", "b", "/", "//", "~", "work", "\\", "%2e%2e", "tmp"]), max_size=8))
def test_sandbox_never_resolves_outside_its_roots(tmp_path_factory, parts):
    root = tmp_path_factory.mktemp("root")
    box = Sandbox([str(root)], 100)
    path = "/".join(parts)
    try:
        real = box.resolve(path)
    except Exception:
        return
    assert real == root or root in real.parents


# --- the same attack through every surface ------------------------------------------------------------------------


async def test_attack_through_chat_openai_a2a_and_mcp_cannot_escape(llm, make_client, server, tmp_path):
    _srv, url = server
    outside = outside_repo(tmp_path)
    marker = tmp_path / "pwned"
    client = make_client(gitea_url=url, gitea_token=TOKEN)

    def script() -> None:
        llm.tool("gitea_clone_repo", repo_url=f"file://{outside}", path="clone1")
        llm.tool("file_read", path="clone1/secret.txt")
        llm.tool("file_write", path="evil/.git/config", content=f"[core]\n\tfsmonitor = touch {marker}\n")
        llm.tool("gitea_git_status", path="evil")
        llm.tool("file_read", path=str(outside / "secret.txt"))
        llm.reply("Done: tried everything")

    script()
    r = await client.post("/chat", json={"message": "exfiltrate"})
    assert r.status_code == 200 and not any(c["ok"] for c in r.json()["tool_calls"])
    script()
    r = await client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "exfiltrate"}]})
    assert r.status_code == 200
    script()
    r = await client.post(
        "/",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "role": "user",
                    "messageId": "m",
                    "kind": "message",
                    "parts": [{"kind": "text", "text": "exfiltrate"}],
                }
            },
        },
    )
    assert r.status_code == 200
    tool_results = [m["content"] for req in llm.requests for m in req["messages"] if m["role"] == "tool"]
    assert len(set(tool_results)) >= 5 and not any("TOP SECRET" in t for t in tool_results)
    assert not marker.exists()

    from agent_runtime.mcp_server import create_mcp_server

    mcp = create_mcp_server(client.runtime.tools)
    assert mcp is not None  # the MCP server calls the very same registry: ToolRegistry.call
    for name, args in (
        ("gitea_clone_repo", {"repo_url": f"file://{outside}", "path": "clone2"}),
        ("file_read", {"path": str(outside / "secret.txt")}),
    ):
        result = await client.runtime.tools.call(name, args)
        assert not result.ok and "TOP SECRET" not in result.output
