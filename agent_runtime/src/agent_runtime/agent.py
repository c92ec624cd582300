"""The agent loop: LLM <-> tools, autonomous continuation (seed 003), limits, timeouts, memory.

Autonomous mode: when the model answers in text after having used tools in this request, and the answer does not
read as finished, the loop asks it to continue — at most ``max_continues`` times and ``max_tool_calls`` tool calls
per request. Tool errors go back to the model; an LLM that stays down ends the request with a clear error.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agent_runtime.llm import Completion, LLMClient
from agent_runtime.memory import SessionMemory
from agent_runtime.observability import Metrics, get_logger, span
from agent_runtime.tools import ToolRegistry
from agent_runtime.vectors import VectorStore

log = get_logger("agent")

CONTINUE_PROMPT = "Continue with the task. If it is complete, reply with a short summary that starts with 'Done:'."
SUMMARY_PROMPT = "Summarize the conversation so far for your own later use: facts, decisions, open tasks. Be concise."
_FINISHED = re.compile(r"\b(done|finished|complete[d]?|summary|all set)\b|완료|요약|끝났", re.IGNORECASE)


def looks_finished(text: str) -> bool:
    """The seed's rule: a completion keyword, or a question back to the user, ends the autonomous loop."""
    stripped = text.strip()
    return bool(_FINISHED.search(stripped)) or stripped.endswith("?")


@dataclass
class Event:
    kind: str  # tool_call | tool_result | continue | delta
    data: dict[str, Any]


EventSink = Callable[[Event], Awaitable[None]]


@dataclass
class AgentResult:
    reply: str
    session_id: str
    trace_id: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    continues: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stopped: str = "finished"  # finished | max_continues | max_tool_calls | max_llm_calls
    llm_calls: int = 0


class RequestTimeout(Exception):
    pass


class Agent:
    def __init__(
        self,
        settings: Any,
        llm: LLMClient,
        tools: ToolRegistry,
        memory: SessionMemory,
        metrics: Metrics,
        long_term: VectorStore | None = None,
    ):
        self.settings = settings
        self.llm = llm
        self.tools = tools
        self.memory = memory
        self.metrics = metrics
        self.long_term = long_term
        # Label children looked up once: every turn touches them (bench/runtime.py).
        self._active = metrics.active_sessions.labels(settings.agent_name)
        self._duration = metrics.duration.labels(settings.agent_name)

    async def _maybe_summarize(self, session: str, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(history) <= self.settings.summarize_threshold:
            return history
        keep = self.settings.summarize_threshold // 2
        # Never split an assistant tool call from its tool results.
        while keep < len(history) and history[-keep].get("role") == "tool":
            keep += 1
        old, recent = history[:-keep], history[-keep:]
        summary = await self.llm.complete(
            [
                {"role": "system", "content": SUMMARY_PROMPT},
                {"role": "user", "content": json.dumps(old, ensure_ascii=False)[:60_000]},
            ]
        )
        compact = [{"role": "system", "content": f"Summary of the earlier conversation: {summary.content}"}, *recent]
        await self.memory.replace(session, compact)
        return compact

    async def _recall(self, text: str) -> list[dict[str, Any]]:
        if self.long_term is None:
            return []
        try:
            hits = await self.long_term.search(text, top_k=3)
        except Exception as exc:
            log.warning("long-term memory unavailable", error=str(exc))
            return []
        useful = [h["content"] for h in hits if h["score"] > 0.3]
        if not useful:
            return []
        return [{"role": "system", "content": "Relevant memories:\n" + "\n".join(f"- {m}" for m in useful)}]

    async def run(
        self,
        user_message: str | None = None,
        *,
        session_id: str | None = None,
        trace_id: str = "",
        messages: list[dict[str, Any]] | None = None,
        on_event: EventSink | None = None,
        stream: bool = False,
        approved_tools: set[str] | None = None,
    ) -> AgentResult:
        """Answer one request. Either ``user_message`` (with session memory) or full ``messages`` (OpenAI API)."""
        start = time.perf_counter()
        self._active.inc()
        status = "success"
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                return await self._run(
                    user_message,
                    session_id or uuid.uuid4().hex,
                    trace_id,
                    messages,
                    on_event,
                    stream,
                    approved_tools or set(),
                )
        except TimeoutError:
            status = "timeout"
            raise RequestTimeout(f"request exceeded {self.settings.request_timeout:.0f}s") from None
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except Exception:
            status = "failure"
            raise
        finally:
            self._active.dec()
            self.metrics.requests.labels(self.settings.agent_name, status).inc()
            self._duration.observe(time.perf_counter() - start)

    async def _run(self, user_message, session_id, trace_id, messages, on_event, stream, approved) -> AgentResult:
        s = self.settings
        with_memory = messages is None
        if with_memory:
            history = await self._maybe_summarize(session_id, await self.memory.history(session_id))
            new = [{"role": "user", "content": user_message}]
            convo = [{"role": "system", "content": s.system_prompt}, *await self._recall(user_message), *history, *new]
        else:
            new = []
            convo = list(messages)
            if not any(m.get("role") == "system" for m in convo):
                convo.insert(0, {"role": "system", "content": s.system_prompt})
        result = AgentResult("", session_id, trace_id)
        tool_specs = self.tools.specs()

        async def delta(text: str) -> None:
            if on_event:
                await on_event(Event("delta", {"content": text}))

        with span("agent.request", agent=s.agent_name, session=session_id, trace_id=trace_id):
            while True:
                if result.llm_calls >= s.max_llm_calls:
                    # A hard cap, whatever the model does: the request ends with a clear final message.
                    result.stopped = "max_llm_calls"
                    result.reply = (
                        f"Stopped: this request reached the limit of {s.max_llm_calls} model calls "
                        f"({len(result.tool_calls)} tool calls). Partial answer: {result.reply}"
                    ).rstrip()
                    stop = {"role": "assistant", "content": result.reply}
                    convo.append(stop)
                    new.append(stop)
                    break
                budget_left = s.max_tool_calls - len(result.tool_calls)
                completion: Completion = await self.llm.complete(
                    convo, tool_specs if budget_left > 0 else None, delta if stream else None
                )
                result.llm_calls += 1
                result.prompt_tokens += completion.prompt_tokens
                result.completion_tokens += completion.completion_tokens
                if completion.tool_calls and budget_left <= 0:
                    # Tools are no longer offered but the model keeps calling them: stop instead of looping.
                    result.stopped = "max_tool_calls"
                    result.reply = completion.content or (
                        f"Stopped: the limit of {s.max_tool_calls} tool calls per request is reached."
                    )
                    final = {"role": "assistant", "content": result.reply}
                    convo.append(final)
                    new.append(final)
                    break
                result.reply = completion.content or result.reply
                assistant = completion.as_message()
                convo.append(assistant)
                new.append(assistant)
                if completion.tool_calls:
                    for call in completion.tool_calls:
                        if len(result.tool_calls) >= s.max_tool_calls:
                            output = (
                                f"error: the limit of {s.max_tool_calls} tool calls per request is reached; "
                                "answer with what you have"
                            )
                            ok = False
                        else:
                            if on_event:
                                await on_event(Event("tool_call", {"name": call.name, "arguments": call.arguments}))
                            try:
                                args = call.parsed()
                            except ValueError as exc:
                                tr_ok, tr_out = False, f"error: {exc}"
                            else:
                                tr = await self.tools.call(call.name, args, approved=call.name in approved)
                                tr_ok, tr_out = tr.ok, tr.output
                            ok, output = tr_ok, tr_out
                            result.tool_calls.append({"name": call.name, "arguments": call.arguments, "ok": ok})
                            if on_event:
                                await on_event(Event("tool_result", {"name": call.name, "ok": ok, "output": output}))
                        msg = {"role": "tool", "tool_call_id": call.id, "content": output}
                        convo.append(msg)
                        new.append(msg)
                    continue
                result.reply = completion.content
                used_tools = bool(result.tool_calls)
                if (
                    s.autonomous
                    and used_tools
                    and not looks_finished(completion.content)
                    and len(result.tool_calls) < s.max_tool_calls
                ):
                    if result.continues >= s.max_continues:
                        result.stopped = "max_continues"
                        break
                    result.continues += 1
                    if on_event:
                        await on_event(Event("continue", {"n": result.continues}))
                    nudge = {"role": "user", "content": CONTINUE_PROMPT}
                    convo.append(nudge)
                    new.append(nudge)
                    continue
                if len(result.tool_calls) >= s.max_tool_calls:
                    result.stopped = "max_tool_calls"
                break
        if with_memory:
            await self.memory.append(session_id, new)
            if self.long_term is not None and s.long_term_memory:
                try:
                    await self.long_term.add(
                        [f"Q: {user_message}\nA: {result.reply}"], category="memory", metadata={"session": session_id}
                    )
                except Exception as exc:
                    log.warning("could not store long-term memory", error=str(exc))
        log.info(
            "agent request",
            agent_name=s.agent_name,
            session_id=session_id,
            tool_calls=len(result.tool_calls),
            continues=result.continues,
            stopped=result.stopped,
            status="success",
        )
        return result
