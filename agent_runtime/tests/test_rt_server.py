"""HTTP API: /chat, OpenAI-compatible completions (plain and streaming), health/ready/metrics, the agent card,
JWT auth, rate limiting, size limits, 256 concurrent sessions."""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest
from conftest import metric

pytestmark = pytest.mark.anyio
SECRET = "test-signing-secret-0123456789abcdef"


def token(sub: str = "alice", secret: str = SECRET, exp: float | None = None, **extra) -> str:
    return jwt.encode({"sub": sub, "exp": exp or time.time() + 300, **extra}, secret, algorithm="HS256")


async def test_chat_roundtrip_with_session(llm, make_client):
    client = make_client()
    llm.reply("first").reply("second")
    r1 = await client.post("/chat", json={"message": "hello", "session_id": "abc"})
    assert r1.status_code == 200, r1.text
    body = r1.json()
    assert body["reply"] == "first" and body["session_id"] == "abc" and len(body["trace_id"]) == 32
    r2 = await client.post("/chat", json={"message": "again", "session_id": "abc"}, headers={"X-Trace-Id": "t-1"})
    assert r2.json()["trace_id"] == "t-1"
    assert [m["content"] for m in llm.requests[1]["messages"][1:]] == ["hello", "first", "again"]


@pytest.mark.parametrize(
    "body",
    [{}, {"message": ""}, {"message": "x", "session_id": "bad id!"}, {"message": "x", "extra": 1}, {"message": 5}],
)
async def test_chat_rejects_bad_input(make_client, body):
    r = await make_client().post("/chat", json=body)
    assert r.status_code == 422


async def test_openai_completions(llm, make_client):
    client = make_client()
    llm.reply("4")
    r = await client.post(
        "/v1/chat/completions", json={"model": "agent", "messages": [{"role": "user", "content": "2+2?"}]}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "4",
    }
    assert body["usage"]["total_tokens"] == 15
    sent = llm.requests[0]["messages"]
    assert sent[0]["role"] == "system" and sent[-1] == {"role": "user", "content": "2+2?"}


async def test_openai_completions_stream_with_tool_call(llm, make_client, tmp_path):
    client = make_client()
    llm.tool("file_list", path=str(tmp_path / "work")).reply("Done: the directory is empty")
    async with client.stream(
        "POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": "list"}], "stream": True}
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Done: the directory is empty"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(req.get("stream") for req in llm.requests)


async def test_llm_down_gives_502_with_clear_message(make_client):
    client = make_client(llm_url="http://127.0.0.1:9/v1", llm_retries=1)
    r = await client.post("/chat", json={"message": "hi"})
    assert r.status_code == 502
    assert "KUBE_AGENT_LLM_URL" in r.json()["detail"]


async def test_health_ready_metrics(llm, make_client):
    client = make_client()
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["llm"] == "ok"
    assert ready.json()["redis"] == "disabled (in-process)"
    llm.reply("x")
    await client.post("/chat", json={"message": "m"})
    text = (await client.get("/metrics")).text
    assert 'agent_requests_total{agent_name="test-agent",status="success"} 1.0' in text
    assert "agent_request_duration_seconds_bucket" in text and "llm_tokens_total" in text


async def test_ready_is_503_when_llm_unreachable(make_client):
    client = make_client(llm_url="http://127.0.0.1:9/v1")
    r = await client.get("/ready")
    assert r.status_code == 503 and r.json()["ready"] is False


async def test_agent_card_is_open_and_a2a_0_3(make_client):
    client = make_client(jwt_secret=SECRET)
    r = await client.get("/.well-known/agent-card.json")
    assert r.status_code == 200
    card = r.json()
    assert card["name"] == "test-agent" and card["protocolVersion"] == "0.3.0"
    assert card["capabilities"]["streaming"] is True


async def test_jwt_required_when_configured(llm, make_client):
    client = make_client(jwt_secret=SECRET)
    assert (await client.post("/chat", json={"message": "x"})).status_code == 401
    bad = await client.post(
        "/chat", json={"message": "x"}, headers={"Authorization": f"Bearer {token(secret='nope' * 8)}"}
    )
    assert bad.status_code == 401 and "invalid token" in bad.json()["detail"]
    expired = await client.post(
        "/chat", json={"message": "x"}, headers={"Authorization": f"Bearer {token(exp=time.time() - 10)}"}
    )
    assert expired.json()["detail"] == "token expired"
    llm.reply("hello alice")
    ok = await client.post("/chat", json={"message": "x"}, headers={"Authorization": f"Bearer {token()}"})
    assert ok.status_code == 200 and ok.json()["reply"] == "hello alice"
    for path in ("/health", "/metrics", "/.well-known/agent-card.json"):
        assert (await client.get(path)).status_code == 200


async def test_jwt_audience_checked(llm, make_client):
    client = make_client(jwt_secret=SECRET, jwt_audience="agentic")
    wrong = await client.post("/chat", json={"message": "x"}, headers={"Authorization": f"Bearer {token(aud='other')}"})
    assert wrong.status_code == 401
    llm.reply("ok")
    right = await client.post(
        "/chat", json={"message": "x"}, headers={"Authorization": f"Bearer {token(aud='agentic')}"}
    )
    assert right.status_code == 200


async def test_rate_limit_per_principal(llm, make_client):
    client = make_client(jwt_secret=SECRET, rate_limit_per_minute=3)
    alice, bob = {"Authorization": f"Bearer {token('alice')}"}, {"Authorization": f"Bearer {token('bob')}"}
    codes = [(await client.post("/chat", json={"message": "x"}, headers=alice)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert (await client.post("/chat", json={"message": "x"}, headers=bob)).status_code == 200
    limited = await client.post("/chat", json={"message": "x"}, headers=alice)
    assert int(limited.headers["Retry-After"]) >= 1
    assert metric(client.runtime, "agent_rate_limited_total", agent_name="test-agent") == 2


async def test_request_size_limit(make_client):
    client = make_client(max_request_bytes=2048)
    r = await client.post(
        "/chat", content=json.dumps({"message": "x" * 5000}), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_no_secrets_in_logs_or_tool_output(llm, make_client, capsys, tmp_path):
    client = make_client(llm_api_key="sk-very-secret-key", gitea_token="gt-very-secret")
    (tmp_path / "work" / "leak.txt").write_text("key=sk-very-secret-key token=gt-very-secret")
    llm.tool("file_read", path=str(tmp_path / "work" / "leak.txt")).reply("Done")
    await client.post("/chat", json={"message": "read"})
    tool_output = llm.requests[1]["messages"][-1]["content"]
    assert "sk-very-secret-key" not in tool_output and "gt-very-secret" not in tool_output and "***" in tool_output
    out = capsys.readouterr().out
    assert "sk-very-secret-key" not in out
    assert '"trace_id"' in out and '"agent_name": "test-agent"' in out


async def test_256_concurrent_sessions(llm, make_client):
    client = make_client(rate_limit_per_minute=10_000)

    async def one(i: int) -> tuple[int, str]:
        r = await client.post("/chat", json={"message": f"msg {i}", "session_id": f"s{i}"})
        return r.status_code, r.json()["reply"]

    results = await asyncio.gather(*(one(i) for i in range(256)))
    assert all(code == 200 for code, _ in results)
    assert sorted(reply for _, reply in results) == sorted(f"echo: msg {i}" for i in range(256))
    assert metric(client.runtime, "agent_requests_total", agent_name="test-agent", status="success") == 256


async def test_one_address_carrying_many_users_is_not_limited_as_one(llm, make_client):
    """Behind kagent every A2A turn comes from one address without a user token: 64 concurrent turns all succeed."""
    import asyncio

    client = make_client(rate_limit_per_minute=3)
    for _ in range(64):
        llm.reply("ok")
    codes = await asyncio.gather(*(client.post("/chat", json={"message": f"m{i}"}) for i in range(64)))
    assert [c.status_code for c in codes].count(429) == 0


async def test_a_platform_service_account_is_not_a_user(llm, make_client):
    client = make_client(jwt_secret=SECRET, rate_limit_per_minute=2)
    kagent = {"Authorization": f"Bearer {token('system:serviceaccount:kagent:kagent-controller')}"}
    for _ in range(5):
        llm.reply("ok")
    codes = [(await client.post("/chat", json={"message": "x"}, headers=kagent)).status_code for _ in range(5)]
    assert codes == [200] * 5
