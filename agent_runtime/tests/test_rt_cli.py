"""The CLIs: settings precedence (flags > env > defaults), `agent-runtime chat`, the kube-agent REPL driven
through a pipe (banner, tool panels, cancel, exit words, Ctrl+D)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agent_runtime.cli import app
from agent_runtime.repl import repl
from agent_runtime.settings import Settings, load_settings


def test_settings_precedence(monkeypatch):
    monkeypatch.setenv("KUBE_AGENT_LLM_URL", "http://env:4000/v1")
    monkeypatch.setenv("KUBE_AGENT_LLM_MODEL", "env-model")
    monkeypatch.setenv("AGENT_REQUIRE_APPROVAL", "destructive,k8s_scale_deployment")
    s = load_settings(llm_url="http://flag:8000/v1", llm_model=None)
    assert s.llm_url == "http://flag:8000/v1" and s.llm_model == "env-model"
    assert s.require_approval == ["destructive", "k8s_scale_deployment"]
    monkeypatch.delenv("KUBE_AGENT_LLM_URL")
    assert Settings().llm_url == "http://litellm.litellm.svc.cluster.local:4000/v1"


def test_namespace_detection(monkeypatch, tmp_path):
    import agent_runtime.settings as mod

    for k in ("KUBE_AGENT_NAMESPACE", "KAGENT_NAMESPACE"):
        monkeypatch.delenv(k, raising=False)
    sa = tmp_path / "namespace"
    monkeypatch.setattr(mod, "SA_NAMESPACE_FILE", sa)
    assert Settings().effective_namespace == "default"
    monkeypatch.setenv("KAGENT_NAMESPACE", "kagent-ns")
    assert Settings().effective_namespace == "kagent-ns"
    sa.write_text("pod-ns\n")
    assert Settings().effective_namespace == "pod-ns"
    assert Settings(namespace="flag-ns").effective_namespace == "flag-ns"


def test_secrets_are_not_in_settings_repr():
    s = Settings(llm_api_key="sk-abc", gitea_token="gt-xyz")
    assert "sk-abc" not in repr(s) and "gt-xyz" not in repr(s)
    assert set(s.secret_values()) == {"sk-abc", "gt-xyz"}


def test_chat_one_shot(llm, monkeypatch, tmp_path):
    monkeypatch.setenv("AGENT_FILE_ROOTS", str(tmp_path))
    llm.reply("The answer is 42")
    result = CliRunner().invoke(app, ["chat", "what is the answer?", "--llm-url", llm.url, "-m", "fake-model"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "The answer is 42"


def test_chat_reports_unreachable_llm(monkeypatch):
    monkeypatch.setenv("AGENT_LLM_RETRIES", "0")
    result = CliRunner().invoke(app, ["chat", "hi", "--llm-url", "http://127.0.0.1:9/v1"])
    assert result.exit_code == 1 and "error: LLM at http://127.0.0.1:9/v1 failed" in result.output


def test_console_scripts_installed():
    out = subprocess.run([sys.executable, "-m", "agent_runtime.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "serve" in out.stdout and "mcp" in out.stdout and "chat" in out.stdout


@pytest.mark.anyio
async def test_repl_session(llm, make_runtime, tmp_path):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    rt = make_runtime(gitea_url="http://gitea.ops:3000")
    llm.tool("file_list", path=str(tmp_path / "work")).reply("Done: the directory is empty")
    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=False)
    with create_pipe_input() as pipe:
        pipe.send_text("list my files\n")
        pipe.send_text("exit\n")
        session = PromptSession(input=pipe, output=DummyOutput())
        answered = await repl(rt.settings, console, session, runtime=rt)
    out = buf.getvalue()
    assert answered == 1
    assert "Connected to LLM: " + llm.url in out and "Namespace:        team-a" in out
    assert "Gitea:            http://gitea.ops:3000" in out
    assert "Tool: file_list" in out and "Agent: Done: the directory is empty" in out and "Goodbye!" in out


@pytest.mark.anyio
async def test_repl_ctrl_d_and_cancel(llm, make_runtime):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    rt = make_runtime()
    llm.delay(5.0)
    buf = io.StringIO()
    console = Console(file=buf, width=100)
    with create_pipe_input() as pipe:
        session = PromptSession(input=pipe, output=DummyOutput())
        task = asyncio.create_task(repl(rt.settings, console, session, runtime=rt))
        pipe.send_text("slow question\n")
        # Ctrl+C during a request cancels that request (the REPL's task sees CancelledError) and the REPL goes on.
        # Wait for the request to start (not a fixed sleep: on busy cores it starts later).
        inner: list[asyncio.Task] = []
        for _ in range(200):
            inner = [t for t in asyncio.all_tasks() if t is not task and "Agent.run" in repr(t.get_coro())]
            if inner:
                break
            await asyncio.sleep(0.05)
        assert inner
        inner[0].cancel()
        await asyncio.sleep(0.2)
        pipe.send_text("\x04")  # Ctrl+D
        answered = await asyncio.wait_for(task, 5)
    out = buf.getvalue()
    assert answered == 0 and "Cancelled." in out and "Goodbye!" in out


def test_kube_agent_version_and_help():
    out = subprocess.run(
        [sys.executable, "-c", "from agent_runtime.repl import main; main()", "--version"],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "kube-agent 0.1.0"
    help_out = subprocess.run(
        [sys.executable, "-c", "from agent_runtime.repl import main; main()", "-h"], capture_output=True, text=True
    ).stdout
    for flag in ("--llm-url", "-l", "--llm-model", "--gitea-url", "--namespace", "--kube-context", "--verbose"):
        assert flag in help_out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--collection", "../../etc/x"], "is not valid for Milvus"),
        (["--collection", "a" * 300], "is not valid for Milvus"),
        (["--collection", ""], "is not valid for Milvus"),
        (["--dim", "100000000"], "out of Milvus' range"),
    ],
)
def test_kb_init_validates_names_and_ranges_before_connecting(args, message, monkeypatch):
    from typer.testing import CliRunner

    from agent_runtime.cli import app

    monkeypatch.setenv("MILVUS_URI", "http://127.0.0.1:9")  # nothing listens: validation must come first
    result = CliRunner().invoke(app, ["kb", "init", *args])
    assert result.exit_code == 2 and message in result.output, result.output
