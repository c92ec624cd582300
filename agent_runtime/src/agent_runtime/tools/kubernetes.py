"""Kubernetes tools (12), scoped to one namespace, through the official client (ServiceAccount auth in a pod)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any

from agent_runtime.tools import Tool, ToolError, params, table


def _age(ts: dt.datetime | None) -> str:
    if ts is None:
        return "?"
    secs = int((dt.datetime.now(dt.UTC) - ts).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{max(secs, 0)}s"


class Kube:
    """Lazily configured API clients: in-cluster ServiceAccount, kubeconfig context, or an explicit API URL."""

    def __init__(self, settings: Any):
        self.settings = settings
        self.namespace = settings.effective_namespace
        self._api_client = None

    def client(self) -> Any:
        if self._api_client is None:
            from kubernetes import client, config

            if self.settings.kube_api_url:
                cfg = client.Configuration()
                cfg.host = self.settings.kube_api_url
                self._api_client = client.ApiClient(cfg)
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config()
                self._api_client = client.ApiClient()
            else:
                self._api_client = config.new_client_from_config(context=self.settings.kube_context)
        return self._api_client

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.client())

    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.client())


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from kubernetes.client.exceptions import ApiException

    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except ApiException as exc:
        reason = {403: "forbidden by RBAC", 404: "not found"}.get(exc.status, exc.reason)
        raise ToolError(f"Kubernetes API: {exc.status} {reason}") from None


def tools(settings: Any, kube: Kube | None = None) -> list[Tool]:
    k = kube or Kube(settings)
    ns = k.namespace

    async def list_pods(a: dict[str, Any]) -> str:
        pods = await _run(k.core().list_namespaced_pod, ns)
        rows = []
        for p in pods.items:
            restarts = sum(c.restart_count for c in (p.status.container_statuses or []))
            rows.append([p.metadata.name, p.status.phase, restarts, _age(p.metadata.creation_timestamp)])
        return f"namespace {ns}\n" + table(rows, ["NAME", "STATUS", "RESTARTS", "AGE"])

    async def get_pod(a: dict[str, Any]) -> str:
        p = await _run(k.core().read_namespaced_pod, a["name"], ns)
        lines = [
            f"name: {p.metadata.name}",
            f"namespace: {ns}",
            f"phase: {p.status.phase}",
            f"node: {p.spec.node_name}",
            f"ip: {p.status.pod_ip}",
        ]
        for c in p.spec.containers:
            lines.append(f"container {c.name}: image {c.image}")
        for cs in p.status.container_statuses or []:
            state = next((s for s in ("running", "waiting", "terminated") if getattr(cs.state, s)), "unknown")
            detail = getattr(cs.state, state, None)
            reason = getattr(detail, "reason", None) if detail else None
            lines.append(
                f"status {cs.name}: ready={cs.ready} restarts={cs.restart_count} state={state}"
                + (f" ({reason})" if reason else "")
            )
        for cond in p.status.conditions or []:
            lines.append(f"condition {cond.type}={cond.status}")
        return "\n".join(lines)

    async def pod_logs(a: dict[str, Any]) -> str:
        kwargs: dict[str, Any] = {"tail_lines": a.get("tail", 100)}
        if a.get("container"):
            kwargs["container"] = a["container"]
        return await _run(k.core().read_namespaced_pod_log, a["name"], ns, **kwargs) or "(no output)"

    async def list_deployments(a: dict[str, Any]) -> str:
        deps = await _run(k.apps().list_namespaced_deployment, ns)
        rows = [
            [
                d.metadata.name,
                f"{d.status.ready_replicas or 0}/{d.spec.replicas}",
                d.status.updated_replicas or 0,
                d.status.available_replicas or 0,
                _age(d.metadata.creation_timestamp),
            ]
            for d in deps.items
        ]
        return table(rows, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])

    async def get_deployment(a: dict[str, Any]) -> str:
        d = await _run(k.apps().read_namespaced_deployment, a["name"], ns)
        lines = [
            f"name: {d.metadata.name}",
            f"replicas: {d.spec.replicas}",
            f"ready: {d.status.ready_replicas or 0}",
            f"available: {d.status.available_replicas or 0}",
        ]
        for c in d.spec.template.spec.containers:
            lines.append(f"container {c.name}: image {c.image}")
            for e in c.env or []:
                lines.append(f"  env {e.name}={'<from secret/configmap>' if e.value_from else e.value}")
        for cond in d.status.conditions or []:
            lines.append(f"condition {cond.type}={cond.status} {cond.reason or ''}".rstrip())
        return "\n".join(lines)

    async def restart_deployment(a: dict[str, Any]) -> str:
        now = dt.datetime.now(dt.UTC).isoformat()
        body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}}
        await _run(k.apps().patch_namespaced_deployment, a["name"], ns, body)
        return f"Deployment '{a['name']}' rolling restart started"

    async def scale_deployment(a: dict[str, Any]) -> str:
        await _run(k.apps().patch_namespaced_deployment_scale, a["name"], ns, {"spec": {"replicas": a["replicas"]}})
        return f"Deployment '{a['name']}' scaled to {a['replicas']} replicas"

    async def list_services(a: dict[str, Any]) -> str:
        svcs = await _run(k.core().list_namespaced_service, ns)
        rows = [
            [
                s.metadata.name,
                s.spec.type,
                s.spec.cluster_ip,
                ",".join(f"{p.port}/{p.protocol}" for p in (s.spec.ports or [])),
            ]
            for s in svcs.items
        ]
        return table(rows, ["NAME", "TYPE", "CLUSTER-IP", "PORTS"])

    async def list_configmaps(a: dict[str, Any]) -> str:
        cms = await _run(k.core().list_namespaced_config_map, ns)
        return table([[c.metadata.name, len(c.data or {})] for c in cms.items], ["NAME", "KEYS"])

    async def get_configmap(a: dict[str, Any]) -> str:
        c = await _run(k.core().read_namespaced_config_map, a["name"], ns)
        return "\n".join(f"{key}:\n{value}" for key, value in sorted((c.data or {}).items())) or "(empty)"

    async def list_secrets(a: dict[str, Any]) -> str:
        # Names and types only: secret data never reaches the model.
        secrets = await _run(k.core().list_namespaced_secret, ns)
        return table([[s.metadata.name, s.type, len(s.data or {})] for s in secrets.items], ["NAME", "TYPE", "KEYS"])

    async def get_events(a: dict[str, Any]) -> str:
        events = await _run(k.core().list_namespaced_event, ns)
        items = sorted(
            events.items,
            key=lambda e: (
                e.last_timestamp
                or e.event_time
                or e.metadata.creation_timestamp
                or dt.datetime.min.replace(tzinfo=dt.UTC)
            ),
            reverse=True,
        )[: a.get("limit", 20)]
        rows = [
            [e.type, e.reason, f"{e.involved_object.kind}/{e.involved_object.name}", (e.message or "")[:120]]
            for e in items
        ]
        return table(rows, ["TYPE", "REASON", "OBJECT", "MESSAGE"])

    name = {"name": {"type": "string", "description": "Object name"}}
    return [
        Tool("k8s_list_pods", "List pods in the agent's namespace", params(), list_pods, group="kubernetes"),
        Tool("k8s_get_pod", "Show one pod", params(name, ["name"]), get_pod, group="kubernetes"),
        Tool(
            "k8s_get_pod_logs",
            "Tail a pod's logs",
            params(
                {**name, "container": {"type": "string"}, "tail": {"type": "integer", "minimum": 1, "maximum": 5000}},
                ["name"],
            ),
            pod_logs,
            group="kubernetes",
        ),
        Tool("k8s_list_deployments", "List deployments", params(), list_deployments, group="kubernetes"),
        Tool("k8s_get_deployment", "Show one deployment", params(name, ["name"]), get_deployment, group="kubernetes"),
        Tool(
            "k8s_restart_deployment",
            "Rolling-restart a deployment",
            params(name, ["name"]),
            restart_deployment,
            destructive=True,
            group="kubernetes",
        ),
        Tool(
            "k8s_scale_deployment",
            "Set a deployment's replicas",
            params({**name, "replicas": {"type": "integer", "minimum": 0, "maximum": 100}}, ["name", "replicas"]),
            scale_deployment,
            destructive=True,
            group="kubernetes",
        ),
        Tool("k8s_list_services", "List services", params(), list_services, group="kubernetes"),
        Tool("k8s_list_configmaps", "List config maps", params(), list_configmaps, group="kubernetes"),
        Tool(
            "k8s_get_configmap", "Show a config map's data", params(name, ["name"]), get_configmap, group="kubernetes"
        ),
        Tool("k8s_list_secrets", "List secret names (never their data)", params(), list_secrets, group="kubernetes"),
        Tool(
            "k8s_get_events",
            "Recent events in the namespace",
            params({"limit": {"type": "integer", "minimum": 1, "maximum": 200}}),
            get_events,
            group="kubernetes",
        ),
    ]
