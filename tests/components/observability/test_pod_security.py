"""Issue #12 point 1 (and the policy of point 8): every pod admitted by the Pod Security level of the namespace it
lands in: the workloads the plan renders itself, and the chart workloads whose pod security the platform's values
decide (node-exporter, Fluent Bit, the collector, Valkey), rendered from the chart defaults plus our values."""

from __future__ import annotations

import pytest

from components.observability.logs import fluent_bit_values
from components.observability.monitoring import NODE_EXPORTER_NAMESPACE
from components.observability.traces import collector_values
from policies.pod_security import admits, required_level, violations
from tests.helm_values import chart_defaults, merged

ENFORCE = "pod-security.kubernetes.io/enforce"
RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {"name": "c", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    ],
}


def levels(run) -> dict[str, str]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"][ENFORCE]
        for r in run.of_type("kubernetes:core/v1:Namespace")
    }


def pod_specs(run):
    for r in run.kubernetes_objects():
        obj = r.inputs
        kind = obj.get("kind")
        ns = obj.get("metadata", {}).get("namespace")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind}/{ns}/{obj['metadata']['name']}", ns, obj["spec"]["template"]["spec"]
        elif kind == "Agent" and obj["spec"]["type"] == "BYO":
            dep = obj["spec"]["byo"]["deployment"]
            yield (
                f"Agent/{ns}/{obj['metadata']['name']}",
                ns,
                {
                    "securityContext": dep.get("podSecurityContext"),
                    "volumes": dep.get("volumes"),
                    "containers": [{"name": "kagent", "securityContext": dep.get("securityContext")}],
                },
            )


def test_the_checker_tells_the_levels_apart():
    assert required_level(RESTRICTED_OK) == "restricted"
    assert required_level({"containers": [{"name": "c"}]}) == "baseline"
    assert required_level({"hostNetwork": True, "containers": [{"name": "c"}]}) == "privileged"
    assert required_level({"volumes": [{"name": "v", "hostPath": {"path": "/"}}], "containers": []}) == "privileged"
    assert required_level({"containers": [{"name": "c", "securityContext": {"privileged": True}}]}) == "privileged"
    assert (
        "c: adds ['SYS_ADMIN']"
        in violations({"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]})[
            "baseline"
        ]
    )
    assert not admits("baseline", {"hostPID": True, "containers": []})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_workloads_fit_their_namespace(plans, stack):
    run = plans(stack).run
    ns_levels = levels(run)
    checked = 0
    for what, ns, spec in pod_specs(run):
        level = ns_levels[ns]
        assert admits(level, spec), (what, level, violations(spec))
        checked += 1
    assert checked >= 4  # model servers, the kb-init Job, the MCP tool server, BYO agents


def test_chart_workloads_fit_the_namespaces_they_land_in(plans):
    """Pod specs of chart workloads from the chart's defaults and our values (what `helm template` would set)."""
    ns_levels = levels(plans("dev").run)
    # prometheus-node-exporter (kube-prometheus-stack's subchart) runs on the host's network and PID namespace and
    # mounts /, /proc and /sys (its chart defaults: hostNetwork, hostPID, hostRootFsMount).
    node_exporter = {
        "hostNetwork": True,
        "hostPID": True,
        "volumes": [
            {"name": n, "hostPath": {"path": p}} for n, p in (("proc", "/proc"), ("sys", "/sys"), ("root", "/"))
        ],
        "containers": [{"name": "node-exporter"}],
    }
    fluent = merged(chart_defaults("aws-for-fluent-bit"), fluent_bit_values("us-west-2", "/g").render())
    fluent_bit = {
        "volumes": fluent["volumes"],
        "securityContext": fluent["podSecurityContext"],
        "containers": [{"name": "fluent-bit", "securityContext": fluent["containerSecurityContext"]}],
    }
    collector = collector_values(False, True, None).render()
    otel = {
        "securityContext": collector["podSecurityContext"],
        "containers": [{"name": "collector", "securityContext": collector["securityContext"]}],
    }
    valkey_d = chart_defaults("valkey")
    valkey = {
        "securityContext": valkey_d["podSecurityContext"],
        "containers": [{"name": "valkey", "securityContext": valkey_d["securityContext"]}],
    }
    for what, ns, spec in (
        ("node-exporter", NODE_EXPORTER_NAMESPACE, node_exporter),
        ("fluent-bit", "logging", fluent_bit),
        ("collector", "observability", otel),
        ("valkey", "ai-data", valkey),
    ):
        assert admits(ns_levels[ns], spec), (what, ns_levels[ns], violations(spec))
    assert required_level(node_exporter) == "privileged" and ns_levels["observability"] == "baseline"
    assert not admits(ns_levels["observability"], node_exporter)  # why node-exporter has a namespace of its own
    assert required_level(otel) == "restricted"
