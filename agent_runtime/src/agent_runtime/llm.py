"""OpenAI-compatible chat client (AsyncOpenAI with ``base_url``): retries with backoff on 429/5xx/timeouts, token
and cost accounting, optional streaming of content deltas."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import httpx

from agent_runtime.observability import Metrics, get_logger, span
from agent_runtime.settings import Settings

log = get_logger("llm")


class LLMUnavailable(RuntimeError):
    """The LLM endpoint kept failing after every retry."""


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
            except Exception as exc:  # noqa: BLE001 - classified below
                reason = _retryable(exc)
                if reason is None:
                    raise
                self.metrics.llm_retries.labels(self.settings.agent_name, reason).inc()
                if attempt == attempts:
                    raise LLMUnavailable(
                        f"LLM at {self.settings.llm_url} failed {attempts} time(s), last with {reason}: "
                        f"{type(exc).__name__}. Check KUBE_AGENT_LLM_URL and that the model server is up."
                    ) from exc
                delay = self.settings.llm_backoff * (2 ** (attempt - 1))
                retry_after = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after")
                if retry_after:
                    try:
                        delay = max(delay, min(float(retry_after), 30.0))
                    except ValueError:
                        pass
                log.warning("llm retry", attempt=attempt, reason=reason, delay_s=delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _account(self, c: Completion) -> None:
        name, model = self.settings.agent_name, self.settings.llm_model
        self.metrics.tokens.labels(name, model, "prompt").inc(c.prompt_tokens)
        self.metrics.tokens.labels(name, model, "completion").inc(c.completion_tokens)
        cost = (c.prompt_tokens * self.settings.usd_per_1k_prompt_tokens
                + c.completion_tokens * self.settings.usd_per_1k_completion_tokens) / 1000
        if cost:
            self.metrics.cost.labels(name, model).inc(cost)

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
            choice = resp["choices"][0]
            msg = choice.get("message") or {}
            calls = [ToolCall(tc.get("id", ""), tc["function"]["name"], tc["function"].get("arguments") or "{}")
                     for tc in (msg.get("tool_calls") or [])]
            usage = resp.get("usage") or {}
            return Completion(msg.get("content") or "", calls, usage.get("prompt_tokens") or 0,
                              usage.get("completion_tokens") or 0, choice.get("finish_reason"))

        async def streamed() -> Completion:
            stream = await self.client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True})
            content: list[str] = []
            calls: dict[int, dict[str, str]] = {}
            out = Completion("")
            async for chunk in stream:
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
            out.content = "".join(content)
            out.tool_calls = [ToolCall(c["id"], c["name"], c["arguments"] or "{}") for _, c in sorted(calls.items())]
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
        headers = {"Authorization": f"Bearer {self.settings.llm_api_key.get_secret_value()}"}
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                resp = await client.get(self.settings.llm_url.rstrip("/") + "/models", headers=headers)
            if resp.status_code == 200:
                return True, "ok"
            return False, f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            return False, type(exc).__name__
