"""OpenAI-compatible chat client: retries with backoff on 429/5xx/timeouts, token and cost accounting, optional
streaming of content deltas.

Both a plain and a streamed completion are one aiohttp POST with an orjson body: the hot path of every turn. (The
openai SDK's request building and httpx's connection pool cost ~3 ms of CPU per turn at 64 concurrent turns, and the
SDK ~15 MiB of idle memory; see bench/runtime.py.) Answers are checked field by field: anything that is not an
OpenAI chat completion (or chunk) is an LLMBadResponse, never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import orjson

from agent_runtime.observability import Metrics, get_logger, scrub, span
from agent_runtime.settings import Settings

log = get_logger("llm")


class LLMError(RuntimeError):
    """The LLM could not give an answer. ``code`` is stable (API error bodies, metrics); the message is scrubbed."""

    code = "llm_error"

    def __init__(self, message: str):
        super().__init__(scrub(message))


class LLMUnavailable(LLMError):
    """The LLM endpoint kept failing (connection, timeout, 429, 5xx) after every retry."""

    code = "llm_unavailable"


class LLMRejected(LLMError):
    """The LLM endpoint refused the request (4xx other than 429): retrying would not help."""

    code = "llm_rejected"


class LLMBadResponse(LLMError):
    """The LLM endpoint answered with something that is not an OpenAI chat completion."""

    code = "llm_bad_response"


def _bad(what: str) -> LLMBadResponse:
    return LLMBadResponse(f"the LLM answered with a malformed chat completion: {what}")


def _tool_call(raw: Any, i: int) -> ToolCall:
    if not isinstance(raw, dict):
        raise _bad(f"tool_calls[{i}] is not an object")
    fn = raw.get("function")
    if not isinstance(fn, dict):
        raise _bad(f"tool_calls[{i}] has no function")
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(f"tool_calls[{i}].function.name is missing or not a string")
    args = fn.get("arguments")
    if args is None:
        args = "{}"
    if not isinstance(args, str):
        raise _bad(f"tool_calls[{i}].function.arguments is not a JSON string")
    call_id = raw.get("id") or f"call_{i}"
    if not isinstance(call_id, str):
        raise _bad(f"tool_calls[{i}].id is not a string")
    return ToolCall(call_id, name, args)


def parse_completion(resp: Any) -> Completion:
    """An OpenAI chat completion response, checked field by field; anything else is an LLMBadResponse."""
    if not isinstance(resp, dict):
        raise _bad(f"the body is {type(resp).__name__}, not a JSON object")
    choices = resp.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _bad("'choices' is missing or empty")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise _bad("choices[0] is not an object")
    msg = choice.get("message")
    if not isinstance(msg, dict):
        raise _bad("choices[0].message is missing or not an object")
    content = msg.get("content")
    if content is not None and not isinstance(content, str):
        raise _bad("choices[0].message.content is not a string")
    raw_calls = msg.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise _bad("choices[0].message.tool_calls is not a list")
    calls = [_tool_call(tc, i) for i, tc in enumerate(raw_calls)]
    usage = resp.get("usage")
    if usage is None:
        usage = {}
    if not isinstance(usage, dict):
        raise _bad("'usage' is not an object")
    tokens = []
    for key in ("prompt_tokens", "completion_tokens"):
        value = usage.get(key) or 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _bad(f"usage.{key} is not a non-negative integer")
        tokens.append(value)
    finish = choice.get("finish_reason")
    return Completion(content or "", calls, tokens[0], tokens[1], finish if isinstance(finish, str) else None)


def _count(usage: Any, key: str) -> int:
    value = (usage.get(key) or 0) if isinstance(usage, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"usage.{key} is not a non-negative integer")
    return value


async def sse_data(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The data of each server-sent event: its `data:` lines up to a blank line, joined by newlines (comments and
    other fields skipped), as the SSE specification reads them."""
    data: list[bytes] = []
    async for raw in resp.content:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield b"\n".join(data)
                data = []
            continue
        name, _, value = line.partition(b":")
        if name == b"data":
            data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data)


def parse_chunk(data: bytes) -> dict[str, Any]:
    """One streamed chat.completion.chunk, checked where the client reads it."""
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise _bad("a streamed event is not JSON") from None
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices", []), list):
        raise _bad("a streamed event is not a chat.completion.chunk")
    chunk.setdefault("choices", [])
    for choice in chunk["choices"]:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(choice, dict) or not isinstance(delta or {}, dict):
            raise _bad("a streamed choice has no delta object")
        if delta and not isinstance(delta.get("content") or "", str):
            raise _bad("a streamed content delta is not a string")
    return chunk


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str

    def parsed(self) -> dict[str, Any]:
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"tool arguments are not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None

    def as_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return msg


def _classify(exc: Exception) -> LLMError:
    """A non-retryable failure as the caller should see it (never a bare exception, never a 500)."""
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):
        return _bad(f"{type(exc).__name__}: {str(exc)[:200]}")
    return LLMError(f"LLM call failed: {type(exc).__name__}")


class _Transient(Exception):
    """A failure worth retrying: ``reason`` as in the retry metric, and the server's Retry-After."""

    def __init__(self, reason: str, retry_after: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retryable(exc: Exception) -> str | None:
    if isinstance(exc, _Transient):
        return exc.reason
    if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError and ConnectionTimeoutError are TimeoutErrors
        return "timeout"
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
        return "connection"
    return None


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # what orjson refuses (an integer beyond 64 bits) the standard encoder writes
        return json.dumps(value, ensure_ascii=False).encode()


async def _check_status(resp: aiohttp.ClientResponse) -> None:
    """429 and 5xx are retried (with the server's Retry-After); any other 4xx is the caller's request refused."""
    if resp.status == 429 or resp.status >= 500:
        raise _Transient(str(resp.status), resp.headers.get("retry-after"))
    if resp.status >= 400:
        text = (await resp.content.read(300)).decode("utf-8", "replace")
        raise LLMRejected(f"the LLM refused the request: HTTP {resp.status}: {text}")


class LLMClient:
    """One aiohttp session (the connection pool to the model server), made on first use in the running loop."""

    def __init__(self, settings: Settings, metrics: Metrics):
        self.settings = settings
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None
        self._counters: tuple[Any, Any, Any] | None = None
        self._url = settings.llm_url.rstrip("/") + "/chat/completions"
        self._headers = {
            **settings.llm_headers,
            "Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}",
            "Content-Type": "application/json",
        }

    @property
    def session(self) -> aiohttp.ClientSession:
        """The connection pool of the plain path, made on first use in the running loop (and again if a caller
        moved to another loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.llm_timeout),
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=60),
                json_serialize=lambda v: orjson.dumps(v).decode(),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def _with_retries(self, call: Callable[[], Awaitable[Completion]]) -> Completion:
        attempts = self.settings.llm_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except LLMError:
                raise
            except Exception as exc:
                reason = _retryable(exc)
                if reason is None:
                    raise _classify(exc) from exc
                self.metrics.llm_retries.labels(self.settings.agent_name, reason).inc()
                if attempt == attempts:
                    raise LLMUnavailable(
                        f"LLM at {self.settings.llm_url} failed {attempts} time(s), last with {reason}: "
                        f"{type(exc).__name__}. Check KUBE_AGENT_LLM_URL and that the model server is up."
                    ) from exc
                delay = self.settings.llm_backoff * (2 ** (attempt - 1))
                retry_after = (
                    exc.retry_after
                    if isinstance(exc, _Transient)
                    else getattr(getattr(exc, "response", None), "headers", {}).get("retry-after")
                )
                if retry_after:
                    with contextlib.suppress(ValueError):
                        delay = max(delay, min(float(retry_after), 30.0))
                log.warning("llm retry", attempt=attempt, reason=reason, delay_s=delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _account(self, c: Completion) -> None:
        if self._counters is None:
            name, model, provider = self.settings.agent_name, self.settings.llm_model, self.settings.llm_provider
            self._counters = (
                self.metrics.tokens.labels(name, model, provider, "prompt"),
                self.metrics.tokens.labels(name, model, provider, "completion"),
                self.metrics.cost.labels(name, model, provider),
            )
        prompt, completion, cost_usd = self._counters
        prompt.inc(c.prompt_tokens)
        completion.inc(c.completion_tokens)
        cost = (
            c.prompt_tokens * self.settings.usd_per_1k_prompt_tokens
            + c.completion_tokens * self.settings.usd_per_1k_completion_tokens
        ) / 1000
        # Always exported (0 for self-hosted models without a price), so cost queries see every model.
        cost_usd.inc(cost)

    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        on_delta: Callable[[str], Awaitable[None]] | None = None,
    ) -> Completion:
        """One chat completion; with ``on_delta`` the answer is streamed and each content piece forwarded."""
        kwargs: dict[str, Any] = {"model": self.settings.llm_model, "messages": messages}
        if tools:
            kwargs["tools"] = tools

        async def plain() -> Completion:
            async with self.session.post(self._url, data=_dumps(kwargs), headers=self._headers) as resp:
                await _check_status(resp)
                body = await resp.read()
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise _bad(f"the body is not JSON ({exc})") from None
            return parse_completion(parsed)

        async def streamed() -> Completion:
            request = {**kwargs, "stream": True, "stream_options": {"include_usage": True}}
            out = Completion("")
            content: list[str] = []
            calls: dict[int, dict[str, str]] = {}
            chunks = 0
            async with self.session.post(self._url, data=_dumps(request), headers=self._headers) as resp:
                await _check_status(resp)
                async for data in sse_data(resp):
                    if data == b"[DONE]":
                        break
                    chunk = parse_chunk(data)
                    chunks += 1
                    usage = chunk.get("usage")
                    if usage:
                        out.prompt_tokens = _count(usage, "prompt_tokens")
                        out.completion_tokens = _count(usage, "completion_tokens")
                    for choice in chunk["choices"]:
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            content.append(delta["content"])
                            assert on_delta is not None
                            await on_delta(delta["content"])
                        for i, tc in enumerate(delta.get("tool_calls") or []):
                            index = tc.get("index", i) if isinstance(tc, dict) else i
                            if not isinstance(tc, dict) or not isinstance(index, int):
                                raise _bad("a streamed tool call is not an object with an integer index")
                            slot = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
                            slot["id"] = tc.get("id") or slot["id"]
                            fn = tc.get("function") or {}
                            slot["name"] += fn.get("name") or ""
                            slot["arguments"] += fn.get("arguments") or ""
                        out.finish_reason = choice.get("finish_reason") or out.finish_reason
            if chunks == 0:
                raise _bad("the stream carried no chunks (the endpoint did not answer with server-sent events)")
            out.content = "".join(content)
            out.tool_calls = [
                ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"] or "{}") for i, c in sorted(calls.items())
            ]
            if any(not isinstance(c.name, str) or not c.name for c in out.tool_calls):
                raise _bad("a streamed tool call has no function name")
            return out

        with span("llm.chat", model=self.settings.llm_model, messages=len(messages)) as s:
            completion = await self._with_retries(streamed if on_delta else plain)
            if s is not None:
                s.set_attribute("llm.prompt_tokens", completion.prompt_tokens)
                s.set_attribute("llm.completion_tokens", completion.completion_tokens)
        self._account(completion)
        return completion

    async def reachable(self, timeout: float = 2.0) -> tuple[bool, str]:
        """GET {llm_url}/models: the endpoint answers and accepts our key."""
        headers = {
            **self.settings.llm_headers,
            "Authorization": f"Bearer {self.settings.llm_api_key.get_secret_value()}",
        }
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                resp = await client.get(self.settings.llm_url.rstrip("/") + "/models", headers=headers)
            if resp.status_code == 200:
                return True, "ok"
            return False, f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            return False, type(exc).__name__
