"""Apply a plan to the control plane as the API server judges it, and report what became of it.

CRDs from ``catalog/crds`` first (waited on until Established), then every rendered Kubernetes object by
server-side apply in dependency order (Helm's install order of kinds; custom resources last). Each object is
accepted or rejected with the API server's own message; admission warnings (PodSecurity's on a workload whose
pods its namespace would refuse) are kept. Helm releases are not applied: their charts are not available offline,
so the report counts them apart. Then the controllers turn workloads into Pods and the scheduler binds them to the
simulated nodes: the report lists pods per pool, pods refused at admission (the controllers' FailedCreate events)
and pods left unschedulable (the scheduler's message). Bound pods do not run: there is no kubelet.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentic.cluster import lws
from agentic.cluster.client import ApiError, Client
from agentic.plan.engine import SECRET, UNKNOWN

CRD_DIR = Path(__file__).resolve().parents[2] / "catalog" / "crds"

# Helm's install order (pkg/release/util/kind_sorter.go), the order a person applying by hand would use.
KIND_ORDER = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
]


def kind_rank(obj: dict[str, Any]) -> int:
    kind = obj.get("kind", "")
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def ident(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


@dataclass
class ObjectResult:
    ident: str
    status: str  # accepted | rejected | not-served
    message: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class PodReport:
    created: int = 0
    bound: Counter[str] = field(default_factory=Counter)  # pool -> pods
    refused: list[tuple[str, str]] = field(default_factory=list)  # (owner, admission message)
    unschedulable: list[tuple[str, str]] = field(default_factory=list)  # (pod, scheduler message)


@dataclass
class ApplyReport:
    stack: str
    results: list[ObjectResult] = field(default_factory=list)
    helm_releases: int = 0
    pods: PodReport = field(default_factory=PodReport)
    seconds: float = 0.0

    def of(self, status: str) -> list[ObjectResult]:
        return [r for r in self.results if r.status == status]

    @property
    def warnings(self) -> list[tuple[str, str]]:
        return [(r.ident, w) for r in self.results for w in r.warnings]

    def result(self, ident_: str) -> ObjectResult:
        return next(r for r in self.results if r.ident == ident_)

    def lines(self) -> list[str]:
        p = self.pods
        out = [
            f"{self.stack}: objects {len(self.of('accepted'))} accepted, {len(self.of('rejected'))} rejected, "
            f"{len(self.of('not-served'))} not served (CRD not pinned), {len(self.warnings)} admission warnings; "
            f"{self.helm_releases} Helm releases not applied (charts are not available offline) [{self.seconds:.1f} s]",
            f"{self.stack}: pods {p.created} created, {sum(p.bound.values())} bound "
            f"({', '.join(f'{k} {v}' for k, v in sorted(p.bound.items())) or 'none'}), "
            f"{len(p.refused)} refused at admission, {len(p.unschedulable)} unschedulable "
            "(bound pods do not run: there is no kubelet)",
        ]
        out += [f"  rejected {r.ident}: {r.message}" for r in self.of("rejected")]
        out += [f"  not served {r.ident}: {r.message}" for r in self.of("not-served")]
        out += [f"  warning {i}: {w}" for i, w in self.warnings]
        out += [f"  refused {o}: {m}" for o, m in p.refused]
        out += [f"  unschedulable {o}: {m}" for o, m in p.unschedulable]
        return out


#: Annotation with the digest of the pinned CRD document a cluster holds: re-installing skips unchanged CRDs (an
#: unchanged server-side apply of a 2.7 MB CRD still costs the API server about half a second).
CRD_DIGEST = "agentic.platform/crd-sha256"


@functools.cache
def pinned_crds() -> tuple[tuple[dict[str, Any], str], ...]:
    """Every CRD in catalog/crds with the digest of its document, parsed once per process (about 3 s of YAML)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = []
    for path in sorted(CRD_DIR.rglob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                out.append((doc, hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()))
    return tuple(out)


def install_crds(client: Client, timeout: float = 180.0, groups: set[str] | None = None) -> int:
    """Apply the pinned CRDs (only those of ``groups`` when given) and wait until they are Established: 15 s for all
    of them on an idle 2-core machine, several times that while a test suite holds the cores (hence the margin). A
    CRD the cluster already holds at the same digest (a control plane verified before) is not sent again."""
    held = {
        m["name"]: (m.get("annotations") or {}).get(CRD_DIGEST)
        for m in client.metadata_list("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    }
    names: list[str] = []
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    wanted: dict[str, set[str]] = {}  # group/version -> plurals of the CRDs sent now
    for doc, digest in pinned_crds():
        if groups is not None and doc["spec"]["group"] not in groups:
            continue
        name = doc["metadata"]["name"]
        names.append(name)
        if held.get(name) == digest:
            continue
        annotations = {**(doc["metadata"].get("annotations") or {}), CRD_DIGEST: digest}
        (changed if name in held else new).append({**doc, "metadata": {**doc["metadata"], "annotations": annotations}})
        for v in doc["spec"]["versions"]:
            if v.get("served", True):
                wanted.setdefault(f"{doc['spec']['group']}/{v['name']}", set()).add(doc["spec"]["names"]["plural"])
    # A CRD the cluster lacks is created, a few at once: a create costs the API server about half of what a
    # server-side apply of these megabyte-sized objects does (no merge of managed fields), and the requests overlap
    # its work with the client's. A CRD held at another digest is applied (an update, which create cannot do).
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda doc: _create_or_apply(client, doc), new))
    for doc in changed:
        client.apply(doc)
    sent = new + changed

    def established() -> bool:
        """Served in discovery (the API server lists a CRD's resource once it is Established): a few small group
        listings per poll instead of reading megabytes of CRDs. Those held at the same digest were waited on by
        the run that sent them."""
        for gv, plurals in wanted.items():
            try:
                served = {r["name"] for r in client.get(f"/apis/{gv}").get("resources") or []}
            except ApiError:
                return False
            if not plurals <= served:
                return False
        return True

    if sent and not client.wait(established, timeout):
        raise RuntimeError("the pinned CRDs did not become Established")
    client.resources(refresh=True)
    return len(names)


def _create_or_apply(client: Client, doc: dict[str, Any]) -> None:
    try:
        client.create(doc)
    except ApiError as e:
        if e.status != 409:  # AlreadyExists: made meanwhile (another run on this control plane); apply over it
            raise
        client.apply(doc)


def api_groups(objects: list[dict[str, Any]]) -> set[str]:
    """The API groups of ``objects`` (``group/version`` apiVersions): the CRDs a plan needs installed."""
    return {o["apiVersion"].split("/")[0] for o in objects if "/" in o["apiVersion"]}


def _placeholders(value: Any) -> Any:
    """The mock engine's markers for values known only after a real deploy become plausible literals."""
    if isinstance(value, dict):
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    if value == UNKNOWN:
        return "placeholder-known-after-apply"
    if value == SECRET:
        return "placeholder-secret"
    return value


def apply_objects(client: Client, objects: list[dict[str, Any]], report: ApplyReport) -> None:
    for obj in sorted(objects, key=kind_rank):
        body = _placeholders(obj)
        name = ident(body)
        try:
            client.apply(body)
        except ApiError as e:
            status = "not-served" if e.reason == "NotFound" and "does not serve" in e.message else "rejected"
            report.results.append(ObjectResult(name, status, e.message))
            continue
        report.results.append(ObjectResult(name, "accepted", warnings=list(client.warnings)))


def _owner(obj: dict[str, Any]) -> str:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return f"{refs[0]['kind']}/{obj['metadata'].get('namespace', '')}/{refs[0]['name']}" if refs else ident(obj)


def settle(client: Client, namespaces: set[str], timeout: float = 45.0, quiet: float = 3.0) -> PodReport:
    """Wait until the controllers and the scheduler stop changing pods in ``namespaces``, then report."""
    deadline = time.monotonic() + timeout
    last: tuple[Any, ...] | None = None
    stable_since = time.monotonic()
    pods: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        pods = [p for p in client.list_all("v1", "Pod") if p["metadata"]["namespace"] in namespaces]
        snapshot = tuple(sorted((p["metadata"]["name"], p["spec"].get("nodeName", "")) for p in pods))
        pending = [
            p
            for p in pods
            if not p["spec"].get("nodeName")
            and not any(
                c["type"] == "PodScheduled" and c["status"] == "False"
                for c in p.get("status", {}).get("conditions", [])
            )
        ]
        if snapshot != last:
            last, stable_since = snapshot, time.monotonic()
        elif not pending and time.monotonic() - stable_since >= quiet:
            break
        time.sleep(0.5)
    nodes = {n["metadata"]["name"]: n for n in client.list_all("v1", "Node")}
    report = PodReport(created=len(pods))
    for p in pods:
        node = p["spec"].get("nodeName")
        if node:
            labels = nodes.get(node, {}).get("metadata", {}).get("labels", {})
            report.bound[labels.get("karpenter.sh/nodepool") or labels.get("eks.amazonaws.com/nodegroup", "?")] += 1
            continue
        cond: dict[str, Any] = next(
            (c for c in p.get("status", {}).get("conditions", []) if c["type"] == "PodScheduled"), {}
        )
        report.unschedulable.append((ident(p), cond.get("message", "not scheduled yet")))
    seen: set[tuple[str, str]] = set()
    for ev in client.list_all("v1", "Event"):
        if ev.get("reason") != "FailedCreate" or ev["metadata"]["namespace"] not in namespaces:
            continue
        inv = ev.get("involvedObject", {})
        key = (f"{inv.get('kind')}/{inv.get('namespace')}/{inv.get('name')}", ev.get("message", ""))
        if key[0] not in {k for k, _ in seen}:
            seen.add(key)
            report.refused.append(key)
    return report


def stand_in_for_lws(client: Client, objects: list[dict[str, Any]], report: ApplyReport) -> list[tuple[str, str]]:
    """Create what the LWS controller would for every accepted LeaderWorkerSet (agentic.cluster.lws); returns what
    admission refused, as (set, message)."""
    refused = []
    for obj in objects:
        if obj.get("kind") != "LeaderWorkerSet" or report.result(ident(obj)).status != "accepted":
            continue
        for made in lws.created_objects(_placeholders(obj)):
            try:
                client.apply(made)
            except ApiError as e:
                refused.append((ident(obj), f"{ident(made)}: {e.message}"))
    return refused


def apply_plan(client: Client, stack: str, objects: list[dict[str, Any]], helm_releases: int) -> ApplyReport:
    started = time.monotonic()
    report = ApplyReport(stack, helm_releases=helm_releases)
    apply_objects(client, objects, report)
    refused = stand_in_for_lws(client, objects, report)
    namespaces = {(o.get("metadata") or {}).get("namespace") for o in objects} - {None}
    namespaces |= {o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"}
    report.pods = settle(client, {n for n in namespaces if n})
    report.pods.refused += refused
    report.seconds = time.monotonic() - started
    return report


def plan_objects(plan: Any) -> list[dict[str, Any]]:
    return [dict(r.inputs) for r in plan.run.kubernetes_objects()]


def helm_release_count(plan: Any) -> int:
    return len(plan.run.of_type("kubernetes:helm.sh/v3:Release"))
