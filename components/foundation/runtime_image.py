"""Build the agent-runtime image from agent_runtime/ and push it to the platform's ECR repository, tagged with
the git SHA (docker-build provider: BuildKit, no Docker daemon state in Pulumi)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from catalog import versions
from kit.shared import Shared

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "agent_runtime"


def git_sha(root: Path = RUNTIME_DIR.parent) -> str:
    """The commit being deployed (GITHUB_SHA in Actions); '-dirty' when the runtime has uncommitted changes."""
    sha = os.environ.get("GITHUB_SHA")
    if not sha:
        try:
            sha = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--", "agent_runtime"],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            sha += "-dirty" if dirty else ""
        except (OSError, subprocess.CalledProcessError):
            sha = "unversioned"
    return sha[:12] + ("-dirty" if sha.endswith("-dirty") else "")


class RuntimeImage(pulumi.ComponentResource):
    ref: pulumi.Output[str]

    def __init__(self, name: str, repository: Any, tag: str, shared: Shared):
        super().__init__("agentic:aws:RuntimeImage", name, None, shared.aws_opts())
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        repo = pulumi.Output.from_input(repository.repository_url)
        self.image = docker_build.Image(
            f"{name}-image",
            context=docker_build.BuildContextArgs(location=str(RUNTIME_DIR)),
            dockerfile=docker_build.DockerfileArgs(location=str(RUNTIME_DIR / "Dockerfile")),
            platforms=[docker_build.Platform.LINUX_AMD64],
            build_args={"PYTHON_IMAGE": versions.AGENT_RUNTIME_BASE_IMAGE, "KUBECTL_VERSION": versions.KUBECTL},
            tags=[repo.apply(lambda r: f"{r}:{tag}")],
            push=True,
            build_on_preview=False,
            registries=[
                docker_build.RegistryArgs(
                    address=repo.apply(lambda r: r.split("/", 1)[0]),
                    username=token.user_name,
                    password=pulumi.Output.secret(token.password),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ref = self.image.ref
        self.register_outputs({"ref": self.ref})
