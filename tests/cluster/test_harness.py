"""The harness starts the control plane on loopback ports and stops exactly what it started, even when a test fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentic.cli import app
from agentic.cluster.harness import ControlPlane, port_open, stop_from_state


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


def test_agentic_verify_prints_the_figures_and_leaves_nothing_running():
    runner = CliRunner()
    result = runner.invoke(app, ["verify", "--stack", "tenant-demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dev: control plane v1.35.4" in out and "tenant-demo: objects" in out and "RBAC journeys" in out
    assert "0 rejected" in out
    import subprocess

    left = subprocess.run(["pgrep", "-f", "out/cluster/dev"], capture_output=True, text=True).stdout.strip()
    assert left == ""
