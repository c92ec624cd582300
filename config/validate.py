"""Check the platform config before anything is registered: one function runs every domain's rules.

Every problem is reported (not only the first) as ``<full config path>: <what is wrong and how to fix it>``.
:func:`parse_platform` is the single entry point used by the Pulumi program, the offline plan and the CLI.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from catalog.versions import SUPPORT_ENDS
from config.agent_rules import check_kagent
from config.ai_gateway_rules import check_ai_gateway, check_federation, check_inference_pools
from config.base import ROOT, ConfigError, Problem, path_of, short
from config.cluster import check_environment, check_kubernetes_support, check_network, check_tags
from config.data import check_data
from config.observability import check_observability
from config.platform import Platform
from config.pools import check_pools
from config.scale import check_scale
from config.secrets import check_secrets
from config.serving import check_gateway, check_models, check_quota_covers
from config.tenancy import check_namespaces
from config.workflows import check_workflows

#: Every cross-field rule, by domain. Each takes the whole (well-typed) config and returns its problems.
RULES: tuple[Callable[[Platform], list[Problem]], ...] = (
    check_network,
    check_tags,
    check_pools,
    check_namespaces,
    check_gateway,
    check_models,
    check_quota_covers,
    check_kagent,
    check_environment,
    check_data,
    check_secrets,
    check_observability,
    check_workflows,
    check_scale,
    check_ai_gateway,
    check_inference_pools,
    check_federation,
)

# --- pydantic errors → problems ------------------------------------------------------------------------------------


def _unwrap_model(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at ``loc`` (for 'did you mean' hints)."""
    model: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if field is None:
            return None
        model = _unwrap_model(field.annotation)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def problems_from_pydantic(
    exc: ValidationError, root: type[BaseModel] = Platform, root_path: str = ROOT
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(root, loc)
            allowed = sorted((f.alias or n) for n, f in (model.model_fields.items() if model else []))
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            msg = "unknown key" + (f"; did you mean '{hint[0]}'?" if hint else "")
            if allowed:
                msg += f" Allowed keys: {', '.join(allowed)}"
        elif kind == "missing":
            msg = "required key is missing: add it to the stack config"
        elif kind == "value_error":
            msg = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        elif kind == "literal_error":
            msg = f"{err['msg']} (got {short(err.get('input'))})"
        elif kind == "string_pattern_mismatch":
            msg = f"{short(err.get('input'))} does not match the expected format {err['ctx']['pattern']}"
        else:
            msg = f"{err['msg']} (got {short(err.get('input'))})"
        value = err.get("input")
        wants_text = kind == "string_type" or (kind == "literal_error" and "'" in str(err.get("ctx", {})))
        if wants_text and isinstance(value, (int, float)) and not isinstance(value, bool):
            # YAML reads 1.30 as the number 1.3: a version written unquoted has already lost its digits
            msg += f'; YAML read it as the number {value}: quote it (write "1.30", not 1.30, which is the number 1.3)'
        problems.append(Problem(path_of(loc, root_path), msg))
    return problems


def check(cfg: Platform, today: dt.date | None = None) -> list[Problem]:
    """Every cross-field problem (errors and warnings) of an otherwise well-typed config."""
    found = [problem for rule in RULES for problem in rule(cfg)]
    today = today or dt.date.today()
    return found + check_kubernetes_support(cfg, today) + check_pin_support(today)


#: How long before a pin's support ends the plan starts saying so.
SUPPORT_WARNING_DAYS = 90


def check_pin_support(today: dt.date, pins: dict[str, tuple[dt.date, str]] | None = None) -> list[Problem]:
    """A warning for every pin the platform deploys whose upstream support ends within SUPPORT_WARNING_DAYS (or has
    ended): the catalog needs a newer pin (the suite fails on an ended one, catalog tests)."""
    out = []
    for what, (ends, source) in (SUPPORT_ENDS if pins is None else pins).items():
        days = (ends - today).days
        if days <= SUPPORT_WARNING_DAYS:
            when = f"ended on {ends.isoformat()}" if days < 0 else f"ends on {ends.isoformat()} (in {days} days)"
            out.append(
                Problem(
                    f"{ROOT}",
                    f"upstream support of {what} {when} ({source}): move the pin in catalog/versions.py",
                    "warning",
                )
            )
    return out


def warnings(cfg: Platform, today: dt.date | None = None) -> list[Problem]:
    """What is allowed but worth saying (shown by `agentic validate`, the plan and `pulumi up` logs)."""
    return [p for p in check(cfg, today) if p.severity == "warning"]


MAX_DEPTH = 32
MAX_VALUES = 100_000


def shape_problems(raw: Any, root: str = ROOT) -> list[Problem]:
    """What no schema should have to survive, found without recursion: nesting deeper than MAX_DEPTH, more than
    MAX_VALUES values (YAML aliases expand: a 1 KB 'billion laughs' file would be billions), keys that are not
    strings, and strings that are not valid Unicode (a lone surrogate passes validation, then breaks every writer)."""
    out: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(raw, root, 0)]
    seen = 0
    while stack:
        value, path, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            return [Problem(root, f"expands to more than {MAX_VALUES} values (YAML aliases?): refusing to load it")]
        if depth > MAX_DEPTH:
            out.append(Problem(path, f"is nested more than {MAX_DEPTH} levels deep: the config has no such structure"))
            continue
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                out.append(Problem(path, f"{short(value)} is not valid Unicode (a lone surrogate): fix the text"))
        elif isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    out.append(
                        Problem(
                            f"{path}[{short(k, 30)}]", f"keys must be strings, got {type(k).__name__}: quote the key"
                        )
                    )
                    continue
                stack.append((k, f"{path}.{k}", depth + 1))
                stack.append((v, f"{path}.{k}", depth + 1))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            out.append(Problem(path, "is not a finite number"))
    return out


def parse_platform(raw: Any, source: str = "", today: dt.date | None = None) -> Platform:
    """Validate ``raw`` (the value of ``agentic-platform:platform``) and return the typed model or raise ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError([Problem(ROOT, f"must be a mapping, got {type(raw).__name__}")], source)
    shape = shape_problems(raw)
    if shape:
        raise ConfigError(shape, source)
    try:
        cfg = Platform.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems_from_pydantic(exc), source) from None
    except (RecursionError, OverflowError, ArithmeticError) as exc:  # belt and braces: never a traceback
        raise ConfigError([Problem(ROOT, f"cannot be validated ({type(exc).__name__}): simplify it")], source) from None
    errors = [p for p in check(cfg, today) if p.severity == "error"]
    if errors:
        raise ConfigError(errors, source)
    return cfg
