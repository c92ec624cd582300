"""``agentic ci``: what CI needs. ``affected`` (the stacks a change touches, as job matrices), ``trust-policy`` (the
IAM trust policy of a stack's deploy or preview role, for the subjects the workflows' OIDC tokens carry)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agentic.common import CWD, EXIT_CONFIG, _config_failure, _project, err, output_file, write_output
from config import ConfigError

ci_app = typer.Typer(no_args_is_help=True, help="What CI needs: the stacks a change affects, as a job matrix.")


@ci_app.command("affected")
def ci_affected(
    base: str = typer.Option(None, "--base", help="Git ref the change is compared with (e.g. origin/main)"),
    files: list[str] = typer.Option(None, "--file", "-f", help="A changed file (instead of --base); repeatable"),
    all_stacks: bool = typer.Option(False, "--all", help="Every stack (e.g. a manual run)"),
    since_deployed: bool = typer.Option(
        False,
        "--since-deployed",
        help="Each stack against the commit it was last deployed from (tag deployed/<stack>): nothing a cancelled "
        "or failed run left undeployed is skipped",
    ),
    github_output: Path = typer.Option(
        None, "--github-output", help="Append matrix=/image=/any= to this file ($GITHUB_OUTPUT)"
    ),
    cwd: Path = CWD,
) -> None:
    """Print the affected stacks (a JSON job matrix) and whether the agent-runtime image changed. A --base with no
    commit to compare with (a new branch's all-zero 'before', a force push) affects every stack."""
    from agentic.ci import affected, affected_since_deployed, changed_since

    project = _project(cwd)
    if github_output:
        output_file(github_output, "--github-output")
    try:
        if since_deployed:
            result = affected_since_deployed(project)
        else:
            changed = ["Pulumi.yaml"] if all_stacks else list(files or [])
            if not changed:
                since = changed_since(base or "origin/main", project)
                if since is None:
                    err.print(f"no commit to compare with ({base or 'origin/main'}): every stack is affected")
                changed = ["Pulumi.yaml"] if since is None else since
            result = affected(changed, project)
    except ConfigError as exc:
        _config_failure(exc)
        raise
    except RuntimeError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_CONFIG) from None
    matrix = json.dumps(result.matrix(), separators=(",", ":"))
    typer.echo(
        json.dumps(
            {"stacks": [s.stack for s in result.stacks], "image": result.image, "matrix": result.matrix()}, indent=2
        )
    )
    if github_output:
        lines = f"matrix={matrix}\nimage={str(result.image).lower()}\nany={str(bool(result.stacks)).lower()}\n"
        for group, jobs in (("dev", result.first), ("gated", result.gated)):
            lines += (
                f"matrix_{group}={json.dumps({'include': jobs}, separators=(',', ':'))}\n"
                f"any_{group}={str(bool(jobs)).lower()}\n"
            )
        write_output(github_output, lines, "--github-output", append=True)


@ci_app.command("trust-policy")
def ci_trust_policy(
    stack: str = typer.Option(..., "--stack", "-s", help="The stack whose role it is"),
    repository: str = typer.Option(..., "--repository", help="OWNER/REPO of the GitHub repository"),
    role: str = typer.Option("deploy", "--role", help="deploy (its GitHub environment) or preview (pull requests)"),
    cwd: Path = CWD,
) -> None:
    """The IAM trust policy of the stack's deploy role (only its GitHub environment's jobs may assume it) or preview
    role (only pull-request jobs): GitHub's OIDC provider, audience sts.amazonaws.com, the exact subject."""
    from agentic.ci import _stack_files, stack_job, trust_policy

    if role not in ("deploy", "preview"):
        err.print(f"[bold red]--role must be deploy or preview[/] (got {role!r})")
        raise typer.Exit(EXIT_CONFIG)
    try:
        project = _project(cwd)
        job = stack_job(stack, _stack_files(project), project)
        typer.echo(json.dumps(trust_policy(job, repository, role), indent=2))
    except (ConfigError, KeyError, ValueError) as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_CONFIG) from None
