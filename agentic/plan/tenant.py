"""The offline plan of a self-service tenant stack: the platform stack's outputs answer its StackReference.

Those outputs come from a platform plan's ``outputs.json`` (``--platform-outputs``: CI plans the platform first and
hands its outputs to every tenant) or, by default, from planning the referenced platform stack of this project now.
The tenant config is held to the platform's allowance before the program runs, so a refused tenant registers nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config import ConfigError, Problem
from config.loader import PROJECT, load_tenant_stack, stack_file
from config.loader import SECRET as CONFIG_SECRET
from config.tenant_stack import TENANT_ROOT, PlatformFacts, TenantStack, check_platform_stack, validated

OUTPUTS_FILE = "outputs.json"


def platform_outputs(cfg: TenantStack, root: Path, outputs_file: Path | None = None) -> dict[str, Any]:
    """The referenced platform stack's outputs: read from ``outputs_file`` or computed by planning that stack."""
    where = f"{TENANT_ROOT}.platform_stack"
    _org, project, stack = cfg.platform_stack.split("/")
    if outputs_file is not None:
        try:
            doc = json.loads(outputs_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError([Problem(where, f"cannot read platform outputs {outputs_file}: {exc}")]) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("outputs"), dict):
            raise ConfigError([Problem(where, f"{outputs_file} is not a plan's {OUTPUTS_FILE} (no 'outputs' map)")])
        if doc.get("stack") not in (None, stack):
            raise ConfigError(
                [Problem(where, f"{outputs_file} holds the outputs of stack '{doc.get('stack')}', not '{stack}'")]
            )
        return doc["outputs"]
    if project != PROJECT:
        raise ConfigError(
            [
                Problem(
                    where,
                    f"project '{project}' is not this project ({PROJECT}): plan it there and "
                    "pass its outputs.json with --platform-outputs",
                )
            ]
        )
    if not stack_file(stack, root).exists():
        raise ConfigError(
            [
                Problem(
                    where,
                    f"no Pulumi.{stack}.yaml in {root} to plan the platform offline: fix the "
                    "stack name or pass --platform-outputs",
                )
            ]
        )
    from agentic.plan.render import synthesize

    return synthesize(stack, root).run.outputs


def synthesize_tenant(
    stack: str, root: Path, outputs_file: Path | None = None, outputs: dict[str, Any] | None = None
) -> Any:
    """Validate the tenant stack against its platform's allowance, then run the program with the mock engine.
    ``outputs``: the platform's outputs in hand (tests reuse a platform plan's)."""
    from agentic.plan.engine import SELF_MANAGED_ORG, run_program
    from agentic.plan.render import Plan, _run_in
    from policies.rules import Resource, evaluate

    config, cfg = load_tenant_stack(stack, root)
    if outputs is None:
        outputs = platform_outputs(cfg, root, outputs_file)
    problems = check_platform_stack(cfg, SELF_MANAGED_ORG, PROJECT)
    if problems:
        raise ConfigError(problems, f"tenant stack {cfg.name}")
    facts = validated(cfg, outputs.get("tenancy"))
    secret_keys = [k for k, v in config.items() if v == CONFIG_SECRET]
    run = run_program(
        lambda: _run_in(root, root / "__main__.py"),
        project=PROJECT,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        region=facts.region,
        stack_outputs={cfg.platform_stack: outputs},
    )
    findings = evaluate([Resource(r.type, r.name, r.inputs) for r in run.registrations], facts.environment)
    from agentic.plan import cel

    return Plan(
        stack, cfg, run, findings, [], facts=facts, cel=cel.evaluate([r.inputs for r in run.kubernetes_objects()])
    )


def allowance_rows(cfg: TenantStack, facts: PlatformFacts) -> list[tuple[str, str, str]]:
    """(what, this stack asks, the platform allows) for the summary and the terminal."""
    mine = facts.tenants[cfg.name]
    q, top = cfg.quota, mine.quota
    rows = [
        (f"quota.{f}", str(getattr(q, f)), str(getattr(top, f)))
        for f in ("requests_cpu", "requests_memory", "limits_cpu", "limits_memory", "gpus", "pods")
    ]
    rows += [
        ("models", ", ".join(cfg.models) or "-", ", ".join(mine.allow.models) or "-"),
        ("redis", str(cfg.uses.redis).lower(), str(mine.allow.redis).lower()),
        ("milvus", str(cfg.uses.milvus).lower(), str(mine.allow.milvus).lower()),
        ("agents", str(len(cfg.agents)), str(mine.allow.max_agents)),
    ]
    return rows


def tenant_summary(plan: Any, banner: str) -> str:
    from agentic.plan.tables import agent_lines

    cfg, facts, run = plan.config, plan.facts, plan.run
    lines = [
        f"# agentic-platform plan: tenant stack `{plan.stack}`",
        "",
        f"> **{banner}**",
        "",
        f"Tenant **{cfg.name}** (namespace `{cfg.namespace}`) on platform stack `{cfg.platform_stack}` "
        f"(cluster **{facts.cluster_name}**, {facts.environment}, {facts.region}): "
        f"{len(run.registrations)} resources.",
        "",
        "## Allowance (published by the platform stack)",
        "",
        "| | this stack | platform allows |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in allowance_rows(cfg, facts)]
    lines += ["", "## People (EKS access entries, AmazonEKSViewPolicy scoped to the namespace)", ""]
    lines += [f"- `{p.principal_arn}`: {p.role} (group `{cfg.groups(p.role)[0]}`)" for p in cfg.access] or ["- none"]
    lines += ["", "## Resources", "", "| type | count |", "|---|---|"]
    counts: dict[str, int] = {}
    for r in run.registrations:
        if r.custom:
            counts[r.type] = counts.get(r.type, 0) + 1
    lines += [f"| `{t}` | {n} |" for t, n in sorted(counts.items())]
    from agentic.plan.render import cel_lines

    lines += [""] + agent_lines(plan) + ["## Policy report", ""]
    lines += [
        f"- **{'MANDATORY' if f.mandatory else 'advisory'}** `{f.policy}` on `{f.resource}`: {f.message}"
        for f in plan.findings
    ] or ["All policies pass."]
    lines += cel_lines(plan)
    lines += ["", "## Stack outputs", "", "| output | value |", "|---|---|"]
    lines += [f"| {k} | `{v if isinstance(v, str) else json.dumps(v)}` |" for k, v in run.outputs.items()]
    return "\n".join(lines) + "\n"
