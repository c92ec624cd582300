"""agentic: offline plan, config validation, JSON schema, plan diffs, a real control plane and AWS pre-flight for
agentic-platform stacks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer
from rich.panel import Panel
from rich.table import Table

from config import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"agentic {version('agentic-platform')}")
        except PackageNotFoundError:
            typer.echo("agentic (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, is_flag=True, help="Print the version and exit"
    ),
) -> None:
    """agentic: offline plan, config validation, JSON schema, plan diffs, a real control plane and AWS pre-flight for
    agentic-platform stacks."""


from agentic.common import (  # noqa: E402 - the shared options, consoles and exits of every command
    CWD,
    EXIT_CONFIG,
    EXIT_POLICY,
    EXIT_PREFLIGHT,
    STACK,
    _config_failure,
    _is_tenant,
    _load_or_exit,
    _project,
    console,
    err,
    output_file,
    write_output,
)


@app.command()
def validate(stack: str = STACK, cwd: Path = CWD) -> None:
    """Check a stack's platform (or tenant) config and print every problem with its config path."""
    from config import warnings

    if _is_tenant(stack, cwd):
        from config.loader import load_tenant_stack

        try:
            tenant = load_tenant_stack(stack, _project(cwd))[1]
        except ConfigError as exc:
            _config_failure(exc)
        console.print(
            f"[green]ok[/] Pulumi.{stack}.yaml: tenant '{tenant.name}' is valid on its own; `agentic plan "
            f"--stack {stack}` also holds it to {tenant.platform_stack}'s allowance"
        )
        return
    cfg = _load_or_exit(stack, cwd)
    for w in warnings(cfg):
        console.print(f"[yellow]warning[/] [bold]{w.path}[/]: {w.message}")
    console.print(f"[green]ok[/] Pulumi.{stack}.yaml: {cfg.environment} platform '{cfg.cluster.name}' is valid")


@app.command()
def schema(
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout"),
    part: str = typer.Option("file", "--part", help="file (a whole Pulumi.<stack>.yaml), platform, tenant or deploy"),
) -> None:
    """Print the JSON Schema of a whole stack file (platform or tenant stack), or of one of its keys."""
    from agentic.stack_schema import PARTS, part_schema, stack_file_schema

    if part != "file" and part not in PARTS:
        err.print(f"[bold red]--part must be file, {', '.join(PARTS)}[/] (got {part!r})")
        raise typer.Exit(EXIT_CONFIG)
    text = json.dumps(stack_file_schema() if part == "file" else part_schema(part), indent=2)
    if output:
        write_output(output, text + "\n", "--output")
        console.print(f"wrote {output}")
    else:
        typer.echo(text)


@app.command()
def plan(
    stack: str = STACK,
    out: Path = typer.Option(None, "--out", "-o", help="Output directory (default out/<stack>)"),
    cwd: Path = CWD,
    platform_outputs: Path = typer.Option(
        None,
        "--platform-outputs",
        help="Tenant stacks: the platform plan's outputs.json (default: plan the referenced platform stack now)",
        dir_okay=False,
    ),
    output: str = typer.Option("text", "--output", help="text (tables) or json (one document on stdout)"),
) -> None:
    """Run the real program offline through Pulumi's mock engine and write what it would create."""
    from agentic.plan.render import BANNER, PlanOutputError, check_output_dir, synthesize, write_plan

    if output not in ("text", "json"):
        err.print(f"[bold red]--output must be text or json[/] (got {output!r})")
        raise typer.Exit(EXIT_CONFIG)
    project = _project(cwd)
    out_dir = out or project / "out" / stack
    try:
        check_output_dir(out_dir)  # before the slow part: refuse a directory we would have to empty
        result = synthesize(stack, project, platform_outputs)
        write_plan(result, out_dir)
    except ConfigError as exc:
        _config_failure(exc)
    except PlanOutputError as exc:
        err.print(f"[bold red]Cannot write the plan:[/] {exc}")
        raise typer.Exit(EXIT_CONFIG) from None
    if output == "json":
        import json

        from agentic.plan.machine import summary

        print(json.dumps(summary(result, out_dir), indent=2))
    elif result.is_tenant:
        _print_tenant_plan(result, out_dir, BANNER)
    else:
        _print_plan(result, out_dir, BANNER)
    if output != "json":
        console.print(f"[{'red' if result.rejected else 'green'}]{result.cel.line}[/]")
    for f in result.rejected:
        err.print(f"[bold red]rejected[/] {f['resource']} at {f['path']}: {f['message']}")
    if result.mandatory_violations or result.rejected:
        err.print(
            f"[bold red]{len(result.mandatory_violations)} mandatory policy violation(s), "
            f"{len(result.rejected)} object(s) the API server would reject[/]"
        )
        raise typer.Exit(EXIT_POLICY)


def _print_plan(result, out_dir: Path, banner: str) -> None:
    cfg = result.config
    run = result.run
    console.print(Panel.fit(f"[bold]{banner}[/]", title=f"agentic-platform - stack {result.stack}", style="yellow"))
    console.print(
        f"{cfg.environment} / {cfg.aws.region} / cluster [bold]{cfg.cluster.name}[/] "
        f"(Kubernetes {cfg.cluster.kubernetes_version}): [bold]{len(run.registrations)}[/] resources"
    )
    from agentic.plan.render import component_of

    per = Counter(component_of(run, r) for r in run.registrations if r.custom)
    kinds = Counter(r.type.rsplit(":", 1)[-1] for r in run.registrations if r.custom)
    t = Table(title="Resources per component", show_lines=False)
    t.add_column("component")
    t.add_column("resources", justify="right")
    for comp, n in sorted(per.items()):
        t.add_row(comp, str(n))
    console.print(t)
    console.print("Most common kinds: " + ", ".join(f"{k} x{n}" for k, n in kinds.most_common(8)))
    g = Table(title="GPU pools - on-demand cost ceiling implied by each GPU limit")
    for col in ("pool", "families", "capacity", "GPU limit", "priciest/GPU", "ceiling $/h"):
        g.add_column(col, justify="right" if col in ("GPU limit", "ceiling $/h") else "left")
    for pool, cost in zip(cfg.gpu_pools, result.costs, strict=False):
        g.add_row(
            pool.name,
            ",".join(pool.instance_families),
            ",".join(pool.capacity_types),
            str(pool.limits.gpus),
            f"{cost.worst_instance} ${cost.usd_per_gpu_hour:.2f}",
            f"{cost.ceiling_usd_per_hour:,.2f}",
        )
    g.add_row(
        "[bold]total[/]",
        "",
        "",
        str(sum(p.limits.gpus for p in cfg.gpu_pools)),
        "",
        f"[bold]{result.total_ceiling:,.2f}[/]",
    )
    console.print(g)
    from agentic.plan.tables import model_capacity

    rows = model_capacity(cfg)
    if rows:
        mt = Table(title="Models - GPUs at max replicas against each pool's GPU limit")
        for col in ("model", "engine", "pool", "GPUs/replica", "max replicas", "GPUs at max", "pool at max/limit"):
            mt.add_column(col, justify="right" if col[0].isupper() or col.startswith(("max", "pool at")) else "left")
        for r in rows:
            mt.add_row(
                r["model"],
                r["engine"],
                r["pool"],
                str(r["gpus_per_replica"]),
                str(r["max_replicas"]),
                str(r["gpus_at_max"]),
                f"{r['pool_gpus_at_max']}/{r['pool_limit']}",
            )
        console.print(mt)
    from agentic.plan.tables import credential_rows

    creds = credential_rows(result)
    if creds:
        ct = Table(title="Credentials - AWS Secrets Manager, synced by external-secrets (values never shown)")
        for col in ("secret", "value", "synced to (namespace/Secret)"):
            ct.add_column(col)
        for r in creds:
            ct.add_row(r["secret"], r["source"], "\n".join(r["synced_to"]) or "-")
        console.print(ct)
    from agentic.plan.tables import agent_rows

    agents = agent_rows(result)
    if agents:
        at = Table(title="Agents - kagent.dev/v1alpha2 (tools marked (approval) wait for a human)")
        for col in ("agent", "namespace", "type", "model", "tools", "scaling", "AWS", "route"):
            at.add_column(col)
        for r in agents:
            at.add_row(
                r["agent"],
                r["namespace"],
                r["type"],
                r["model"],
                "\n".join(r["tools"]) or "-",
                r["scaling"],
                r["aws"],
                r["route"],
            )
        console.print(at)
    if result.findings:
        for f in result.findings:
            style = "red" if f.mandatory else "yellow"
            console.print(f"[{style}]policy {f.policy}[/] {f.resource}: {f.message}")
    else:
        console.print("[green]policies: all pass[/]")
    from agentic.plan.render import runtime_auth_lines

    for line in runtime_auth_lines(cfg)[:3]:
        console.print(f"[cyan]auth[/] {line[2:]}")
    for note in run.outputs.get("plan_notes") or []:
        console.print(f"[cyan]note[/] {note}")
    console.print(
        f"wrote {out_dir}/: manifests/, helm/releases.yaml, inventory.json, policy-report.json, summary.md, graph.svg"
    )
    if "graph_svg" not in result.files:
        err.print("[yellow]graphviz 'dot' not found: wrote graph.dot only (apt-get install graphviz)[/]")


def _print_tenant_plan(result, out_dir: Path, banner: str) -> None:
    from agentic.plan.tables import agent_rows
    from agentic.plan.tenant import allowance_rows

    cfg, facts, run = result.config, result.facts, result.run
    console.print(
        Panel.fit(f"[bold]{banner}[/]", title=f"agentic-platform - tenant stack {result.stack}", style="yellow")
    )
    console.print(
        f"tenant [bold]{cfg.name}[/] (namespace {cfg.namespace}) on {cfg.platform_stack}: cluster "
        f"[bold]{facts.cluster_name}[/], {facts.environment}/{facts.region}: "
        f"[bold]{len(run.registrations)}[/] resources"
    )
    t = Table(title="Allowance - what this stack asks against what the platform stack allows")
    for col in ("", "this stack", "platform allows"):
        t.add_column(col)
    for row in allowance_rows(cfg, facts):
        t.add_row(*row)
    console.print(t)
    for p in cfg.access:
        console.print(f"[cyan]access[/] {p.principal_arn}: {p.role} in {cfg.namespace}")
    for r in agent_rows(result):
        console.print(f"[cyan]agent[/] {r['agent']} ({r['type']}, model {r['model']}, {r['scaling']})")
    for f in result.findings:
        console.print(f"[{'red' if f.mandatory else 'yellow'}]policy {f.policy}[/] {f.resource}: {f.message}")
    if not result.findings:
        console.print("[green]policies: all pass[/]")
    console.print(f"wrote {out_dir}/: manifests/, inventory.json, policy-report.json, outputs.json, summary.md")


EXIT_CHANGED = 1


@app.command()
def diff(
    old: Path = typer.Argument(None, help="The old plan's directory (with NEW; or use --stack and --base)"),
    new: Path = typer.Argument(None, help="The new plan's directory"),
    stack: str = typer.Option(None, "--stack", "-s", help="Plan this stack in the working tree and at --base"),
    base: str = typer.Option(None, "--base", help="Git ref to compare with (e.g. origin/main)"),
    markdown_out: Path = typer.Option(None, "--markdown", help="Also write the diff as Markdown (a PR comment)"),
    cwd: Path = CWD,
) -> None:
    """Compare two plans as `pulumi preview` would: create, update, replace, delete. Exit 0: no changes; 1: changes."""
    from agentic.plan.diff import diff_plans, markdown, print_terminal

    if markdown_out:
        output_file(markdown_out, "--markdown")
    try:
        if stack and base:
            from agentic.plan.base import plans_against_base

            old, new = plans_against_base(stack, base, _project(cwd))
        elif old is None or new is None:
            err.print("[red]give two plan directories, or --stack and --base[/]")
            raise typer.Exit(EXIT_CONFIG)
        result = diff_plans(old, new)
    except ConfigError as exc:
        _config_failure(exc)
        raise
    except (FileNotFoundError, RuntimeError) as exc:
        err.print(f"[bold red]Cannot diff:[/] {exc}")
        raise typer.Exit(EXIT_CONFIG) from None
    print_terminal(result, console)
    if markdown_out:
        write_output(markdown_out, markdown(result), "--markdown")
        console.print(f"wrote {markdown_out}")
    if result.changed:
        raise typer.Exit(EXIT_CHANGED)


tenant_app = typer.Typer(no_args_is_help=True, help="Self-service tenant stacks (Pulumi.tenant-<name>.yaml).")
app.add_typer(tenant_app, name="tenant")


@tenant_app.command("new")
def tenant_new(
    name: str = typer.Argument(..., help="The tenant's name (namespace tenant-<name>), as in the platform's tenants[]"),
    platform_stack: str = typer.Option(..., "--platform-stack", help="<org>/<project>/<stack> of the platform"),
    cwd: Path = CWD,
) -> None:
    """Write a validated Pulumi.tenant-<name>.yaml, filled from the platform's allowance when its stack is here."""
    from agentic.scaffold import scaffold_tenant

    try:
        path, notes = scaffold_tenant(name, platform_stack, _project(cwd))
    except ConfigError as exc:
        _config_failure(exc)
    for note in notes:
        console.print(f"[yellow]note[/] {note}")
    console.print(
        f"[green]wrote[/] {path}: review it, then `agentic plan --stack tenant-{name}` and open a pull "
        "request (CI previews it with the policy pack; the platform team approves)"
    )


@app.command()
def preflight(stack: str = STACK, cwd: Path = CWD) -> None:
    """Check with the AWS account (read-only calls) that the stack's config can be deployed there."""
    from agentic.preflight import run_preflight

    report = run_preflight(_load_or_exit(stack, cwd))
    for check in report.checks:
        mark = "[green]ok[/]" if check.ok else "[red]BLOCKER[/]"
        console.print(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            console.print(f"    fix: {check.fix}")
    if report.blockers:
        err.print(f"[bold red]{len(report.blockers)} blocker(s): do not deploy yet[/]")
        raise typer.Exit(EXIT_PREFLIGHT)
    console.print("[green]pre-flight passed[/]")


from agentic.ci_cli import ci_app  # noqa: E402 - registered after the helpers they use
from agentic.cluster.commands import cluster_app, verify  # noqa: E402

app.command()(verify)
app.add_typer(cluster_app, name="cluster")
app.add_typer(ci_app, name="ci")


def main() -> None:
    """The ``agentic`` command: run it, then leave without tearing the interpreter down. A prod plan leaves ~10^6
    objects that finalization would free one by one (~1 s of a ~4 s plan); every output is written and closed by now,
    so only the standard streams and logging need flushing."""
    import contextlib
    import logging
    import os
    import sys

    try:
        app()
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else (1 if exc.code else 0)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # the reader went away (`agentic plan | head`): nothing left to tell it
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
