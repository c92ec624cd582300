"""checkov's Kubernetes checks on every object of the dev and prod plans: 0 failed outside the justified skips in
policies/checkov-skips.yaml (each skip must still match a finding)."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from agentic.plan.render import write_manifests
from tests.conftest import PROJECT_ROOT

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS = yaml.safe_load((PROJECT_ROOT / "policies" / "checkov-skips.yaml").read_text())


def findings(plan, out: Path) -> list[tuple[str, str, str]]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make deps` installs checkov")
    write_manifests(plan, out)
    proc = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(out / "manifests"),
            "--framework",
            "kubernetes",
            "-o",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    return [(f["check_id"], f["resource"], f["check_name"]) for f in report["results"]["failed_checks"]]


def skipped(check: str, resource: str) -> bool:
    return any(s["check"] == check and any(fnmatch.fnmatch(resource, r) for r in s["resources"]) for s in SKIPS)


@pytest.fixture(scope="module")
def found(plans, tmp_path_factory) -> dict[str, list[tuple[str, str, str]]]:
    return {stack: findings(plans(stack), tmp_path_factory.mktemp(stack)) for stack in ("dev", "prod")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_checkov_finds_nothing_outside_the_justified_skips(found, stack):
    assert [f for f in found[stack] if not skipped(f[0], f[1])] == []


def test_every_skip_has_a_reason_and_still_matches(found):
    every = [f for fs in found.values() for f in fs]
    for s in SKIPS:
        assert len(s.get("reason", "")) > 40, s
        assert any(f[0] == s["check"] and any(fnmatch.fnmatch(f[1], r) for r in s["resources"]) for f in every), s
