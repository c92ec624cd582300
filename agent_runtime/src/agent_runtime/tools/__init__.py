"""The tool registry: JSON-schema'd tools the agent loop, the MCP server and the CLI share.

A tool failure never crashes a request: :meth:`ToolRegistry.call` returns the error text so the model can react.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from agent_runtime.observability import Metrics, get_logger, scrub, span

log = get_logger("tools")

Handler = Callable[[dict[str, Any]], Awaitable[str]]


class ToolError(Exception):
    """An anticipated tool failure; its message goes back to the model as is."""


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    destructive: bool = False
    group: str = "general"

    def openai_spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass
class ToolResult:
    name: str
    ok: bool
    output: str
    seconds: float = 0.0


def params(properties: dict[str, Any] | None = None, required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties or {}, "required": required or [], "additionalProperties": False}


@dataclass
class ToolRegistry:
    metrics: Metrics
    agent: str = "agent"
    require_approval: list[str] = field(default_factory=list)
    max_output_chars: int = 16_000
    tools: dict[str, Tool] = field(default_factory=dict)
    _specs: list[dict[str, Any]] | None = field(default=None, repr=False)

    def register(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self.tools[tool.name] = tool
        self._specs = None

    def extend(self, tools: list[Tool]) -> None:
        for t in tools:
            self.register(t)

    def needs_approval(self, tool: Tool) -> bool:
        return tool.name in self.require_approval or (tool.destructive and "destructive" in self.require_approval)

    def specs(self) -> list[dict[str, Any]]:
        """The tools as OpenAI function specs, built once (every turn sends them; callers must not mutate them)."""
        if self._specs is None or len(self._specs) != len(self.tools):
            self._specs = [t.openai_spec() for t in self.tools.values()]
        return self._specs

    async def call(self, name: str, arguments: dict[str, Any], approved: bool = False) -> ToolResult:
        start = time.perf_counter()
        tool = self.tools.get(name)
        status = "ok"
        try:
            if tool is None:
                raise ToolError(f"unknown tool '{name}'. Available: {', '.join(sorted(self.tools))}")
            if self.needs_approval(tool) and not approved:
                status = "needs_approval"
                raise ToolError(
                    f"'{name}' changes things and requires approval; ask the user to approve it explicitly, then retry"
                )
            try:
                jsonschema.validate(arguments, tool.parameters)
            except jsonschema.ValidationError as exc:
                raise ToolError(f"invalid arguments for {name}: {exc.message}") from None
            with span("tool.call", tool=name):
                output = await tool.handler(arguments)
            ok = True
        except ToolError as exc:
            output, ok = f"error: {exc}", False
            status = status if status != "ok" else "error"
        except Exception as exc:
            output, ok, status = f"error: {type(exc).__name__}: {exc}", False, "error"
            log.warning("tool failed", tool=name, error=f"{type(exc).__name__}: {exc}")
        output = scrub(output)
        if len(output) > self.max_output_chars:
            output = output[: self.max_output_chars] + f"\n... [truncated {len(output) - self.max_output_chars} chars]"
        self.metrics.tool_calls.labels(self.agent, name if tool else "unknown", status).inc()
        return ToolResult(name, ok, output, time.perf_counter() - start)


def table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain fixed-width table (what kube-agent shows for lists)."""
    if not rows:
        return "(none)"
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    return "\n".join(lines)


def build_registry(settings: Any, metrics: Metrics, *, kube: Any = None) -> ToolRegistry:
    """Every tool the settings enable: Kubernetes 12, Gitea 12, files 3, knowledge search, HTTP API tools."""
    from agent_runtime.tools import files, gitea, http_api, knowledge, kubernetes

    reg = ToolRegistry(metrics, settings.agent_name, list(settings.require_approval), settings.tool_output_max_chars)
    reg.extend(kubernetes.tools(settings, kube))
    reg.extend(gitea.tools(settings))
    reg.extend(files.tools(settings))
    reg.extend(knowledge.tools(settings))
    reg.extend(http_api.tools(settings))
    if settings.tools is not None:  # set, even empty: exactly these (empty or blank AGENT_TOOLS serves no tool)
        missing = sorted(set(settings.tools) - set(reg.tools))
        if missing:
            raise ValueError(f"AGENT_TOOLS names tools these settings do not enable: {', '.join(missing)}")
        reg.tools = {name: tool for name, tool in reg.tools.items() if name in set(settings.tools)}
    return reg
