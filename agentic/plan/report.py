"""``index.html``: the reviewer's page of a plan, one self-contained file (no network, no external assets) that CI
uploads as an artifact: summary, GPU cost, policies and CEL validation, the diagram, and an object browser with a
filter box over every rendered Kubernetes object and Helm release."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
.banner{background:#fff4d6;color:#6b4e00;padding:8px 24px;border-bottom:1px solid #ecd48a}
main{padding:16px 24px;max-width:1400px}section{background:#fff;border:1px solid #e1e4ea;border-radius:6px;
margin:0 0 16px;padding:12px 16px}h2{font-size:16px;margin:4px 0 10px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #e1e4ea;border-radius:6px;padding:8px 14px;
min-width:130px}.card b{display:block;font-size:22px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eef0f3;padding:4px 8px;text-align:left;vertical-align:top}th{background:#fafbfc}
.ok{color:#137333}.bad{color:#b3261e;font-weight:600}.warn{color:#8a5a00}code,pre{font:12px ui-monospace,monospace}
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:420px}details{border-bottom:1px solid #eef0f3}
summary{cursor:pointer;padding:3px 0}#filter{width:360px;padding:6px;margin-bottom:8px}.diagram svg{max-width:100%;
height:auto}.ns{color:#5f6b7a}
"""

SCRIPT = r"""
const box=document.getElementById('filter');
box.addEventListener('input',()=>{const words=box.value.toLowerCase().split(/\s+/).filter(Boolean);let n=0;
document.querySelectorAll('#objects details').forEach(d=>{const hit=words.every(w=>d.dataset.key.includes(w));
d.style.display=hit?'':'none';if(hit)n++;});document.getElementById('shown').textContent=n;});
if(location.hash.startsWith('#q=')){box.value=decodeURIComponent(location.hash.slice(3));
box.dispatchEvent(new Event('input'));}
"""


def script_json(value: Any) -> str:
    """JSON that stays JSON inside a ``<script>`` element: the parser reads script text raw (no entity decoding), so
    it is not HTML-escaped; ``<``, ``>`` and ``&`` become \\u escapes, so no value can close the element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _e(text: Any) -> str:
    return html.escape(str(text))


def render(plan: Any, out: Path, manifest_of: Any, helm_releases: list[dict[str, Any]], banner: str) -> str:
    run = plan.run
    objs = run.kubernetes_objects()
    kinds = Counter(r.type.rsplit(":", 1)[-1] for r in run.registrations if r.custom)
    cfg = plan.config
    title = f"tenant stack {plan.stack}" if plan.is_tenant else f"stack {plan.stack}"
    where = (
        f"tenant {cfg.name} on {cfg.platform_stack}"
        if plan.is_tenant
        else f"{cfg.environment} / {cfg.aws.region} / cluster {cfg.cluster.name}"
    )
    mandatory = len(plan.mandatory_violations)
    cel = plan.cel
    cards = [
        ("resources", len(run.registrations)),
        ("Kubernetes objects", len(objs)),
        ("Helm releases", len(helm_releases)),
        ("GPU ceiling $/h", f"{plan.total_ceiling:,.2f}"),
        ("policy findings", f"{len(plan.findings)} ({mandatory} mandatory)"),
        ("CEL rules failed", len(cel.failures) if cel else "-"),
    ]
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>agentic-platform plan: {_e(title)}"
        f"</title><style>{STYLE}</style></head><body>",
        f"<header><h1>agentic-platform plan: {_e(title)}</h1><div>{_e(where)}</div></header>",
        f"<div class=banner>{_e(banner)}</div><main>",
        "<section id=summary><h2>Summary</h2><div class=cards>",
    ]
    parts += [f"<div class=card><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards]
    verdict = (
        "<p class=bad>Blocked: mandatory policy violations or objects the API server would reject.</p>"
        if mandatory or (cel and cel.failures)
        else "<p class=ok>No mandatory violation; every CEL rule that can run passes.</p>"
    )
    parts += ["</div>", verdict, "<table><tr><th>kind</th><th>count</th></tr>"]
    parts += [f"<tr><td>{_e(k)}</td><td>{n}</td></tr>" for k, n in kinds.most_common(12)]
    parts.append("</table></section>")
    if plan.costs:
        parts.append(
            "<section id=cost><h2>GPU pools: on-demand cost ceiling</h2><table><tr><th>pool</th>"
            "<th>GPU limit</th><th>priciest instance</th><th>$/GPU-h</th><th>ceiling $/h</th></tr>"
        )
        parts += [
            f"<tr><td>{_e(c.pool)}</td><td>{c.gpu_limit}</td><td>{_e(c.worst_instance)}</td>"
            f"<td>{c.usd_per_gpu_hour:.2f}</td><td>{c.ceiling_usd_per_hour:,.2f}</td></tr>"
            for c in plan.costs
        ]
        parts.append(
            f"<tr><th>total</th><td></td><td></td><td></td><th>{plan.total_ceiling:,.2f}</th></tr></table></section>"
        )
    parts.append("<section id=policies><h2>Policies and validation</h2>")
    if plan.findings:
        parts.append("<table><tr><th>level</th><th>policy</th><th>resource</th><th>message</th></tr>")
        parts += [
            f"<tr><td class={'bad' if f.mandatory else 'warn'}>{'mandatory' if f.mandatory else 'advisory'}"
            f"</td><td>{_e(f.policy)}</td><td>{_e(f.resource)}</td><td>{_e(f.message)}</td></tr>"
            for f in plan.findings
        ]
        parts.append("</table>")
    else:
        parts.append("<p class=ok>All policies pass.</p>")
    if cel is not None:
        parts.append(f"<p id=cel>{_e(cel.line)}</p>")
        parts += [
            f"<p class=bad>rejected {_e(f['resource'])} at {_e(f['path'])}: {_e(f['message'])}</p>"
            for f in cel.failures
        ]
    parts.append("</section>")
    svg = out / "graph.svg"
    if svg.is_file():
        body = svg.read_text()
        body = body[body.index("<svg") :] if "<svg" in body else body
        parts.append(f"<section id=diagram class=diagram><h2>Components and dependencies</h2>{body}</section>")
    parts.append(
        f"<section id=browser><h2>Kubernetes objects and Helm releases (<span id=shown>"
        f"{len(objs) + len(helm_releases)}</span> of {len(objs)} + {len(helm_releases)})</h2>"
        "<input id=filter placeholder='filter: words of kind, namespace or name, in any order' aria-label=filter>"
        "<div id=objects>"
    )
    for r in sorted(objs, key=lambda r: (str(r.inputs.get("metadata", {}).get("namespace", "")), r.type, r.name)):
        m = manifest_of(r)
        meta = m.get("metadata") or {}
        key = f"{m.get('kind')} {meta.get('namespace', '')} {meta.get('name', '')}".lower()
        parts.append(
            f"<details data-key='{_e(key)}'><summary>{_e(m.get('kind'))} <b>{_e(meta.get('name'))}</b> "
            f"<span class=ns>{_e(meta.get('namespace', 'cluster-wide'))}</span></summary>"
            f"<pre>{_e(yaml.safe_dump(m, sort_keys=False))}</pre></details>"
        )
    for rel in helm_releases:
        key = f"helmrelease {rel['namespace']} {rel['name']} {rel['chart']}".lower()
        parts.append(
            f"<details data-key='{_e(key)}'><summary>HelmRelease <b>{_e(rel['name'])}</b> "
            f"<span class=ns>{_e(rel['namespace'])} - {_e(rel['chart'])} {_e(rel['version'])}</span>"
            f"</summary><pre>{_e(yaml.safe_dump(rel['values'], sort_keys=False))}</pre></details>"
        )
    parts.append(
        f"</div></section></main><script>{SCRIPT}</script>"
        f"<script type=application/json id=plan-data>{script_json({'stack': plan.stack})}</script>"
        "</body></html>"
    )
    return "".join(parts)
