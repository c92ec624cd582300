"""``agentic verify`` and ``agentic cluster up|down``: plans on a real control plane (registered by agentic.cli)."""

from __future__ import annotations

from pathlib import Path

import typer

from agentic.common import CWD, EXIT_CONFIG, STACK, _config_failure, _is_tenant, _project, console, err
from config import ConfigError

EXIT_VERIFY = 5
DEFAULT_CLUSTER_DIR = Path("out") / "cluster"


def _control_plane_failure(exc: Exception) -> None:
    err.print(f"[bold red]Control plane:[/] {exc}")
    raise typer.Exit(EXIT_CONFIG)


def verify(
    stack: str = STACK,
    cwd: Path = CWD,
    keep: bool = typer.Option(
        False, "--keep", help="Leave the control plane running (stop it with `agentic cluster down`)"
    ),
    cluster_dir: Path = typer.Option(
        None, "--dir", help="Where the control plane keeps its state (default out/cluster/<stack>)"
    ),
    attach: Path = typer.Option(
        None,
        "--attach",
        help="Apply onto the control plane already running in this directory (`agentic cluster up`) and leave it "
        "running, instead of starting a fresh one",
    ),
) -> None:
    """Apply a stack's plan to a real Kubernetes control plane (etcd, kube-apiserver with EKS's admission plugins,
    controller manager, scheduler; nodes shaped like the pools) and report what it accepts, binds and refuses, then the
    RBAC journeys. A tenant stack is applied on top of its platform. Exit 5 when anything is rejected, refused,
    unschedulable or a journey fails."""
    from agentic.cluster import verify as cverify
    from agentic.cluster.binaries import NotBuilt
    from agentic.cluster.client import ApiError
    from agentic.cluster.harness import ControlPlane, ControlPlaneError
    from agentic.plan.render import synthesize

    root = _project(cwd)
    try:
        if _is_tenant(stack, cwd):
            from agentic.plan.tenant import synthesize_tenant
            from config.loader import load_tenant_stack

            tenant = load_tenant_stack(stack, root)[1]
            platform_stack = tenant.platform_stack.rsplit("/", 1)[-1]
            platform = synthesize(platform_stack, root)
            tenants = [synthesize_tenant(stack, root, outputs=platform.run.outputs)]
        else:
            platform, tenants = synthesize(stack, root), []
    except ConfigError as exc:
        _config_failure(exc)
        raise
    if attach is not None and (keep or cluster_dir is not None):
        err.print("[bold red]--attach[/] uses a running control plane: it takes neither --keep nor --dir")
        raise typer.Exit(EXIT_CONFIG)
    directory = (attach or cluster_dir or root / DEFAULT_CLUSTER_DIR / stack).resolve()
    keep = keep or attach is not None
    try:
        cp = ControlPlane.attach(directory) if attach is not None else cverify.start(directory)
    except (NotBuilt, ControlPlaneError) as exc:
        _control_plane_failure(exc)
        raise
    try:
        result = cverify.verify(cp, platform, tenants)
        lines = result.lines()  # reads the server's version: before it stops
    except (ApiError, ControlPlaneError) as exc:
        _control_plane_failure(exc)
        raise
    finally:
        if not keep:
            cp.stop(clean=True)
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)
    if keep:
        console.print(
            f"control plane {'still' if attach is not None else 'left'} running: "
            f"KUBECONFIG={directory / 'admin.kubeconfig'}; "
            f"stop it with `agentic cluster down --dir {directory}`",
            markup=False,
            soft_wrap=True,
        )
    bad = any(r.of("rejected") or r.pods.refused or r.pods.unschedulable for r in result.reports.values())
    if bad or any(not j.ok for j in result.journeys):
        raise typer.Exit(EXIT_VERIFY)


cluster_app: typer.Typer = typer.Typer(
    no_args_is_help=True, help="A local Kubernetes control plane for trying plans by hand."
)
CLUSTER_DIR = typer.Option(DEFAULT_CLUSTER_DIR / "local", "--dir", help="The control plane's state directory")


@cluster_app.command("up")
def cluster_up(directory: Path = CLUSTER_DIR) -> None:
    """Start etcd, kube-apiserver, kube-controller-manager and kube-scheduler on free loopback ports, install the
    pinned CRDs, and leave them running; prints the kubeconfig to use with kubectl."""
    from agentic.cluster.apply import install_crds
    from agentic.cluster.binaries import NotBuilt
    from agentic.cluster.harness import ControlPlane, ControlPlaneError, stop_from_state

    directory = directory.resolve()
    if stop_from_state(directory):
        console.print(f"stopped the control plane already running in {directory}", markup=False)
    try:
        cp = ControlPlane(directory).start()
    except (NotBuilt, ControlPlaneError) as exc:
        _control_plane_failure(exc)
        raise
    try:
        crds = install_crds(cp.admin())
    except BaseException as exc:  # nothing is left running when the CRDs cannot be installed
        cp.stop(clean=True)
        _control_plane_failure(exc if isinstance(exc, Exception) else RuntimeError("interrupted"))
        raise
    assert cp.state is not None
    console.print(
        f"control plane {cp.version()} up at {cp.state.server} with {crds} pinned CRDs\n"
        f"export KUBECONFIG={directory / 'admin.kubeconfig'}\n"
        f"stop it: agentic cluster down --dir {directory}",
        markup=False,
        soft_wrap=True,
    )


@cluster_app.command("down")
def cluster_down(directory: Path = CLUSTER_DIR) -> None:
    """Stop the processes `agentic cluster up` started in this directory (by PID, only if still theirs)."""
    import shutil

    from agentic.cluster.harness import stop_from_state

    directory = directory.resolve()
    stopped = stop_from_state(directory)
    if not stopped:
        console.print(f"nothing running in {directory}", markup=False)
        return
    shutil.rmtree(directory, ignore_errors=True)
    console.print(f"stopped {', '.join(stopped)}", markup=False)
