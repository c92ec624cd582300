"""Wire protocols: an A2A 0.3 round trip with the a2a-sdk 0.3.x client (what kagent speaks), the tools over MCP
streamable HTTP, and schemathesis against the OpenAPI schema (no 5xx)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn
from fake_llm import free_port

from agent_runtime.mcp_server import create_mcp_app
from agent_runtime.observability import Metrics
from agent_runtime.tools import build_registry

pytestmark = pytest.mark.anyio


async def a2a_client(app):
    from a2a.client import A2ACardResolver, ClientFactory

    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent", timeout=30)
    card = await A2ACardResolver(http, "http://agent").get_agent_card()
    return http, card, ClientFactory


async def test_a2a_round_trip_message_send(llm, make_client):
    from a2a.client import ClientConfig, create_text_message_object
    from a2a.types import Message

    client = make_client(public_url="http://agent/")
    http, card, factory = await a2a_client(client.app)
    assert card.protocol_version == "0.3.0" and card.name == "test-agent"
    a2a = factory(ClientConfig(httpx_client=http, streaming=False)).create(card)
    llm.reply("pods look healthy")
    events = [e async for e in a2a.send_message(create_text_message_object(content="check the pods"))]
    messages = [e for e in events if isinstance(e, Message)]
    assert messages and messages[0].parts[0].root.text == "pods look healthy"
    assert llm.requests[-1]["messages"][-1] == {"role": "user", "content": "check the pods"}
    await http.aclose()


async def test_a2a_streaming_and_context_is_the_session(llm, make_client):
    from a2a.client import ClientConfig, create_text_message_object
    from a2a.types import Message

    client = make_client(public_url="http://agent/")
    http, card, factory = await a2a_client(client.app)
    a2a = factory(ClientConfig(httpx_client=http, streaming=True)).create(card)
    llm.reply("first answer").reply("second answer")
    first = [e async for e in a2a.send_message(create_text_message_object(content="one"))]
    context = next(e for e in first if isinstance(e, Message)).context_id
    msg = create_text_message_object(content="two")
    msg.context_id = context
    second = [e async for e in a2a.send_message(msg)]
    assert next(e for e in second if isinstance(e, Message)).parts[0].root.text == "second answer"
    assert [m["content"] for m in llm.requests[-1]["messages"][1:]] == ["one", "first answer", "two"]
    await http.aclose()


async def test_a2a_raw_jsonrpc_0_3_shape(llm, make_client):
    client = make_client()
    llm.reply("hi from agent")
    r = await client.post(
        "/",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "role": "user",
                    "messageId": "m1",
                    "kind": "message",
                    "parts": [{"kind": "text", "text": "hello"}],
                }
            },
        },
    )
    body = r.json()
    assert r.status_code == 200 and body["result"]["kind"] == "message"
    assert body["result"]["parts"][0]["text"] == "hi from agent" and body["result"]["role"] == "agent"


async def test_mcp_serves_the_same_tools(make_settings, tmp_path):
    from mcp.client.client import Client

    settings = make_settings()
    (tmp_path / "work" / "hello.txt").write_text("hi")
    registry = build_registry(settings, Metrics())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_mcp_app(registry, host="127.0.0.1"), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        async with Client(f"http://127.0.0.1:{port}/mcp") as mcp:
            tools = (await mcp.list_tools()).tools
            names = {t.name for t in tools}
            assert len(names) == 27 and {"k8s_list_pods", "gitea_commit_and_push", "file_read"} <= names
            write = next(t for t in tools if t.name == "file_write")
            assert write.annotations.destructive_hint is True and write.input_schema["required"] == ["path", "content"]
            result = await mcp.call_tool("file_list", {"path": str(tmp_path / "work")})
            assert not result.is_error and "hello.txt" in result.content[0].text
            bad = await mcp.call_tool("file_read", {"path": "/etc/passwd"})
            assert bad.is_error and "outside the allowed directories" in bad.content[0].text
    finally:
        server.should_exit = True
        thread.join(5)


def test_openapi_schemathesis_no_server_errors(llm_server, make_settings):
    import schemathesis
    from hypothesis import HealthCheck
    from hypothesis import settings as hsettings

    from agent_runtime.server import create_app

    app = create_app(make_settings(rate_limit_per_minute=100_000, llm_retries=0))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    ops = [op.ok() for op in schema.get_all_operations()]
    assert {(o.method.upper(), o.path) for o in ops} >= {
        ("POST", "/chat"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/health"),
        ("GET", "/ready"),
    }
    for op in ops:
        strategy = op.as_strategy()

        @hsettings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @__import__("hypothesis").given(case=strategy)
        def check(case):
            response = case.call()
            if response.status_code >= 500:
                failures.append((case.path, response.status_code, response.text[:200]))

        check()
    import asyncio

    asyncio.run(app.state.runtime.aclose())
    assert failures == []


@pytest.mark.parametrize("depth", [65, 100_000])
async def test_a2a_deeply_nested_json_is_a_client_error(make_client, depth):
    """Nesting the parsers would recurse through (a RecursionError inside the A2A SDK was a 500) answers 400."""
    client = make_client()
    body = (
        '{"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    )
    r = await client.post("/", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == -32600 and "nested deeper than 64" in r.json()["error"]["message"]


@pytest.mark.parametrize("value", ["", "  ", " , "])
def test_an_empty_tool_list_serves_no_tool(make_settings, value):
    """AGENT_TOOLS set but empty or blank means none, never every tool (unset means every tool)."""
    registry = build_registry(make_settings(tools=value), Metrics())
    assert registry.tools == {}
    assert len(build_registry(make_settings(), Metrics()).tools) == 27
