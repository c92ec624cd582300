"""A local fake OpenAI-compatible server: scripted replies (text, tool calls, HTTP errors, delays), streaming,
/v1/models and deterministic /v1/embeddings. Used by the tests and the benchmark; never leaves loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import socket
import threading
import time
from collections import deque
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_app(app: Any) -> tuple[str, uvicorn.Server]:
    """Serve an ASGI app on a free loopback port in a daemon thread; returns its base URL and the server."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.time() + 10
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server


def embed(text: str, dim: int) -> list[float]:
    """Bag of hashed words: texts sharing words are close (enough for retrieval tests)."""
    v = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        h = int(hashlib.md5(word.encode()).hexdigest(), 16)
        v[h % dim] += 1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


class FakeLLM:
    def __init__(self, dim: int = 64):
        self.script: deque[dict[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # request headers of each chat request, lower-cased names
        self.dim = dim
        self.app = self._build()
        self.port = 0
        self.server: uvicorn.Server | None = None

    # --- scripting ------------------------------------------------------------------------------------------------
    def reply(self, content: str) -> FakeLLM:
        self.script.append({"content": content})
        return self

    def tool(self, name: str, **arguments: Any) -> FakeLLM:
        self.script.append({"tool_calls": [{"name": name, "arguments": arguments}]})
        return self

    def tools(self, *calls: tuple[str, dict[str, Any]]) -> FakeLLM:
        self.script.append({"tool_calls": [{"name": n, "arguments": a} for n, a in calls]})
        return self

    def raw_tool(self, name: str, arguments: str) -> FakeLLM:
        self.script.append({"tool_calls": [{"name": name, "arguments": arguments}]})
        return self

    def error(self, status: int, times: int = 1) -> FakeLLM:
        for _ in range(times):
            self.script.append({"status": status})
        return self

    def raw(self, body: str, status: int = 200, content_type: str = "application/json") -> FakeLLM:
        """Answer the next chat request with exactly this body (malformed upstream answers)."""
        self.script.append({"raw": body, "status_raw": status, "content_type": content_type})
        return self

    def delay(self, seconds: float, content: str = "slow") -> FakeLLM:
        self.script.append({"delay": seconds, "content": content})
        return self

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()
        self.headers.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- server ---------------------------------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "test"}]}

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> dict[str, Any]:
            body = await request.json()
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            return {
                "object": "list",
                "model": body.get("model", "fake"),
                "data": [
                    {"object": "embedding", "index": i, "embedding": embed(t, self.dim)} for i, t in enumerate(inputs)
                ],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            step = self.script.popleft() if self.script else {"content": self._echo(body)}
            if "raw" in step:
                from fastapi.responses import Response

                return Response(step["raw"], status_code=step["status_raw"], media_type=step["content_type"])
            if "status" in step:
                return JSONResponse(
                    {"error": {"message": "scripted failure", "type": "server_error"}}, status_code=step["status"]
                )
            if step.get("delay"):
                await asyncio.sleep(step["delay"])
            calls = [
                {
                    "id": f"call_{i}_{len(self.requests)}",
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": c["arguments"] if isinstance(c["arguments"], str) else json.dumps(c["arguments"]),
                    },
                }
                for i, c in enumerate(step.get("tool_calls", []))
            ]
            content = step.get("content")
            usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            if body.get("stream"):
                return StreamingResponse(self._stream(content, calls, usage), media_type="text/event-stream")
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                message["tool_calls"] = calls
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
                "usage": usage,
            }

        return app

    @staticmethod
    def _echo(body: dict[str, Any]) -> str:
        last = next((m.get("content") for m in reversed(body["messages"]) if m["role"] == "user"), "")
        return f"echo: {last}"

    @staticmethod
    async def _stream(content: str | None, calls: list[dict[str, Any]], usage: dict[str, int]):
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake"}

        def chunk(delta: dict[str, Any], finish: str | None = None, use: dict[str, int] | None = None) -> str:
            data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if use:
                data = {**base, "choices": [], "usage": use}
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant"})
        if content:
            for piece in re.findall(r"\S+\s*", content):
                yield chunk({"content": piece})
        for i, c in enumerate(calls):
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": c["function"]["arguments"]}}]})
        yield chunk({}, "tool_calls" if calls else "stop")
        yield chunk({}, use=usage)
        yield "data: [DONE]\n\n"

    def start(self) -> FakeLLM:
        url, self.server = serve_app(self.app)
        self.port = int(url.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self.server:
            self.server.should_exit = True


if __name__ == "__main__":  # python fake_llm.py PORT  (the benchmark runs it as its own process)
    import sys

    fake = FakeLLM()
    uvicorn.run(fake.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
