"""``agentic diff``: two offline plans compared in the vocabulary of ``pulumi preview``.

A plan directory (``agentic plan`` output) holds ``inventory.json`` (every resource's redacted inputs, by URN),
``helm/releases.yaml`` and ``cost.json``. Resources present only in the new plan are created, only in the old one
deleted; changed inputs are an update, or a replace when a changed input forces replacement
(:mod:`catalog.replacements`: the providers' tables; "replacement unknown" where they say nothing). Kubernetes
objects are shown as YAML diffs, Helm releases as values diffs, with the GPU cost ceiling before and after.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.plan.text import dump_yaml
from catalog.replacements import forces_replacement

MAX_VALUE = 80


@dataclass
class Change:
    action: str  # create | update | replace | delete
    urn: str
    type: str
    name: str
    paths: list[tuple[str, Any, Any]] = field(default_factory=list)  # (input path, old, new)
    replace_by: list[str] = field(default_factory=list)  # the changed paths that force replacement
    unknown: list[str] = field(default_factory=list)  # changed paths whose replace behaviour is unknown
    yaml_diff: str = ""

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and not self.type.startswith("kubernetes:helm")


@dataclass
class PlanDiff:
    old: str
    new: str
    changes: list[Change]
    cost_before: float | None
    cost_after: float | None

    @property
    def changed(self) -> bool:
        return bool(self.changes) or self.cost_before != self.cost_after

    def count(self, action: str) -> int:
        return sum(c.action == action for c in self.changes)


def _named(items: list[Any]) -> bool:
    """A list of named entries (containers, env, ports, volumes, route rules, backends): compared by name, so that
    inserting one shows one addition instead of every later entry changing."""
    names = [i.get("name") if isinstance(i, dict) else None for i in items]
    return all(isinstance(n, str) and n and "]" not in n for n in names) and len(set(names)) == len(names)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, str) and value[:1] in "{[":  # providers take some inputs as JSON strings: compare content
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        named = _named(value)
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[name={v['name']}]" if named else f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _inventory(plan_dir: Path) -> dict[str, dict[str, Any]]:
    path = plan_dir / "inventory.json"
    if not path.is_file():
        raise FileNotFoundError(f"{plan_dir} is not a plan output (no inventory.json): run `agentic plan` first")
    return {r["urn"]: r for r in json.loads(path.read_text())["resources"] if r.get("custom", True)}


def _cost(plan_dir: Path) -> float | None:
    path = plan_dir / "cost.json"
    return json.loads(path.read_text()).get("total_usd_per_hour") if path.is_file() else None


def _yaml(inputs: dict[str, Any]) -> list[str]:
    return dump_yaml(inputs, sort_keys=True).splitlines(keepends=True)


def diff_plans(old_dir: Path, new_dir: Path) -> PlanDiff:
    old, new = _inventory(old_dir), _inventory(new_dir)
    changes: list[Change] = []
    for urn in sorted(set(old) | set(new)):
        before, after = old.get(urn), new.get(urn)
        r = after or before
        assert r is not None
        if before is None or after is None:
            action = "create" if before is None else "delete"
            change = Change(action, urn, r["type"], r["name"])
            if r["type"].startswith("kubernetes:") and not r["type"].startswith("kubernetes:helm"):
                a, b = ([], _yaml(r["inputs"])) if before is None else (_yaml(r["inputs"]), [])
                change.yaml_diff = "".join(difflib.unified_diff(a, b, "old", "new", n=2))
            changes.append(change)
            continue
        fb, fa = _flatten(before["inputs"]), _flatten(after["inputs"])
        paths = [(p, fb.get(p), fa.get(p)) for p in sorted(set(fb) | set(fa)) if fb.get(p) != fa.get(p)]
        if not paths:
            continue
        change = Change("update", urn, r["type"], r["name"], paths)
        for p, _, _ in paths:
            verdict = forces_replacement(r["type"], p, after["inputs"])
            if verdict:
                change.replace_by.append(p)
            elif verdict is None:
                change.unknown.append(p)
        if change.replace_by:
            change.action = "replace"
        if change.is_kubernetes:
            change.yaml_diff = "".join(
                difflib.unified_diff(_yaml(before["inputs"]), _yaml(after["inputs"]), "old", "new", n=2)
            )
        elif r["type"] == "kubernetes:helm.sh/v3:Release":  # a values diff
            change.yaml_diff = "".join(
                difflib.unified_diff(
                    _yaml(before["inputs"].get("values") or {}),
                    _yaml(after["inputs"].get("values") or {}),
                    "old values",
                    "new values",
                    n=2,
                )
            )
        changes.append(change)
    return PlanDiff(str(old_dir), str(new_dir), changes, _cost(old_dir), _cost(new_dir))


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def code(value: Any, in_table: bool = False) -> str:
    """``value`` as a Markdown code span that renders exactly as text wherever it lands: a fence longer than any run of
    backticks in it (so a backtick cannot end the span and start an image or a link), line breaks shown as ⏎ (a real
    one would end a table row or let a line of HTML such as ``</details>`` start a block), and ``|`` escaped in
    tables (GFM splits cells before it parses code spans)."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "⏎")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def _shown(value: Any) -> str:
    """A changed value in Markdown: absent (None: the key is not set on that side) in words, anything else as code."""
    return "*(absent)*" if value is None else code(_short(value))


def fenced(body: list[str], info: str) -> list[str]:
    """A fenced code block no line of ``body`` can close: its fence is longer than any backtick run in it."""
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *body, fence]


def summary_line(d: PlanDiff) -> str:
    parts = [f"{d.count(a)} to {a}" for a in ("create", "update", "replace", "delete")]
    cost = ""
    if d.cost_before != d.cost_after:
        cost = f"; GPU cost ceiling ${d.cost_before or 0:,.2f}/h -> ${d.cost_after or 0:,.2f}/h"
    return ", ".join(parts) + cost


SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}


def markdown(d: PlanDiff, max_yaml_lines: int = 60) -> str:
    """The diff as a pull-request comment."""
    lines = ["## agentic-platform plan diff", "", f"**{summary_line(d)}**", ""]
    if d.cost_before is not None or d.cost_after is not None:
        lines += [
            "| GPU cost ceiling | before | after |",
            "|---|---|---|",
            f"| $/h (on-demand, all pools at their limits) | {d.cost_before or 0:,.2f} | {d.cost_after or 0:,.2f} |",
            "",
        ]
    if not d.changes:
        return "\n".join(lines + ["No resource changes."]) + "\n"
    lines += ["| | type | name | changed inputs |", "|---|---|---|---|"]
    for c in d.changes:
        what = ", ".join(code(p, True) for p, _, _ in c.paths[:6]) + (" ..." if len(c.paths) > 6 else "")
        note = (f" (replace: {', '.join(code(r, True) for r in c.replace_by)})" if c.replace_by else "") + (
            " (replacement unknown)" if c.unknown and not c.replace_by else ""
        )
        lines.append(
            f"| `{SYMBOL[c.action]}` {c.action} | {code(c.type, True)} | {code(c.name, True)} | {what}{note} |"
        )
    details = [c for c in d.changes if c.action in ("update", "replace")]
    if details:
        lines += ["", "<details><summary>Changed values (secrets redacted)</summary>", ""]
        for c in details:
            lines.append(f"**{code(c.name)}** ({code(c.type)})")
            lines += [f"- {code(p)}: {_shown(a)} -> {_shown(b)}" for p, a, b in c.paths[:20]]
            if c.yaml_diff:
                lines += ["", *fenced(c.yaml_diff.splitlines()[:max_yaml_lines], "diff")]
            lines.append("")
        lines.append("</details>")
    return "\n".join(lines) + "\n"


def print_terminal(d: PlanDiff, console: Any) -> None:
    from rich.markup import escape
    from rich.syntax import Syntax
    from rich.table import Table

    style = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red"}
    console.print(f"[bold]{summary_line(d)}[/]")
    if not d.changes:
        return
    t = Table(title=escape(f"{d.old} -> {d.new}"))
    for col in ("", "type", "name", "changed inputs"):
        t.add_column(col)
    for c in d.changes:
        notes = []
        if c.replace_by:
            notes.append(f"[magenta]forces replacement: {escape(', '.join(c.replace_by[:3]))}[/]")
        elif c.unknown:
            notes.append("[dim]replacement unknown (the provider decides)[/]")
        changed = "\n".join(escape(f"{p}: {_short(a)} -> {_short(b)}") for p, a, b in c.paths[:5])
        t.add_row(
            f"[{style[c.action]}]{SYMBOL[c.action]} {c.action}[/]",
            escape(c.type),
            escape(c.name),
            "\n".join(filter(None, [changed, *notes])),
        )
    console.print(t)
    for c in d.changes:
        if c.yaml_diff and c.action in ("update", "replace"):
            console.print(f"[bold]{escape(c.name)}[/]")
            console.print(Syntax(c.yaml_diff, "diff", theme="ansi_dark"))
