"""The lean hot path (bench/runtime.py measures it): what a serving process loads, and the LLM client's own reading
of server-sent events, which replaced the openai SDK's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent_runtime.llm import LLMBadResponse, parse_chunk, sse_data


class Lines:
    """What aiohttp's response.content yields when iterated: the body line by line, newline kept."""

    def __init__(self, body: bytes):
        self.content = self
        self._lines = body.splitlines(keepends=True)

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        if not self._lines:
            raise StopAsyncIteration
        return self._lines.pop(0)


async def events(body: bytes) -> list[bytes]:
    return [data async for data in sse_data(Lines(body))]  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_server_sent_events_are_read_as_the_specification_says():
    body = (
        b": keep-alive comment\n\n"
        b'data: {"a": 1}\n\n'
        b"event: ignored\r\n"
        b'data:{"b":\r\n'  # no space after the colon, CRLF, and one event split over two data lines
        b"data: 2}\r\n\r\n"
        b"id: 7\n"
        b"data: [DONE]\n"  # the last event needs no blank line after it
    )
    assert await events(body) == [b'{"a": 1}', b'{"b":\n2}', b"[DONE]"]
    assert json.loads((await events(body))[1]) == {"b": 2}


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[1, 2]", b'{"choices": "x"}', b'{"choices": [1]}', b'{"choices": [{"delta": {"content": 5}}]}'],
)
def test_a_malformed_chunk_is_a_bad_response_not_a_crash(data):
    with pytest.raises(LLMBadResponse):
        parse_chunk(data)


def test_a_usage_only_chunk_has_no_choices():
    assert parse_chunk(b'{"usage": {"prompt_tokens": 3}}')["choices"] == []


def test_the_serving_process_loads_neither_grpc_nor_the_openai_sdk(tmp_path):
    """grpc (installed for pymilvus; the A2A SDK would load its gRPC handler) and the openai SDK cost ~30 MiB of
    idle memory together; the runtime serves JSON-RPC and calls the model with aiohttp, so it needs neither."""
    code = (
        "import sys; from agent_runtime.server import create_app; create_app(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'grpc', 'openai'}))"
    )
    env = {"KUBE_AGENT_NAMESPACE": "t", "AGENT_LOG_LEVEL": "ERROR", "AGENT_FILE_ROOTS": str(tmp_path), "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
    # and grpc still imports afterwards, for pymilvus
    code = "from agent_runtime.server import create_app; create_app(); import grpc; print(grpc.__name__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "grpc", out.stderr[-2000:]
