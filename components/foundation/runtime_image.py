"""Build the agent-runtime image from agent_runtime/ and push it to the platform's ECR repository, tagged with a hash
of what goes into it (docker-build provider: BuildKit, no Docker daemon state in Pulumi): an unrelated commit
neither retags the image nor restarts the agents that run it, and a plan of an exported tree (no .git) tags it the
same as the working tree."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from catalog import versions
from kit.shared import Shared

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "agent_runtime"


#: What .dockerignore keeps out of the build context (and so out of the tag).
IGNORED_PARTS = {"tests", "__pycache__", ".pytest_cache", ".venv", ".mypy_cache", ".ruff_cache"}
IGNORED_SUFFIXES = (".db", ".egg-info", ".pyc")


def context_files(root: Path = RUNTIME_DIR) -> list[Path]:
    """The files of the image's build context, sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not (set(p.relative_to(root).parts) & IGNORED_PARTS)
        and not any(part.endswith(IGNORED_SUFFIXES) for part in p.relative_to(root).parts)
    )


def content_tag(root: Path = RUNTIME_DIR) -> str:
    """``src-<hash>`` of the build context's files and the build arguments: equal trees, equal tags."""
    h = hashlib.sha256()
    h.update(f"{versions.AGENT_RUNTIME_BASE_IMAGE}\0{versions.KUBECTL}\0".encode())
    for p in context_files(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return "src-" + h.hexdigest()[:16]


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
            # relative to the project (pulumi runs the program there): the same inputs wherever the tree is
            context=docker_build.BuildContextArgs(location=RUNTIME_DIR.name),
            dockerfile=docker_build.DockerfileArgs(location=f"{RUNTIME_DIR.name}/Dockerfile"),
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
