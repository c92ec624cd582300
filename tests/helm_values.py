"""Check rendered Helm values against a chart's own default values.yaml: every key the platform sets must be a key
the chart knows (a typo would otherwise be ignored silently by the chart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CHARTS = Path(__file__).parent / "fixtures" / "charts"
#: Keys whose value is a map the chart passes through (label maps and the like), whatever its default holds.
FREE_FORM = {
    "nodeSelector",
    "labels",
    "annotations",
    "podLabels",
    "podAnnotations",
    "matchLabels",
    "extraArgs",
    "config",
    "ports",
    "resources",
}  # the collector's own configuration and its named ports pass through; charts render resources with toYaml


def chart_defaults(chart: str) -> dict[str, Any]:
    return yaml.safe_load((CHARTS / chart / "values.yaml").read_text())


def unknown_keys(values: Any, defaults: Any, path: str = "") -> list[str]:
    """Paths in ``values`` that the chart's defaults do not have. Free-form maps (a default of ``{}``) and lists
    are the chart's to interpret, so nothing under them is checked."""
    out: list[str] = []
    if not isinstance(values, dict):
        return out
    if not isinstance(defaults, dict) or not defaults:
        return out  # free-form map (e.g. nodeSelector: {}) or scalar default overridden by a structure
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if key not in defaults:
            out.append(here)
            continue
        if key not in FREE_FORM:
            out += unknown_keys(value, defaults[key], here)
    return out


def merged(defaults: Any, values: Any) -> Any:
    """Helm's merge of user values over the chart's defaults (maps merge key by key; everything else replaces;
    null deletes), which is what a chart's values.schema.json validates."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        out = dict(defaults)
        for k, v in values.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merged(defaults.get(k), v)
        return out
    return values
