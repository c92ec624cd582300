"""Issue #25 point 6: the dev stack's rendered research-report WorkflowTemplate run for real. Each agent its steps call
is a real `agent-runtime serve` process (A2A on HTTP, as kagent's agent Service would answer), its model a local fake
that answers each role with JSON; every DAG task runs the template's own container command (`agent-runtime
workflow-step` with the rendered arguments) through tests/components/agents/argo_dag.py, which executes the template
as Argo's controller would (dependencies, parallel siblings, retries, deadlines, outputs, the exit handler). Argo's
controller itself does not run here: without a kubelet its pods would never start (see the closing note of #25)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from components.agents.workflow_objects import workflow_template
from config import parse_platform
from tests.components.agents.argo_dag import run_workflow
from tests.conftest import stack_raw

RUNTIME_TESTS = Path(__file__).resolve().parents[3] / "agent_runtime" / "tests"
sys.path.insert(0, str(RUNTIME_TESTS))
from fake_llm import free_port, serve_app  # noqa: E402

AGENTS = ("research-agent", "analysis-agent", "writer-agent", "reviewer-agent")
WF = "research-report-workflow"


class Models:
    """The agents' model: answers by role (the model name each agent process is given) from the JSON the step sent."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.slow_sentiment = 0.0
        self.flaky_topics: set[str] = set()
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.chat)

    async def chat(self, request: Request) -> Any:
        from fastapi.responses import JSONResponse

        body = await request.json()
        role = body["model"]
        fields = json.loads(next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user"))
        self.calls[role] += 1
        if role == "research":
            if fields["topic"] in self.flaky_topics and self.calls[f"flaky:{fields['topic']}"] == 0:
                self.calls[f"flaky:{fields['topic']}"] += 1
                return JSONResponse({"error": {"message": "bad request (scripted once)"}}, status_code=400)
            reply = {
                "result": {"data": {"topic": fields["topic"], "depth": fields["depth"], "sources": fields["sources"]}}
            }
        elif role == "analysis":
            sentiment = fields["analysis_type"] == "sentiment"
            await asyncio.sleep(self.slow_sentiment if sentiment and self.slow_sentiment else 0.4)
            data = json.loads(fields["data"])
            reply = {"result": {"kind": fields["analysis_type"], "topic": data["topic"]}}
        elif role == "writer":
            trends, sentiment = json.loads(fields["trends"]), json.loads(fields["sentiment"])
            topic = json.loads(fields["research"])["topic"]
            reply = {"result": {"document": f"# {topic}\n{trends['kind']} + {sentiment['kind']} ({fields['format']})"}}
        else:
            reply = {
                "result": {"reviewed_document": fields["document"] + f"\nreviewed for {', '.join(fields['criteria'])}"}
            }
        message = {"role": "assistant", "content": json.dumps(reply)}
        return {
            "id": "x",
            "object": "chat.completion",
            "model": role,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.post("/hook")(self.hook)

    async def hook(self, request: Request) -> dict[str, str]:
        self.posts.append(await request.json())
        return {"ok": "true"}


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KUBE_AGENT", "AGENT_", "REDIS", "MILVUS", "KAGENT", "OTEL", "KUBERNETES_"))
    }


@pytest.fixture(scope="module")
def cluster():
    """The four agents as real runtime processes on loopback, their model and the Slack webhook as local fakes."""
    models = Models()
    model_url, model_server = serve_app(models.app)
    hook_url, hook_server = serve_app((hook := Webhook()).app)
    procs, hosts = [], {}
    for agent in AGENTS:
        port = free_port()
        env = {
            **_env(),
            "KUBE_AGENT_LLM_URL": f"{model_url}/v1",
            "KUBE_AGENT_LLM_MODEL": agent.removesuffix("-agent").replace("reviewer", "review"),
            "KAGENT_NAME": agent,
            "KAGENT_NAMESPACE": "ai-agents",
            "AGENT_HOST": "127.0.0.1",
            "AGENT_PORT": str(port),
            "AGENT_TOOLS": "",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "agent_runtime.cli", "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        hosts[f"http://{agent}.ai-agents.svc.cluster.local:8080/"] = f"http://127.0.0.1:{port}/"
    try:
        for proc, url in zip(procs, hosts.values(), strict=True):
            deadline = time.time() + 60
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"agent exited: {proc.stderr.read() if proc.stderr else ''}")
                try:
                    if httpx.get(url + ".well-known/agent-card.json", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline:
                    raise AssertionError(f"{url} did not start")
                time.sleep(0.1)
        yield models, hosts, hook, hook_url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
        model_server.should_exit = True
        hook_server.should_exit = True


def _template(plans) -> dict[str, Any]:
    return next(
        r.inputs
        for r in plans("dev").run.of_type("kubernetes:argoproj.io/v1alpha1:WorkflowTemplate")
        if r.inputs["metadata"]["name"] == WF
    )


def _roles(models: Models) -> Counter[str]:
    return Counter({k: v for k, v in models.calls.items() if not k.startswith("flaky:")})


def test_the_dev_workflow_runs_its_dag_against_real_agents(plans, cluster):
    models, hosts, _, hook_url = cluster
    models.calls.clear()
    run = run_workflow(
        _template(plans),
        {"topic": "AI platforms"},
        hosts=hosts,
        env={"secret:workflow-slack-webhook/url": f"{hook_url}/hook"},
    )
    assert run.phase == "Succeeded", {n: (x.phase, [a.stderr for a in x.attempts]) for n, x in run.nodes.items()}
    # outputs flowed as the DAG says: research -> both analyses -> writer -> reviewer -> the workflow's output
    assert json.loads(run.nodes["research"].outputs["research_data"]) == {
        "topic": "AI platforms",
        "depth": "standard",  # the input's default
        "sources": ["web", "academic", "news"],
    }
    assert run.outputs["report"] == (
        "# AI platforms\ntrend + sentiment (markdown)\nreviewed for accuracy, clarity, completeness"
    )
    # dependency order, and the two parallel analyses overlapped in time
    at = {n: (x.attempts[-1].started, x.attempts[-1].finished) for n, x in run.nodes.items()}
    assert at["research"][1] <= min(at["analyze-trends"][0], at["analyze-sentiment"][0])
    assert max(at["analyze-trends"][0], at["analyze-sentiment"][0]) < min(
        at["analyze-trends"][1], at["analyze-sentiment"][1]
    )
    assert max(at["analyze-trends"][1], at["analyze-sentiment"][1]) <= at["write-report"][0]
    assert at["write-report"][1] <= at["review"][0]
    assert _roles(models) == Counter({"research": 1, "analysis": 2, "writer": 1, "review": 1})
    assert run.exit_handler == []  # notified only when a run fails


def test_a_step_that_fails_once_succeeds_on_retry(plans, cluster):
    models, hosts, _, hook_url = cluster
    models.flaky_topics = {"flaky"}
    run = run_workflow(
        _template(plans), {"topic": "flaky"}, hosts=hosts, env={"secret:workflow-slack-webhook/url": f"{hook_url}/hook"}
    )
    research = run.nodes["research"]
    assert run.phase == "Succeeded" and [a.code for a in research.attempts] == [1, 0]
    assert "400" in research.attempts[0].stderr or "refused" in research.attempts[0].stderr.lower()


def test_a_step_that_times_out_fails_the_run_and_notifies(plans, cluster):
    """A step's timeout ends its attempt (the step's own HTTP timeout, inside the template's deadline); with no retry
    left the run fails, later steps never run, and the exit handler posts to the webhook."""
    models, hosts, hook, hook_url = cluster
    raw = stack_raw("dev")
    wf = raw["workflows"][0]
    sentiment = next(s for s in wf["steps"] if s["name"] == "analyze-sentiment")
    sentiment["timeout_seconds"] = 10  # the step gives the agent 5 s, the pod 10 s
    cfg = parse_platform(raw)
    template = workflow_template(cfg.workflows[0], "ai-agents", "agent-runtime:test")
    models.slow_sentiment = 8.0
    hook.posts.clear()
    try:
        run = run_workflow(
            template, {"topic": "slow"}, hosts=hosts, env={"secret:workflow-slack-webhook/url": f"{hook_url}/hook"}
        )
    finally:
        models.slow_sentiment = 0.0
    node = run.nodes["analyze-sentiment"]
    assert run.phase == "Failed" and node.phase == "Failed" and [a.code for a in node.attempts] == [4]
    assert "did not answer within 5s" in node.attempts[0].stderr
    assert node.attempts[0].finished - node.attempts[0].started < 9
    assert run.nodes["write-report"].phase == "Pending" and run.nodes["review"].phase == "Pending"
    assert [a.code for a in run.exit_handler] == [0]
    assert len(hook.posts) == 1 and "research-report-workflow run run-1 ended Failed" in hook.posts[0]["text"]


def test_a_required_input_and_an_enum_are_enforced_at_submission(plans, cluster):
    _, hosts, _, _ = cluster
    with pytest.raises(AssertionError, match="required"):
        run_workflow(_template(plans), {}, hosts=hosts)
    with pytest.raises(AssertionError, match="not one of"):
        run_workflow(_template(plans), {"topic": "x", "depth": "bottomless"}, hosts=hosts)


def test_the_run_id_reaches_the_agents_span():
    """The step sends the workflow, run and step in the A2A message's metadata; the runtime puts them on its span."""
    from agent_runtime.server import workflow_attributes

    class Message:
        metadata = {"workflow": WF, "workflowRun": "research-report-workflow-x1", "workflowStep": "review", "n": 1}

    assert workflow_attributes(Message()) == {
        "workflow.name": WF,
        "workflow.run": "research-report-workflow-x1",
        "workflow.step": "review",
    }
    assert workflow_attributes(type("M", (), {"metadata": None})()) == {}
