"""`agentic plan --out DIR` never deletes what it did not write: it writes beside DIR and swaps; a non-empty DIR that
is not a previous plan output (or holds extra files) is refused before anything is planned."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agentic.cli import app
from agentic.plan.render import MARKER, PlanOutputError, write_plan


def test_out_dot_in_a_project_directory_is_refused_and_nothing_is_deleted(tmp_path, monkeypatch):
    (tmp_path / "precious.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["plan", "--stack", "dev", "--out", ".", "-C", str(__import__("tests.conftest").conftest.PROJECT_ROOT)]
    )
    assert result.exit_code == 2 and "not a previous plan output" in result.output
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_a_previous_plan_is_replaced_and_its_marker_lists_every_file(plans, tmp_path):
    out = tmp_path / "plan"
    write_plan(plans("dev"), out)
    listed = set(json.loads((out / MARKER).read_text())["files"])
    assert "summary.md" in listed and "inventory.json" in listed
    (out / "summary.md").write_text("stale")
    write_plan(plans("dev"), out)
    assert "stale" not in (out / "summary.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".plan.")]  # no staging leftovers


def test_extra_files_in_a_previous_plan_are_never_deleted(plans, tmp_path):
    out = tmp_path / "plan"
    write_plan(plans("dev"), out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(PlanOutputError, match=r"notes\.txt"):
        write_plan(plans("dev"), out)
    assert (out / "notes.txt").read_text() == "mine"


def test_a_file_in_place_of_the_directory_is_refused(plans, tmp_path):
    target = tmp_path / "plan"
    target.write_text("a file")
    with pytest.raises(PlanOutputError, match="not a directory"):
        write_plan(plans("dev"), target)
    assert target.read_text() == "a file"


def test_empty_and_missing_directories_are_fine(plans, tmp_path):
    (tmp_path / "empty").mkdir()
    write_plan(plans("dev"), tmp_path / "empty")
    write_plan(plans("dev"), tmp_path / "new" / "deep")
    assert (tmp_path / "empty" / "summary.md").exists() and (tmp_path / "new" / "deep" / MARKER).exists()
