"""``agent-runtime``: serve (A2A + HTTP API), mcp (tools over MCP), chat (one-shot)."""

from __future__ import annotations

import asyncio
from typing import Optional

import typer

from agent_runtime.settings import load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

LLM_URL = typer.Option(None, "--llm-url", "-l", help="OpenAI-compatible endpoint [KUBE_AGENT_LLM_URL]")
LLM_MODEL = typer.Option(None, "--llm-model", "-m", help="Model name [KUBE_AGENT_LLM_MODEL]")
NAMESPACE = typer.Option(None, "--namespace", "-n", help="Kubernetes namespace [KUBE_AGENT_NAMESPACE]")
HOST = typer.Option(None, "--host", help="Bind address [AGENT_HOST, default 0.0.0.0]")
PORT = typer.Option(None, "--port", "-p", help="Port [AGENT_PORT, default 8080]")


@app.command()
def serve(llm_url: Optional[str] = LLM_URL, llm_model: Optional[str] = LLM_MODEL,
          namespace: Optional[str] = NAMESPACE, host: Optional[str] = HOST, port: Optional[int] = PORT) -> None:
    """Serve A2A on /, the agent card, /chat, /v1/chat/completions, /health, /ready, /metrics."""
    import uvicorn

    from agent_runtime.server import create_app

    settings = load_settings(llm_url=llm_url, llm_model=llm_model, namespace=namespace, host=host, port=port)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning",
                access_log=False)


@app.command()
def mcp(namespace: Optional[str] = NAMESPACE, host: Optional[str] = HOST, port: Optional[int] = PORT) -> None:
    """Serve the tools as an MCP server (streamable HTTP on /mcp)."""
    import uvicorn

    from agent_runtime.mcp_server import create_mcp_app
    from agent_runtime.observability import Metrics, configure_logging
    from agent_runtime.tools import build_registry

    settings = load_settings(namespace=namespace, host=host, port=port)
    configure_logging(settings.log_level, settings.secret_values())
    uvicorn.run(create_mcp_app(build_registry(settings, Metrics()), host=settings.host, settings=settings),
                host=settings.host, port=settings.port, log_level="warning")


@app.command()
def chat(message: str = typer.Argument(..., help="What to ask"), llm_url: Optional[str] = LLM_URL,
         llm_model: Optional[str] = LLM_MODEL, namespace: Optional[str] = NAMESPACE,
         session: Optional[str] = typer.Option(None, "--session", help="Session id to continue")) -> None:
    """Ask once and print the answer."""
    import io

    from agent_runtime.agent import RequestTimeout
    from agent_runtime.llm import LLMError
    from agent_runtime.observability import configure_logging
    from agent_runtime.server import Runtime

    settings = load_settings(llm_url=llm_url, llm_model=llm_model, namespace=namespace)
    configure_logging("ERROR", settings.secret_values(), stream=io.StringIO())
    async def once():
        rt = Runtime.build(settings)
        try:
            return await rt.agent.run(message, session_id=session)
        finally:
            await rt.aclose()

    try:
        result = asyncio.run(once())
    except (LLMError, RequestTimeout) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(result.reply)


if __name__ == "__main__":
    app()
