"""`agentic tenant new <name> --platform-stack <org/project/stack>`: a valid tenant stack file, filled from the
platform's allowance when that stack is here, refused (nothing written) when it could not be valid."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from agentic.cli import app
from config.loader import load_tenant_stack
from tests.conftest import PROJECT_ROOT


@pytest.fixture()
def project(tmp_path):
    shutil.copy(PROJECT_ROOT / "Pulumi.dev.yaml", tmp_path)
    return tmp_path


def new(project, *args):
    return CliRunner().invoke(app, ["tenant", "new", *args, "-C", str(project)])


def test_scaffolds_a_valid_stack_from_the_allowance(project):
    result = new(project, "demo", "--platform-stack", "acme/agentic-platform/dev")
    assert result.exit_code == 0, result.output
    _, cfg = load_tenant_stack("tenant-demo", project)  # the same loader and rules as `agentic plan`
    assert cfg.platform_stack == "acme/agentic-platform/dev"
    assert cfg.quota.gpus == 2 and cfg.quota.requests_cpu == "4"  # the allowance's ceiling
    assert cfg.models == ["llama-8b"] and cfg.uses.redis and not cfg.uses.milvus
    assert cfg.model_configs[0].model == "meta-llama/Llama-3.1-8B-Instruct"
    again = new(project, "demo", "--platform-stack", "acme/agentic-platform/dev")
    assert again.exit_code == 2 and "already exists" in again.output


def test_the_new_file_is_one_ci_can_route_and_deploy(project):
    """It carries the platform's backend, and CI deploys it as the platform's tenants[].deploy says."""
    from agentic.ci import _stack_files, affected, stack_job
    from config.loader import read_stack_config

    assert new(project, "demo", "--platform-stack", "organization/agentic-platform/dev").exit_code == 0
    written = read_stack_config(project / "Pulumi.tenant-demo.yaml")
    assert written["agentic-platform:deploy"] == {"backend": "s3", "state_bucket": "acme-pulumi-state/agentic-platform"}
    job = stack_job("tenant-demo", _stack_files(project))
    assert (job.aws_role_arn, job.github_environment) == (
        "arn:aws:iam::111122223333:role/agentic-tenant-demo-deploy",
        "tenant-demo",
    )
    routed = affected(["Pulumi.tenant-demo.yaml"], project)
    assert [s.stack for s in routed.stacks] == ["tenant-demo"]


def test_a_tenant_the_platform_gives_no_deploy_identity_is_written_with_a_note(project):
    result = new(project, "newteam", "--platform-stack", "organization/agentic-platform/dev")
    assert result.exit_code == 0 and "CI cannot deploy it yet" in result.output.replace("\n", " ")


def test_unknown_tenant_gets_a_default_quota_and_the_snippet_for_the_platform_team(project):
    result = new(project, "newteam", "--platform-stack", "acme/agentic-platform/dev")
    assert result.exit_code == 0 and "self_service: true" in result.output
    assert load_tenant_stack("tenant-newteam", project)[1].quota.pods == 20


@pytest.mark.parametrize(
    "name, stack, words",
    [
        ("sandbox", "acme/agentic-platform/dev", "managed by the platform stack"),
        ("ai-agents", "acme/agentic-platform/dev", "is a namespace of the platform stack"),
        ("agents", "acme/agentic-platform/dev", "platform layer or system name"),
        ("Bad_Name", "acme/agentic-platform/dev", "tenant.name"),
        ("team", "not-a-stack", "tenant.platform_stack"),
    ],
)
def test_refused_with_the_path_and_nothing_written(project, name, stack, words):
    result = new(project, name, "--platform-stack", stack)
    assert result.exit_code == 2 and words in result.output.replace("\n", " "), result.output
    assert sorted(p.name for p in project.iterdir()) == ["Pulumi.dev.yaml"]


def test_validate_reads_a_tenant_stack(project):
    assert new(project, "demo", "--platform-stack", "acme/agentic-platform/dev").exit_code == 0
    result = CliRunner().invoke(app, ["validate", "--stack", "tenant-demo", "-C", str(project)])
    assert result.exit_code == 0 and "tenant 'demo' is valid" in result.output
    path = project / "Pulumi.tenant-demo.yaml"
    path.write_text(path.read_text().replace("name: demo", "name: demo\n    colour: blue"))
    result = CliRunner().invoke(app, ["validate", "--stack", "tenant-demo", "-C", str(project)])
    assert result.exit_code == 2 and "tenant.colour" in result.output
