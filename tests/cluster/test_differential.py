"""What the real server replaces: the offline checks (CEL evaluator + strict CRD schemas, the Pod Security checker)
must give the API server's verdict on every object of the three plans and on deliberately broken ones. Where they
disagree, the evaluator is fixed or deleted; these tests keep them honest."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from agentic.cluster.apply import _placeholders, ident
from agentic.cluster.client import ApiError
from agentic.plan import cel
from policies.pod_security import violations
from tests.cluster.chart_standins import first_pool
from tests.conftest import validate_custom

PLANS = [("dev", "dev"), ("prod", "prod"), ("dev", "tenant-demo")]


def offline_verdict(obj: dict[str, Any]) -> list[str]:
    """What the offline plan says is wrong with a custom resource: its CRD's CEL rules and strict schema."""
    report = cel.CelReport()
    cel.evaluate_object(obj, report)
    problems = [f["message"] for f in report.failures]
    try:
        validate_custom(obj)
    except jsonschema.ValidationError as e:
        problems.append(f"schema: {e.message}")
    return problems


def api_verdict(client: Any, obj: dict[str, Any]) -> str:
    try:
        client.apply(_placeholders(obj), dry_run=True)
    except ApiError as e:
        return e.message
    return ""


def _custom(plans, stack: str) -> list[dict[str, Any]]:
    return [
        dict(r.inputs)
        for r in plans(stack).run.kubernetes_objects()
        if "/" in r.inputs["apiVersion"]
        and not r.inputs["apiVersion"].endswith(".k8s.io/v1")
        and r.inputs["apiVersion"].split("/")[0] not in ("apps", "batch", "policy", "autoscaling")
    ]


@pytest.mark.parametrize(("cluster", "stack"), PLANS)
def test_offline_checks_agree_with_the_api_server_on_every_custom_resource(verified, plans, cluster, stack):
    client = verified(cluster).client
    objs = _custom(plans, stack)
    assert objs
    disagree = []
    for obj in objs:
        offline, api = offline_verdict(obj), api_verdict(client, obj)
        if bool(offline) != bool(api):
            disagree.append(f"{ident(obj)}: offline {offline or 'accepts'}, API server {api or 'accepts'}")
    assert disagree == [], "\n".join(disagree)


#: Kinds a pinned chart makes from the plan's release values (the suite cannot render charts): kind -> stand-in.
CHART_OWNED: dict[str, Callable[[Any], dict[str, Any]]] = {"InferencePool": first_pool}


def _first(plans, kind: str, stack: str = "prod") -> dict[str, Any]:
    if kind in CHART_OWNED:
        return CHART_OWNED[kind](plans(stack))
    for st in (stack, "dev"):
        for r in plans(st).run.kubernetes_objects():
            if r.inputs["kind"] == kind:
                return copy.deepcopy(dict(r.inputs))
    raise AssertionError(f"no {kind} rendered")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        node = obj
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
        node[keys[-1] if not isinstance(node, list) else int(keys[-1])] = value

    return apply


#: One deliberately broken object per pinned CRD group: (kind, how it is broken, what the API server says).
BROKEN = [
    ("NodePool", _set("spec.replicas", 2), "only 'limits.nodes' is supported on static NodePools"),
    ("EC2NodeClass", _set("spec.instanceProfile", "also-a-profile"), "must specify exactly one of"),
    ("HTTPRoute", _set("spec.rules.0.matches.0.path.value", "v1/chat"), "must be an absolute path"),
    ("GatewayParameters", _set("spec.selfManaged", {}), "exactly one of the fields in [kube selfManaged]"),
    ("ModelConfig", _set("spec.provider", "Anthropic"), "provider"),
    ("ScaledObject", _set("spec.minReplicaCount", 50), "minReplicaCount"),
    ("ExternalSecret", _set("spec.target.creationPolicy", "Sometimes"), "Unsupported value"),
    ("ServiceMonitor", _set("spec.endpoints.0.scheme", "ftp"), "Unsupported value"),
    ("Canary", _set("spec.analysis.threshold", "five"), "expected numeric"),
    ("CronWorkflow", _set("spec.concurrencyPolicy", "Sometimes"), "Unsupported value"),
    ("LeaderWorkerSet", _set("spec.leaderWorkerTemplate.restartPolicy", "Sometimes"), "Unsupported value"),
    (
        "AgentgatewayBackend",
        _set("spec.policies.health.eviction.consecutiveFailures", -1),
        "greater than or equal to 0",
    ),
    ("InferencePool", _set("spec.endpointPickerRef.failureMode", "FailClosed"), "Unsupported value"),
]


@pytest.mark.parametrize(("kind", "breaker", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_object_of_each_crd_group_is_refused_by_both(verified, plans, kind, breaker, expected):
    # on the control plane of the stack that renders the kind (each installs the CRDs of the groups it uses)
    rendered = {r.inputs["kind"] for r in plans("prod").run.kubernetes_objects()} | set(CHART_OWNED)
    client = verified("prod" if kind in rendered else "dev").client
    if kind in CHART_OWNED:  # its CRD group is not one the plan's own objects use
        from agentic.cluster.apply import install_crds

        install_crds(client, groups={_first(plans, kind)["apiVersion"].split("/")[0]})
    obj = _first(plans, kind)
    assert not api_verdict(client, obj), f"the unbroken {kind} must be accepted"
    breaker(obj)
    api = api_verdict(client, obj)
    assert api, f"the API server accepted a broken {kind}"
    assert expected.lower() in api.lower(), api
    assert offline_verdict(obj), f"the offline checks accept a {kind} the API server refuses: {api}"


def test_every_pinned_crd_group_has_a_broken_object():
    from agentic.cluster.apply import CRD_DIR

    groups = {p.name for p in CRD_DIR.iterdir() if p.is_dir()}
    covered = {
        "karpenter": {"NodePool", "EC2NodeClass"},
        "gateway-api": {"HTTPRoute"},
        "kgateway": {"GatewayParameters"},
        "kagent": {"ModelConfig"},
        "keda": {"ScaledObject"},
        "external-secrets": {"ExternalSecret"},
        "prometheus-operator": {"ServiceMonitor"},
        "flagger": {"Canary"},
        "argo-workflows": {"CronWorkflow"},
        "lws": {"LeaderWorkerSet"},
        "agentgateway": {"AgentgatewayBackend"},
        "inference-extension": {"InferencePool"},
    }
    kinds = {b[0] for b in BROKEN}
    assert groups <= set(covered), f"new CRD group(s) without a broken object: {groups - set(covered)}"
    assert all(covered[g] & kinds for g in groups)


# --- Pod Security: the checker against PodSecurity admission -----------------------------------------------------


def _templates(plans, stack: str) -> list[tuple[str, dict[str, Any]]]:
    """Every pod template the stack renders (a LeaderWorkerSet: its leader's and its workers'), the policies' way."""
    from policies.common import pod_templates

    out = []
    for r in plans(stack).run.kubernetes_objects():
        o = r.inputs
        if o["kind"] == "Pod":
            continue
        for i, t in enumerate(pod_templates(o["kind"], o)):
            out.append((ident(o) + (f"#{i}" if i else ""), copy.deepcopy(t["spec"])))
    return out


def _mutations() -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    def container(f: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        def apply(spec: dict[str, Any]) -> None:
            f(spec["containers"][0].setdefault("securityContext", {}))

        return apply

    return [
        ("privileged", container(lambda sc: sc.update(privileged=True, allowPrivilegeEscalation=True))),
        ("hostNetwork", lambda s: s.update(hostNetwork=True)),
        ("hostPID", lambda s: s.update(hostPID=True)),
        ("hostPath", lambda s: s.setdefault("volumes", []).append({"name": "h", "hostPath": {"path": "/var"}})),
        (
            "hostPort",
            lambda s: s["containers"][0].setdefault("ports", []).append({"containerPort": 81, "hostPort": 81}),
        ),
        (
            "SYS_ADMIN",
            container(lambda sc: sc.setdefault("capabilities", {}).setdefault("add", []).append("SYS_ADMIN")),
        ),
        ("runAsUser 0", container(lambda sc: sc.update(runAsUser=0))),
        ("escalation", container(lambda sc: sc.update(allowPrivilegeEscalation=True))),
        ("unconfined seccomp", container(lambda sc: sc.update(seccompProfile={"type": "Unconfined"}))),
        (
            "unsafe sysctl",
            lambda s: s.setdefault("securityContext", {}).update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        ),
        (
            "procMount",
            lambda s: (
                s.update(hostUsers=False),
                s["containers"][0].setdefault("securityContext", {}).update(procMount="Unmasked"),
            ),
        ),
        ("seLinux type", container(lambda sc: sc.update(seLinuxOptions={"type": "spc_t"}))),
        ("appArmor unconfined", container(lambda sc: sc.update(appArmorProfile={"type": "Unconfined"}))),
    ]


def _pod(spec: dict[str, Any], namespace: str) -> dict[str, Any]:
    spec = _placeholders(copy.deepcopy(spec))
    spec.pop("serviceAccountName", None)  # the ServiceAccount admission plugin would refuse an unknown one
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pss-probe", "namespace": namespace}, "spec": spec}


@pytest.fixture(scope="module")
def pss_namespaces(verified):
    client = verified("dev").client
    for level in ("baseline", "restricted"):
        client.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": f"pss-{level}", "labels": {"pod-security.kubernetes.io/enforce": level}},
            }
        )
    client.wait(lambda: all(_has_default_sa(client, f"pss-{lv}") for lv in ("baseline", "restricted")), 30)
    return client


def _has_default_sa(client: Any, ns: str) -> bool:
    try:
        client.read("v1", "ServiceAccount", "default", ns)
        return True
    except ApiError:
        return False


def _admitted(client: Any, spec: dict[str, Any], level: str) -> tuple[bool, str]:
    try:
        client.create(_pod(spec, f"pss-{level}"), dry_run=True)
    except ApiError as e:
        if "violates PodSecurity" not in e.message:
            raise
        return False, e.message
    return True, ""


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pod_security_checker_agrees_with_podsecurity_admission(pss_namespaces, plans, stack):
    disagree = []
    cases = []
    for name, spec in _templates(plans, stack):
        cases.append((name, spec))
    base = cases[0][1]
    for label, mutate in _mutations():
        spec = copy.deepcopy(base)
        mutate(spec)
        cases.append((f"{cases[0][0]} + {label}", spec))
    for name, spec in cases:
        for level in ("baseline", "restricted"):
            ours = not violations(spec)[level]
            theirs, message = _admitted(pss_namespaces, spec, level)
            if ours != theirs:
                disagree.append(
                    f"{name} at {level}: checker {'admits' if ours else 'refuses'}; API server {message or 'admits'}"
                )
    assert disagree == [], "\n".join(disagree)
