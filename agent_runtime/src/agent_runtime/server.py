"""The HTTP face of the runtime on 0.0.0.0:8080: A2A (kagent BYO contract), /chat, the OpenAI-compatible
/v1/chat/completions (streaming), /health, /ready, /metrics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent_runtime import __version__
from agent_runtime.agent import Agent, Event, RequestTimeout
from agent_runtime.llm import LLMClient, LLMError
from agent_runtime.memory import SessionMemory
from agent_runtime.observability import (
    Metrics,
    configure_logging,
    configure_tracing,
    get_logger,
    new_trace_id,
    scrub,
    span,
)
from agent_runtime.security import BodySizeLimit, SecurityMiddleware
from agent_runtime.settings import Settings
from agent_runtime.tools import ToolRegistry, build_registry

log = get_logger("server")
# The A2A SDK wraps each of its server methods in an OpenTelemetry span (36 per turn, ~0.4 ms of CPU even with no
# exporter). The runtime's own spans (agent.request, llm.chat, tool calls) carry the trace; an operator who wants
# the SDK's too sets OTEL_INSTRUMENTATION_A2A_SDK_ENABLED=true. Read when the SDK is first imported (below).
os.environ.setdefault("OTEL_INSTRUMENTATION_A2A_SDK_ENABLED", "false")


def import_a2a_server() -> None:
    """Import the A2A SDK's server without its gRPC handler, which the runtime never serves (kagent speaks JSON-RPC)
    and which would load grpc (~18 MiB resident) merely because pymilvus installs it. The SDK itself falls back when
    grpc is missing; grpc stays importable for pymilvus afterwards."""
    if "a2a.server.request_handlers" in sys.modules or "grpc" in sys.modules:
        return
    sys.modules["grpc"] = None  # type: ignore[assignment]  # `import grpc` raises ImportError while this is set
    try:
        import a2a.server.request_handlers  # noqa: F401
    finally:
        del sys.modules["grpc"]


SESSION_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


@dataclass
class Runtime:
    settings: Settings
    metrics: Metrics
    llm: LLMClient
    tools: ToolRegistry
    memory: SessionMemory
    agent: Agent

    @classmethod
    def build(cls, settings: Settings, **overrides: Any) -> Runtime:
        metrics = overrides.get("metrics") or Metrics()
        llm = overrides.get("llm") or LLMClient(settings, metrics)
        tools = overrides.get("tools") or build_registry(settings, metrics)
        memory = overrides.get("memory") or SessionMemory(
            settings.redis_url,
            settings.agent_name,
            settings.session_ttl,
            settings.max_history,
            metrics,
            settings.redis_key_prefix,
        )
        long_term = overrides.get("long_term")
        if long_term is None and settings.long_term_memory and settings.milvus_uri:
            from agent_runtime.vectors import VectorStore

            long_term = VectorStore.from_settings(settings, settings.memory_collection)
        agent = Agent(settings, llm, tools, memory, metrics, long_term)
        return cls(settings, metrics, llm, tools, memory, agent)

    async def aclose(self) -> None:
        """Close network clients (on the loop that used them, where possible); never raises."""
        closers = [self.memory.close, self.llm.aclose]
        if self.agent.long_term is not None:
            closers.append(self.agent.long_term.aclose)
        for close in closers:
            try:
                await close()
            except Exception as exc:
                log.debug("close failed", error=str(exc))


# --- API models ------------------------------------------------------------------------------------------------


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=100_000)
    session_id: str | None = Field(default=None, pattern=SESSION_PATTERN)


class ToolCallInfo(BaseModel):
    name: str
    arguments: str
    ok: bool


class ChatResponse(BaseModel):
    reply: str
    session_id: str
    trace_id: str
    tool_calls: list[ToolCallInfo]
    continues: int
    stopped: str


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = Field(default=None, max_length=200_000)
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    user: str | None = Field(default=None, max_length=256)


class ErrorBody(BaseModel):
    error: str = Field(
        description="Stable code: llm_unavailable, llm_rejected, llm_bad_response, timeout, "
        "invalid_input, unauthorized, rate limited, request too large, client_closed"
    )
    detail: str | None = None
    trace_id: str | None = None


# --- A2A ----------------------------------------------------------------------------------------------------------


def agent_card(settings: Settings) -> Any:
    import_a2a_server()
    from a2a.types import AgentCapabilities, AgentCard, AgentSkill

    url = settings.public_url or f"http://{settings.agent_name}.{settings.effective_namespace}:{settings.port}/"
    skills = [
        AgentSkill(
            id="kubernetes",
            name="Kubernetes operations",
            description="Inspect and operate workloads in the agent's namespace",
            tags=["kubernetes"],
        ),
        AgentSkill(
            id="gitea", name="Gitea and Git", description="Repositories, webhooks, clone/commit/push", tags=["git"]
        ),
        AgentSkill(
            id="files", name="Files", description="Read and edit files under /tmp and /home/agent", tags=["files"]
        ),
    ]
    return AgentCard(
        name=settings.agent_name,
        description="agentic-platform runtime agent (kube-agent tools over A2A)",
        url=url,
        version=__version__,
        protocol_version="0.3.0",
        preferred_transport="JSONRPC",
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text"],
        default_output_modes=["text"],
        skills=skills,
    )


def a2a_executor(runtime: Runtime) -> Any:
    import_a2a_server()
    from a2a.server.agent_execution import AgentExecutor, RequestContext
    from a2a.server.events import EventQueue
    from a2a.server.tasks import TaskUpdater
    from a2a.types import UnsupportedOperationError
    from a2a.utils import new_agent_text_message
    from a2a.utils.errors import ServerError

    class RuntimeExecutor(AgentExecutor):
        async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
            trace = new_trace_id()
            text = context.get_user_input()
            try:
                if invalid_text(text):
                    raise InvalidInput(invalid_text(text))
                with span("a2a.message", **workflow_attributes(context.message)):
                    result = await runtime.agent.run(text, session_id=context.context_id, trace_id=trace)
            except Exception as exc:
                code, message = error_of(exc)
                updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
                await updater.failed(
                    new_agent_text_message(
                        f"error [{code}]: {message} (trace {trace})", context.context_id, context.task_id
                    )
                )
                return
            await event_queue.enqueue_event(new_agent_text_message(result.reply, context.context_id, context.task_id))

        async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
            raise ServerError(error=UnsupportedOperationError())

    return RuntimeExecutor()


#: A2A message metadata an agent workflow step sends (agent_runtime.workflow_step) -> span attribute
WORKFLOW_METADATA = {"workflow": "workflow.name", "workflowRun": "workflow.run", "workflowStep": "workflow.step"}


def workflow_attributes(message: Any) -> dict[str, str]:
    """The workflow, run and step of a message sent by a workflow step, as span attributes (so the run id reaches the
    agent's trace); nothing for other messages."""
    meta = getattr(message, "metadata", None)
    if not isinstance(meta, dict):
        return {}
    return {attr: meta[key][:253] for key, attr in WORKFLOW_METADATA.items() if isinstance(meta.get(key), str)}


# --- errors ---------------------------------------------------------------------------------------------------------


class InvalidInput(ValueError):
    pass


def invalid_text(text: Any) -> str:
    """Why ``text`` cannot be sent on (a lone surrogate is not encodable Unicode), or '' when it is fine."""
    if not isinstance(text, str):
        return ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the text contains a lone surrogate: it is not valid Unicode"
    return ""


def error_of(exc: BaseException) -> tuple[str, str]:
    """(stable code, scrubbed message) for any failure of a turn."""
    if isinstance(exc, LLMError):
        return exc.code, scrub(str(exc))
    if isinstance(exc, RequestTimeout):
        return "timeout", scrub(str(exc))
    if isinstance(exc, InvalidInput):
        return "invalid_input", str(exc)
    log.error("request failed", error=type(exc).__name__, detail=scrub(str(exc))[:300])
    return "internal", f"the agent failed ({type(exc).__name__})"


def error_response(exc: BaseException, trace: str) -> JSONResponse:
    code, message = error_of(exc)
    status = {"timeout": 504, "invalid_input": 400, "internal": 500}.get(code, 502)
    return JSONResponse({"error": code, "detail": message, "trace_id": trace}, status_code=status)


async def until_disconnect(request: Request, work: Any) -> Any:
    """Await ``work`` (a coroutine) in this task; if the client goes away first, cancel it and answer 499."""
    current = asyncio.current_task()
    gone = False

    async def watch() -> None:
        nonlocal gone
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                gone = True
                if current is not None:
                    current.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone or current is None:
            raise
        current.uncancel()
        log.info("client went away; turn cancelled")
        return JSONResponse({"error": "client_closed"}, status_code=499)
    finally:
        watcher.cancel()


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


#: Deepest JSON nesting an A2A request may have (A2A messages nest a few levels; the parsers recurse per level).
MAX_JSON_DEPTH = 64


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON document, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


#: Where a lone surrogate can come from in a UTF-8 body: a \uD800-\uDFFF escape, or the bytes ED A0-BF that
#: json.loads decodes with "surrogatepass" (a UTF-16 or UTF-32 body, which json.loads also reads, is always scanned).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _rpc_error(status: int, code: int, message: str, rpc_id: Any = None) -> JSONResponse:
    return JSONResponse(
        {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}}, status_code=status
    )


class A2AInputGuard:
    """Refuses an A2A JSON-RPC request whose text is not valid Unicode (a lone surrogate) with a JSON-RPC error,
    before the A2A SDK stores it in a task it could then not serialize."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            doc = None
        except RecursionError:  # nested deeper than the parser can follow: a client error, never a 500
            log.info("a2a request refused: JSON nested too deeply", bytes=len(body))
            await _rpc_error(400, -32600, f"Invalid Request: JSON nested deeper than {MAX_JSON_DEPTH} levels")(
                scope, receive, send
            )
            return
        # Fast paths: nesting deeper than the limit needs more brackets than the limit, and a lone surrogate needs
        # one of the byte sequences _SURROGATE_ESCAPE finds.
        deep = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
        if doc is not None and deep and json_depth(doc) > MAX_JSON_DEPTH:
            log.info("a2a request refused: JSON nested too deeply", bytes=len(body))
            await _rpc_error(400, -32600, f"Invalid Request: JSON nested deeper than {MAX_JSON_DEPTH} levels")(
                scope, receive, send
            )
            return
        surrogate = json.detect_encoding(body) != "utf-8" or _SURROGATE_ESCAPE.search(body) is not None
        if doc is not None and surrogate and any(invalid_text(t) for t in _strings(doc)):
            rpc_id = doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), (str, int)) else None
            error = {
                "jsonrpc": "2.0",
                "id": rpc_id,
                "error": {
                    "code": -32602,
                    "message": "Invalid params: the text contains a lone surrogate (not valid Unicode)",
                },
            }
            await JSONResponse(error, status_code=200)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# --- app ------------------------------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else Settings())
    configure_logging(settings.log_level, settings.secret_values())
    if settings.otel_endpoint:
        configure_tracing(settings.otel_service_name or settings.agent_name, settings.otel_endpoint)
    rt = runtime or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await rt.aclose()

    app = FastAPI(
        title="agent-runtime",
        version=__version__,
        lifespan=lifespan,
        description="kagent BYO agent: A2A, chat, OpenAI-compatible completions",
    )
    app.state.runtime = rt

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """422 with the problems (400 for text that is not valid Unicode), encoded so a lone surrogate in the input
        cannot break the error response itself."""
        errors = exc.errors()
        if any(e.get("type") == "string_unicode" for e in errors):
            return JSONResponse(
                {"error": "invalid_input", "detail": "the text contains a lone surrogate: it is not valid Unicode"},
                status_code=400,
            )
        safe = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errors]
        body = json.dumps({"detail": safe}, ensure_ascii=True, default=str)
        return Response(body, status_code=422, media_type="application/json")

    app.add_middleware(A2AInputGuard)
    app.add_middleware(SecurityMiddleware, settings=settings, metrics=rt.metrics)
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)

    ready_cache: dict[str, Any] = {"at": 0.0, "llm": (False, "unchecked")}

    def trace_of(request: Request) -> str:
        incoming = request.headers.get("x-trace-id")
        return new_trace_id(incoming if incoming and len(incoming) <= 64 else None)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "LLM unreachable"}})
    async def ready() -> JSONResponse:
        now = time.monotonic()
        if now - ready_cache["at"] > 5:
            ready_cache["llm"] = await rt.llm.reachable()
            ready_cache["at"] = now
        llm_ok, llm_detail = ready_cache["llm"]
        body = {
            "ready": llm_ok,
            "llm": llm_detail,
            "redis": await rt.memory.status(),
            "agent": settings.agent_name,
            "namespace": settings.effective_namespace,
        }
        return JSONResponse(body, status_code=200 if llm_ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(rt.metrics.render().decode(), media_type="text/plain; version=0.0.4")

    @app.post(
        "/chat",
        response_model=ChatResponse,
        tags=["agent"],
        responses={
            400: {"model": ErrorBody},
            401: {"model": ErrorBody},
            429: {"model": ErrorBody},
            413: {"model": ErrorBody},
            499: {"model": ErrorBody},
            502: {"model": ErrorBody},
            504: {"model": ErrorBody},
        },
    )
    async def chat(body: ChatRequest, request: Request) -> Any:
        trace = trace_of(request)
        try:
            if invalid_text(body.message):
                raise InvalidInput(invalid_text(body.message))
            result = await until_disconnect(
                request, rt.agent.run(body.message, session_id=body.session_id, trace_id=trace)
            )
        except Exception as exc:
            return error_response(exc, trace)
        if isinstance(result, JSONResponse):
            return result
        return ChatResponse(
            reply=result.reply,
            session_id=result.session_id,
            trace_id=trace,
            tool_calls=[ToolCallInfo(**c) for c in result.tool_calls],
            continues=result.continues,
            stopped=result.stopped,
        )

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        responses={
            400: {"model": ErrorBody},
            401: {"model": ErrorBody},
            429: {"model": ErrorBody},
            499: {"model": ErrorBody},
            502: {"model": ErrorBody},
            504: {"model": ErrorBody},
        },
    )
    async def completions(body: ChatCompletionRequest, request: Request) -> Any:
        trace = trace_of(request)
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        model = body.model or settings.llm_model
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        bad = next((invalid_text(m.get("content")) for m in messages if invalid_text(m.get("content"))), "")
        if bad:
            return error_response(InvalidInput(bad), trace)
        if not body.stream:
            try:
                result = await until_disconnect(
                    request, rt.agent.run(messages=messages, session_id=body.user, trace_id=trace)
                )
            except Exception as exc:
                return error_response(exc, trace)
            if isinstance(result, JSONResponse):
                return result
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": result.reply}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": result.prompt_tokens,
                    "completion_tokens": result.completion_tokens,
                    "total_tokens": result.prompt_tokens + result.completion_tokens,
                },
            }

        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            return (
                "data: "
                + json.dumps(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                )
                + "\n\n"
            )

        async def sink(event: Event) -> None:
            if event.kind == "delta":
                await queue.put(chunk({"content": event.data["content"]}))

        async def produce() -> None:
            try:
                await queue.put(chunk({"role": "assistant"}))
                await rt.agent.run(messages=messages, session_id=body.user, trace_id=trace, on_event=sink, stream=True)
                await queue.put(chunk({}, "stop"))
            except Exception as exc:
                code, message = error_of(exc)
                await queue.put(
                    "data: " + json.dumps({"error": {"code": code, "message": message, "trace_id": trace}}) + "\n\n"
                )
            finally:
                await queue.put("data: [DONE]\n\n")
                await queue.put(None)

        async def stream() -> AsyncIterator[str]:
            task = asyncio.create_task(produce())
            try:
                while (item := await queue.get()) is not None:
                    yield item
            finally:
                if not task.done():
                    task.cancel()  # the client went away: stop the agent too

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Trace-Id": trace})

    # A2A last: JSON-RPC on POST / and the agent card kagent probes for readiness.
    import_a2a_server()
    from a2a.server.apps import A2AStarletteApplication
    from a2a.server.request_handlers import DefaultRequestHandler
    from a2a.server.tasks import InMemoryTaskStore

    handler = DefaultRequestHandler(agent_executor=a2a_executor(rt), task_store=InMemoryTaskStore())
    A2AStarletteApplication(
        agent_card=agent_card(settings), http_handler=handler, max_content_length=settings.max_request_bytes
    ).add_routes_to_app(app)
    return app
