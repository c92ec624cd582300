"""Attacks and faults, each reproduced first: an endless tool-calling model, a client that leaves, malformed upstream
answers, secrets echoed by the upstream, a silent LLM, unauthenticated A2A and MCP."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time

import httpx
import jwt
import pytest
import uvicorn
from conftest import metric
from fake_llm import free_port, serve_app

from agent_runtime.observability import Metrics, configure_logging
from agent_runtime.server import create_app
from agent_runtime.settings import Settings

pytestmark = pytest.mark.anyio
SECRET = "s3cret-signing-key-with-enough-bytes-for-hs256"


def a2a_send(text: str) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/send",
        "params": {
            "message": {"role": "user", "messageId": "m1", "kind": "message", "parts": [{"kind": "text", "text": text}]}
        },
    }


# --- 4. unbounded agent loop ------------------------------------------------------------------------------------------


async def test_model_that_keeps_calling_tools_after_the_budget_is_stopped(llm, make_runtime):
    rt = make_runtime(max_tool_calls=3, max_continues=1)
    for _ in range(60):
        llm.tool("file_list", path=".")
    result = await rt.agent.run("loop forever")
    assert result.stopped == "max_tool_calls"
    assert len(llm.requests) == 4  # 3 tool-calling turns, then one more answer with no tools offered: stop
    assert "tools" not in llm.requests[-1]


async def test_hard_cap_on_model_calls_per_request(llm, make_runtime):
    rt = make_runtime(max_tool_calls=100, max_continues=100, max_llm_calls=5)
    for _ in range(60):
        llm.tool("file_list", path=".")
    result = await rt.agent.run("loop forever")
    assert result.stopped == "max_llm_calls" and result.llm_calls == 5 and len(llm.requests) == 5
    assert "limit of 5 model calls" in result.reply


def _serve(app) -> tuple[str, uvicorn.Server]:
    return serve_app(app)


async def test_turn_is_cancelled_when_the_client_goes_away(llm, make_settings):
    settings = make_settings(request_timeout=30)
    app = create_app(settings)
    url, server = _serve(app)
    try:
        for _ in range(20):
            llm.delay(2.0)
        async with httpx.AsyncClient(timeout=0.5) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(f"{url}/chat", json={"message": "take your time"})
        rt = app.state.runtime
        for _ in range(40):
            if metric(rt, "agent_requests_total", agent_name="test-agent", status="cancelled") == 1:
                break
            await asyncio.sleep(0.05)
        assert metric(rt, "agent_requests_total", agent_name="test-agent", status="cancelled") == 1
        assert metric(rt, "agent_active_sessions", agent_name="test-agent") == 0
        calls = len(llm.requests)
        await asyncio.sleep(0.5)
        assert len(llm.requests) == calls == 1  # nothing more was asked of the model
    finally:
        server.should_exit = True


# --- 5. upstream faults -------------------------------------------------------------------------------------------------

MALFORMED = {
    "not json": ("<html>oops</html>", 200, "text/html"),
    "empty object": ("{}", 200, "application/json"),
    "empty choices": ('{"choices": []}', 200, "application/json"),
    "tool call without function": (
        '{"choices": [{"message": {"tool_calls": [{"id": "c1"}]}}]}',
        200,
        "application/json",
    ),
    "tool call with null name": (
        '{"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": null}}]}}]}',
        200,
        "application/json",
    ),
    "arguments as an object": (
        '{"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "file_list",'
        ' "arguments": {"path": "."}}}]}}]}',
        200,
        "application/json",
    ),
    "non-string content": ('{"choices": [{"message": {"content": 42}}]}', 200, "application/json"),
    "usage as a string": ('{"choices": [{"message": {"content": "hi"}}], "usage": "lots"}', 200, "application/json"),
    "top-level array": ("[1, 2, 3]", 200, "application/json"),
    "4xx": ('{"error": {"message": "bad request"}}', 400, "application/json"),
    "404": ('{"error": {"message": "no such model"}}', 404, "application/json"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_upstream_answers_are_clear_502s(case, llm, make_client):
    body, status, ctype = MALFORMED[case]
    client = make_client(llm_retries=0)
    llm.raw(body, status, ctype)
    r = await client.post("/chat", json={"message": "hi"})
    assert r.status_code == 502, (case, r.status_code, r.text)
    expected = "llm_rejected" if status >= 400 else "llm_bad_response"
    assert r.json()["error"] == expected and r.json()["detail"] and r.json()["trace_id"]
    llm.raw(body, status, ctype)
    r = await client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 502 and r.json()["error"] == expected
    llm.raw(body, status, ctype)
    r = await client.post("/", json=a2a_send("hi"))
    assert r.status_code == 200, r.text
    result = r.json().get("result") or {}
    assert result.get("kind") == "task" and result["status"]["state"] == "failed", r.json()
    assert expected in result["status"]["message"]["parts"][0]["text"]


@pytest.mark.parametrize("case", ["not json", "empty object", "top-level array", "4xx"])
async def test_malformed_upstream_answers_end_a_stream_with_an_error_event(case, llm, make_client):
    body, status, ctype = MALFORMED[case]
    client = make_client(llm_retries=0)
    llm.raw(body, status, ctype)
    async with client.stream(
        "POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "stream": True}
    ) as r:
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    errors = [json.loads(line[6:])["error"] for line in lines[:-1] if "error" in json.loads(line[6:])]
    assert errors and errors[0]["code"].startswith("llm_")


async def test_lone_surrogate_in_user_input_is_a_400(llm, make_client):
    client = make_client()
    raw = b'{"message": "hi \\ud800"}'
    r = await client.post("/chat", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_input"
    raw = b'{"messages": [{"role": "user", "content": "hi \\udfff"}]}'
    r = await client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = await client.post(
        "/",
        content=json.dumps(a2a_send("x")).replace('"x"', '"\\ud800"').encode(),
        headers={"content-type": "application/json"},
    )
    assert r.json()["error"]["code"] == -32602 and "surrogate" in r.json()["error"]["message"]
    # The same lone surrogate as raw bytes (ED A0 80, which json.loads decodes with "surrogatepass") and in a UTF-16
    # body (json.loads reads those too): the guard's fast path must not wave either through.
    template = json.dumps(a2a_send("x"))
    for body in (
        template.replace('"x"', '"@"').encode().replace(b"@", b"\xed\xa0\x80"),
        template.replace('"x"', '"\\ud800"').encode().decode("unicode_escape").encode("utf-16-le", "surrogatepass"),
    ):
        r = await client.post("/", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.json()["error"]["code"] == -32602, r.text
    assert llm.requests == []  # nothing reached the model


# --- 6. secrets in error paths ------------------------------------------------------------------------------------------


async def test_an_upstream_error_echoing_the_api_key_never_leaks_it(llm, make_client):
    key = "sk-live-very-secret-0123456789"
    stream = io.StringIO()
    client = make_client(llm_api_key=key, llm_retries=0)
    configure_logging("DEBUG", [key], stream=stream)
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(message)s"))
    watched = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in watched:
        logger.addHandler(handler)
    try:
        echo = json.dumps({"error": {"message": f"Incorrect API key provided: {key}"}})
        llm.raw(echo, 401)
        r = await client.post("/chat", json={"message": "hi"})
        assert r.status_code == 502 and key not in r.text and "***" in r.text
        llm.raw(echo, 401)
        r = await client.post("/", json=a2a_send("hi"))
        assert key not in r.text and r.json()["result"]["status"]["state"] == "failed"
        llm.raw(echo, 401)
        async with client.stream(
            "POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "stream": True}
        ) as s:
            body = "".join([line async for line in s.aiter_lines()])
        assert key not in body
        try:
            raise RuntimeError(f"upstream said {key}")
        except RuntimeError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application with %s", key)
        logging.getLogger("a2a.server").warning("retrying with key=%s", key)
    finally:
        for logger in watched:
            logger.removeHandler(handler)
    assert "Exception in ASGI application" in captured.getvalue() and "upstream said ***" in captured.getvalue()
    assert key not in captured.getvalue() and key not in stream.getvalue()


# --- 7. slow LLM -------------------------------------------------------------------------------------------------------


def test_default_turn_bound_is_well_under_a_minute(monkeypatch):
    monkeypatch.delenv("AGENT_REQUEST_TIMEOUT", raising=False)
    s = Settings()
    assert s.request_timeout <= 45 and s.llm_timeout <= s.request_timeout


async def test_a_silent_llm_is_a_timeout_within_the_turn_bound(llm, make_client):
    client = make_client(request_timeout=1.0, llm_timeout=10, llm_retries=3)
    for _ in range(4):
        llm.delay(5)
    t0 = time.perf_counter()
    r = await client.post("/chat", json={"message": "hi"})
    assert r.status_code == 504 and r.json()["error"] == "timeout"
    assert time.perf_counter() - t0 < 3


# --- 8. unauthenticated surfaces ----------------------------------------------------------------------------------------


def token(sub="alice", exp=None):
    return jwt.encode({"sub": sub, "exp": exp or time.time() + 60}, SECRET, algorithm="HS256")


async def test_a2a_requires_a_token_when_auth_is_configured(llm, make_client):
    client = make_client(jwt_secret=SECRET)
    assert (await client.post("/", json=a2a_send("hi"))).status_code == 401
    llm.reply("ok")
    r = await client.post("/", json=a2a_send("hi"), headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 200 and r.json()["result"]["parts"][0]["text"] == "ok"
    assert (await client.get("/.well-known/agent-card.json")).status_code == 200  # kagent's readiness probe


async def test_a2a_explicit_opt_out_for_in_cluster_use(llm, make_client):
    client = make_client(jwt_secret=SECRET, auth_a2a=False)
    llm.reply("ok")
    assert (await client.post("/", json=a2a_send("hi"))).status_code == 200
    assert (await client.post("/chat", json={"message": "x"})).status_code == 401  # the rest stays protected


async def test_mcp_requires_a_token_when_auth_is_configured(make_settings):
    from agent_runtime.mcp_server import create_mcp_app
    from agent_runtime.tools import build_registry

    for opt_out in (None, False):
        settings = make_settings(jwt_secret=SECRET, auth_mcp=opt_out)
        app = create_mcp_app(build_registry(settings, Metrics()), host="127.0.0.1", settings=settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"http://127.0.0.1:{port}/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={"accept": "application/json, text/event-stream"},
                )
            if opt_out is None:
                assert r.status_code == 401
                headers = {"Authorization": f"Bearer {token()}"}
                async with httpx.AsyncClient(headers=headers) as http:
                    r = await http.post(
                        f"http://127.0.0.1:{port}/mcp",
                        json={
                            "jsonrpc": "2.0",
                            "id": 1,
                            "method": "initialize",
                            "params": {
                                "protocolVersion": "2025-06-18",
                                "capabilities": {},
                                "clientInfo": {"name": "t", "version": "1"},
                            },
                        },
                        headers={"accept": "application/json, text/event-stream"},
                    )
                assert r.status_code == 200 and "serverInfo" in r.text
            else:
                assert r.status_code == 200
        finally:
            server.should_exit = True
