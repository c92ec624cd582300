"""Kubernetes versions: 1.35 by default; a version past EKS standard support is an error in prod, a warning in dev,
and the message carries the date."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.versions import DEFAULT_KUBERNETES_VERSION, EKS_STANDARD_SUPPORT_END
from config import ConfigError, parse_platform, warnings
from tests.conftest import stack_raw

TODAY = dt.date(2026, 11, 29)


def test_default_is_1_35_in_standard_support_until_2027_03_27():
    raw = stack_raw("dev")
    raw["cluster"].pop("kubernetes_version")
    assert parse_platform(raw, today=TODAY).cluster.kubernetes_version == DEFAULT_KUBERNETES_VERSION == "1.35"
    assert EKS_STANDARD_SUPPORT_END["1.35"] == dt.date(2027, 3, 27)


def test_out_of_support_version_is_an_error_in_prod_with_the_date():
    raw = stack_raw("prod")
    raw["cluster"]["kubernetes_version"] = "1.33"
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw, today=TODAY)
    [problem] = [p for p in exc.value.problems if p.path == "platform.cluster.kubernetes_version"]
    assert "2026-07-29" in problem.message and "upgrade to 1.36" in problem.message


def test_out_of_support_version_is_a_warning_in_dev():
    raw = stack_raw("dev")
    raw["cluster"]["kubernetes_version"] = "1.33"
    cfg = parse_platform(raw, today=TODAY)
    [w] = warnings(cfg, today=TODAY)
    assert w.path == "platform.cluster.kubernetes_version" and "2026-07-29" in w.message


def test_1_34_is_fine_until_its_end_date_and_not_after():
    raw = stack_raw("prod")
    raw["cluster"]["kubernetes_version"] = "1.34"
    parse_platform(raw, today=dt.date(2026, 12, 2))
    with pytest.raises(ConfigError, match="2026-12-02"):
        parse_platform(raw, today=dt.date(2026, 12, 3))


def test_unknown_versions_are_refused():
    raw = stack_raw("dev")
    raw["cluster"]["kubernetes_version"] = "1.37"
    with pytest.raises(ConfigError, match="kubernetes_version"):
        parse_platform(raw, today=TODAY)


def test_the_plan_carries_the_dev_warning():
    from tests.conftest import build_stack

    raw = stack_raw("dev")
    raw["cluster"]["kubernetes_version"] = "1.33"
    notes = build_stack(raw).outputs["plan_notes"]
    assert any(n.startswith("warning: platform.cluster.kubernetes_version") for n in notes)


def test_1_36_is_offered_and_its_objects_validate_against_its_schemas():
    """EKS 1.36 (standard support until 2027-08-02) is selectable; 1.35 stays the default."""
    from tests.conftest import build_stack, validate_object

    raw = stack_raw("dev")
    raw["cluster"]["kubernetes_version"] = "1.36"
    cfg = parse_platform(raw, today=TODAY)
    assert cfg.cluster.kubernetes_version == "1.36" and DEFAULT_KUBERNETES_VERSION == "1.35"
    run = build_stack(raw)
    [cluster] = run.of_type("eks:index:Cluster") or run.of_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["version"] == "1.36"
    for r in run.kubernetes_objects():
        validate_object(dict(r.inputs), "1.36")
