"""`agentic diff` (issue #14 point 1): two real changes planned and compared as `pulumi preview` would show them."""

from __future__ import annotations

import shutil

import pytest
import yaml
from typer.testing import CliRunner

from agentic.cli import app
from agentic.plan.diff import diff_plans, markdown
from agentic.plan.render import synthesize, write_plan
from config.loader import FULL_KEY
from tests.conftest import PROJECT_ROOT, stack_raw


def plan_with(tmp_path, name, change):
    """The dev stack with ``change`` applied, planned in a project directory of its own."""
    project = tmp_path / f"project-{name}"
    project.mkdir()
    for f in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(PROJECT_ROOT / f, project / f)
    raw = stack_raw("dev")
    change(raw)
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": {FULL_KEY: raw}}, sort_keys=False))
    return write_plan(synthesize("dev", project), tmp_path / f"plan-{name}").out_dir


@pytest.fixture(scope="module")
def base(plans, tmp_path_factory):
    return write_plan(plans("dev"), tmp_path_factory.mktemp("base") / "plan").out_dir


def test_gpu_limit_change_is_one_in_place_update_and_doubles_the_ceiling(base, tmp_path):
    new = plan_with(tmp_path, "gpus", lambda r: r["gpu_pools"][0]["limits"].update(gpus=16))
    d = diff_plans(base, new)
    [change] = d.changes
    assert (change.action, change.type) == ("update", "kubernetes:karpenter.sh/v1:NodePool")
    assert change.paths == [("spec.limits.nvidia.com/gpu", "8", "16")] and not change.unknown
    assert "-    nvidia.com/gpu: '8'" in change.yaml_diff and "+    nvidia.com/gpu: '16'" in change.yaml_diff
    assert d.cost_after == pytest.approx(2 * d.cost_before)
    md = markdown(d)
    assert "0 to create, 1 to update, 0 to replace, 0 to delete" in md and "```diff" in md
    result = CliRunner().invoke(app, ["diff", str(base), str(new), "--markdown", str(tmp_path / "c.md")])
    assert result.exit_code == 1 and (tmp_path / "c.md").read_text() == md


def test_adding_a_model_creates_its_server_route_and_scaling(base, tmp_path):
    def add(raw):
        model = dict(raw["models"][0], name="qwen-7b", hf_model="Qwen/Qwen2.5-7B-Instruct")
        model["autoscaling"] = dict(model["autoscaling"], max_replicas=2)
        raw["models"].append(model)
        raw["namespaces"][2]["quota"]["requests_memory"] = "200Gi"
        raw["gpu_pools"][0]["limits"]["gpus"] = 12

    d = diff_plans(base, plan_with(tmp_path, "model", add))
    created = {(c.type.rsplit(":", 1)[-1], c.name) for c in d.changes if c.action == "create"}
    kinds = {k for k, n in created if "qwen-7b" in n}
    assert {"Deployment", "Service", "HTTPRoute", "ScaledObject"} <= kinds, created
    assert d.count("delete") == 0 and d.count("replace") == 0
    create = next(c for c in d.changes if c.action == "create" and c.type.endswith(":Deployment"))
    assert create.yaml_diff.startswith("--- old") and "+kind: Deployment" in create.yaml_diff


def test_renaming_secrets_replaces_them(base, tmp_path):
    d = diff_plans(
        base, plan_with(tmp_path, "prefix", lambda r: r.setdefault("secrets", {}).update(path_prefix="platform/dev"))
    )
    secrets = [c for c in d.changes if c.type == "aws:secretsmanager/secret:Secret"]
    assert secrets and all(c.action == "replace" and c.replace_by == ["name"] for c in secrets)
    assert "replace: `name`" in markdown(d)


def test_unknown_replacement_is_said_and_secrets_stay_redacted(plans, base, tmp_path):
    new = plan_with(
        tmp_path, "rotate", lambda r: r.setdefault("secrets", {}).setdefault("rotation", {}).update({"redis-auth": 2})
    )
    d = diff_plans(base, new)
    assert d.changes
    text = markdown(d)
    for planted in plans("dev").run.placeholders.secrets:
        assert planted not in text
    assert any(c.unknown for c in d.changes if not c.type.startswith("kubernetes:"))


def test_no_change_exits_zero(base):
    result = CliRunner().invoke(app, ["diff", str(base), str(base)])
    assert result.exit_code == 0 and "0 to create, 0 to update, 0 to replace, 0 to delete" in result.output


def test_not_a_plan_directory(tmp_path, base):
    result = CliRunner().invoke(app, ["diff", str(tmp_path), str(base)])
    assert result.exit_code == 2 and "plan output (no inventory.json)" in result.output


def test_against_a_git_ref(tmp_path):
    """The working tree against HEAD, each planned with its own code (the base from `git archive`). The smallest stack:
    what is compared is covered stack by stack in test_an_unchanged_tree_planned_elsewhere_diffs_empty."""
    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = CliRunner().invoke(
        app,
        [
            "diff",
            "--stack",
            "tenant-demo",
            "--base",
            "HEAD",
            "-C",
            str(PROJECT_ROOT),
            "--markdown",
            str(tmp_path / "pr.md"),
        ],
    )
    assert result.exit_code in (0, 1), result.output
    assert "## agentic-platform plan diff" in (tmp_path / "pr.md").read_text()
    bad = CliRunner().invoke(app, ["diff", "--stack", "dev", "--base", "no-such-ref", "-C", str(PROJECT_ROOT)])
    assert bad.exit_code == 2 and "no-such-ref" in bad.output


@pytest.mark.parametrize("stack", ["dev", "prod", "tenant-demo"])
def test_an_unchanged_tree_planned_elsewhere_diffs_empty(stack, tmp_path, plans):
    """What `agentic diff --base <ref>` does to the base (a copy without .git, in a temporary directory) must not
    show up as changes: no image tag from git, no absolute build path, nothing that depends on where the tree is.
    The working tree's side is the session's plan of the project (the same program, in-process)."""
    from agentic.plan.base import plan_in

    skip = shutil.ignore_patterns(".git", ".venv*", "out", "node_modules", "__pycache__", "*.egg-info")
    copy = tmp_path / "tree"
    shutil.copytree(PROJECT_ROOT, copy, ignore=skip)
    plan_in(copy, stack, tmp_path / "old")
    write_plan(plans(stack), tmp_path / "new")
    result = diff_plans(tmp_path / "old", tmp_path / "new")
    assert not result.changed, markdown(result)[:3000]


def test_an_entry_inserted_into_a_named_list_is_one_addition(base, tmp_path):
    """An environment variable inserted before the others shows as that one variable added, not as every later
    entry changed (lists of named items are matched by name, not position)."""

    def add_env(raw):
        byo = next(a for a in raw["kagent"]["agents"] if a.get("type") == "BYO")
        byo["env"] = {"AAA_FIRST": "1", **byo.get("env", {})}  # sorted first in the rendered env list

    d = diff_plans(base, plan_with(tmp_path, "env", add_env))
    agent = next(c for c in d.changes if c.type == "kubernetes:kagent.dev/v1alpha2:Agent")
    assert agent.action == "update"
    assert [(p, a, b) for p, a, b in agent.paths] == [
        ("spec.byo.deployment.env[name=AAA_FIRST].name", None, "AAA_FIRST"),
        ("spec.byo.deployment.env[name=AAA_FIRST].value", None, "1"),
    ]
    assert "*(absent)*" in markdown(d)  # the new entry's old side, said in words
