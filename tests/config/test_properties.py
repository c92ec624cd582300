"""Property-based tests of config loading: configs generated from the model's JSON Schema and valid stacks mutated
at random places (types, ranges, unknown keys, references, unicode, nesting, sizes).

Properties: never a traceback (only ConfigError), every problem's path starts with ``platform``, and every accepted
config renders a plan whose Kubernetes objects validate against the pinned schemas.

CI runs a bounded number of examples; `make fuzz` runs many more (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import copy
import os
import types
import typing
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from config import ConfigError, Platform, parse_platform
from tests.conftest import build_stack, stack_raw, validate_object

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
PLANS = int(os.environ.get("FUZZ_PLANS", "1"))  # accepted configs rendered per test run (each ~1 s)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, prefix + (i,))
    return out


def get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


weird_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    [
        "",
        " ",
        "a\n",
        "\ud800",
        "ai-gateway",
        "g5",
        "llama-8b",
        "kube-system",
        "0.0.0.0/0",
        "1e400",
        "-1",
        "∞",
        "Never",
        "720h",
        "latest",
        "x" * 300,
        "tenant-x",
        "a/b:c",
        "${secret}",
    ]
)
weird_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18)
    | st.floats(allow_nan=True, allow_infinity=True)
    | weird_text
)
weird = st.recursive(
    weird_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(weird_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw) -> dict:
    raw = stack_raw(draw(st.sampled_from(["dev", "prod"])))
    for _ in range(draw(st.integers(1, 3))):
        all_paths = paths(raw)
        path = draw(st.sampled_from(all_paths))
        action = draw(st.sampled_from(["replace", "delete", "unknown-key", "duplicate", "deep"]))
        parent = get(raw, path[:-1]) if path else None
        if action == "replace" and path:
            parent[path[-1]] = draw(weird)
        elif action == "delete" and path and isinstance(parent, (dict, list)):
            del parent[path[-1]]
        elif action == "unknown-key":
            target = get(raw, path)
            if isinstance(target, dict):
                target[draw(weird_text)] = draw(weird)
        elif action == "duplicate" and path and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        elif action == "deep" and path:
            nested: Any = draw(weird_scalar)
            for _ in range(draw(st.integers(1, 200))):
                nested = [nested] if draw(st.booleans()) else {"k": nested}
            parent[path[-1]] = nested
    return raw


def from_model(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy[dict]:
    """Configs shaped by the pydantic model: every required field, optional ones at random, values drawn by the
    field's type (Literal choices, bounded or wild ints, plausible or weird strings, nested models, lists)."""
    fields = {}
    optional = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        strat = for_annotation(info.annotation, depth)
        if info.default is PydanticUndefined and info.default_factory is None:
            fields[key] = strat
        else:
            optional[key] = strat
    return st.fixed_dictionaries(fields, optional=optional)


def for_annotation(ann: Any, depth: int) -> st.SearchStrategy:
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Annotated:
        return for_annotation(args[0], depth)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return from_model(ann, depth + 1) if depth < 4 else st.just({})
    if origin is typing.Literal:
        return st.sampled_from(args) | (weird_scalar if depth > 2 else st.sampled_from(args))
    if origin in (typing.Union, types.UnionType):
        return st.one_of([for_annotation(a, depth) for a in args])
    if origin is list:
        return st.lists(for_annotation(args[0], depth + 1), max_size=3)
    if origin is dict:
        return st.dictionaries(for_annotation(args[0], depth + 1), for_annotation(args[1], depth + 1), max_size=3)
    if ann is bool:
        return st.booleans()
    if ann is int:
        return st.integers(-2, 100) | st.integers()
    if ann is str:
        return (
            st.sampled_from(
                [
                    "dev",
                    "g5",
                    "ai-gateway",
                    "agents",
                    "4",
                    "16Gi",
                    "10m",
                    "10.0.0.0/16",
                    "us-east-1",
                    "vllm/vllm-openai:v0.11.0",
                    "al2023@v20251016",
                ]
            )
            | weird_text
        )
    if ann is type(None):
        return st.none()
    return weird_scalar


ACCEPTED: list[dict] = []


def check(raw: Any) -> None:
    try:
        cfg = parse_platform(raw)
    except ConfigError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.path == "platform" or p.path.startswith(("platform.", "platform[")), p
            assert len(str(p)) < 1000, str(p)[:200]
        return
    assert isinstance(cfg, Platform)
    if len(ACCEPTED) < PLANS:
        ACCEPTED.append(raw)
        run = build_stack(raw)
        for r in run.kubernetes_objects():
            obj = yaml.safe_load(yaml.safe_dump(r.inputs))
            validate_object(obj, cfg.cluster.kubernetes_version)


@FUZZ
@given(mutated())
def test_mutated_stacks_never_crash_and_name_their_paths(raw):
    check(raw)


@FUZZ
@given(from_model(Platform))
def test_schema_generated_configs_never_crash_and_name_their_paths(raw):
    check(raw)
