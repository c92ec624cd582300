"""Enforcement levels per environment (issue #13 point 4): advisory in dev, mandatory in staging/prod, a few rules
mandatory everywhere; the same levels reach `pulumi preview` (policies/config.<env>.json) and the offline plan;
policies/README.md documents every rule."""

from __future__ import annotations

import json
from pathlib import Path

from policies.rules import ALWAYS, ENVIRONMENTS, RULES, Resource, evaluate, policy_pack_config
from policies.why import WHY

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_at_least_twenty_rules_each_explained():
    assert len(RULES) >= 20 and len({r.name for r in RULES}) == len(RULES)
    assert set(WHY) == {r.name for r in RULES} and {r.name for r in RULES} >= ALWAYS


def test_levels_per_environment():
    for r in RULES:
        assert r.level("prod") == "mandatory" and r.level("staging") == "mandatory"
        assert r.level("dev") == ("mandatory" if r.name in ALWAYS else "advisory")


def test_pulumi_config_files_match_the_rules():
    for env in ENVIRONMENTS:
        assert json.loads((POLICIES / f"config.{env}.json").read_text()) == policy_pack_config(env)


def test_readme_table_matches():
    readme = (POLICIES / "README.md").read_text()
    for r in RULES:
        row = f"| `{r.name}` | {r.description} | {WHY[r.name]} | " + " | ".join(r.level(e) for e in ENVIRONMENTS) + " |"
        assert row in readme, r.name


def test_the_plan_applies_the_environment_level():
    bad = [
        Resource(
            "kubernetes:core/v1:Pod",
            "p",
            {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}},
        )
    ]
    dev = [f for f in evaluate(bad, "dev") if f.policy == "pinned-images"]
    prod = [f for f in evaluate(bad, "prod") if f.policy == "pinned-images"]
    assert dev and prod and not dev[0].mandatory and prod[0].mandatory
