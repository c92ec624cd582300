"""``kube-agent``: the interactive terminal agent of seed 003 (rich output, prompt_toolkit input).

Enter sends, Ctrl+C cancels the running request, Ctrl+D or exit/quit/bye leaves.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import typer
from rich.console import Console
from rich.panel import Panel

from agent_runtime import __version__
from agent_runtime.agent import Event
from agent_runtime.settings import Settings, load_settings

EXIT_WORDS = {"exit", "quit", "bye"}


def banner(settings: Settings) -> str:
    return (
        f"Connected to LLM: {settings.llm_url}\nNamespace:        {settings.effective_namespace}\n"
        f"Gitea:            {settings.gitea_url or '(not configured)'}\n\n"
        "Type your message and press Enter. Ctrl+C to cancel, Ctrl+D to exit."
    )


async def repl(settings: Settings, console: Console, session: Any, runtime: Any = None) -> int:
    """Run the loop until the user leaves; returns the number of answered requests."""
    from agent_runtime.server import Runtime

    rt = runtime or Runtime.build(settings)
    console.print(Panel(banner(settings), title="kube-agent", border_style="cyan"))
    session_id = "cli"
    answered = 0

    async def show(event: Event) -> None:
        if event.kind == "tool_call":
            console.print(f"[dim]Tool:[/] [bold]{event.data['name']}[/]")
        elif event.kind == "tool_result":
            console.print(
                Panel(
                    event.data["output"][:4000],
                    title=event.data["name"],
                    border_style="green" if event.data["ok"] else "red",
                )
            )
        elif event.kind == "continue":
            console.print(f"[dim]continuing ({event.data['n']})...[/]")

    while True:
        try:
            text = (await session.prompt_async("You: ")).strip()
        except EOFError:
            break
        except KeyboardInterrupt:
            continue
        if not text:
            continue
        if text.lower() in EXIT_WORDS:
            break
        console.print("[dim]Thinking...[/]")
        task = asyncio.create_task(rt.agent.run(text, session_id=session_id, on_event=show))
        try:
            result = await task
        except (KeyboardInterrupt, asyncio.CancelledError):
            task.cancel()
            console.print("[yellow]Cancelled.[/]")
            continue
        except Exception as exc:
            console.print(f"[red]error:[/] {exc}")
            continue
        answered += 1
        console.print(f"[bold cyan]Agent:[/] {result.reply}")
    console.print("Goodbye!")
    if runtime is None:
        await rt.aclose()
    return answered


def _run(
    llm_url: str | None = typer.Option(None, "--llm-url", "-l", help="[KUBE_AGENT_LLM_URL]"),
    llm_model: str | None = typer.Option(None, "--llm-model", "-m", help="[KUBE_AGENT_LLM_MODEL]"),
    llm_api_key: str | None = typer.Option(None, "--llm-api-key", help="[KUBE_AGENT_LLM_API_KEY]"),
    gitea_url: str | None = typer.Option(None, "--gitea-url", "-g", help="[KUBE_AGENT_GITEA_URL]"),
    gitea_token: str | None = typer.Option(None, "--gitea-token", help="[KUBE_AGENT_GITEA_TOKEN]"),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="[KUBE_AGENT_NAMESPACE]"),
    kube_context: str | None = typer.Option(None, "--kube-context", help="[KUBE_AGENT_CONTEXT]"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging"),
    version: bool = typer.Option(False, "--version", help="Print the version"),
) -> None:
    if version:
        typer.echo(f"kube-agent {__version__}")
        raise typer.Exit()
    from prompt_toolkit import PromptSession

    from agent_runtime.observability import configure_logging

    settings = load_settings(
        llm_url=llm_url,
        llm_model=llm_model,
        llm_api_key=llm_api_key,
        gitea_url=gitea_url,
        gitea_token=gitea_token,
        namespace=namespace,
        kube_context=kube_context,
    )
    configure_logging(
        "DEBUG" if verbose else "ERROR", settings.secret_values(), stream=None if verbose else io.StringIO()
    )
    asyncio.run(repl(settings, Console(), PromptSession()))


def main() -> None:
    cli = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})
    cli.command(help=__doc__)(_run)
    cli()
