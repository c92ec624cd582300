"""A real git smart-HTTP server on loopback (dulwich), standing in for Gitea's git endpoint: bare repositories under
``root`` served at ``/<owner>/<repo>.git``, clone and push, requests without the right token refused with 401."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from dulwich.repo import Repo
from dulwich.server import DictBackend
from dulwich.web import make_wsgi_chain
from fake_llm import free_port


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


class GitServer:
    def __init__(self, root: Path, token: str):
        self.root = root
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.seen_auth: list[str] = []

    def add_repo(self, name: str, files: dict[str, str]) -> Path:
        """A bare repository ``name`` (e.g. 'ops/charts') with one commit holding ``files``."""
        bare = self.root / f"{name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--bare", "-q", "-b", "main", str(bare))
        seed = self.root / "_seed" / name
        git("clone", "-q", str(bare), str(seed))
        for rel, text in files.items():
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            (seed / rel).write_text(text)
        git("add", ".", cwd=seed)
        git("commit", "-q", "-m", "init", cwd=seed)
        git("push", "-q", "origin", "HEAD:main", cwd=seed)
        self.repos[f"/{name}.git"] = Repo(str(bare))
        return bare

    def start(self) -> str:
        chain = make_wsgi_chain(DictBackend(self.repos))

        def app(environ, start_response):
            auth = environ.get("HTTP_AUTHORIZATION", "")
            self.seen_auth.append(auth)
            if auth != f"token {self.token}":
                start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="gitea"')])
                return [b"unauthorized"]
            return chain(environ, start_response)

        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, handler_class=_Quiet)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
