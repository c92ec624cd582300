"""What every ``agentic`` command shares: the consoles, the --stack/--cwd options, exit codes, config failures."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from config import ConfigError


def _console(stderr: bool = False) -> Console:
    """A terminal gets Rich's fitted tables; piped output (CI logs, files) gets every value whole: no column is cut
    to '…' when there is no terminal to fit."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=400)


console = _console()
err = _console(stderr=True)

STACK = typer.Option(..., "--stack", "-s", help="Stack name (reads Pulumi.<stack>.yaml)")
CWD = typer.Option(
    None,
    "--cwd",
    "-C",
    help="Run as if started in this directory (the project, with Pulumi.<stack>.yaml); "
    "default: the current directory, as for pulumi",
    file_okay=False,
)
EXIT_CONFIG = 2
EXIT_POLICY = 3
EXIT_PREFLIGHT = 4


def _config_failure(exc: ConfigError) -> None:
    err.print(f"[bold red]Invalid config[/] {('in ' + exc.source) if exc.source else ''}")
    for p in exc.problems:
        err.print(f"  [red]x[/] [bold]{p.path}[/]: {p.message}")
    err.print(f"[red]{len(exc.problems)} problem(s); nothing was planned or written.[/]")
    raise typer.Exit(EXIT_CONFIG)


def _project(cwd: Path | None) -> Path:
    return (cwd or Path.cwd()).resolve()


def _load_or_exit(stack: str, cwd: Path | None):
    """The stack's validated config; on invalid config print every problem and exit 2."""
    from config.loader import load_stack

    try:
        return load_stack(stack, _project(cwd))[1]
    except ConfigError as exc:
        _config_failure(exc)


def _is_tenant(stack: str, cwd: Path | None) -> bool:
    from config.loader import stack_kind

    try:
        return stack_kind(stack, _project(cwd)) == "tenant"
    except ConfigError as exc:
        _config_failure(exc)
        raise


def output_file(path: Path, option: str) -> Path:
    """A file an option writes to, checked before any work: not a directory, its directory exists. Exits 2 with one
    line otherwise (never a traceback)."""
    if path.is_dir():
        err.print(f"[red]{option} {path}: is a directory; give a file path[/]")
        raise typer.Exit(EXIT_CONFIG)
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        err.print(f"[red]{option} {path}: its directory {parent} {what}[/]")
        raise typer.Exit(EXIT_CONFIG)
    return path


def write_output(path: Path, text: str, option: str, append: bool = False) -> None:
    try:
        with output_file(path, option).open("a" if append else "w") as f:
            f.write(text)
    except OSError as exc:
        err.print(f"[red]{option} {path}: {exc.strerror or exc}[/]")
        raise typer.Exit(EXIT_CONFIG) from None
