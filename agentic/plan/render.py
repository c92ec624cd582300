"""The offline plan: run the real program through the mock engine and write what it would create.

Outputs (under ``out/<stack>`` by default): manifests/, helm/releases.yaml, inventory.json, policy-report.json,
summary.md, graph.svg (+ graph.dot). It is a preview: nothing is deployed, and every file says so.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic.plan.engine import SECRET, ProgramRun, Registration, run_program
from agentic.plan.text import dump_yaml
from catalog.instances import PRICE_SOURCE, PoolCost, pool_cost_ceiling
from config import Platform
from config.loader import PROJECT, load_stack, stack_kind
from config.loader import SECRET as CONFIG_SECRET
from policies.rules import RULES, Finding, Resource, evaluate

BANNER = "OFFLINE PREVIEW - nothing was deployed. Cloud-assigned values are placeholders; secrets are redacted."
SENSITIVE_KEY = re.compile(r"(kubeconfig|password|secret|token|api[_-]?key|private[_-]?key)$", re.IGNORECASE)


@dataclass
class Plan:
    stack: str
    config: Any  # Platform, or TenantStack for a tenant stack
    run: ProgramRun
    findings: list[Finding]
    costs: list[PoolCost]
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    facts: Any = None  # a tenant stack: the platform's published PlatformFacts
    cel: Any = None  # agentic.plan.cel.CelReport: the CRDs' CEL rules on every custom resource

    @property
    def rejected(self) -> list[dict[str, str]]:
        """What the API server would refuse (failed CEL rules)."""
        return list(self.cel.failures) if self.cel is not None else []

    @property
    def is_tenant(self) -> bool:
        return not isinstance(self.config, Platform)

    @property
    def mandatory_violations(self) -> list[Finding]:
        return [f for f in self.findings if f.mandatory]

    @property
    def total_ceiling(self) -> float:
        return round(sum(c.ceiling_usd_per_hour for c in self.costs), 2)


def redact(value: Any, key: str = "") -> Any:
    """Belt and braces on top of Pulumi secret markers: sensitive-named keys never carry a literal value."""
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    named = key.lower().endswith(("ref", "name")) or key == "apiKeySecret"  # kagent: the Secret's name
    if isinstance(value, str) and value and SENSITIVE_KEY.search(key) and not named:
        return SECRET
    return value


def synthesize(stack: str, root: Path | None = None, platform_outputs: Path | None = None) -> Plan:
    """Validate the stack config, run the project's ``__main__.py`` under the mock engine, evaluate the policies.

    ``root`` is the project directory (default: the current directory, as for ``pulumi``). A tenant stack's platform
    outputs come from ``platform_outputs`` (a plan's outputs.json) or from planning that platform stack."""
    root = (root or Path.cwd()).resolve()
    if stack_kind(stack, root) == "tenant":
        from agentic.plan.tenant import synthesize_tenant

        return synthesize_tenant(stack, root, platform_outputs)
    config, platform = load_stack(stack, root)
    secret_keys = [k for k, v in config.items() if v == CONFIG_SECRET]
    program = root / "__main__.py"
    run = run_program(
        lambda: _run_in(root, program),
        project=PROJECT,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        region=platform.aws.region,
        account=platform.aws.account_id,
    )
    findings = evaluate([Resource(r.type, r.name, r.inputs) for r in run.registrations], platform.environment)
    costs = [
        pool_cost_ceiling(p.name, list(p.instance_families), p.limits.gpus, list(p.gpu_counts))
        for p in platform.gpu_pools
    ]
    from agentic.plan import cel

    return Plan(stack, platform, run, findings, costs, cel=cel.evaluate([r.inputs for r in run.kubernetes_objects()]))


def _run_in(root: Path, program: Path) -> None:
    """Run the program as ``pulumi`` does: from its directory, with that directory first on ``sys.path``."""
    import os
    import sys

    old_cwd, old_path = Path.cwd(), list(sys.path)
    os.chdir(root)
    sys.path.insert(0, str(root))
    try:
        runpy.run_path(str(program), run_name="__main__")
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


# --- writers -------------------------------------------------------------------------------------------------------


def manifest_of(r: Registration) -> dict[str, Any]:
    body = {k: v for k, v in r.inputs.items()}
    ordered = {k: body.pop(k) for k in ("apiVersion", "kind", "metadata") if k in body}
    return redact({**ordered, **body})


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-")


def write_manifests(plan: Plan, out: Path) -> list[Path]:
    root = out / "manifests"
    written = []
    for r in plan.run.kubernetes_objects():
        m = manifest_of(r)
        ns = (m.get("metadata") or {}).get("namespace")
        path = (
            root
            / (_slug(ns) if ns else "_cluster")
            / f"{_slug(m.get('kind', 'object'))}-{_slug((m.get('metadata') or {}).get('name', r.name))}.yaml"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {BANNER}\n# pulumi: {r.urn}\n" + dump_yaml(m))
        written.append(path)
    return written


def helm_releases(plan: Plan) -> list[dict[str, Any]]:
    releases = []
    for r in plan.run.of_type("kubernetes:helm.sh/v3:Release"):
        i = r.inputs
        repo = (i.get("repositoryOpts") or {}).get("repo")
        chart = i.get("chart", "")
        releases.append(
            {
                "name": i.get("name", r.name),
                "namespace": i.get("namespace"),
                "chart": chart.rsplit("/", 1)[-1] if chart.startswith("oci://") else chart,
                "repository": repo or chart.rsplit("/", 1)[0],
                "version": i.get("version"),
                "values": redact(i.get("values") or {}),
                "depends_on": [plan.run.by_urn(d).name for d in r.dependencies if _known(plan.run, d)],
                "pulumi_urn": r.urn,
            }
        )
    return releases


def _known(run: ProgramRun, urn: str) -> bool:
    return any(r.urn == urn for r in run.registrations)


def inventory(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "custom": r.custom,
            "parent": r.parent or None,
            "dependencies": r.dependencies,
            "provider": r.provider_urn or None,
            "inputs": redact(r.inputs),
            "secret_inputs": r.secret_paths,
        }
        for r in plan.run.registrations
    ]


def component_of(run: ProgramRun, r: Registration) -> str:
    """The top-level component (direct child of the stack) a resource belongs to."""
    seen = r
    while seen.parent and not seen.parent.endswith("pulumi:pulumi:Stack::" + f"{run.project}-{run.stack}"):
        try:
            seen = run.by_urn(seen.parent)
        except KeyError:
            break
    return seen.name


def runtime_auth_lines(cfg: Platform) -> list[str]:
    """How the platform's agent runtime authenticates callers, and the environment that says so."""
    from config.agents import runtime_auth_env

    auth = cfg.kagent.runtime_auth
    jwt = f"JWT verified with {auth.jwks_url}" if auth.jwks_url else "no identity provider configured"
    words = {"required": "token required", "open-in-cluster": "open inside the cluster (NetworkPolicies guard it)"}
    return [
        f"- runtime /chat and /v1 API: {'token required (' + jwt + ')' if auth.jwks_url else 'open: ' + jwt}",
        f"- A2A (kagent -> agents): {words[auth.a2a]}",
        f"- MCP tool server: {words[auth.mcp]}",
        "- runtime environment: " + ", ".join(f"`{k}={v}`" for k, v in runtime_auth_env(auth).items()),
    ]


def placeholders_used(plan: Plan, texts: list[str]) -> dict[str, str]:
    blob = "\n".join(texts)
    return plan.run.placeholders.found_in(blob)


def cel_lines(plan: Plan) -> list[str]:
    from agentic.plan.cel import markdown_lines

    return markdown_lines(plan.cel)


def summary_markdown(plan: Plan, used: dict[str, str]) -> str:
    from agentic.plan.tables import agent_lines, credential_lines, model_capacity_lines

    run = plan.run
    lines = [f"# agentic-platform plan: stack `{plan.stack}`", "", f"> **{BANNER}**", ""]
    cfg = plan.config
    lines += [
        f"Environment **{cfg.environment}**, region **{cfg.aws.region}**, cluster **{cfg.cluster.name}** "
        f"(Kubernetes {cfg.cluster.kubernetes_version}), {len(run.registrations)} resources.",
        "",
        "## Resources per component",
        "",
        "| component | type | count |",
        "|---|---|---|",
    ]
    per: Counter[tuple[str, str]] = Counter((component_of(run, r), r.type) for r in run.registrations if r.custom)
    for (comp, typ), n in sorted(per.items()):
        lines.append(f"| {comp} | `{typ}` | {n} |")
    lines += [
        "",
        "## GPU pools and cost ceiling",
        "",
        "| pool | families | capacity types | GPU limit | priciest per GPU | $/GPU-h | ceiling $/h |",
        "|---|---|---|---|---|---|---|",
    ]
    for pool, cost in zip(cfg.gpu_pools, plan.costs, strict=False):
        lines.append(
            f"| {pool.name} | {', '.join(pool.instance_families)} | {', '.join(pool.capacity_types)} | "
            f"{pool.limits.gpus} | {cost.worst_instance} | {cost.usd_per_gpu_hour:.3f} | "
            f"{cost.ceiling_usd_per_hour:,.2f} |"
        )
    lines += [
        f"| **total** | | | {sum(p.limits.gpus for p in cfg.gpu_pools)} | | | **{plan.total_ceiling:,.2f}** |",
        "",
        f"Ceiling = GPU limit x the highest on-demand price per GPU among the pool's instance types "
        f"({PRICE_SOURCE}); spot and reserved capacity cost less. CPU pool '{cfg.cpu_pool.name}': "
        f"{cfg.cpu_pool.cpu_limit} vCPU / {cfg.cpu_pool.memory_limit_gib} GiB limit (not priced).",
        "",
    ]
    lines += model_capacity_lines(cfg)
    lines += credential_lines(plan)
    lines += agent_lines(plan)
    lines += [
        "## Policy report",
        "",
    ]
    if plan.findings:
        for f in plan.findings:
            lines.append(
                f"- **{'MANDATORY' if f.mandatory else 'advisory'}** `{f.policy}` on `{f.resource}`: {f.message}"
            )
    else:
        lines.append("All policies pass.")
    lines += cel_lines(plan)
    lines += ["", "## Agent runtime authentication", ""] + runtime_auth_lines(cfg)
    notes = run.outputs.get("plan_notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines += [
        "",
        "## Placeholders the cloud would assign",
        "",
        "These values in the rendered manifests, Helm values and stack outputs are stand-ins; "
        "`pulumi up` replaces them with what AWS assigns:",
        "",
    ]
    if used:
        for value, what in sorted(used.items(), key=lambda kv: kv[1]):
            lines.append(f"- `{value}` = {what}")
    else:
        lines.append("- none appear in manifests, Helm values or stack outputs")
    lines += ["", "## Stack outputs", "", "| output | value |", "|---|---|"]
    for k, v in run.outputs.items():
        shown = v if isinstance(v, str) else json.dumps(v)
        lines.append(f"| {k} | `{shown}` |")
    return "\n".join(lines) + "\n"


MARKER = ".agentic-plan"


class PlanOutputError(Exception):
    """The output directory cannot be used without deleting something the plan did not write."""


def _written_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def check_output_dir(out: Path) -> None:
    """``out`` may be missing, empty, or a previous plan output holding only files that plan wrote."""
    if not out.exists():
        blocker = next((p for p in out.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise PlanOutputError(f"{out}: {blocker} is a file, not a directory: choose another --out")
        return
    if not out.is_dir() or out.is_symlink():
        raise PlanOutputError(f"{out} exists and is not a directory: choose another --out")
    if not any(out.iterdir()):
        return
    marker = out / MARKER
    if not marker.is_file():
        raise PlanOutputError(
            f"{out} is not empty and is not a previous plan output (no {MARKER} file): "
            "choose an empty or new directory for --out; nothing was deleted"
        )
    try:
        listed = set(json.loads(marker.read_text())["files"])
    except (ValueError, KeyError, TypeError):
        raise PlanOutputError(f"{out}/{MARKER} is unreadable: remove the directory yourself") from None
    extra = sorted(_written_files(out) - listed - {MARKER})
    if extra:
        raise PlanOutputError(
            f"{out} holds files a plan did not write ({', '.join(extra[:5])}"
            f"{', ...' if len(extra) > 5 else ''}): move them or choose another --out"
        )


def write_plan(plan: Plan, out: Path) -> Plan:
    """Write the plan into a fresh directory beside ``out``, then swap it in. An existing ``out`` is replaced only
    when it is a previous plan output (marker file) holding nothing else; otherwise PlanOutputError, nothing deleted."""
    out = out.absolute()
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        _write_into(plan, staging)
        (staging / MARKER).write_text(json.dumps({"stack": plan.stack, "files": sorted(_written_files(staging))}))
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "plan")
        os.replace(staging, out)
        if old is not None:
            shutil.rmtree(old)  # the previous plan output: only files it listed (checked above)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    plan.out_dir = out
    plan.files = {k: out / v.relative_to(staging) for k, v in plan.files.items()}
    return plan


def _write_into(plan: Plan, out: Path) -> Plan:
    plan.out_dir = out
    manifests = write_manifests(plan, out)
    helm_dir = out / "helm"
    helm_dir.mkdir()
    releases = helm_releases(plan)
    (helm_dir / "releases.yaml").write_text(f"# {BANNER}\n" + dump_yaml(releases))
    (out / "inventory.json").write_text(
        json.dumps({"notice": BANNER, "stack": plan.stack, "resources": inventory(plan)}, indent=2)
    )
    report = {
        "notice": BANNER,
        "stack": plan.stack,
        "mandatory_violations": len(plan.mandatory_violations),
        "findings": [asdict(f) for f in plan.findings],
        "policies": sorted(rule.name for rule in RULES),
        "cel": plan.cel.as_dict() if plan.cel is not None else None,
    }
    (out / "policy-report.json").write_text(json.dumps(report, indent=2))
    texts = [p.read_text() for p in manifests] + [
        (helm_dir / "releases.yaml").read_text(),
        json.dumps(plan.run.outputs),
    ]
    if plan.is_tenant:
        from agentic.plan.tenant import tenant_summary

        summary = tenant_summary(plan, BANNER)
    else:
        summary = summary_markdown(plan, placeholders_used(plan, texts))
    (out / "summary.md").write_text(summary)
    (out / "cost.json").write_text(
        json.dumps(
            {"notice": BANNER, "total_usd_per_hour": plan.total_ceiling, "pools": [asdict(c) for c in plan.costs]},
            indent=2,
        )
    )
    (out / "outputs.json").write_text(
        json.dumps({"notice": BANNER, "stack": plan.stack, "outputs": redact(plan.run.outputs)}, indent=2)
    )
    from agentic.plan.graph import write_graph

    plan.files = {"summary": out / "summary.md", **write_graph(plan, out)}
    from agentic.plan.report import render

    (out / "index.html").write_text(render(plan, out, manifest_of, releases, BANNER))
    plan.files["report"] = out / "index.html"
    return plan
