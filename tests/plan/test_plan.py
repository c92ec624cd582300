"""The offline plan end to end for dev and prod: every output written, every object valid, secrets redacted."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import textwrap

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from typer.testing import CliRunner

from agentic.cli import app
from agentic.plan.render import BANNER, write_plan
from tests.conftest import PROJECT_ROOT, run_under_mocks, stack_raw, validate_object


@pytest.fixture(scope="module")
def written(plans, tmp_path_factory):
    out = {}
    for stack in ("dev", "prod"):
        d = tmp_path_factory.mktemp(stack)
        write_plan(plans(stack), d)
        out[stack] = d
    return out


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_writes_every_output(written, stack):
    d = written[stack]
    for name in ("inventory.json", "policy-report.json", "summary.md", "graph.svg", "helm/releases.yaml"):
        assert (d / name).is_file(), name
    assert list((d / "manifests").rglob("*.yaml"))
    assert BANNER in (d / "summary.md").read_text()
    assert (d / "graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_rendered_object_validates(plans, written, stack):
    version = plans(stack).config.cluster.kubernetes_version
    files = sorted((written[stack] / "manifests").rglob("*.yaml"))
    kinds = set()
    for path in files:
        obj = yaml.safe_load(path.read_text())
        validate_object(obj, version)
        kinds.add(obj["kind"])
    assert {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "NodePool",
        "EC2NodeClass",
        "StorageClass",
        "ServiceMonitor",
    } <= kinds


def test_manifests_are_grouped_by_namespace(written):
    d = written["prod"] / "manifests"
    assert (d / "ai-inference" / "resourcequota-ai-inference-quota.yaml").exists()
    assert (d / "_cluster" / "namespace-ai-inference.yaml").exists()
    assert (d / "_cluster" / "nodepool-p5.yaml").exists()
    quota = yaml.safe_load((d / "ai-inference" / "resourcequota-ai-inference-quota.yaml").read_text())
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "48"


def test_schema_check_rejects_a_broken_object(plans):
    obj = yaml.safe_load(
        yaml.safe_dump(
            next(
                r.inputs
                for r in plans("dev").run.kubernetes_objects()
                if r.inputs.get("kind") == "NodePool" and r.inputs["metadata"]["name"] == "g5"
            )
        )
    )
    obj["spec"]["template"]["spec"]["taints"][0]["effect"] = "Sometimes"
    with pytest.raises(Exception):
        validate_object(obj, "1.33")
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spek": {}}
    with pytest.raises(Exception):
        validate_object(obj, "1.33")


def test_helm_releases_list_chart_repository_version_values(written):
    releases = yaml.safe_load((written["prod"] / "helm" / "releases.yaml").read_text())
    by_name = {r["name"]: r for r in releases}
    karp = by_name["karpenter"]
    assert karp["chart"] == "karpenter" and karp["repository"] == "oci://public.ecr.aws/karpenter"
    assert karp["version"] == "1.15.2"
    assert karp["values"]["settings"] == {
        "clusterName": "agentic-prod",
        "interruptionQueue": "agentic-prod-karpenter",
        "featureGates": {"nodeRepair": True},
        "awsFeatureGates": {"rebootForRepair": True},
    }
    assert "agentic-prod-karpenter-crd" in karp["depends_on"]
    assert by_name["kube-prometheus-stack"]["repository"].startswith("https://prometheus-community")


def test_inventory_has_urn_type_parent_deps_provider_inputs(written):
    inv = json.loads((written["prod"] / "inventory.json").read_text())
    assert "nothing was deployed" in inv["notice"]
    rows = inv["resources"]
    assert len(rows) > 150
    np = next(r for r in rows if r["type"] == "kubernetes:karpenter.sh/v1:NodePool" and r["name"].endswith("-p5"))
    assert np["parent"].endswith("agentic-prod-nodepools")
    assert np["provider"].endswith("agentic-prod-cluster-k8s")
    assert any(d.endswith("agentic-prod-karpenter-controller") for d in np["dependencies"])
    assert np["inputs"]["spec"]["limits"]["nvidia.com/gpu"] == "32"


def test_summary_lists_pools_with_cost_and_placeholders(plans, written):
    text = (written["prod"] / "summary.md").read_text()
    assert "| p5 | p5 | reserved, on-demand | 32 | p5.48xlarge | 6.880 | 220.16 |" in text
    assert "**373.36**" in text
    assert "Placeholders the cloud would assign" in text
    section = text.split("## Placeholders the cloud would assign", 1)[1].split("## Stack outputs")[0]
    vpc_id = plans("prod").run.outputs["vpc_id"]
    assert f"`{vpc_id}` = aws:ec2/vpc:Vpc agentic-prod-network-vpc.id" in section
    assert "eks:index:Cluster agentic-prod-cluster-eks.oidcIssuer" in section
    assert plans("prod").total_ceiling == pytest.approx(220.16 + 54.90 + 98.30)


def test_policy_report_is_clean_for_committed_stacks(written):
    for stack in ("dev", "prod"):
        report = json.loads((written[stack] / "policy-report.json").read_text())
        assert report["mandatory_violations"] == 0, report["findings"]
        assert "namespace-governance" in report["policies"]


def test_kubeconfig_output_is_secret_and_redacted(plans, written):
    assert plans("prod").run.outputs["kubeconfig"] == "[secret]"
    assert "certificate-authority-data" not in (written["prod"] / "summary.md").read_text()


def test_pulumi_secrets_are_redacted_everywhere(tmp_path):
    def program():
        k8s.core.v1.Secret(
            "s",
            metadata={"name": "llm", "namespace": "ai-agents"},
            string_data={"api-key": pulumi.Output.secret("sk-live-123")},
        )

    run = run_under_mocks(program)
    secret = run.get("kubernetes:core/v1:Secret", "s")
    assert secret.inputs["stringData"] == "[secret]"
    assert secret.secret_paths == ["stringData"]
    assert "sk-live-123" not in json.dumps(secret.inputs)


def test_cli_plan_prints_banner_and_exits_zero(tmp_path):
    result = CliRunner().invoke(app, ["plan", "--stack", "dev", "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "nothing was deployed" in result.output
    assert "ceiling" in result.output and "g5" in result.output
    assert (tmp_path / "p" / "graph.svg").exists()


def test_cli_plan_exits_nonzero_on_invalid_config(tmp_path):
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["limits"]["gpus"] = 0
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": {"agentic-platform:platform": raw}}))
    result = CliRunner().invoke(app, ["plan", "--stack", "bad", "-C", str(tmp_path)])
    assert result.exit_code == 2
    assert "platform.gpu_pools[0].limits.gpus" in result.output
    assert not (tmp_path / "out").exists()


def test_cli_plan_exits_nonzero_on_mandatory_policy_violation(tmp_path):
    # A program that declares a namespace with no quota/limits/default-deny must fail a prod plan (advisory in dev).
    (tmp_path / "Pulumi.bare.yaml").write_text(
        yaml.safe_dump({"config": {"agentic-platform:platform": stack_raw("prod")}})
    )
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent("""
        import pulumi_kubernetes as k8s
        k8s.core.v1.Namespace("naked", metadata={"name": "naked"})
    """)
    )
    result = CliRunner().invoke(app, ["plan", "--stack", "bare", "-C", str(tmp_path)])
    assert result.exit_code == 3, result.output
    assert "namespace 'naked' has no ResourceQuota" in result.output
    report = json.loads((tmp_path / "out" / "bare" / "policy-report.json").read_text())
    assert report["mandatory_violations"] == 1


def test_program_reads_config_from_pulumi_config_and_fails_cleanly_on_bad_config():
    import runpy

    from config.loader import FULL_KEY
    from tests.conftest import PROJECT_ROOT

    raw = stack_raw("dev")
    raw["models"][0]["pool"] = "nope"
    with pytest.raises(pulumi.RunError) as exc:
        run_under_mocks(lambda: runpy.run_path(str(PROJECT_ROOT / "__main__.py")), config={FULL_KEY: raw})
    assert "platform.models[0].pool" in str(exc.value)


def test_graph_shows_components_and_their_dependencies(written):
    dot = (written["prod"] / "graph.dot").read_text()
    svg = html.unescape((written["prod"] / "graph.svg").read_text())
    for comp in ("agentic-prod-cluster", "agentic-prod-karpenter", "agentic-prod-nodepools", "agentic-prod-network"):
        assert comp in svg
    # nodepools -> karpenter is drawn through the EFA network (nodepools -> efa -> karpenter: transitively reduced)
    assert (
        '"agentic-prod-nodepools" -> "agentic-prod-efa"' in dot
        and '"agentic-prod-efa" -> "agentic-prod-karpenter"' in dot
    )
    assert '"agentic-prod-cluster" -> "agentic-prod-network"' in dot
    assert "nothing deployed" in svg


def test_graph_groups_components_by_domain_and_bundles_edges_without_losing_any(plans, written):
    """Every component sits in the box of the package that defines it; every dependency between two components is
    still there in the drawing, as an edge or a path of edges (inside a domain between components, across domains
    between the domains' boxes)."""
    import re

    from agentic.plan.graph import DOMAINS, component_domains, reachable
    from agentic.plan.render import component_of

    plan = plans("prod")
    run = plan.run
    dot = (written["prod"] / "graph.dot").read_text()
    domains = component_domains()
    stack = f"pulumi:pulumi:Stack::{run.project}-{run.stack}"
    tops = {r.name: r for r in run.registrations if r.parent.endswith(stack) and not r.custom}
    domain_of = {n: domains[r.type.rsplit(":", 1)[-1]] for n, r in tops.items()}  # KeyError: a component in no domain
    assert set(domain_of.values()) <= set(DOMAINS)
    # the box each node is drawn in
    drawn_in: dict[str, str] = {}
    for block in dot.split("subgraph cluster_")[1:]:
        dom = block.split(" ", 1)[0]
        for name in re.findall(r'^\t\t"?([\w-]+)"? \[label=<', block, re.M):
            drawn_in.setdefault(name, dom)
    assert {n: drawn_in.get(n) for n in tops} == domain_of
    # drawn edges: component -> component inside a domain, and box -> box across domains
    inner, across = set(), set()
    for a, b, attrs in re.findall(r'^\t"?([\w-]+)"? -> "?([\w-]+)"?(?: \[(.*)\])?$', dot, re.M):
        if "invis" in attrs:
            continue
        if "lhead" in attrs:
            across.add((re.search(r"ltail=cluster_(\w+)", attrs)[1], re.search(r"lhead=cluster_(\w+)", attrs)[1]))
        else:
            inner.add((a, b))

    def reaches(edges, a, b):
        return b in reachable(edges, a)

    comp_of = {r.urn: component_of(run, r) for r in run.registrations}
    pairs = {
        (comp_of[r.urn], comp_of[d])
        for r in run.registrations
        for d in [*r.dependencies, r.provider_urn]
        if comp_of.get(d) in tops and comp_of[r.urn] in tops and comp_of[d] != comp_of[r.urn]
    }
    assert len(pairs) > 40
    for a, b in pairs:
        if domain_of[a] == domain_of[b]:
            assert reaches(inner, a, b), (a, b)
        else:
            assert reaches(across, domain_of[a], domain_of[b]), (a, b)
    assert len(inner) + len(across) < len(pairs) / 2  # bundled and reduced: far fewer arrows than dependencies
    # IAM, other AWS, Kubernetes and Helm resources are told apart, and the legend says how
    svg = (written["prod"] / "graph.svg").read_text()
    assert all(f"{fam} resources" in svg for fam in ("IAM", "AWS", "Kubernetes", "Helm"))


def test_transitive_reduction_keeps_reachability():
    from hypothesis import given
    from hypothesis import strategies as st

    from agentic.plan.graph import reduce

    def closure(edges):
        out = set(edges)
        while True:
            more = {(a, d) for a, b in out for c, d in out if b == c} - out
            if not more:
                return out
            out |= more

    @given(st.sets(st.tuples(st.integers(0, 5), st.integers(0, 5)).filter(lambda e: e[0] != e[1]), max_size=14))
    def check(edges):
        kept = reduce(edges)
        assert kept <= edges and closure(kept) == closure(edges)
        assert reduce({(0, 1), (1, 2), (0, 2)}) == {(0, 1), (1, 2)}

    check()


def test_the_plan_renders_the_agent_runtime_auth_settings(plans, tmp_path):
    from agentic.plan.render import write_plan
    from config.agents import RuntimeAuth, runtime_auth_env

    text = (write_plan(plans("prod"), tmp_path / "p").out_dir / "summary.md").read_text()
    section = text.split("## Agent runtime authentication", 1)[1].split("##", 1)[0]
    assert "A2A (kagent -> agents): open inside the cluster" in section and "`AGENT_AUTH_A2A=false`" in section
    env = runtime_auth_env(RuntimeAuth(jwks_url="https://idp.example.com/jwks", a2a="required", mcp="required"))
    assert env == {
        "AGENT_JWT_JWKS_URL": "https://idp.example.com/jwks",
        "AGENT_AUTH_A2A": "true",
        "AGENT_AUTH_MCP": "true",
    }


def test_required_runtime_auth_needs_an_identity_provider():
    import pytest

    from config import ConfigError, parse_platform
    from tests.conftest import stack_raw

    raw = stack_raw("dev")
    raw["kagent"]["runtime_auth"] = {"a2a": "required"}
    with pytest.raises(ConfigError, match=r"platform\.kagent\.runtime_auth\.a2a"):
        parse_platform(raw)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_top_level_component_has_a_name_of_its_own(plans, stack):
    """The diagram names a node after its component: two components of one name (the AI gateway and the gateway
    namespace once were) would be drawn as one node in two boxes, and its layout would change from run to run."""
    from collections import Counter

    run = plans(stack).run
    suffix = f"pulumi:pulumi:Stack::{run.project}-{run.stack}"
    names = Counter(r.name for r in run.registrations if r.parent.endswith(suffix))
    assert [n for n, c in names.items() if c > 1] == []


def test_piped_plan_output_cuts_no_value_and_the_diagram_is_the_same_whatever_the_hash_seed(plans, tmp_path):
    """Without a terminal (CI logs), every table cell is printed whole: no agent, namespace or secret name cut to '…'.
    And Python's string hashing differs per process; the graph's source must not: the piped run's graph (another
    hash seed) is the session's plan's graph."""
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"  # never this process's seed
    out = subprocess.run(
        [sys.executable, "-m", "agentic.cli", "plan", "--stack", "prod", "--out", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        env={**os.environ, "PYTHONHASHSEED": seed},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "…" not in out.stdout
    assert "agentic-prod-ai-inference" in out.stdout and "sre-assistant" in out.stdout
    write_plan(plans("prod"), tmp_path / "here")
    assert (tmp_path / "p" / "graph.dot").read_text() == (tmp_path / "here" / "graph.dot").read_text()
