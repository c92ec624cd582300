"""The agent loop against the fake LLM: tool calls, autonomous continuation, limits, errors, retries, timeouts."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import metric

from agent_runtime.agent import RequestTimeout, looks_finished
from agent_runtime.llm import LLMUnavailable

pytestmark = pytest.mark.anyio


async def test_plain_answer(llm, make_runtime):
    rt = make_runtime()
    llm.reply("Hello there")
    result = await rt.agent.run("hi", session_id="s1")
    assert result.reply == "Hello there" and result.tool_calls == [] and result.continues == 0
    sent = llm.requests[0]
    assert sent["model"] == "fake-model"
    assert sent["messages"][0]["role"] == "system" and sent["messages"][-1] == {"role": "user", "content": "hi"}
    assert {t["function"]["name"] for t in sent["tools"]} >= {"k8s_list_pods", "file_write", "gitea_list_repos"}
    assert len(sent["tools"]) == 27  # 12 Kubernetes + 12 Gitea + 3 file tools (no Milvus, no HTTP tools here)


async def test_tool_call_result_goes_back_to_the_model(llm, make_runtime, tmp_path):
    rt = make_runtime()
    (tmp_path / "work" / "notes.txt").write_text("the password is in vault")
    llm.tool("file_read", path=str(tmp_path / "work" / "notes.txt")).reply("Done: the note says where it is.")
    result = await rt.agent.run("read my notes", session_id="s1")
    assert result.tool_calls == [
        {"name": "file_read", "arguments": json.dumps({"path": str(tmp_path / "work" / "notes.txt")}), "ok": True}
    ]
    tool_msg = llm.requests[1]["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"] == "the password is in vault"
    assert metric(rt, "agent_tool_calls_total", agent_name="test-agent", tool="file_read", status="ok") == 1


async def test_tool_errors_go_back_to_the_model_instead_of_crashing(llm, make_runtime):
    rt = make_runtime()
    llm.tool("file_read", path="/etc/passwd").tool("no_such_tool").raw_tool("file_list", "{not json")
    llm.tool("file_list").reply("Done: could not read it.")
    result = await rt.agent.run("read /etc/passwd", session_id="s1")
    outputs = [r["messages"][-1]["content"] for r in llm.requests[1:5]]
    assert "outside the allowed directories" in outputs[0]
    assert "unknown tool 'no_such_tool'" in outputs[1]
    assert "not valid JSON" in outputs[2]
    assert "invalid arguments for file_list" in outputs[3] and "'path' is a required property" in outputs[3]
    assert [c["ok"] for c in result.tool_calls] == [False, False, False, False]
    assert result.reply.startswith("Done")


async def test_autonomous_mode_continues_until_finished(llm, make_runtime, tmp_path):
    rt = make_runtime()
    llm.tool("file_list", path=str(tmp_path / "work")).reply("I listed the files, now I will write one")
    llm.tool("file_write", path=str(tmp_path / "work" / "a.txt"), content="x").reply("Done: wrote a.txt")
    result = await rt.agent.run("create a.txt", session_id="s1")
    assert result.continues == 1 and result.reply == "Done: wrote a.txt"
    assert llm.requests[2]["messages"][-1]["content"].startswith("Continue with the task")
    assert (tmp_path / "work" / "a.txt").read_text() == "x"


async def test_no_continuation_without_tool_use_or_when_asking_back(llm, make_runtime, tmp_path):
    rt = make_runtime()
    llm.reply("Sure, what should I do")
    assert (await rt.agent.run("hi", session_id="a")).continues == 0
    llm.tool("file_list", path=str(tmp_path / "work")).reply("Which file do you mean?")
    assert (await rt.agent.run("edit the file", session_id="b")).continues == 0


async def test_at_most_five_continues(llm, make_runtime, tmp_path):
    rt = make_runtime()
    llm.tool("file_list", path=str(tmp_path / "work"))
    for _ in range(10):
        llm.reply("still working on it")
    result = await rt.agent.run("work forever", session_id="s1")
    assert result.continues == 5 and result.stopped == "max_continues"
    assert len(llm.requests) == 7  # tool turn + first text + 5 continues


async def test_at_most_thirty_tool_calls(llm, make_runtime, tmp_path):
    rt = make_runtime(max_tool_calls=30)
    for _ in range(40):
        llm.tool("file_list", path=str(tmp_path / "work"))
    llm.reply("stopping here")
    result = await rt.agent.run("loop", session_id="s1")
    assert len(result.tool_calls) == 30
    assert result.stopped == "max_tool_calls"
    assert "tools" not in llm.requests[-1]  # out of budget: the model must answer in text


async def test_retries_on_429_and_5xx_then_succeeds(llm, make_runtime):
    rt = make_runtime(llm_retries=3)
    llm.error(429).error(503).reply("ok after retries")
    result = await rt.agent.run("hi", session_id="s1")
    assert result.reply == "ok after retries"
    assert metric(rt, "llm_retries_total", agent_name="test-agent", reason="429") == 1
    assert metric(rt, "llm_retries_total", agent_name="test-agent", reason="503") == 1


async def test_clear_error_when_retries_run_out(llm, make_runtime):
    rt = make_runtime(llm_retries=2)
    llm.error(500, times=3)
    with pytest.raises(LLMUnavailable, match="failed 3 time"):
        await rt.agent.run("hi", session_id="s1")
    assert metric(rt, "agent_requests_total", agent_name="test-agent", status="failure") == 1


async def test_request_timeout(llm, make_runtime):
    rt = make_runtime(request_timeout=0.3)
    llm.delay(2.0)
    with pytest.raises(RequestTimeout, match="exceeded"):
        await rt.agent.run("slow", session_id="s1")
    assert metric(rt, "agent_requests_total", agent_name="test-agent", status="timeout") == 1


async def test_cancellation(llm, make_runtime):
    rt = make_runtime()
    llm.delay(2.0)
    task = asyncio.create_task(rt.agent.run("slow", session_id="s1"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert metric(rt, "agent_requests_total", agent_name="test-agent", status="cancelled") == 1
    assert metric(rt, "agent_active_sessions", agent_name="test-agent") == 0


async def test_destructive_tools_behind_approval(llm, make_runtime, tmp_path):
    rt = make_runtime(require_approval=["destructive"])
    target = tmp_path / "work" / "x.txt"
    llm.tool("file_write", path=str(target), content="x").reply("Done: asked for approval")
    await rt.agent.run("write", session_id="s1")
    assert "requires approval" in llm.requests[1]["messages"][-1]["content"]
    assert not target.exists()
    llm.tool("file_write", path=str(target), content="x").reply("Done")
    await rt.agent.run("write", session_id="s2", approved_tools={"file_write"})
    assert target.read_text() == "x"


async def test_session_history_is_kept_and_bounded(llm, make_runtime):
    rt = make_runtime(max_history=4, summarize_threshold=100)
    for i in range(4):
        llm.reply(f"answer {i}")
        await rt.agent.run(f"question {i}", session_id="s1")
    sent = llm.requests[-1]["messages"]
    assert sent[-1]["content"] == "question 3"
    assert [m["content"] for m in sent[1:-1]] == ["question 1", "answer 1", "question 2", "answer 2"]


async def test_long_history_is_summarized(llm, make_runtime):
    rt = make_runtime(max_history=50, summarize_threshold=6)
    for i in range(4):
        llm.reply(f"answer {i}")
        await rt.agent.run(f"question {i}", session_id="s1")
    llm.reply("SUMMARY: four questions asked").reply("answer 4")
    await rt.agent.run("question 4", session_id="s1")
    summary_call, answer_call = llm.requests[-2], llm.requests[-1]
    assert "Summarize the conversation" in summary_call["messages"][0]["content"]
    assert answer_call["messages"][1]["content"].startswith("Summary of the earlier conversation: SUMMARY")
    assert len(await rt.memory.history("s1")) < 10


def test_finished_heuristic():
    assert looks_finished("Done: restarted my-app")
    assert looks_finished("완료되었습니다. 요약: ...")
    assert looks_finished("Which deployment do you mean?")
    assert not looks_finished("I found the problem, next I will edit values.yaml")


async def test_token_metrics(llm, make_runtime):
    rt = make_runtime()
    llm.reply("hi")
    await rt.agent.run("hi", session_id="s")
    assert (
        metric(rt, "llm_tokens_total", agent_name="test-agent", model="fake-model", provider="openai", type="prompt")
        == 10
    )
    assert (
        metric(
            rt, "llm_tokens_total", agent_name="test-agent", model="fake-model", provider="openai", type="completion"
        )
        == 5
    )
