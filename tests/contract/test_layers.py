"""The layers import only downward: catalog < config < kit < components < program < agentic (the CLI).

config imports no Pulumi; components never import the composition; nothing imports upward. Checked on the source
(AST), so a violation anywhere in a module fails here, including imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

ORDER = ["catalog", "config", "kit", "components", "program", "agentic"]
#: What each layer must never import (beyond the layer order): config stays free of Pulumi and its providers.
FORBIDDEN_EXTRA = {"config": ("pulumi", "pulumi_aws", "pulumi_eks", "pulumi_kubernetes", "pulumi_docker_build")}
PROJECT_TOPS = set(ORDER) | {"policies"}


def modules(layer: str) -> list[Path]:
    path = PROJECT_ROOT / layer
    return [path.with_suffix(".py")] if (PROJECT_ROOT / f"{layer}.py").exists() else sorted(path.rglob("*.py"))


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations(layer: str) -> list[str]:
    allowed_below = set(ORDER[: ORDER.index(layer) + 1])
    out = []
    for path in modules(layer):
        for name in imports(path):
            top = name.split(".")[0]
            if top in PROJECT_TOPS and top not in allowed_below and top != "policies":
                out.append(f"{path.relative_to(PROJECT_ROOT)} imports {name} (a layer above {layer})")
            if top in FORBIDDEN_EXTRA.get(layer, ()):
                out.append(f"{path.relative_to(PROJECT_ROOT)} imports {name} ({layer} must not import it)")
            if top == "policies" and layer != "agentic":
                out.append(f"{path.relative_to(PROJECT_ROOT)} imports {name}: only the plan calls the policies")
    return out


@pytest.mark.parametrize("layer", ORDER)
def test_layer_imports_only_downward(layer):
    assert violations(layer) == []


def test_policies_import_nothing_from_the_project():
    """The policy pack installs alone (pulumi preview --policy-pack policies)."""
    for path in sorted((PROJECT_ROOT / "policies").glob("*.py")):
        assert not {n.split(".")[0] for n in imports(path)} & (PROJECT_TOPS - {"policies"}), path


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The rule can fail: a config module importing Pulumi or a component is reported."""
    bad = tmp_path / "config"
    bad.mkdir()
    (bad / "x.py").write_text("import pulumi\nfrom components.nodes import karpenter\n")
    monkeypatch.setattr("tests.contract.test_layers.PROJECT_ROOT", tmp_path)
    found = violations("config")
    assert any("imports pulumi" in v for v in found) and any("components.nodes" in v for v in found)


def test_no_module_is_over_about_400_lines():
    sources = [p for layer in ORDER + ["policies"] for p in modules(layer)]
    long = {str(p.relative_to(PROJECT_ROOT)): n for p in sources if (n := len(p.read_text().splitlines())) > 420}
    assert long == {}


def test_the_cluster_tests_share_one_worker():
    """Every test under tests/cluster lands in one xdist work unit (the session's control planes start once)."""
    from tests.conftest import ByPath

    sched = object.__new__(ByPath)
    assert sched._split_scope("tests/cluster/test_apply.py::test_x[prod-prod]") == "cluster"
    assert sched._split_scope("tests/cluster/test_harness.py::test_y") == "cluster"
    assert sched._split_scope("tests/plan/test_plan.py::test_z") == "tests/plan/test_plan.py::test_z"
