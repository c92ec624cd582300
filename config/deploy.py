"""How CI deploys a stack: ``agentic-platform:deploy`` in its stack file (read by ``agentic ci``, never by the
program). Credentials are short-lived: GitHub's OIDC token is exchanged for the stack's AWS role, and for a Pulumi
Cloud access token when the state lives there; a self-managed S3 backend needs only the AWS role."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from config.base import Strict

KEY = "deploy"


class DeployIdentity(Strict):
    """Who deploys a stack: the AWS role CI assumes and the GitHub environment of its job. For a self-service tenant
    the platform owns it (``platform.tenants[].deploy``): the tenant's own file cannot choose another."""

    aws_role_arn: str = Field(
        pattern=r"^arn:aws[-a-z]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$",
        description="Role CI assumes through GitHub OIDC (one per environment)",
    )
    github_environment: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="GitHub environment of the deploy job: give prod required reviewers",
    )
    preview_role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[-a-z]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$",
        description="Read-only role pull-request previews assume (never the deploy role: pull-request code must not "
        "hold deploy credentials); without it, pull requests get the offline plan and diff only",
    )


class DeployConfig(DeployIdentity):
    backend: Literal["pulumi-cloud", "s3"] = Field(
        default="pulumi-cloud",
        description="pulumi-cloud: OIDC token exchange (pulumi/auth-actions); s3: "
        "pulumi login s3://<state_bucket> with the AWS role",
    )
    pulumi_organization: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    state_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w./-]+)?$")

    @model_validator(mode="after")
    def _backend_settings(self) -> DeployConfig:
        if self.backend == "pulumi-cloud" and not self.pulumi_organization:
            raise ValueError("backend pulumi-cloud needs pulumi_organization (the OIDC token exchange's audience)")
        if self.backend == "s3" and not self.state_bucket:
            raise ValueError("backend s3 needs state_bucket")
        return self

    @property
    def login_url(self) -> str:
        return f"s3://{self.state_bucket}" if self.backend == "s3" else ""
