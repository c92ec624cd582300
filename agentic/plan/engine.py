"""Run the real Pulumi program in-process through Pulumi's own mock engine and record every registration.

Nothing here talks to a cloud or a cluster. The recorded registrations (type, name, URN, parent, dependencies,
provider, inputs with secrets and unknowns marked) are what the offline plan renders and what tests query.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockMonitor, Mocks, set_mocks

from agentic.plan.cloud import CloudModel, Placeholders

SECRET = "[secret]"
UNKNOWN = "(known after apply)"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: list[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_paths: list[str] = field(default_factory=list)

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and not self.type.startswith("kubernetes:helm")

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class ProgramRun:
    project: str
    stack: str
    registrations: list[Registration]
    outputs: dict[str, Any]
    placeholders: Placeholders

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def get(self, typ: str, name: str) -> Registration:
        for r in self.registrations:
            if r.type == typ and r.name == name:
                return r
        raise KeyError(f"no {typ} named {name!r}; have: {sorted(r.name for r in self.of_type(typ))}")

    def by_urn(self, urn: str) -> Registration:
        for r in self.registrations:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def kubernetes_objects(self) -> list[Registration]:
        return [r for r in self.registrations if r.is_kubernetes and r.custom]

    def children(self, urn: str) -> list[Registration]:
        return [r for r in self.registrations if r.parent == urn]


def clean(value: Any, path: str = "", secrets: list[str] | None = None) -> Any:
    """Replace Pulumi secret wrappers with ``[secret]`` and unknowns with a readable marker; record secret paths."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == _SECRET_SIG:
            if secrets is not None:
                secrets.append(path or "<root>")
            return SECRET
        if value.get(rpc._special_sig_key) == _RESOURCE_SIG:
            return {"resource": value.get("urn")}
        return {k: clean(value[k], f"{path}.{k}" if path else k, secrets) for k in sorted(value)}
    if isinstance(value, list):
        return [clean(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Structs carry every number as a double
    return value


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also recording parent, dependencies and provider of each registration."""

    def __init__(self, mocks: PlatformMocks):
        super().__init__(mocks)
        self.records: list[Registration] = []
        mocks.monitor = self

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        secrets: list[str] = []
        inputs = clean(_struct(request.object), secrets=secrets)
        outputs = clean(_struct(response.object))
        self.records.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                provider=request.provider,
                dependencies=sorted(set(request.dependencies)),
                inputs=inputs,
                outputs=outputs,
                secret_paths=secrets,
            )
        )
        return response

    def ReadResource(self, request):
        """Reads (a StackReference) are recorded too: the policy pack sees them, as CrossGuard does."""
        response = super().ReadResource(request)
        self.records.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=True,
                parent=request.parent,
                provider=request.provider,
                dependencies=sorted(set(request.dependencies)),
                inputs=clean(_struct(response.properties)),
                outputs={},
            )
        )
        return response


def _struct(message: Any) -> dict[str, Any]:
    """A protobuf Struct as plain data, exactly as the engine would receive it (secret/resource markers kept)."""
    value = json_format.MessageToDict(message) if message is not None else {}
    return {k: v for k, v in value.items() if not k.startswith("__")}


def _plain(value: Any) -> Any:
    """Deserialized properties can hold SDK objects for secrets; turn everything into JSON-able data."""
    return json.loads(json.dumps(value, default=lambda o: getattr(o, "__dict__", str(o))))


class PlatformMocks(Mocks):
    def __init__(
        self,
        project: str,
        stack: str,
        region: str,
        account: str | None = None,
        stack_outputs: dict[str, dict[str, Any]] | None = None,
    ):
        self.project = project
        self.stack = stack
        #: what each referenced stack (pulumi.StackReference, by its full name) answers
        self.stack_outputs = stack_outputs or {}
        self.read_stacks: list[str] = []
        self.placeholders = Placeholders()
        self.cloud = CloudModel(region, self.placeholders, account)
        self.monitor: RecordingMonitor | None = None

    def _urn(self, args) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{args.typ}::{args.name}"

    def new_resource(self, args):
        inputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.resource_id or inputs.get("name")
            if name not in self.stack_outputs:
                raise KeyError(
                    f"the offline plan has no outputs for stack {name!r} "
                    f"(it has: {', '.join(sorted(self.stack_outputs)) or 'none'})"
                )
            self.read_stacks.append(name)
            outs = self.stack_outputs[name]
            return name, {
                "name": name,
                "outputs": outs,
                "secretOutputNames": sorted(k for k, v in outs.items() if v == SECRET),
            }
        if args.typ == "eks:index:Cluster":
            cluster_name, outputs, child_state = self.cloud.eks_cluster(args.name, self._urn(args), inputs)
            child_urn = f"urn:pulumi:{self.stack}::{self.project}::eks:index:Cluster$aws:eks/cluster:Cluster::{args.name}-eksCluster"
            assert self.monitor is not None
            self.monitor.resources[child_urn] = MockMonitor.ResourceRegistration(child_urn, cluster_name, child_state)
            outputs["eksCluster"] = {rpc._special_sig_key: _RESOURCE_SIG, "urn": child_urn, "id": cluster_name}
            return f"{args.name}-id", {**inputs, **outputs}
        if not args.custom:
            return "", {}
        rid, outputs = self.cloud.outputs(args.typ, args.name, self._urn(args), inputs)
        return rid, {**inputs, **outputs}

    def call(self, args):
        return self.cloud.invoke(args.token, dict(args.args))


#: The organization name Pulumi gives stacks on a self-managed backend (S3, local files).
SELF_MANAGED_ORG = "organization"


def run_program(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: dict[str, Any],
    secret_keys: list[str] | None = None,
    region: str = "us-east-1",
    account: str | None = None,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
) -> ProgramRun:
    """Run ``program`` under the mock engine with ``config`` (fully qualified keys) and return what it registered.

    Each call gets a fresh event loop and freshly reset Pulumi runtime settings, so runs do not leak into each other.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi_settings.reset_options(project=project, stack=stack, preview=True)
        set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, secret_keys or [])
        mocks = PlatformMocks(project, stack, region, account, stack_outputs)
        monitor = RecordingMonitor(mocks)
        # "organization": what Pulumi reports for a self-managed (S3 or local) backend, as the tenant-demo stack uses
        set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor, organization=SELF_MANAGED_ORG)
        root = pulumi_settings.get_root_resource()
        program()
        loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
        outputs = _resolve_outputs(loop, getattr(root, "outputs", {}) or {})
        loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
        return ProgramRun(project, stack, monitor.records, outputs, mocks.placeholders)
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        pulumi_settings.reset_options()
        set_all_config({}, [])
        loop.close()
        asyncio.set_event_loop(None)


def _resolve_outputs(loop: asyncio.AbstractEventLoop, outputs: dict[str, Any]) -> dict[str, Any]:
    async def one(value: Any) -> Any:
        out = pulumi.Output.from_input(value)
        if await out.is_secret():
            return SECRET
        if not await out.is_known():
            return UNKNOWN
        return _plain(await out.future())

    return {k: loop.run_until_complete(one(v)) for k, v in outputs.items()}
