"""The harness starts the control plane on loopback ports and stops exactly what it started, even when a test fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentic.cli import app
from agentic.cluster.harness import ControlPlane, port_open, stop_from_state
from agentic.common import EXIT_CONFIG


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_failing_test_leaves_no_process_and_no_listener(tmp_path):
    cp = ControlPlane(tmp_path / "cp")
    with pytest.raises(RuntimeError, match="a test failed"), cp:
        assert cp.state is not None
        pids, ports = dict(cp.state.pids), dict(cp.state.ports)
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "heartbeat"}
        assert all(port_open(p) for p in ports.values())
        raise RuntimeError("a test failed")
    assert not any(_alive(p) for p in pids.values())
    assert not any(port_open(p) for p in ports.values())
    assert not (tmp_path / "cp").exists()


def test_cluster_up_and_down_from_the_cli(tmp_path):
    directory = tmp_path / "local"
    runner = CliRunner()
    up = runner.invoke(app, ["cluster", "up", "--dir", str(directory)])
    try:
        assert up.exit_code == 0, up.output
        assert "export KUBECONFIG=" in up.output and "pinned CRDs" in up.output
        state = json.loads((directory / "state.json").read_text())
        assert all(_alive(p) for p in state["pids"].values())
        assert port_open(state["ports"]["apiserver"])
    finally:
        down = runner.invoke(app, ["cluster", "down", "--dir", str(directory)])
    assert down.exit_code == 0 and "stopped" in down.output
    assert not any(_alive(p) for p in state["pids"].values())
    assert not any(port_open(p) for p in state["ports"].values())
    assert runner.invoke(app, ["cluster", "down", "--dir", str(directory)]).output.startswith("nothing running")
    attached = runner.invoke(app, ["verify", "--stack", "dev", "--attach", str(directory)])
    assert attached.exit_code == EXIT_CONFIG and "no control plane is running" in attached.output


def test_agentic_verify_attached_prints_the_figures_and_leaves_the_control_plane_running(verified):
    """`agentic verify --attach` applies a stack onto a control plane that is already running (here the session's
    dev one, which the dev plan is already on: server-side apply makes it a no-op) and never stops it."""
    cp = verified("dev").control_plane
    assert cp.state is not None
    runner = CliRunner()
    result = runner.invoke(app, ["verify", "--stack", "tenant-demo", "--attach", str(cp.dir)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dev: control plane v1.35.4" in out and "tenant-demo: objects" in out and "RBAC journeys" in out
    assert "0 rejected" in out and "control plane still running" in out
    assert all(_alive(p) for p in cp.state.pids.values())
    bad = runner.invoke(app, ["verify", "--stack", "dev", "--attach", str(cp.dir), "--keep"])
    assert bad.exit_code == EXIT_CONFIG and "takes neither --keep nor --dir" in bad.output


def test_stop_never_signals_a_pid_that_is_no_longer_ours(tmp_path):
    """A state file whose PID now belongs to another program (PID reuse) is left alone."""
    import subprocess
    import sys

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "state.json").write_text(
            json.dumps(
                {
                    "directory": str(tmp_path),
                    "server": "https://127.0.0.1:1",
                    "ports": {},
                    "pids": {"kube-apiserver": other.pid},
                    "commands": {"kube-apiserver": "/nonexistent/kube-apiserver"},
                }
            )
        )
        assert stop_from_state(tmp_path) == []
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_verify_stops_the_control_plane_it_started_unless_kept(monkeypatch, tmp_path):
    """The wiring of `agentic verify` around the control plane (the real start and stop are the harness's, tested
    above): a fresh one is stopped and removed after the report, kept with --keep, and never stopped when attached."""
    from agentic.cluster import verify as cverify

    stopped: list[bool] = []

    class Fake:
        def stop(self, clean: bool = False) -> None:
            stopped.append(clean)

    class Result:
        reports: dict = {}
        journeys: list = []

        def lines(self) -> list[str]:
            return ["figures"]

    monkeypatch.setattr(cverify, "start", lambda d: Fake())
    monkeypatch.setattr(cverify, "verify", lambda cp, platform, tenants: Result())
    runner = CliRunner()
    assert runner.invoke(app, ["verify", "--stack", "dev", "--dir", str(tmp_path)]).exit_code == 0
    assert stopped == [True]
    kept = runner.invoke(app, ["verify", "--stack", "dev", "--dir", str(tmp_path), "--keep"])
    assert kept.exit_code == 0 and "left running" in kept.output and stopped == [True]
