"""The plan's diagram: one box per top-level component, its main resources grouped by kind, and the dependencies
between components (an arrow A -> B means A needs B first, so B is destroyed after A)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import graphviz

if TYPE_CHECKING:
    from agentic.plan.render import Plan

NOISE = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:kms/alias:Alias",
}
COLORS = {
    "agentic:aws": "#fff3e0",
    "agentic:k8s": "#e8f5e9",
    "agentic:platform": "#e3f2fd",
}


def _short(typ: str) -> str:
    return typ.rsplit(":", 1)[-1]


def write_graph(plan: Plan, out: Path) -> dict[str, Path]:
    from agentic.plan.render import component_of

    run = plan.run
    stack_urn_suffix = f"pulumi:pulumi:Stack::{run.project}-{run.stack}"
    top = [r for r in run.registrations if r.parent.endswith(stack_urn_suffix) and not r.custom]
    comp_of = {r.urn: component_of(run, r) for r in run.registrations}
    g = graphviz.Digraph(
        "plan",
        graph_attr={
            "rankdir": "LR",
            "fontname": "Helvetica",
            "fontsize": "12",
            "compound": "true",
            "label": f"agentic-platform / {plan.stack} - offline preview, nothing deployed",
            "labelloc": "t",
            "nodesep": "0.25",
            "ranksep": "0.9",
        },
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "fontname": "Helvetica",
            "fontsize": "10",
        },
        edge_attr={"color": "#607d8b"},
    )
    anchors: dict[str, str] = {}
    standalone = [r for r in run.registrations if r.parent.endswith(stack_urn_suffix) and r.custom]
    for comp in top:
        kinds = Counter(
            _short(r.type)
            for r in run.registrations
            if r.urn != comp.urn
            and comp_of[r.urn] == comp.name
            and r.type not in NOISE
            and (r.custom or r.type.startswith(("eks:", "kubernetes:yaml")))
        )
        color = next((c for p, c in COLORS.items() if comp.type.startswith(p)), "#f5f5f5")
        rows = "".join(
            f'<TR><TD ALIGN="LEFT">{kind}{f" x{n}" if n > 1 else ""}</TD></TR>' for kind, n in sorted(kinds.items())
        )
        label = (
            f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2"><TR><TD><B>{comp.name}</B></TD></TR>'
            f'<TR><TD><FONT POINT-SIZE="9" COLOR="#546e7a">{_short(comp.type)}</FONT></TD></TR>{rows}</TABLE>>'
        )
        g.node(comp.name, label, fillcolor=color)
        anchors[comp.name] = comp.name
    for r in standalone:
        anchors[r.name] = r.name
        g.node(r.name, f"{_short(r.type)}\n{r.name}", fillcolor="#fce4ec")
    edges: set[tuple[str, str]] = set()
    for r in run.registrations:
        src = comp_of[r.urn]
        for dep in [*r.dependencies, r.provider_urn]:
            dst = comp_of.get(dep)
            if dst and dst != src and src in anchors and dst in anchors:
                edges.add((src, dst))
    for src, dst in sorted(edges):
        g.edge(anchors[src], anchors[dst])
    dot_path = out / "graph.dot"
    dot_path.write_text(g.source)
    files = {"graph_dot": dot_path}
    if shutil.which("dot"):
        svg = g.pipe(format="svg")
        (out / "graph.svg").write_bytes(svg)
        files["graph_svg"] = out / "graph.svg"
    return files
