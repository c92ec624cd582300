"""CEL validation rules of the pinned CRDs (``x-kubernetes-validations``), evaluated on every rendered custom resource
as the API server would, with the common-expression-language library (CEL's Rust interpreter).

The rules are indexed once from ``catalog/crds`` into ``catalog/crds/cel-rules.json`` (``python -m agentic.plan.cel``
regenerates it; a test keeps it equal to the CRDs), so a plan reads a small JSON file instead of 5 MB of YAML.

Kubernetes' CEL library functions the pinned CRDs use: ``quantity`` with ``isGreaterThan``/``isLessThan`` (the
quantity library), ``find`` (regex library), ``split`` (strings library) - implemented here (``FUNCTIONS``); ``orValue`` and the ``.?``
optional syntax (optionals library) - the library's parser refuses ``.?``, so such rules are reported as skipped with
that reason, as are transition rules (they read ``oldSelf``, the object's previous state, which a plan has not).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

CRDS = Path(__file__).resolve().parents[2] / "catalog" / "crds"
INDEX = CRDS / "cel-rules.json"
UNKNOWN_MARKERS = ("(known after apply)", "[secret]")


# --- the index ---------------------------------------------------------------------------------------------------


def _rules_at(
    schema: dict[str, Any], path: list[str], out: list[dict[str, Any]], defaults: list[dict[str, Any]]
) -> None:
    for r in schema.get("x-kubernetes-validations") or []:
        out.append(
            {
                "path": path,
                "rule": r["rule"],
                "message": r.get("message") or r.get("messageExpression") or f"failed rule: {r['rule']}",
            }
        )
    if "default" in schema and path:
        defaults.append({"path": path, "default": schema["default"]})
    for name, sub in (schema.get("properties") or {}).items():
        _rules_at(sub, [*path, name], out, defaults)
    if isinstance(schema.get("items"), dict):
        _rules_at(schema["items"], [*path, "[]"], out, defaults)
    if isinstance(schema.get("additionalProperties"), dict):
        _rules_at(schema["additionalProperties"], [*path, "{}"], out, defaults)


def build_index(crd_dir: Path = CRDS) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``apiVersion/Kind`` -> every rule of that served version with the schema path it applies at, and the schema's
    defaults (the API server applies them before it runs the rules)."""
    import yaml

    index: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in sorted(crd_dir.rglob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions") or []:
                rules: list[dict[str, Any]] = []
                defaults: list[dict[str, Any]] = []
                _rules_at((version.get("schema") or {}).get("openAPIV3Schema") or {}, [], rules, defaults)
                if rules:
                    index[f"{spec['group']}/{version['name']}/{spec['names']['kind']}"] = {
                        "rules": rules,
                        "defaults": defaults,
                    }
    return dict(sorted(index.items()))


@lru_cache(maxsize=1)
def load_index() -> dict[str, dict[str, list[dict[str, Any]]]]:
    return json.loads(INDEX.read_text())


def with_defaults(value: Any, defaults: list[dict[str, Any]]) -> Any:
    """A copy of ``value`` with the schema's defaults filled in where a parent exists and the field is absent."""
    import copy

    out = copy.deepcopy(value)
    for d in sorted(defaults, key=lambda d: len(d["path"])):
        *parent, key = d["path"]
        if key in ("[]", "{}"):
            continue
        for node, _ in _nodes(out, parent):
            if isinstance(node, dict) and key not in node:
                node[key] = copy.deepcopy(d["default"])
    return out


#: Kubernetes escapes property names that are CEL keywords (https://kubernetes.io/docs/reference/using-api/cel/).
_RESERVED = {
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
}


def _escape(key: str) -> str:
    """Only keywords: CRD property names are identifiers, and map keys (labels, annotations) are never escaped."""
    return f"__{key}__" if key in _RESERVED else key


def _escaped(value: Any) -> Any:
    if isinstance(value, dict):
        return {_escape(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


# --- Kubernetes CEL library functions --------------------------------------------------------------------------

_SUFFIX: dict[str, Any] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def quantity(text: Any) -> float:
    """Kubernetes' ``quantity()`` as a number of base units (enough for the comparisons the CRDs make)."""
    m = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)", str(text))
    if m is None or (m.group(2) and m.group(2) not in _SUFFIX):
        raise ValueError(f"invalid quantity {text!r}")
    return float(Decimal(m.group(1)) * Decimal(_SUFFIX.get(m.group(2), 1)))


def _find(text: str, pattern: str) -> str:
    m = re.search(pattern, text)
    return m.group(0) if m else ""


#: name -> implementation; receivers come first (``a.isGreaterThan(b)`` is ``isGreaterThan(a, b)``)
FUNCTIONS: dict[str, Any] = {
    "quantity": quantity,
    "isGreaterThan": lambda a, b: a > b,
    "isLessThan": lambda a, b: a < b,
    "find": _find,
    "split": lambda text, sep: text.split(sep),
    # the global form matches(text, re): the library has only the receiver form (RE2 semantics: a partial match)
    "matches": lambda text, pattern: re.search(pattern, text) is not None,
}


@dataclass
class CelReport:
    evaluated: int = 0
    passed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    failures: list[dict[str, str]] = field(default_factory=list)  # resource, path, rule, message

    def as_dict(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "passed": self.passed,
            "failed": len(self.failures),
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(self.skipped),
            "failures": self.failures,
        }

    @property
    def line(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())
        return (
            f"CEL rules: {self.evaluated} evaluated, {self.passed} passed, {len(self.failures)} failed, "
            f"{sum(self.skipped.values())} skipped" + (f" ({skipped})" if skipped else "")
        )


@lru_cache(maxsize=4096)
def _program(rule: str) -> Any:
    """The compiled rule, or the reason it cannot run here (a str)."""
    import cel

    if re.search(r"\boldSelf\b", rule):
        return "transition rule (reads oldSelf, the previous object)"
    if ".?" in rule:
        return "optional field syntax (.?) that the CEL library does not parse"
    try:
        return cel.compile(rule)
    except Exception as exc:
        return f"not supported by the CEL library ({str(exc).splitlines()[0][:80]})"


def _nodes(value: Any, path: list[str], where: str = "") -> list[tuple[Any, str]]:
    """Every value in ``value`` at schema ``path`` ('[]': list items, '{}': map values), with its location."""
    if not path:
        return [(value, where or "<root>")]
    head, rest = path[0], path[1:]
    if head == "[]":
        return (
            [n for i, v in enumerate(value) for n in _nodes(v, rest, f"{where}[{i}]")]
            if isinstance(value, list)
            else []
        )
    if head == "{}":
        return [n for k, v in value.items() for n in _nodes(v, rest, f"{where}.{k}")] if isinstance(value, dict) else []
    if isinstance(value, dict) and head in value:
        return _nodes(value[head], rest, f"{where}.{head}" if where else head)
    return []


def _has_unknowns(value: Any) -> bool:
    text = json.dumps(value)
    return any(m in text for m in UNKNOWN_MARKERS)


def evaluate_object(obj: dict[str, Any], report: CelReport, name: str = "") -> None:
    """Run every rule of ``obj``'s CRD version on it, adding to ``report``."""
    import cel

    api = str(obj.get("apiVersion", ""))
    entry = load_index().get(f"{api}/{obj.get('kind')}") if "/" in api else None
    if not entry:
        return
    obj = with_defaults(obj, entry["defaults"])
    label = name or f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    for r in entry["rules"]:
        for value, where in _nodes(obj, r["path"]):
            report.evaluated += 1
            program = _program(r["rule"])
            if isinstance(program, str):
                report.skipped[program] += 1
                continue
            if _has_unknowns(value):
                report.skipped["value known only after apply"] += 1
                continue
            ctx = cel.Context()
            for fname, fn in FUNCTIONS.items():
                ctx.add_function(fname, fn)
            ctx.add_variable("self", _escaped(value))
            try:
                ok = program.execute(ctx)
            except Exception as exc:
                report.failures.append(
                    {
                        "resource": label,
                        "path": where,
                        "rule": r["rule"],
                        "message": f"{r['message']} (evaluation error: {str(exc)[:120]})",
                    }
                )
                continue
            if ok is True:
                report.passed += 1
            else:
                report.failures.append({"resource": label, "path": where, "rule": r["rule"], "message": r["message"]})


def markdown_lines(report: CelReport | None) -> list[str]:
    """The CEL section of a plan's summary: the counts, and every object the API server would reject."""
    if report is None:
        return []
    out = ["", "## CEL validation (x-kubernetes-validations of the pinned CRDs)", "", report.line + "."]
    out += [
        f"- **rejected** `{f['resource']}` at `{f['path']}`: {f['message']} (`{f['rule']}`)" for f in report.failures
    ]
    return out


def evaluate(objects: list[dict[str, Any]]) -> CelReport:
    report = CelReport()
    for obj in objects:
        evaluate_object(obj, report)
    return report


if __name__ == "__main__":  # regenerate the index from catalog/crds
    INDEX.write_text(json.dumps(build_index(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {INDEX}")
