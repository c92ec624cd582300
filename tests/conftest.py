"""Test harness: run the program (or one component) under Pulumi's mock engine, query what it registered, and
validate rendered objects against pinned schemas (fixtures copied from the upstream tags; never ../shared)."""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from xdist.scheduler import LoadGroupScheduling

from agentic.plan.engine import ProgramRun, run_program
from agentic.plan.render import Plan, synthesize
from config import parse_platform
from config.loader import FULL_KEY, read_stack_config

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")


def stack_raw(stack: str) -> dict[str, Any]:
    """The raw platform mapping of a committed stack file (a fresh deep copy each call, safe to mutate)."""
    return copy.deepcopy(read_stack_config(PROJECT_ROOT / f"Pulumi.{stack}.yaml")[FULL_KEY])


def run_under_mocks(
    program: Callable[[], Any], stack: str = "test", region: str = "us-east-1", config: dict[str, Any] | None = None
) -> ProgramRun:
    """Run ``program`` with a fresh event loop and reset runtime options; returns every registration."""
    return run_program(program, project="agentic-platform", stack=stack, config=config or {}, region=region)


def build_stack(raw: dict[str, Any], stack: str = "test") -> ProgramRun:
    """Validate ``raw`` and run the full platform program for it under mocks."""
    from program import build

    cfg = parse_platform(raw)
    return run_under_mocks(lambda: build(cfg), stack=stack, region=cfg.aws.region, config={FULL_KEY: raw})


_PLANS: dict[str, Plan] = {}


@pytest.fixture(scope="session")
def plans() -> Callable[[str], Plan]:
    """The synthesized plan of a committed stack (dev/prod/tenant-demo), computed once per session."""

    def get(stack: str) -> Plan:
        if stack not in _PLANS:
            if stack.startswith("tenant-"):  # a tenant stack on the dev plan's outputs (computed once)
                from agentic.plan.tenant import synthesize_tenant

                _PLANS[stack] = synthesize_tenant(stack, PROJECT_ROOT, outputs=get("dev").run.outputs)
            else:
                _PLANS[stack] = synthesize(stack, PROJECT_ROOT)
        return _PLANS[stack]

    return get


# --- schema validation ------------------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """Turn a CRD's structural schema strict: unknown fields are errors (the API server would silently prune them)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        pattern = out.get("pattern")
        if isinstance(pattern, str) and pattern.startswith("^(?i)"):
            out["pattern"] = "(?i)^" + pattern[5:]  # Go RE2 allows a flag group after '^'; Python wants it first
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    found: dict[tuple[str, str], dict] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the pinned CRDs are megabytes of YAML
    for path in (PROJECT_ROOT / "catalog" / "crds").rglob("*.yaml"):
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for ver in doc["spec"]["versions"]:
                schema = ver["schema"]["openAPIV3Schema"]
                found[(f"{group}/{ver['name']}", kind)] = _strict(schema)
    return found


def validate_custom(obj: dict) -> None:
    key = (obj["apiVersion"], obj["kind"])
    schemas = crd_schemas()
    if key not in schemas:
        raise AssertionError(f"no pinned CRD schema for {key}: copy it into catalog/crds")
    jsonschema.validate(obj, schemas[key], cls=jsonschema.Draft7Validator)


CORE_GROUPS = (
    "v1",
    "apps/v1",
    "rbac.authorization.k8s.io/v1",
    "networking.k8s.io/v1",
    "storage.k8s.io/v1",
    "batch/v1",
    "policy/v1",
    "autoscaling/v2",
    "apiextensions.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
)


def is_core(api_version: str) -> bool:
    return api_version in CORE_GROUPS


@cache
def _core_validator(api_version: str, kind: str, kubernetes_version: str) -> Any:
    """kubernetes-validate's strict schema for the kind at the stack's version, as one reusable validator (the
    library builds a new schema registry on every call, which dominated full-plan validation)."""
    import re

    import referencing
    from kubernetes_validate import utils

    version = [v for v in utils.all_versions() if utils.major_minor(v) <= kubernetes_version][-1]
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group}.json", f"{kubernetes_version}.0"
    )
    definitions = utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", f"{kubernetes_version}.0"
    )
    registry = referencing.Resource.from_contents(definitions) @ (
        referencing.Resource.from_contents(schema) @ referencing.Registry()
    )
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_object(obj: dict, kubernetes_version: str) -> None:
    """Core kinds with kubernetes-validate's schemas (strict, the stack's version); custom resources with the pinned
    CRDs."""
    if obj["apiVersion"] in CORE_GROUPS:
        _core_validator(obj["apiVersion"], obj["kind"], kubernetes_version).validate(obj)
    else:
        validate_custom(obj)


def without_prometheus(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with monitoring off (and agents that scale on Prometheus switched to an HPA)."""
    raw["observability"]["prometheus"] = False
    raw["observability"]["grafana"] = False
    for m in raw.get("models", []):
        m.pop("autoscaling", None)  # KEDA reads queue depth from Prometheus
        m.pop("rollout", None)  # Flagger analyses Prometheus metrics
    for a in raw.get("kagent", {}).get("agents", []):
        if (a.get("scaling") or {}).get("kind") == "keda-sessions":
            a["scaling"] = {"kind": "hpa", "min_replicas": 1, "max_replicas": a["scaling"].get("max_replicas", 3)}
    return raw


# --- the control plane's figures (tests/cluster) printed at the end of the run ------------------------------------


#: Test paths whose tests share one xdist worker (``--dist loadgroup``): everything under tests/cluster uses the
#: session's control planes, which must start once, on one worker; modules whose fixtures are expensive (checkov on
#: both plans, real agent runtimes for the workflow journeys) run them once instead of once per worker.
WORKER_GROUPS = {
    "tests/cluster/": "cluster",
    "tests/contract/test_checkov.py": "checkov",
    "tests/components/agents/test_workflow_journey.py": "workflow-journeys",
}


class ByPath(LoadGroupScheduling):
    """loadgroup, grouping by path. xdist 3.8 groups by rewriting ``item._nodeid`` from ``xdist_group`` markers,
    which pytest 9 no longer reads (a node id now comes from ``Node._id``): its groups silently fell apart and each
    worker started its own control planes. The scheduler sees node ids, so the group is derived from them here."""

    def _split_scope(self, nodeid: str) -> str:
        for prefix, group in WORKER_GROUPS.items():
            if nodeid.startswith(prefix):
                return group
        return super()._split_scope(nodeid)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: a run with -p no:xdist has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    return ByPath(config, log) if config.getvalue("dist") == "loadgroup" else None


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist): drop stale figures
        import shutil

        shutil.rmtree(PROJECT_ROOT / "out" / "verify", ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    folder = PROJECT_ROOT / "out" / "verify"
    lines = [line for p in sorted(folder.glob("*.txt")) for line in p.read_text().splitlines()]
    if lines:
        terminalreporter.section("plans on the real control plane (agentic verify)")
        for line in lines:
            terminalreporter.write_line(line)


@contextlib.contextmanager
def redis_server(directory: Path, *config: str) -> Iterator[int]:
    """A real redis-server (Debian's) on a free loopback port with ``config`` (``--user ...``, ``--aclfile ...``), no
    persistence; yields the port once it accepts connections, kills it after."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required (`make deps` installs it)")
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    proc = subprocess.Popen([server, *args, *config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        yield port
    finally:
        proc.kill()
        proc.wait()
