"""JSON logs with a trace_id per request (seed 002 fields), Prometheus metrics, OpenTelemetry spans."""

from __future__ import annotations

import contextvars
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

trace_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="")

_SCRUB: list[str] = []


def scrub(text: str) -> str:
    """Remove every configured secret value from ``text``."""
    for secret in _SCRUB:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


def _scrub_processor(_: Any, __: str, event: Any) -> Any:
    if "component" in event:
        event["logger"] = event.pop("component")
    for k, v in list(event.items()):
        if isinstance(v, str):
            event[k] = scrub(v)
    if "trace_id" not in event and trace_id_var.get():
        event["trace_id"] = trace_id_var.get()
    return event


_BASE_FACTORY = logging.getLogRecordFactory()


def _scrubbing_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every stdlib log record (uvicorn, a2a-sdk, httpx, ours) is scrubbed when it is made: the message with its
    arguments, and a traceback's text, so no handler or formatter ever sees a configured secret."""
    record = _BASE_FACTORY(*args, **kwargs)
    if not _SCRUB:
        return record
    try:
        message = record.getMessage()
    except Exception:
        message = str(record.msg)
    record.msg, record.args = scrub(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


def _scrub_rendered(_logger: Any, _name: str, rendered: Any) -> Any:  # a structlog processor after rendering
    return scrub(rendered)


def configure_logging(level: str = "INFO", secrets: list[str] | None = None, stream: Any = None) -> None:
    _SCRUB[:] = [s for s in (secrets or []) if s]
    logging.setLogRecordFactory(_scrubbing_record_factory)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            _scrub_processor,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(default=str),
            _scrub_rendered,  # whatever a value held (exceptions, nested data)
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "agent") -> Any:
    # Lazy: the processors configured later (configure_logging) apply. 'component' is renamed 'logger' on output.
    return structlog.get_logger(component=name)


def new_trace_id(incoming: str | None = None) -> str:
    trace_id = incoming or uuid.uuid4().hex
    trace_id_var.set(trace_id)
    return trace_id


class Metrics:
    """The runtime's Prometheus metrics, in a registry of their own (several apps may live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # Names and labels are the platform's metrics contract (README "Metrics"; seed 002 §4.1): alert rules,
        # dashboards and KEDA query exactly these.
        self.requests = Counter(
            "agent_requests_total", "Agent requests by outcome", ["agent_name", "status"], registry=r
        )
        self.duration = Histogram(
            "agent_request_duration_seconds",
            "Agent request duration",
            ["agent_name"],
            buckets=(0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.tokens = Counter("llm_tokens_total", "LLM tokens", ["agent_name", "model", "provider", "type"], registry=r)
        self.cost = Counter("llm_cost_usd_total", "LLM cost in USD", ["agent_name", "model", "provider"], registry=r)
        self.active_sessions = Gauge("agent_active_sessions", "Requests in flight", ["agent_name"], registry=r)
        self.tool_calls = Counter(
            "agent_tool_calls_total", "Tool calls by outcome", ["agent_name", "tool", "status"], registry=r
        )
        self.llm_retries = Counter("llm_retries_total", "LLM call retries", ["agent_name", "reason"], registry=r)
        self.memory_degraded = Gauge(
            "agent_memory_degraded",
            "1 while Redis is unreachable and the in-process fallback holds session history",
            ["agent_name"],
            registry=r,
        )
        self.rate_limited = Counter(
            "agent_rate_limited_total", "Requests refused by the rate limiter", ["agent_name"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


_tracer = None


_provider = None


def configure_tracing(service_name: str, endpoint: str | None) -> None:
    """Spans for requests, LLM calls and tool calls, exported over OTLP/HTTP to ``endpoint``."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
    _provider = provider
    _tracer = provider.get_tracer("agent_runtime")


def shutdown_tracing() -> None:
    """Flush pending spans and stop exporting."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name) as s:
        for k, v in attributes.items():
            if v is not None:
                s.set_attribute(k, v if isinstance(v, (str, int, float, bool)) else str(v))
        yield s
