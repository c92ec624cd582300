"""The plan's diagram, drawn as an architecture: one box per top-level component, grouped by the domain that builds
it (``components/<domain>/``), each box listing its main resources by kind with IAM, other AWS, Kubernetes and Helm
kinds told apart by colour. An arrow A -> B means A needs B first (so B is destroyed after A).

Edges are bundled: dependencies inside a domain are drawn between components, dependencies across domains as one
arrow between the two domains (its width and label say how many component pairs it stands for). Both are
transitively reduced, so an arrow implied by a path of others is left out; ``inventory.json`` keeps every edge."""

from __future__ import annotations

import html
import re
import shutil
from collections import Counter
from functools import cache
from itertools import pairwise
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
# domain (package under components/) -> (title, fill)
DOMAINS = {
    "foundation": ("AWS foundation: network, cluster, image", "#fff8e1"),
    "tenancy": ("Tenancy: namespaces, tenants, admission", "#f3e5f5"),
    "secrets": ("Secrets: Secrets Manager -> ExternalSecrets", "#fce4ec"),
    "observability": ("Observability", "#e0f2f1"),
    "nodes": ("Nodes and GPUs", "#fff3e0"),
    "traffic": ("Traffic: Gateway API, kgateway", "#e3f2fd"),
    "serving": ("Model serving", "#e8f5e9"),
    "data": ("Data: Redis, Milvus", "#ede7f6"),
    "agents": ("Agents: kagent, workflows", "#e8eaf6"),
    "other": ("Providers and stack references", "#f5f5f5"),
}
# rows, top to bottom: what each layer needs is below it (the program's build order, folded)
LAYERS = (
    ("foundation", "other"),
    ("tenancy", "secrets"),
    ("nodes", "traffic", "observability"),
    ("serving", "data"),
    ("agents",),
)
# kind families, told apart by colour in every box and in the legend
FAMILIES = {
    "IAM": "#c62828",
    "AWS": "#e65100",
    "Kubernetes": "#1565c0",
    "Helm": "#6a1b9a",
}
ROW = 4
TOKEN = re.compile(r'"agentic:[a-z0-9]+:(\w+)"')


@cache
def component_domains() -> dict[str, str]:
    """Component type name -> its domain, read from where each component is defined (``components/<domain>/``)."""
    root = Path(__file__).resolve().parents[2] / "components"
    found: dict[str, str] = {}
    for path in sorted(root.glob("*/*.py")):
        for name in TOKEN.findall(path.read_text()):
            found[name] = path.parent.name
    return found


def family(typ: str) -> str:
    if typ.startswith("aws:iam/"):
        return "IAM"
    if typ.startswith("kubernetes:helm.sh/"):
        return "Helm"
    if typ.startswith("kubernetes:"):
        return "Kubernetes"
    return "AWS"


def _short(typ: str) -> str:
    return typ.rsplit(":", 1)[-1]


def reachable(edges: set[tuple[str, str]], start: str) -> set[str]:
    """Every node a path of ``edges`` leads to from ``start`` (``start`` included)."""
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def reduce(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Drop each edge whose head is still reachable from its tail through other edges (kept reachability)."""
    kept = set(edges)
    for edge in sorted(edges):
        others = kept - {edge}
        if edge[1] in reachable(others, edge[0]):
            kept = others
    return kept


def _prefix(names: list[str]) -> str:
    """The words (``-``-separated) every component name starts with, e.g. ``agentic-prod-``."""
    if len(names) < 2:
        return ""
    words = []
    for column in zip(*(n.split("-") for n in names), strict=False):
        if len(set(column)) != 1:
            break
        words.append(column[0])
    return "".join(f"{w}-" for w in words)


def _label(title: str, kind: str, families: Counter[str]) -> str:
    # graphviz refuses an empty <FONT>: a component without resources of its own shows a dash
    counts = (
        " ".join(f'<FONT COLOR="{FAMILIES[f]}">&#9632;{families[f]}</FONT>' for f in FAMILIES if families[f]) or "-"
    )
    return (
        f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR><TD><B>{html.escape(title)}</B></TD></TR>'
        f'<TR><TD><FONT POINT-SIZE="8" COLOR="#546e7a">{html.escape(kind)}</FONT></TD></TR>'
        f'<TR><TD><FONT POINT-SIZE="9">{counts}</FONT></TD></TR></TABLE>>'
    )


def write_graph(plan: Plan, out: Path) -> dict[str, Path]:
    from agentic.plan.render import component_of

    run = plan.run
    stack_urn_suffix = f"pulumi:pulumi:Stack::{run.project}-{run.stack}"
    top = [r for r in run.registrations if r.parent.endswith(stack_urn_suffix) and not r.custom]
    standalone = [r for r in run.registrations if r.parent.endswith(stack_urn_suffix) and r.custom]
    comp_of = {r.urn: component_of(run, r) for r in run.registrations}
    domains = component_domains()
    domain_of = {c.name: domains.get(_short(c.type), "other") for c in top}
    domain_of.update({r.name: "other" for r in standalone})
    cut = _prefix([c.name for c in top])
    g = graphviz.Digraph(
        "plan",
        graph_attr={
            "rankdir": "TB",
            "fontname": "Helvetica",
            "fontsize": "13",
            "compound": "true",
            "newrank": "true",
            "label": f"agentic-platform / {plan.stack}: offline preview, nothing deployed (A -> B: A needs B first)",
            "labelloc": "t",
            "nodesep": "0.2",
            "ranksep": "0.35",
        },
        node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "white", "fontname": "Helvetica"},
        edge_attr={"color": "#607d8b", "arrowsize": "0.7"},
    )
    members: dict[str, list[str]] = {}
    for name, dom in domain_of.items():
        members.setdefault(dom, []).append(name)
    for dom, (title, fill) in DOMAINS.items():
        if dom not in members:
            continue
        with g.subgraph(name=f"cluster_{dom}") as sub:
            sub.attr(label=title, style="rounded,filled", fillcolor=fill, color="#b0bec5", fontsize="12")
            for comp in sorted(top, key=lambda c: c.name):  # by name: registration order varies between runs
                if domain_of[comp.name] != dom:
                    continue
                kinds = Counter(
                    family(r.type)
                    for r in run.registrations
                    if r.urn != comp.urn
                    and comp_of[r.urn] == comp.name
                    and r.type not in NOISE
                    and (r.custom or r.type.startswith(("eks:", "kubernetes:yaml")))
                )
                sub.node(comp.name, _label(comp.name.removeprefix(cut), _short(comp.type), kinds), fontsize="10")
            for r in sorted(standalone, key=lambda r: r.name):
                if domain_of[r.name] == dom:
                    sub.node(r.name, f"{_short(r.type)}\n{r.name}", fontsize="10")
    inner: set[tuple[str, str]] = set()
    across: dict[tuple[str, str], Counter[tuple[str, str]]] = {}
    pairs: set[tuple[str, str]] = set()
    for r in run.registrations:
        src = comp_of[r.urn]
        for dep in [*r.dependencies, r.provider_urn]:
            dst = comp_of.get(dep)
            if not dst or dst == src or src not in domain_of or dst not in domain_of or (src, dst) in pairs:
                continue
            pairs.add((src, dst))
            if domain_of[src] == domain_of[dst]:
                inner.add((src, dst))
            else:
                across.setdefault((domain_of[src], domain_of[dst]), Counter())[(src, dst)] += 1
    for src, dst in sorted(reduce(inner)):
        g.edge(src, dst)  # drawn before the grid's invisible edges are added below
    # a domain's components that depend on none of each other stand in rows of at most ROW (invisible edges)
    drawn = reduce(inner)
    linked = {n for pair in inner for n in pair}
    for names in members.values():
        alone = sorted(n for n in names if n not in linked)
        for upper, lower in zip(alone, alone[ROW:], strict=False):
            g.edge(upper, lower, style="invis")
            drawn.add((upper, lower))
    for a, b in sorted(reduce(set(across))):
        n = sum(across[(a, b)].values())
        (tail, head), _ = min(across[(a, b)].items(), key=lambda kv: (-kv[1], kv[0]))  # ties: by name
        g.edge(
            tail,
            head,
            ltail=f"cluster_{a}",
            lhead=f"cluster_{b}",
            penwidth=str(min(1 + n / 3, 4)),
            color="#37474f",
            label=str(n),
            fontsize="9",
            fontcolor="#37474f",
        )
    # invisible edges hold each layer above the one before it: its lowest components over the next one's highest
    tails, heads = {a for a, _ in drawn}, {b for _, b in drawn}
    for before, layer in pairwise(LAYERS):
        highest = [n for d in before for n in sorted(members.get(d, [])) if n not in heads]
        for name in (n for d in layer for n in sorted(members.get(d, [])) if n not in tails):
            for peak in highest:
                g.edge(name, peak, style="invis")
    legend = "".join(
        f'<TR><TD ALIGN="LEFT"><FONT COLOR="{c}">&#9632;</FONT> {f} resources</TD></TR>' for f, c in FAMILIES.items()
    )
    g.node(
        "legend", f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">{legend}</TABLE>>', fontsize="9", shape="note"
    )
    dot_path = out / "graph.dot"
    dot_path.write_text(g.source)
    files = {"graph_dot": dot_path}
    if shutil.which("dot"):
        svg = g.pipe(format="svg")
        (out / "graph.svg").write_bytes(svg)
        files["graph_svg"] = out / "graph.svg"
    return files
