"""``agent-runtime mcp``: the same tools as an MCP server over streamable HTTP, for kagent declarative agents
(reference it with a RemoteMCPServer pointing at http://<service>:8080/mcp)."""

from __future__ import annotations

from typing import Any

from mcp import types
from mcp.server.lowlevel import Server

from agent_runtime import __version__
from agent_runtime.tools import ToolRegistry


def create_mcp_server(registry: ToolRegistry, name: str = "agent-runtime") -> Server:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t.name,
                    description=t.description,
                    input_schema=t.parameters,
                    annotations=types.ToolAnnotations(destructive_hint=t.destructive, read_only_hint=not t.destructive),
                )
                for t in registry.tools.values()
            ]
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        result = await registry.call(params.name, dict(params.arguments or {}))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=result.output)], is_error=not result.ok
        )

    return Server(name, version=__version__, on_list_tools=list_tools, on_call_tool=call_tool)


def create_mcp_app(registry: ToolRegistry, host: str = "0.0.0.0", settings: Any = None) -> Any:
    """A Starlette app serving MCP at /mcp (stateless streamable HTTP: any replica can answer). With ``settings``
    carrying JWT auth, every request needs a bearer token unless AGENT_AUTH_MCP=false opts out."""
    app = create_mcp_server(registry).streamable_http_app(streamable_http_path="/mcp", stateless_http=True, host=host)
    from starlette.responses import JSONResponse

    async def health(request: Any) -> JSONResponse:
        return JSONResponse({"status": "ok", "tools": len(registry.tools)})

    app.add_route("/health", health, methods=["GET"])
    if settings is not None:
        from agent_runtime.security import BodySizeLimit, SecurityMiddleware

        app.add_middleware(SecurityMiddleware, settings=settings, metrics=registry.metrics, surface="mcp")
        app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    return app
