"""``agentic tenant new``: a tenant stack file a team can start from, valid before anyone edits it.

When the referenced platform stack's file is in this project, its ``tenants[]`` entry for the team fills the quota,
models and data stores (its allowance: what the stack may ask for). Otherwise a small default quota is written and the
notes say what the platform team must add. The result is parsed back with the same rules ``agentic plan`` applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from config import ConfigError, Problem
from config.loader import FULL_KEY, PROJECT, load_tenant_stack, read_secrets_provider, read_stack_config, stack_file
from config.tenant_stack import TENANT_ROOT, parse_tenant

DEFAULT_QUOTA = {"requests_cpu": "2", "requests_memory": "4Gi", "limits_cpu": "4", "limits_memory": "8Gi", "pods": 20}


def _allowance(name: str, platform_stack: str, root: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The platform config's tenants[] entry for ``name`` when the platform stack file is here, and notes."""
    _org, project, stack = platform_stack.split("/")
    path = stack_file(stack, root)
    if project != PROJECT or not path.exists():
        return None, [
            f"{platform_stack} is not a stack of this project here: the quota is a default; `agentic plan` "
            "checks it against the platform's allowance"
        ]
    platform = read_stack_config(path).get(FULL_KEY) or {}
    taken = {ns.get("name") for ns in platform.get("namespaces") or [] if isinstance(ns, dict)}
    if name in taken:
        raise ConfigError(
            [
                Problem(
                    f"{TENANT_ROOT}.name",
                    f"'{name}' is a namespace of the platform stack (Pulumi.{stack}.yaml): use the team's name",
                )
            ]
        )
    tenants = platform.get("tenants") or []
    entry = next((t for t in tenants if isinstance(t, dict) and t.get("name") == name), None)
    if entry is None:
        return None, [
            f"the platform stack has no tenant '{name}' yet: the platform team adds to Pulumi.{stack}.yaml "
            f"tenants[]: {{name: {name}, self_service: true, quota: {{...}}, allow: {{...}}}}"
        ]
    if not entry.get("self_service"):
        raise ConfigError(
            [
                Problem(
                    f"{TENANT_ROOT}.name",
                    f"tenant '{name}' is managed by the platform stack "
                    f"(Pulumi.{stack}.yaml, self_service: false): its namespace already has an owner",
                )
            ]
        )
    served = {m.get("name"): m.get("hf_model") for m in platform.get("models") or [] if isinstance(m, dict)}
    return {**entry, "served": served}, []


def _deploy_backend(platform_stack: str, root: Path) -> dict[str, Any]:
    """The platform stack's Pulumi backend settings (its deploy block without role and environment)."""
    path = stack_file(platform_stack.split("/")[-1], root)
    if not path.exists():
        return {}
    deploy = read_stack_config(path).get(f"{PROJECT}:deploy") or {}
    keep = ("backend", "state_bucket", "pulumi_organization")
    return {k: deploy[k] for k in keep if isinstance(deploy, dict) and k in deploy}


def _secrets_provider(platform_stack: str, root: Path) -> str | None:
    path = stack_file(platform_stack.split("/")[-1], root)
    return read_secrets_provider(path) if path.exists() else None


def scaffold_tenant(name: str, platform_stack: str, root: Path) -> tuple[Path, list[str]]:
    """Write ``Pulumi.tenant-<name>.yaml`` in ``root``; ConfigError (nothing written) when it cannot be valid."""
    stack = f"tenant-{name}"
    path = stack_file(stack, root)
    if path.exists():
        raise ConfigError([Problem(str(path), "already exists: edit it, or remove it first (one stack per tenant)")])
    parse_tenant({"name": name, "platform_stack": platform_stack, "quota": DEFAULT_QUOTA}, stack=stack)
    entry, notes = _allowance(name, platform_stack, root)
    allow = (entry or {}).get("allow") or {}
    quota = dict((entry or {}).get("quota") or DEFAULT_QUOTA)
    models = list(allow.get("models") or [])
    body: dict[str, Any] = {
        "name": name,
        "platform_stack": platform_stack,
        "quota": quota,
        "access": [],
        "uses": {"redis": bool(allow.get("redis")), "milvus": bool(allow.get("milvus"))},
        "models": models,
        "model_configs": [
            {"name": m, "provider": "OpenAI", "model": (entry or {}).get("served", {}).get(m) or m, "platform_model": m}
            for m in models
        ],
        "agents": [],
    }
    config: dict[str, Any] = {f"{PROJECT}:tenant": body}
    deploy = _deploy_backend(platform_stack, root)
    if deploy:
        config = {f"{PROJECT}:deploy": deploy, **config}
    text = (
        f"# Tenant stack of '{name}' on {platform_stack} (written by `agentic tenant new`).\n"
        "# Change it by pull request: CI previews it with the policy pack, the platform team approves, it deploys.\n"
        "# The platform stack's tenants[] entry is the ceiling of everything below.\n"
        "#   access: - {principal_arn: arn:aws:iam::<account>:role/<team-role>, role: admin}   (or viewer)\n"
        "#   agents: - {name: helper, model_config: <a model config>, system_message: ...}\n"
        "# deploy: where the state lives (the platform's backend); the role and GitHub environment CI deploys with\n"
        "# are the platform's (its tenants[].deploy), not this file's.\n"
        + (
            "# Stack secrets are encrypted with the platform's KMS key (its deploy role for this tenant may use it).\n"
            + yaml.safe_dump({"secretsprovider": provider})
            if (provider := _secrets_provider(platform_stack, root))
            else ""
        )
        + yaml.safe_dump({"config": config}, sort_keys=False)
    )
    path.write_text(text)
    try:
        load_tenant_stack(stack, root)
    except ConfigError:
        path.unlink()
        raise
    from agentic.ci import _stack_files, stack_job

    try:  # what CI will do with it: a deploy job, or the reason it cannot have one yet
        stack_job(stack, _stack_files(root), root)
    except ConfigError as exc:
        notes += [f"CI cannot deploy it yet: {p}" for p in exc.problems]
    return path, notes
