"""OpenAI-compatible chat client (AsyncOpenAI with ``base_url``): retries with backoff on 429/5xx/timeouts, token
and cost accounting, optional streaming of content deltas."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

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
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = exc.response.text[:300] if exc.response is not None else ""
        return LLMRejected(f"the LLM refused the request: HTTP {exc.status_code}: {body}")
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError, openai.APIResponseValidationError)):
        return _bad(f"{type(exc).__name__}: {str(exc)[:200]}")
    return LLMError(f"LLM call failed: {type(exc).__name__}")


def _retryable(exc: Exception) -> str | None:
    import openai

    if isinstance(exc, openai.RateLimitError):
        return "429"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return str(exc.status_code)
    return None


class LLMClient:
    """The openai SDK costs ~350 ms to import: it is imported on first use (or by :meth:`warm` in the background
    right after start-up), so the process is ready — and /ready answers — without waiting for it."""

    def __init__(self, settings: Settings, metrics: Metrics, client: Any = None):
        self.settings = settings
        self.metrics = metrics
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                base_url=self.settings.llm_url,
                api_key=self.settings.llm_api_key.get_secret_value(),
                timeout=self.settings.llm_timeout,
                max_retries=0,  # retries are ours: counted, logged, bounded by the request deadline
                default_headers=dict(self.settings.llm_headers) or None,
            )
        return self._client

    async def warm(self) -> None:
        await asyncio.to_thread(__import__, "openai")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

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
                retry_after = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after")
                if retry_after:
                    with contextlib.suppress(ValueError):
                        delay = max(delay, min(float(retry_after), 30.0))
                log.warning("llm retry", attempt=attempt, reason=reason, delay_s=delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _account(self, c: Completion) -> None:
        name, model, provider = self.settings.agent_name, self.settings.llm_model, self.settings.llm_provider
        self.metrics.tokens.labels(name, model, provider, "prompt").inc(c.prompt_tokens)
        self.metrics.tokens.labels(name, model, provider, "completion").inc(c.completion_tokens)
        cost = (
            c.prompt_tokens * self.settings.usd_per_1k_prompt_tokens
            + c.completion_tokens * self.settings.usd_per_1k_completion_tokens
        ) / 1000
        # Always exported (0 for self-hosted models without a price), so cost queries see every model.
        self.metrics.cost.labels(name, model, provider).inc(cost)

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
            # The SDK's HTTP layer (auth, base_url, typed errors) without its per-call deep transform of the
            # request TypedDicts, which costs milliseconds with 27 tool schemas (see bench/runtime.py).
            resp = await self.client.post("/chat/completions", body=kwargs, cast_to=object)
            return parse_completion(resp)

        async def streamed() -> Completion:
            stream = await self.client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True}
            )
            content: list[str] = []
            calls: dict[int, dict[str, str]] = {}
            out = Completion("")
            chunks = 0
            async for chunk in stream:
                chunks += 1
                if chunk.usage:
                    out.prompt_tokens = chunk.usage.prompt_tokens or 0
                    out.completion_tokens = chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        content.append(delta.content)
                        assert on_delta is not None
                        await on_delta(delta.content)
                    for tc in delta.tool_calls or []:
                        slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                        slot["id"] = tc.id or slot["id"]
                        if tc.function:
                            slot["name"] += tc.function.name or ""
                            slot["arguments"] += tc.function.arguments or ""
                    out.finish_reason = choice.finish_reason or out.finish_reason
            if chunks == 0:
                raise _bad("the stream carried no chunks (the endpoint did not answer with server-sent events)")
            if not all(isinstance(c, str) for c in content):
                raise _bad("a streamed content delta is not a string")
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
