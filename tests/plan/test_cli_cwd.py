"""The CLI reads Pulumi.<stack>.yaml (and runs __main__.py) from the current directory, like pulumi; -C points
elsewhere. It never falls back to the directory it was installed from."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from agentic.cli import app
from tests.conftest import stack_raw


def write_stack(path, name, raw):
    (path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": {"agentic-platform:platform": raw}}))


def test_validate_reads_the_stack_file_of_the_current_directory(tmp_path, monkeypatch):
    raw = stack_raw("dev")
    raw["cluster"]["name"] = "from-cwd"
    write_stack(tmp_path, "dev", raw)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--stack", "dev"])
    assert result.exit_code == 0, result.output
    assert "'from-cwd'" in result.output


def test_a_directory_without_the_stack_file_is_an_error_not_the_install_location(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--stack", "dev"])
    assert result.exit_code == 2 and "stack file not found" in result.output


def test_dash_c_points_at_another_project(tmp_path, monkeypatch):
    raw = stack_raw("dev")
    raw["cluster"]["name"] = "elsewhere"
    (tmp_path / "proj").mkdir()
    write_stack(tmp_path / "proj", "dev", raw)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--stack", "dev", "-C", str(tmp_path / "proj")])
    assert result.exit_code == 0 and "'elsewhere'" in result.output
