"""The CLI's sharp edges: refs are refs (never options), and every bad path is one line and exit 2, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentic.cli import app
from tests.conftest import PROJECT_ROOT


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["diff", "--stack", "dev", "--base=--output=x.txt", "-C", str(PROJECT_ROOT)],
        ["diff", "--stack", "dev", "--base=--list", "-C", str(PROJECT_ROOT)],
        ["ci", "affected", "--base=--output=X", "-C", str(PROJECT_ROOT)],
        ["diff", "--stack", "dev", "--base", "no-such-ref-anywhere", "-C", str(PROJECT_ROOT)],
    ],
)
def test_a_ref_that_looks_like_an_option_or_is_unknown_is_refused(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = run(args)
    assert code == 2 and ("is not a git ref" in out or "cannot resolve" in out), out
    assert not list(tmp_path.iterdir()), "something was written"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schema", "-o", "{tmp}"], "is a directory"),
        (["schema", "-o", "{tmp}/missing/parent/f.json"], "does not exist"),
        (["ci", "affected", "--all", "--github-output", "{tmp}"], "is a directory"),
        (["diff", "{tmp}", "{tmp}", "--markdown", "{tmp}"], "is a directory"),
        (["plan", "--stack", "dev", "--out", "{file}/sub", "-C", str(PROJECT_ROOT)], "is a file, not a directory"),
    ],
)
def test_bad_output_paths_are_one_line_errors(args, message, tmp_path):
    file = tmp_path / "a-file"
    file.write_text("x")
    code, out = run([a.format(tmp=tmp_path, file=file) for a in args])
    assert code == 2 and message in out and "Traceback" not in out, out
    assert file.read_text() == "x"
    assert not Path(PROJECT_ROOT / "x.txt").exists()


def test_version_and_help_without_rst_markup():
    code, out = run(["--version"])
    assert code == 0 and out.startswith("agentic ")
    for args in (["--help"], ["schema", "--help"], ["plan", "--help"], ["verify", "--help"], ["cluster", "--help"]):
        code, out = run(args)
        assert code == 0 and "``" not in out and ":func:" not in out, args


def test_plan_output_json_is_one_document_on_stdout(tmp_path):
    """Piped into a script: stdout is exactly one JSON document (the tables, banners and markup go nowhere)."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("agentic")),
            "plan",
            "--stack",
            "dev",
            "--output",
            "json",
            "-o",
            str(tmp_path / "p"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert doc["stack"] == "dev" and doc["kind"] == "platform" and doc["resources"] > 300
    assert doc["cel"]["failed"] == 0 and doc["policies"]["mandatory_violations"] == 0
    assert any("kube-agent" in n for n in doc["notes"]) and "inventory.json" in doc["files"]
    assert doc["gpu_pools"] and doc["gpu_cost_ceiling_usd_per_hour"] > 0
    bad = CliRunner().invoke(app, ["plan", "--stack", "dev", "--output", "yaml", "-C", str(PROJECT_ROOT)])
    assert bad.exit_code == 2 and "--output must be text or json" in bad.output
