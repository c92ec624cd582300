"""Validation without holes (issue #22 point 4): what the stack file says beside the platform model is checked by
`agentic validate` with the exact place and the fix, never left to crash `agentic plan` or to be silently lost."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from agentic.cli import app
from config import ConfigError
from config.loader import load_stack
from tests.conftest import PROJECT_ROOT


@pytest.fixture()
def project(tmp_path):
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path)
    return tmp_path


def _write(project, text: str) -> None:
    (project / "Pulumi.dev.yaml").write_text(text)


def _dev() -> str:
    return (PROJECT_ROOT / "Pulumi.dev.yaml").read_text()


def _problems(project) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        load_stack("dev", project)
    return {p.path: p.message for p in exc.value.problems}


def test_a_key_given_twice_is_refused_with_both_lines(project):
    text = _dev().replace("    gateway:\n", "    network:\n      vpc_cidr: 10.9.0.0/16\n    gateway:\n", 1)
    _write(project, text)
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line == "    network:")
    second = [i for i, line in enumerate(text.splitlines(), 1) if line == "    network:"][1]
    (message,) = _problems(project).values()
    assert f"key 'network' is given twice (lines {first} and {second})" in message
    result = CliRunner().invoke(app, ["validate", "--stack", "dev", "-C", str(project)])
    assert result.exit_code == 2 and "given twice" in result.output and "Traceback" not in result.output


def test_a_stack_secret_the_file_does_not_set_is_reported_with_the_command(project):
    text = _dev().replace(
        "hf_token: {name: hf-token, key: token, source: external}",
        "hf_token: {name: hf-token, key: token, source: stack, stack_key: hf-token}",
        1,
    )
    _write(project, text)
    problems = _problems(project)
    (path,) = [p for p in problems if p.endswith("hf_token.stack_key")]
    assert "pulumi config set --secret hf-token <value> --stack dev" in problems[path]
    # set (as Pulumi writes a secret), it is fine
    _write(project, text.replace("config:\n", "config:\n  agentic-platform:hf-token:\n    secure: AAABAx==\n", 1))
    load_stack("dev", project)


def test_the_aws_region_and_the_platforms_region_must_agree(project):
    _write(project, _dev().replace("aws:region: us-west-2", "aws:region: eu-west-1", 1))
    assert "platform.aws.region is us-west-2" in _problems(project)["aws:region"]


def test_an_unquoted_version_gets_a_quote_it_hint(project):
    text = _dev()
    import re

    text = re.sub(r'kubernetes_version: "1\.\d+"', "kubernetes_version: 1.30", text, count=1)
    _write(project, text)
    message = _problems(project)["platform.cluster.kubernetes_version"]
    assert "YAML read it as the number 1.3" in message and 'write "1.30"' in message
