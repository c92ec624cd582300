"""What a change touches, for CI (seed 002's change detection, on this project's layout).

- a platform stack file: that stack, and every tenant stack on it (its allowances may have changed);
- a tenant stack file: that tenant stack only;
- the program (``catalog/``, ``config/``, ``kit/``, ``components/``, ``program/``, ``__main__.py``, ``Pulumi.yaml``,
  the dependency pins) or the policy pack: every stack;
- ``agent_runtime/``: the image build (previewed on pull requests; pushed by ``pulumi up``, tagged with the commit);
- anything else (the CLI, tests, docs, workflows): no stack; the test workflow covers it.

Each stack comes with what its deploy job needs, read from its stack file: region, environment, the AWS role and the
Pulumi backend (``agentic-platform:deploy``), and the policy pack config of its environment.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentic.plan.base import verify_ref
from config import ConfigError, Problem
from config.deploy import DeployConfig
from config.loader import FULL_KEY, PROJECT, read_secrets_provider, read_stack_config
from config.validate import problems_from_pydantic

PROGRAM = (
    "catalog/",
    "config/",
    "kit/",
    "components/",
    "program/",
    "policies/",
    "__main__.py",
    "Pulumi.yaml",
    "pyproject.toml",
    "constraints.txt",
)
IMAGE = ("agent_runtime/",)


@dataclass
class StackJob:
    stack: str
    kind: str  # platform | tenant
    environment: str  # dev | staging | prod (the platform's, for a tenant)
    region: str
    github_environment: str
    aws_role_arn: str
    preview_role_arn: str  # "" when the stack has none: pull requests get the offline plan only
    backend: str
    login_url: str
    pulumi_organization: str
    policy_config: str


@dataclass
class Affected:
    stacks: list[StackJob] = field(default_factory=list)
    image: bool = False

    def matrix(self) -> dict[str, Any]:
        return {"include": [asdict(s) for s in self.stacks]}

    @property
    def first(self) -> list[dict[str, Any]]:
        """Deployed first, with no approval: the dev environment's stacks."""
        return [asdict(s) for s in self.stacks if s.environment == "dev"]

    @property
    def gated(self) -> list[dict[str, Any]]:
        """Deployed after dev succeeded, each behind its GitHub environment's required reviewers."""
        return [asdict(s) for s in self.stacks if s.environment != "dev"]


def _stack_files(project: Path) -> dict[str, dict[str, Any]]:
    return {p.name[len("Pulumi.") : -len(".yaml")]: read_stack_config(p) for p in sorted(project.glob("Pulumi.*.yaml"))}


def _tenant_deploy(stack: str, tenant: str, platform: str, base: dict[str, Any], raw: Any) -> dict[str, Any]:
    """A tenant stack's deploy settings: the role and GitHub environment from the platform's tenants[] entry (the
    platform owns them), the backend from the tenant's file. A tenant file naming another role or environment is
    refused, so CI never runs a tenant's pull request with rights the platform did not give it."""
    tenants = [t if isinstance(t, dict) else {} for t in base.get("tenants") or []]
    index = next((i for i, t in enumerate(tenants) if t.get("name") == tenant), len(tenants))
    owned = tenants[index].get("deploy") if index < len(tenants) else None
    if not isinstance(owned, dict):
        raise ConfigError(
            [
                Problem(
                    f"Pulumi.{platform}.yaml:{FULL_KEY}.tenants[{index}].deploy",
                    f"is not set for tenant '{tenant}': the platform team gives each self-service tenant its deploy "
                    "role and GitHub environment there (aws_role_arn, github_environment)",
                )
            ]
        )
    mine = dict(raw) if isinstance(raw, dict) else {}
    problems = [
        Problem(
            f"Pulumi.{stack}.yaml:{PROJECT}:deploy.{key}",
            f"'{mine[key]}' is not the {key} the platform gives tenant '{tenant}' ('{owned.get(key)}', "
            f"Pulumi.{platform}.yaml tenants[{index}].deploy): remove it from this file",
        )
        for key in ("aws_role_arn", "github_environment", "preview_role_arn")
        if key in mine and mine[key] != owned.get(key)
    ]
    if problems:
        raise ConfigError(problems)
    keys = ("aws_role_arn", "github_environment", "preview_role_arn")
    return {**mine, **{k: owned[k] for k in keys if owned.get(k) is not None}}


def _kms_provider(stack: str, project: Path, region: str) -> list[Problem]:
    """An S3 backend keeps stack secrets encrypted with a KMS key named in the stack file, so no job (and no person)
    needs a passphrase."""
    provider = read_secrets_provider(project / f"Pulumi.{stack}.yaml")
    if provider and provider.startswith("awskms://"):
        return []
    return [
        Problem(
            f"Pulumi.{stack}.yaml:secretsprovider",
            f"is {provider or 'not set (a passphrase)'}: an s3 backend keeps stack secrets with a KMS key - run "
            f"`pulumi stack change-secrets-provider --stack {stack} 'awskms://alias/<key>?region={region}'`",
        )
    ]


def stack_job(stack: str, configs: dict[str, dict[str, Any]], project: Path | None = None) -> StackJob:
    """What the deploy and preview jobs of ``stack`` need; with ``project``, its stack file is also checked for a
    KMS secrets provider when its state lives in S3."""
    config = configs[stack]
    tenant = config.get(f"{PROJECT}:tenant")
    if tenant is not None:
        platform = str(tenant.get("platform_stack", "")).rsplit("/", 1)[-1]
        if platform not in configs:
            raise ConfigError(
                [
                    Problem(
                        f"Pulumi.{stack}.yaml:tenant.platform_stack",
                        f"platform stack '{platform}' has no stack file here: CI cannot tell its "
                        "region and environment",
                    )
                ]
            )
        kind, base = "tenant", configs[platform].get(FULL_KEY) or {}
    else:
        kind, base = "platform", config.get(FULL_KEY) or {}
    raw = config.get(f"{PROJECT}:deploy")
    if kind == "tenant":
        raw = _tenant_deploy(stack, str(tenant.get("name", "")), platform, base, raw)  # type: ignore[union-attr]
    if raw is None:
        raise ConfigError(
            [
                Problem(
                    f"Pulumi.{stack}.yaml:{PROJECT}:deploy",
                    "is not set: CI needs the AWS role, "
                    "GitHub environment and Pulumi backend of this stack (see README, CI/CD)",
                )
            ]
        )
    try:
        deploy = DeployConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems_from_pydantic(exc, DeployConfig, f"Pulumi.{stack}.yaml:{PROJECT}:deploy")) from None
    env = str(base.get("environment", "dev"))
    region = str((base.get("aws") or {}).get("region", ""))
    if project is not None and deploy.backend == "s3" and (problems := _kms_provider(stack, project, region)):
        raise ConfigError(problems)
    return StackJob(
        stack,
        kind,
        env,
        str((base.get("aws") or {}).get("region", "")),
        deploy.github_environment,
        deploy.aws_role_arn,
        deploy.preview_role_arn or "",
        deploy.backend,
        deploy.login_url,
        deploy.pulumi_organization or "",
        f"policies/config.{env}.json",
    )


def affected(changed: list[str], project: Path) -> Affected:
    configs = _stack_files(project)
    tenants_of: dict[str, list[str]] = {}
    for name, config in configs.items():
        tenant = config.get(f"{PROJECT}:tenant")
        if tenant is not None:
            tenants_of.setdefault(str(tenant.get("platform_stack", "")).rsplit("/", 1)[-1], []).append(name)
    wanted: set[str] = set()
    image = False
    for path in changed:
        if path.startswith(PROGRAM) or path in PROGRAM:
            wanted |= set(configs)
        elif path.startswith(IMAGE):
            image = True
        elif path.startswith("Pulumi.") and path.endswith(".yaml") and "/" not in path:
            stack = path[len("Pulumi.") : -len(".yaml")]
            if stack in configs:  # a deleted stack file previews nothing (pulumi stack rm is a human's call)
                wanted.add(stack)
                wanted |= set(tenants_of.get(stack, []))
    order = sorted(wanted, key=lambda s: (f"{PROJECT}:tenant" in configs[s], s))  # platforms first
    return Affected([stack_job(s, configs, project) for s in order], image)


def changed_files(base: str, project: Path) -> list[str]:
    """Files changed between ``base`` and HEAD (three-dot: since the branch left base), relative to the project."""
    done = subprocess.run(
        [
            "git",
            "-C",
            str(project),
            "diff",
            "--name-only",
            "--relative",
            "--end-of-options",
            f"{verify_ref(project, base)}...HEAD",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git diff against {base!r} failed: {done.stderr.strip()[:200]}")
    return [line for line in done.stdout.splitlines() if line]


#: A push's ``before`` on a new branch (and what some force pushes report): no commit to compare with.
NO_COMMIT = "0" * 40
#: The tag a deploy job moves to the commit it deployed, per stack: where the next deploy of that stack starts.
DEPLOYED_TAG = "deployed/{stack}"


def _git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=False)


def is_ancestor(project: Path, ref: str) -> bool:
    """Whether ``ref`` is a commit HEAD descends from (a force push can leave ``before`` off the history)."""
    return _git(project, "merge-base", "--is-ancestor", "--end-of-options", ref, "HEAD").returncode == 0


def changed_since(base: str, project: Path) -> list[str] | None:
    """Files changed since ``base``, or None when there is nothing to compare with (a new branch's all-zero
    ``before``, a commit HEAD does not descend from after a force push): then every stack is affected, never none.
    A ref git cannot resolve (or one that reads as an option) is a RuntimeError, as everywhere."""
    if base == NO_COMMIT:
        return None
    commit = verify_ref(project, base)
    if not is_ancestor(project, commit):
        return None
    return changed_files(commit, project)


def affected_since_deployed(project: Path) -> Affected:
    """Each stack against the commit it was last deployed from (tag ``deployed/<stack>``), so a cancelled,
    superseded or failed run never loses a change: what was not deployed stays affected until it is."""
    configs = _stack_files(project)
    stacks: list[str] = []
    image = False
    for stack in configs:
        tag = DEPLOYED_TAG.format(stack=stack)
        known = _git(project, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}").returncode == 0
        changed = changed_since(tag, project) if known else None  # never deployed: affected
        if changed is None:
            stacks.append(stack)
            continue
        found = affected(changed, project)
        image = image or found.image
        if stack in {s.stack for s in found.stacks}:
            stacks.append(stack)
    order = sorted(stacks, key=lambda s: (f"{PROJECT}:tenant" in configs[s], s))
    return Affected([stack_job(s, configs, project) for s in order], image)


GITHUB_OIDC = "token.actions.githubusercontent.com"


def oidc_subject(job: StackJob, repository: str, role: str) -> str:
    """The ``sub`` claim of the workflow jobs that assume the stack's role: deploy jobs run in the stack's GitHub
    environment (deploy.yml: ``environment: ${{ matrix.github_environment }}``), previews on pull requests."""
    if role == "preview":
        return f"repo:{repository}:pull_request"
    return f"repo:{repository}:environment:{job.github_environment}"


def trust_policy(job: StackJob, repository: str, role: str) -> dict[str, Any]:
    """The IAM trust policy document for the stack's ``role`` (deploy or preview)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise ValueError(f"--repository {repository!r} is not OWNER/REPO")
    arn = job.preview_role_arn if role == "preview" else job.aws_role_arn
    if not arn:
        raise ValueError(f"stack {job.stack} has no {role} role (agentic-platform:deploy.preview_role_arn)")
    partition, account = arn.split(":")[1], arn.split(":")[4]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_OIDC}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC}:sub": oidc_subject(job, repository, role),
                    }
                },
            }
        ],
    }
