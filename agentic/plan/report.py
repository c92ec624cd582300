"""``index.html``: the reviewer's page of a plan, one self-contained file (no network, no external assets) that CI
uploads as an artifact: summary, plan notes, GPU cost, models, agents, credentials, policies and CEL validation, the
diagram, and an object browser with a filter box over every rendered Kubernetes object, Helm release and AWS resource
(IAM, bucket, key and queue policy documents shown as documents, not JSON strings).

The page is a Jinja2 template (``templates/index.html.j2``) rendered with auto-escaping on: every value from the
config or the plan is text, never markup. Only three things enter unescaped, all built here: the style sheet, the
script, and the diagram's SVG (graphviz escapes the labels ``graph.py`` gives it)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from agentic.plan.tables import agent_rows, credential_rows, model_capacity
from agentic.plan.text import dump_yaml

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
.banner{background:#fff4d6;color:#6b4e00;padding:8px 24px;border-bottom:1px solid #ecd48a}
nav{padding:8px 24px;background:#fff;border-bottom:1px solid #e1e4ea;position:sticky;top:0;z-index:1}
nav a{margin-right:14px;color:#1a5fb4;text-decoration:none}nav a:hover{text-decoration:underline}
main{padding:16px 24px;max-width:1400px}section{background:#fff;border:1px solid #e1e4ea;border-radius:6px;
margin:0 0 16px;padding:12px 16px;overflow-x:auto}h2{font-size:16px;margin:4px 0 10px}h3{font-size:14px;margin:14px 0 4px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #e1e4ea;border-radius:6px;padding:8px 14px;
min-width:130px}.card b{display:block;font-size:22px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eef0f3;padding:4px 8px;text-align:left;vertical-align:top}th{background:#fafbfc}
.ok{color:#137333}.bad{color:#b3261e;font-weight:600}.warn{color:#8a5a00}code,pre{font:12px ui-monospace,monospace}
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:420px}details{border-bottom:1px solid #eef0f3}
summary{cursor:pointer;padding:3px 0}#filter{width:min(460px,100%);padding:6px;margin-bottom:8px}
.diagram svg{max-width:100%;height:auto;cursor:zoom-in}.diagram.full svg{max-width:none;cursor:zoom-out}
@media (max-width:900px){main{padding:8px}}.ns{color:#5f6b7a}
.tag{font-size:11px;background:#fde7e9;color:#8c1d18;border-radius:3px;padding:1px 5px}
"""

SCRIPT = r"""
const box=document.getElementById('filter');
box.addEventListener('input',()=>{const words=box.value.toLowerCase().split(/\s+/).filter(Boolean);let n=0;
document.querySelectorAll('#objects details').forEach(d=>{const hit=words.every(w=>d.dataset.key.includes(w));
d.style.display=hit?'':'none';if(hit)n++;});document.getElementById('shown').textContent=n;});
const diagram=document.getElementById('diagram');
if(diagram)diagram.addEventListener('click',()=>diagram.classList.toggle('full'));
if(location.hash.startsWith('#q=')){box.value=decodeURIComponent(location.hash.slice(3));
box.dispatchEvent(new Event('input'));}
"""

# Inputs of AWS resources that hold a policy document as a JSON string (IAM, S3, KMS, SQS, ECR, Secrets Manager).
POLICY_KEYS = ("assumeRolePolicy", "policy")


def script_json(value: Any) -> Markup:
    """JSON that stays JSON inside a ``<script>`` element: the parser reads script text raw (no entity decoding), so
    it is not HTML-escaped; ``<``, ``>`` and ``&`` become \\u escapes, so no value can close the element."""
    text = json.dumps(value, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["script_json"] = script_json


def _yaml(value: Any) -> str:
    return dump_yaml(value)


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON yet, e.g. a value the cloud assigns


def _documents(inputs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The inputs with every policy document parsed from its JSON string, and whether there was one."""
    shown = dict(inputs)
    found = False
    for key in POLICY_KEYS:
        if isinstance(shown.get(key), str):
            found, shown[key] = True, _parsed(shown[key])
    inline = shown.get("inlinePolicies")
    if isinstance(inline, list):
        docs = [{**p, "policy": _parsed(p["policy"])} for p in inline if isinstance(p, dict) and "policy" in p]
        found = found or bool(docs)
        shown["inlinePolicies"] = docs or inline
    return shown, found


def aws_entries(run: Any) -> list[dict[str, Any]]:
    """Every AWS resource of the plan (provider ``aws``), policy documents first, then by kind and name."""
    from agentic.plan.render import component_of, redact

    rows = []
    for r in run.registrations:
        if not (r.custom and r.type.startswith("aws:")):
            continue
        service, kind = r.type.split(":", 1)[1].split("/", 1)[0], r.type.rsplit(":", 1)[-1]
        shown, policy = _documents(redact(r.inputs))
        name = str(r.inputs.get("name") or r.inputs.get("role") or r.inputs.get("bucket") or r.name)
        where = f"aws {service} - {component_of(run, r)}"
        key = f"aws {service} {kind} {name} {r.name} {component_of(run, r)}{' policy' if policy else ''}".lower()
        rows.append({"kind": kind, "name": name, "where": where, "key": key, "policy": policy, "body": _yaml(shown)})
    return sorted(rows, key=lambda e: (not e["policy"], e["kind"], e["name"]))


def render(plan: Any, out: Path, manifest_of: Any, helm_releases: list[dict[str, Any]], banner: str) -> str:
    run = plan.run
    k8s = run.kubernetes_objects()
    kinds = Counter(r.type.rsplit(":", 1)[-1] for r in run.registrations if r.custom)
    cfg = plan.config
    title = f"tenant stack {plan.stack}" if plan.is_tenant else f"stack {plan.stack}"
    where = (
        f"tenant {cfg.name} on {cfg.platform_stack}"
        if plan.is_tenant
        else f"{cfg.environment} / {cfg.aws.region} / cluster {cfg.cluster.name}"
    )
    cel = plan.cel
    objects = []
    for r in sorted(k8s, key=lambda r: (str(r.inputs.get("metadata", {}).get("namespace", "")), r.type, r.name)):
        m = manifest_of(r)
        meta = m.get("metadata") or {}
        objects.append(
            {
                "kind": m.get("kind"),
                "name": meta.get("name"),
                "where": meta.get("namespace", "cluster-wide"),
                "key": f"{m.get('kind')} {meta.get('namespace', '')} {meta.get('name', '')}".lower(),
                "body": _yaml(m),
            }
        )
    releases = [
        {
            "name": rel["name"],
            "where": f"{rel['namespace']} - {rel['chart']} {rel['version']}",
            "key": f"helmrelease {rel['namespace']} {rel['name']} {rel['chart']}".lower(),
            "body": _yaml(rel["values"]),
        }
        for rel in helm_releases
    ]
    aws = aws_entries(run)
    cards = [
        ("resources", len(run.registrations)),
        ("Kubernetes objects", len(objects)),
        ("Helm releases", len(releases)),
        ("AWS resources", len(aws)),
        ("GPU ceiling $/h", f"{plan.total_ceiling:,.2f}"),
        ("policy findings", f"{len(plan.findings)} ({len(plan.mandatory_violations)} mandatory)"),
        ("CEL rules failed", len(cel.failures) if cel else "-"),
    ]
    svg = None
    if (out / "graph.svg").is_file():
        body = (out / "graph.svg").read_text()
        svg = Markup(body[body.index("<svg") :] if "<svg" in body else body)  # noqa: S704 - graphviz output
    sections = {
        "summary": "Summary",
        "notes": "Notes",
        "cost": "GPU cost",
        "models": "Models",
        "agents": "Agents",
        "credentials": "Credentials",
        "policies": "Policies",
        "diagram": "Diagram",
        "browser": "Objects",
    }
    context = {
        "title": title,
        "where": where,
        "banner": banner,
        "style": Markup(STYLE),  # noqa: S704 - constant
        "script": Markup(SCRIPT),  # noqa: S704 - constant
        "cards": cards,
        "blocked": bool(plan.mandatory_violations or (cel and cel.failures)),
        "kinds": kinds.most_common(12),
        "notes": list(run.outputs.get("plan_notes") or []),
        "costs": plan.costs,
        "total_ceiling": f"{plan.total_ceiling:,.2f}",
        "models": [] if plan.is_tenant else model_capacity(cfg),
        "agents": agent_rows(plan),
        "credentials": credential_rows(plan),
        "findings": plan.findings,
        "cel": cel,
        "svg": svg,
        "objects": objects,
        "releases": releases,
        "aws": aws,
        "total_objects": len(objects) + len(releases) + len(aws),
        "data": {"stack": plan.stack},
    }
    shown = {
        k: v for k, v in sections.items() if k not in ("notes", "cost", "models", "agents", "credentials", "diagram")
    }
    for key in ("notes", "models", "agents", "credentials"):
        if context[key]:
            shown[key] = sections[key]
    if plan.costs:
        shown["cost"] = sections["cost"]
    if svg is not None:
        shown["diagram"] = sections["diagram"]
    context["nav"] = [(k, v) for k, v in sections.items() if k in shown]
    return ENV.get_template("index.html.j2").render(context)
