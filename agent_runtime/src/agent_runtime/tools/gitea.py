"""Gitea tools (12): the REST API through httpx and Git through the git CLI. The token travels in an HTTP header
(never in a URL, never in output).

Git is a sandbox risk: a repository's config can make git run commands (fsmonitor, hooks, filters, pager, SSH
command), and a clone URL can read local files (paths, file://) or run a helper (ext::). So: every git tool refuses
to work when Gitea is not configured; clone accepts only URLs on the configured Gitea server (scheme, host, port);
git runs only in repositories these tools cloned, only when their .git/config holds nothing but the keys a clone
writes, with system/global config off, an empty HOME, hooks/fsmonitor/pager off and every transport refused but the
server's own scheme. file_write refuses any path inside a .git directory (tools/files.py).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from agent_runtime.tools import Tool, ToolError, params, table
from agent_runtime.tools.files import Sandbox

GIT_TIMEOUT = 120


#: The only keys a repository's own .git/config may hold. Anything else (core.fsmonitor, core.sshCommand,
#: core.pager, filter.*, alias.*, include.*, hooks via core.hooksPath, ...) can make git run a command: refused.
SAFE_REPO_CONFIG = re.compile(
    r"core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks)"
    r"|remote\.origin\.(url|fetch)|branch\.[^.]+\.(remote|merge)|extensions\.objectformat"
)
#: Options on every git command line: no hooks, no fsmonitor, no pager, no SSH command, transports refused except
#: the Gitea server's own scheme (added per call).
HARDENING = [
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.pager=cat",
    "-c",
    "core.sshCommand=false",
    "-c",
    "protocol.allow=never",
    "-c",
    "credential.helper=",
    "-c",
    "core.editor=false",
    "-c",
    "gpg.program=false",
    "--no-pager",
]


def same_origin(url: str, base: str) -> bool:
    """Is ``url`` on the Gitea server ``base`` (scheme, host and port, after normalisation)?"""

    def parts(u: str) -> tuple[str, str, int] | None:
        if any(c in u for c in "\x00\n\r\t\\") or u != u.strip():
            return None
        try:
            p = urlsplit(u)
            if p.scheme not in ("http", "https") or not p.hostname or p.username or p.password:
                return None
            port = p.port or (443 if p.scheme == "https" else 80)
        except ValueError:  # malformed netloc or port
            return None
        return p.scheme, p.hostname.lower().rstrip("."), port

    a, b = parts(url), parts(base)
    return a is not None and a == b


class Gitea:
    def __init__(self, settings: Any):
        self.url = (settings.gitea_url or "").rstrip("/")
        self.token = settings.gitea_token.get_secret_value() if settings.gitea_token else None
        self.sandbox = Sandbox(list(settings.file_roots), settings.file_max_bytes)
        self.cloned: set[Path] = set()  # repositories these tools cloned: the only ones git runs in
        self.home = tempfile.mkdtemp(prefix="kube-agent-git-home-")  # empty HOME: no user config is read

    def _require(self) -> None:
        if not self.url or not self.token:
            raise ToolError(
                "Gitea is not configured: set --gitea-url and --gitea-token "
                "(KUBE_AGENT_GITEA_URL / KUBE_AGENT_GITEA_TOKEN)"
            )

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        self._require()
        async with httpx.AsyncClient(
            base_url=f"{self.url}/api/v1", timeout=30, headers={"Authorization": f"token {self.token}"}
        ) as client:
            resp = await client.request(method, path, **kwargs)
        if resp.status_code >= 400:
            detail = resp.text[:300]
            raise ToolError(f"Gitea {method} {path}: {resp.status_code} {detail}")
        return resp.json() if resp.content else None

    def repo(self, path: str) -> Path:
        """A repository the tools cloned, with a config that cannot run anything; else a ToolError."""
        self._require()
        real = self.sandbox.resolve(path)
        if real not in self.cloned:
            raise ToolError(f"{path} is not a repository cloned by gitea_clone_repo in this session: clone it first")
        config = real / ".git" / "config"
        if (real / ".git").is_symlink() or not config.is_file() or config.is_symlink():
            raise ToolError(f"{path} has no regular .git/config: refusing to run git there")
        return real

    async def _check_config(self, repo: Path) -> None:
        out = await self._exec(["config", "--file", str(repo / ".git" / "config"), "--name-only", "--list"], None)
        unsafe = [k for k in out.splitlines() if k and not SAFE_REPO_CONFIG.fullmatch(k.lower())]
        if unsafe:
            raise ToolError(
                f"the repository config sets {', '.join(sorted(set(unsafe)))}, which could run "
                "commands: refusing to run git there"
            )

    async def git(self, *args: str, cwd: Path | None = None) -> str:
        self._require()
        if cwd is not None:
            await self._check_config(cwd)
        scheme = urlsplit(self.url).scheme
        cmd = [*HARDENING, "-c", f"protocol.{scheme}.allow=always"]
        if cwd is not None:
            cmd += ["-c", f"safe.directory={cwd}"]
        cmd += ["-c", f"http.extraHeader=Authorization: token {self.token}", *args]
        return await self._exec(cmd, cwd)

    async def _exec(self, args: list[str], cwd: Path | None) -> str:
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": self.home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_PAGER": "cat",
            "PAGER": "cat",
            "GIT_ASKPASS": "false",
            "SSH_ASKPASS": "false",
            "GIT_EDITOR": "false",
            "GIT_ALLOW_PROTOCOL": urlsplit(self.url).scheme or "https",
            "GIT_AUTHOR_NAME": "kube-agent",
            "GIT_AUTHOR_EMAIL": "kube-agent@localhost",
            "GIT_COMMITTER_NAME": "kube-agent",
            "GIT_COMMITTER_EMAIL": "kube-agent@localhost",
        }
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=str(cwd) if cwd else self.home,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT)
        except TimeoutError:
            proc.kill()
            raise ToolError(f"git {args[-1] if args else ''} timed out after {GIT_TIMEOUT}s") from None
        text = out.decode(errors="replace").strip()
        if proc.returncode != 0:
            verb = next((a for a in args if a in ("clone", "pull", "status", "add", "commit", "push", "config")), "")
            raise ToolError(f"git {verb} failed ({proc.returncode}): {text[-500:]}")
        return text or "ok"


def tools(settings: Any) -> list[Tool]:
    g = Gitea(settings)

    async def list_repos(a: dict[str, Any]) -> str:
        repos = await g.api("GET", "/user/repos", params={"limit": 50})
        return table(
            [[r["full_name"], "private" if r.get("private") else "public", r.get("default_branch", "")] for r in repos],
            ["REPO", "VISIBILITY", "DEFAULT BRANCH"],
        )

    async def get_repo(a: dict[str, Any]) -> str:
        r = await g.api("GET", f"/repos/{a['owner']}/{a['name']}")
        return "\n".join(
            f"{k}: {r.get(k)}"
            for k in ("full_name", "description", "private", "default_branch", "clone_url", "updated_at")
        )

    async def create_repo(a: dict[str, Any]) -> str:
        r = await g.api(
            "POST",
            "/user/repos",
            json={
                "name": a["name"],
                "description": a.get("description", ""),
                "private": a.get("private", False),
                "auto_init": True,
            },
        )
        return f"created {r['full_name']} ({r.get('clone_url')})"

    async def delete_repo(a: dict[str, Any]) -> str:
        await g.api("DELETE", f"/repos/{a['owner']}/{a['name']}")
        return f"deleted {a['owner']}/{a['name']}"

    async def list_branches(a: dict[str, Any]) -> str:
        branches = await g.api("GET", f"/repos/{a['owner']}/{a['repo']}/branches")
        return table([[b["name"], b.get("commit", {}).get("id", "")[:12]] for b in branches], ["BRANCH", "COMMIT"])

    async def list_users(a: dict[str, Any]) -> str:
        users = await g.api("GET", "/admin/users", params={"limit": 50})
        return table(
            [[u["login"], u.get("email", ""), u.get("is_admin", False)] for u in users], ["LOGIN", "EMAIL", "ADMIN"]
        )

    async def create_webhook(a: dict[str, Any]) -> str:
        hook = await g.api(
            "POST",
            f"/repos/{a['owner']}/{a['repo']}/hooks",
            json={
                "type": "gitea",
                "active": True,
                "events": a.get("events") or ["push"],
                "config": {"url": a["target_url"], "content_type": "json"},
            },
        )
        return f"webhook {hook.get('id')} -> {a['target_url']}"

    async def list_webhooks(a: dict[str, Any]) -> str:
        hooks = await g.api("GET", f"/repos/{a['owner']}/{a['repo']}/hooks")
        return table(
            [
                [h["id"], h.get("config", {}).get("url", ""), ",".join(h.get("events", [])), h.get("active")]
                for h in hooks
            ],
            ["ID", "URL", "EVENTS", "ACTIVE"],
        )

    async def clone(a: dict[str, Any]) -> str:
        g._require()
        url = a["repo_url"]
        if not same_origin(url, g.url):
            raise ToolError(
                f"can only clone from the configured Gitea server {g.url} over http(s); {url[:200]!r} is not on it"
            )
        dest = g.sandbox.resolve(a["path"])
        if dest.exists() and any(dest.iterdir()):
            raise ToolError(f"{a['path']} exists and is not empty")
        g.sandbox.resolve(str(dest.parent))
        out = await g.git("clone", "--no-local", "--", url, str(dest))
        g.cloned.add(dest)
        return out

    async def pull(a: dict[str, Any]) -> str:
        return await g.git("pull", "--ff-only", cwd=g.repo(a["path"]))

    async def status(a: dict[str, Any]) -> str:
        return await g.git("status", "--short", "--branch", cwd=g.repo(a["path"]))

    async def commit_and_push(a: dict[str, Any]) -> str:
        cwd = g.repo(a["path"])
        await g.git("add", "-A", cwd=cwd)
        committed = await g.git("commit", "-m", a["message"], cwd=cwd)
        pushed = await g.git("push", cwd=cwd)
        return f"{committed}\n{pushed}"

    s = {"type": "string"}
    owner_name = params({"owner": s, "name": s}, ["owner", "name"])
    owner_repo = params({"owner": s, "repo": s}, ["owner", "repo"])
    path = params({"path": s}, ["path"])
    return [
        Tool("gitea_list_repos", "List repositories the token can see", params(), list_repos, group="gitea"),
        Tool("gitea_get_repo", "Show a repository", owner_name, get_repo, group="gitea"),
        Tool(
            "gitea_create_repo",
            "Create a repository",
            params({"name": s, "description": s, "private": {"type": "boolean"}}, ["name"]),
            create_repo,
            group="gitea",
        ),
        Tool("gitea_delete_repo", "Delete a repository", owner_name, delete_repo, destructive=True, group="gitea"),
        Tool("gitea_list_branches", "List branches", owner_repo, list_branches, group="gitea"),
        Tool("gitea_list_users", "List users (admin token)", params(), list_users, group="gitea"),
        Tool(
            "gitea_create_webhook",
            "Create a webhook",
            params(
                {"owner": s, "repo": s, "target_url": s, "events": {"type": "array", "items": s}},
                ["owner", "repo", "target_url"],
            ),
            create_webhook,
            group="gitea",
        ),
        Tool("gitea_list_webhooks", "List webhooks", owner_repo, list_webhooks, group="gitea"),
        Tool(
            "gitea_clone_repo",
            "git clone into a path under /tmp or /home/agent",
            params({"repo_url": s, "path": s}, ["repo_url", "path"]),
            clone,
            group="gitea",
        ),
        Tool("gitea_git_pull", "git pull --ff-only", path, pull, group="gitea"),
        Tool("gitea_git_status", "git status", path, status, group="gitea"),
        Tool(
            "gitea_commit_and_push",
            "Commit every change and push",
            params({"path": s, "message": s}, ["path", "message"]),
            commit_and_push,
            destructive=True,
            group="gitea",
        ),
    ]
