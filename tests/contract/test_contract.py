"""Rules every component obeys, checked on the dev and prod plans (and on every pin in the catalog).

Each test would fail on a single violating object: a Kubernetes object without the cluster provider or the
managed-by label, in an ungoverned namespace, an unpinned chart, a kind with no schema fixture, an unused pin.
"""

from __future__ import annotations

import ast
import functools
import re

import pytest

import catalog.versions as versions
from kit.k8s import CLUSTER_SCOPED
from kit.labels import MANAGED_BY, MANAGER
from tests.conftest import PROJECT_ROOT, STACKS, build_stack, crd_schemas, is_core, stack_raw, without_prometheus

RELEASE = "kubernetes:helm.sh/v3:Release"
#: Namespaces the platform does not govern but uses on purpose, and why.
UNGOVERNED_ON_PURPOSE = {"kube-system": "node agents (NVIDIA device plugin, DCGM exporter) run beside EKS add-ons"}


def k8s_objects(plan):
    return plan.run.kubernetes_objects()


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_object_uses_the_cluster_provider_and_has_a_parent(plans, stack):
    run = plans(stack).run
    [provider] = run.of_type("pulumi:providers:kubernetes")
    for r in run.registrations:
        if r.type.startswith("kubernetes:") and r.custom:
            assert r.provider_urn == provider.urn, r.name
            assert r.parent.rsplit("::", 2)[-2] != "pulumi:pulumi:Stack", f"{r.name} has no component parent"


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_object_carries_the_managed_by_label(plans, stack):
    missing = [
        r.name
        for r in k8s_objects(plans(stack))
        if (r.inputs.get("metadata") or {}).get("labels", {}).get(MANAGED_BY) != MANAGER
    ]
    assert missing == []


@pytest.mark.parametrize("stack", STACKS)
def test_namespaced_objects_live_in_governed_namespaces(plans, stack):
    objects = k8s_objects(plans(stack))
    governed = {r.inputs["metadata"]["name"] for r in objects if r.inputs.get("kind") == "Namespace"}
    for r in objects:
        kind, meta = r.inputs["kind"], r.inputs["metadata"]
        if kind in CLUSTER_SCOPED:
            assert "namespace" not in meta, r.name
            continue
        ns = meta.get("namespace")
        assert ns, f"{kind} {r.name} is namespaced but has no namespace"
        assert ns in governed or ns in UNGOVERNED_ON_PURPOSE, f"{kind} {r.name} in ungoverned namespace {ns}"
    for r in plans(stack).run.of_type(RELEASE):
        ns = r.inputs["namespace"]
        assert ns in governed or ns in UNGOVERNED_ON_PURPOSE, f"release {r.name} in ungoverned namespace {ns}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_is_pinned_in_the_catalog(plans, stack):
    pinned = {(c.name, c.version) for c in versions.CHARTS}
    for r in plans(stack).run.of_type(RELEASE):
        chart = r.inputs["chart"].rsplit("/", 1)[-1]
        assert (chart, r.inputs["version"]) in pinned, (chart, r.inputs["version"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_emitted_kind_has_a_schema(plans, stack):
    schemas = crd_schemas()
    for r in k8s_objects(plans(stack)):
        key = (r.inputs["apiVersion"], r.inputs["kind"])
        assert is_core(key[0]) or key in schemas, f"no schema fixture for {key}: copy its CRD into tests/fixtures"


def test_monitors_exist_only_when_monitoring_is_on(plans):
    assert any(r.inputs["apiVersion"].startswith("monitoring.coreos.com/") for r in k8s_objects(plans("dev")))
    raw = stack_raw("dev")
    without_prometheus(raw)
    raw["models"][0].pop("autoscaling", None)  # scaling on queue depth needs Prometheus
    run = build_stack(raw)
    assert [
        r.name for r in run.kubernetes_objects() if r.inputs["apiVersion"].startswith("monitoring.coreos.com/")
    ] == []


# --- the catalog -----------------------------------------------------------------------------------------------------


def _pins() -> list[str]:
    return [
        n
        for n, v in vars(versions).items()
        if n.isupper() and not n.startswith("_") and isinstance(v, (str, versions.Chart, dict, tuple))
    ]


def _sources_outside_catalog() -> str:
    paths = [p for layer in ("config", "kit", "components") for p in (PROJECT_ROOT / layer).rglob("*.py")]
    return "\n".join(p.read_text() for p in paths + [*sorted((PROJECT_ROOT / "program").glob("*.py"))])


@functools.cache
def _used_names(cluster: bool) -> frozenset[str]:
    """Names and attributes the product's sources use (or, ``cluster``, the control plane's), parsed once."""
    if cluster:  # test infrastructure: the control plane agentic/cluster builds and runs
        source = "\n".join(p.read_text() for p in sorted((PROJECT_ROOT / "agentic" / "cluster").glob("*.py")))
    else:
        source = _sources_outside_catalog()
    tree = ast.parse(source)
    return frozenset(
        n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(tree) if isinstance(n, (ast.Name, ast.Attribute))
    )


@pytest.mark.parametrize("pin", _pins())
def test_every_pin_is_used(pin):
    """A pin nothing uses is a promise the plan does not keep: add it with the component that needs it."""
    if pin == "CHARTS":
        pytest.skip("the list of pins itself")
    assert pin in _used_names(pin.startswith("CONTROL_PLANE_")), f"catalog.versions.{pin} is pinned but never used"


def test_the_control_plane_module_builds_the_pinned_versions():
    """controlplane/go.mod requires k8s.io/kubernetes and etcd at the catalog's pins and replaces every staging module
    by its published release of the same minor and patch."""
    from agentic.cluster.binaries import module_pins

    pins = module_pins()
    assert pins["k8s.io/kubernetes"] == versions.CONTROL_PLANE_KUBERNETES
    assert pins["go.etcd.io/etcd/server/v3"] == versions.CONTROL_PLANE_ETCD
    staging = "v0." + versions.CONTROL_PLANE_KUBERNETES.split(".", 1)[1]
    replaced = {m: v for m, v in pins.items() if m.startswith("replace:")}
    assert len(replaced) >= 25 and set(replaced.values()) == {staging}


def test_the_runtime_bench_measures_the_kagent_the_catalog_pins():
    """bench/runtime.py compares the runtime with kagent's own (kagent-adk) of the release the platform installs."""
    pins = dict(
        line.split("==", 1)
        for line in (PROJECT_ROOT / "bench" / "kagent-adk.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for package in ("kagent-adk", "kagent-core", "kagent-skills"):
        assert pins[package] == versions.KAGENT.version, package


def test_every_chart_pin_is_listed():
    charts = {n for n, v in vars(versions).items() if isinstance(v, versions.Chart)}
    assert {c.name for c in versions.CHARTS} == {getattr(versions, n).name for n in charts}


def test_versions_are_pinned_in_one_place():
    """No component, kit or config module hard-codes a chart version or an image tag; all come from the catalog."""
    pattern = re.compile(r"version=\"\d|:v?\d+\.\d+\.\d+\"|\"v?\d+\.\d+\.\d+\"")
    offenders = [
        str(p.relative_to(PROJECT_ROOT))
        for layer in ("components", "kit", "config")
        for p in (PROJECT_ROOT / layer).rglob("*.py")
        if pattern.search(p.read_text())
    ]
    assert offenders == []


def test_runtime_tool_table_matches_the_runtime():
    """catalog.runtime_tools (what config validates tool names against) is the runtime's registry, destructive flags
    included."""
    from agent_runtime.observability import Metrics
    from agent_runtime.settings import Settings
    from agent_runtime.tools import build_registry
    from catalog.runtime_tools import RUNTIME_MCP_TOOLS

    settings = Settings(
        llm_url="http://x", gitea_url="http://g", gitea_token="t", milvus_uri="/tmp/unused.db", file_roots=["/tmp"]
    )
    registry = build_registry(settings, Metrics())
    assert {t.name: t.destructive for t in registry.tools.values()} == RUNTIME_MCP_TOOLS
