"""Pre-flight against moto: a clean account passes; each blocker is found and explained."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from agentic.preflight import OWNER_TAG, run_preflight
from config import parse_platform
from tests.conftest import stack_raw


@pytest.fixture()
def aws(monkeypatch):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield boto3.Session(region_name="us-west-2")


def dev_cfg(**changes):
    raw = stack_raw("dev")
    raw["cluster"]["admins"] = [{"principal_arn": "arn:aws:iam::123456789012:role/platform-admins"}]
    for k, v in changes.items():
        raw[k] = v
    return parse_platform(raw)


def make_admin(session):
    session.client("iam").create_role(RoleName="platform-admins", AssumeRolePolicyDocument="{}")


def blockers(report):
    return {c.name: c for c in report.blockers}


def test_clean_account_passes(aws):
    make_admin(aws)
    report = run_preflight(dev_cfg(), aws)
    assert report.blockers == [], [(c.name, c.detail) for c in report.blockers]
    names = {c.name for c in report.checks}
    assert {
        "AWS account",
        "availability zones",
        "GPU pool 'g5' instance types",
        "ECR repository agentic-dev/agent-runtime",
        "KMS alias alias/agentic-dev-eks-secrets",
    } <= names


def test_missing_admin_role_blocks(aws):
    b = blockers(run_preflight(dev_cfg(), aws))
    check = b["cluster admin arn:aws:iam::123456789012:role/platform-admins"]
    assert "does not exist" in check.detail and "platform.cluster.admins[0]" in check.fix


def test_wrong_account_blocks(aws):
    make_admin(aws)
    raw = stack_raw("dev")
    raw["aws"]["account_id"] = "999999999999"
    raw["cluster"]["admins"] = []
    b = blockers(run_preflight(parse_platform(raw), aws))
    assert "stack expects 999999999999" in b["AWS account"].detail


def test_unknown_zone_blocks(aws):
    make_admin(aws)
    raw = stack_raw("dev")
    raw["cluster"]["admins"] = []
    raw["network"]["availability_zones"] = ["us-west-2a", "us-west-2b", "us-west-2z"]
    b = blockers(run_preflight(parse_platform(raw), aws))
    assert "us-west-2z" in b["availability zones"].detail


def test_instance_types_not_offered_block(aws, monkeypatch):
    make_admin(aws)
    real = aws.client

    class NoGpuEc2:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def get_paginator(self, name):
            pag = self.inner.get_paginator(name)

            class P:
                def paginate(self_inner, **kw):
                    for page in pag.paginate(**kw):
                        page["InstanceTypeOfferings"] = [
                            o for o in page["InstanceTypeOfferings"] if not o["InstanceType"].startswith("g5")
                        ]
                        yield page

            return P()

    monkeypatch.setattr(aws, "client", lambda svc, **kw: NoGpuEc2(real(svc, **kw)) if svc == "ec2" else real(svc, **kw))
    b = blockers(run_preflight(dev_cfg(), aws))
    assert "is offered in" in b["GPU pool 'g5' instance types"].detail
    assert "zones" in b["GPU pool 'g5' instance types"].fix


def test_foreign_kms_alias_and_ecr_repo_and_role_block(aws):
    make_admin(aws)
    kms = aws.client("kms")
    key = kms.create_key(Tags=[{"TagKey": "owner", "TagValue": "someone-else"}])["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/agentic-dev-eks-secrets", TargetKeyId=key)
    aws.client("ecr").create_repository(repositoryName="agentic-dev/agent-runtime")
    aws.client("iam").create_role(RoleName="agentic-dev-karpenter-node", AssumeRolePolicyDocument="{}")
    b = blockers(run_preflight(dev_cfg(), aws))
    assert "another owner" in b["KMS alias alias/agentic-dev-eks-secrets"].detail
    assert "not this stack's" in b["ECR repository agentic-dev/agent-runtime"].detail
    assert "IAM role agentic-dev-karpenter-node" in b


def test_resources_already_ours_pass(aws):
    make_admin(aws)
    kms = aws.client("kms")
    key = kms.create_key(Tags=[{"TagKey": OWNER_TAG, "TagValue": "agentic-dev"}])["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/agentic-dev-ecr", TargetKeyId=key)
    aws.client("ecr").create_repository(
        repositoryName="agentic-dev/agent-runtime", tags=[{"Key": OWNER_TAG, "Value": "agentic-dev"}]
    )
    aws.client("sqs").create_queue(QueueName="agentic-dev-karpenter", tags={OWNER_TAG: "agentic-dev"})
    report = run_preflight(dev_cfg(), aws)
    assert report.blockers == []
    assert any(c.detail == "already ours" for c in report.checks)


def test_cli_preflight_exit_code(aws, monkeypatch):
    from typer.testing import CliRunner

    from agentic.cli import app

    result = CliRunner().invoke(app, ["preflight", "--stack", "dev"])
    assert result.exit_code == 4  # the dev stack's admin role does not exist in the empty moto account
    assert "BLOCKER" in result.output and "fix:" in result.output
