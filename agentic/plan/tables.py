"""The plan's tables (terminal and summary.md): GPU capacity of the models, credentials and where they sync to,
and the agents with their tools, scaling, identity and route. Read from the config and the rendered objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config import Platform

if TYPE_CHECKING:
    from agentic.plan.render import Plan


def model_capacity(cfg: Platform) -> list[dict[str, Any]]:
    """Per model: GPUs per replica x max replicas on its pool, and whether the pool's GPU limit holds every model of
    the pool at max replicas at once (validation refuses a config where it does not)."""
    per_pool: dict[str, int] = {}
    for m in cfg.models:
        per_pool[m.pool] = per_pool.get(m.pool, 0) + m.gpus * m.max_replicas
    rows = []
    for m in cfg.models:
        pool = cfg.pool(m.pool)
        limit = pool.limits.gpus if pool else 0
        rows.append(
            {
                "model": m.name,
                "engine": m.engine,
                "pool": m.pool,
                "gpus_per_replica": m.gpus,
                # a multi-node replica: "16 (2 nodes x 8)", a group of a LeaderWorkerSet
                "replica_shape": f"{m.gpus} ({m.pipeline_parallel} nodes x {m.gpus_per_node})"
                if m.multi_node
                else str(m.gpus),
                "max_replicas": m.max_replicas,
                "gpus_at_max": m.gpus * m.max_replicas,
                "pool_gpus_at_max": per_pool[m.pool],
                "pool_limit": limit,
                "fits": per_pool[m.pool] <= limit,
                "autoscaled": m.autoscaling is not None,
            }
        )
    return rows


def model_capacity_lines(cfg: Platform) -> list[str]:
    rows = model_capacity(cfg)
    if not rows:
        return []
    out = [
        "## Models: GPU capacity at max replicas",
        "",
        "| model | engine | pool | GPUs/replica | max replicas | GPUs at max | pool total at max / limit | fits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['model']} | {r['engine']} | {r['pool']} | {r['replica_shape']} | {r['max_replicas']}"
            f"{' (autoscaled)' if r['autoscaled'] else ''} | {r['gpus_at_max']} | "
            f"{r['pool_gpus_at_max']} / {r['pool_limit']} | {'yes' if r['fits'] else 'NO'} |"
        )
    return out + [""]


def credential_rows(plan: Plan) -> list[dict[str, Any]]:
    """Each Secrets Manager secret the stack creates: where its value comes from and where it is synced to."""
    run = plan.run
    synced: dict[str, list[str]] = {}
    for es in run.of_type("kubernetes:external-secrets.io/v1:ExternalSecret"):
        meta = es.inputs.get("metadata") or {}
        for d in (es.inputs.get("spec") or {}).get("data") or []:
            synced.setdefault(d["remoteRef"]["key"], []).append(f"{meta.get('namespace')}/{meta.get('name')}")
    generated = {r.name.removesuffix("-value") for r in run.of_type("random:index/randomPassword:RandomPassword")}
    versioned = {r.name.removesuffix("-version") for r in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    rows = []
    for s in run.of_type("aws:secretsmanager/secret:Secret"):
        source = (
            "generated"
            if s.name in generated
            else "stack config (Pulumi secret)"
            if s.name in versioned
            else "filled by an operator"
        )
        rows.append(
            {
                "secret": s.inputs.get("name", s.name),
                "source": source,
                "synced_to": sorted(synced.get(s.inputs.get("name", ""), [])),
            }
        )
    return sorted(rows, key=lambda r: r["secret"])


def agent_rows(plan: Plan) -> list[dict[str, Any]]:
    """Each Agent the plan creates: type, namespace, model, tools (approval-gated ones marked), scaling, route."""
    run = plan.run
    routes = {
        r.inputs["spec"]["rules"][0]["backendRefs"][0]["name"]: r.inputs["spec"]["rules"][0]["matches"][0]["path"][
            "value"
        ]
        for r in run.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
        if r.inputs["metadata"]["name"].startswith("agent-")
    }
    short = {"HorizontalPodAutoscaler": "HPA", "ScaledObject": "KEDA"}
    scalers = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): short[r.inputs["kind"]]
        for r in run.registrations
        if r.inputs.get("kind") in ("HorizontalPodAutoscaler", "ScaledObject")
    }
    identities = {
        r.inputs["serviceAccount"] for r in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    rows = []
    for r in run.of_type("kubernetes:kagent.dev/v1alpha2:Agent"):
        meta, spec = r.inputs["metadata"], r.inputs["spec"]
        ns, name = meta["namespace"], meta["name"]
        decl = spec.get("declarative") or {}
        dep = (decl or spec.get("byo") or {}).get("deployment") or {}
        tools = []
        for t in decl.get("tools") or []:
            if t["type"] == "Agent":
                tools.append(f"agent:{t['agent']['name']}")
            else:
                gated = set(t["mcpServer"].get("requireApproval") or [])
                tools += [f"{n}{' (approval)' if n in gated else ''}" for n in t["mcpServer"].get("toolNames") or []]
        model = decl.get("modelConfig") or next(
            (e["value"] for e in dep.get("env") or [] if e["name"] == "KUBE_AGENT_LLM_MODEL"), "-"
        )
        rows.append(
            {
                "agent": name,
                "namespace": ns,
                "type": spec["type"],
                "model": model,
                "tools": tools,
                "scaling": scalers.get((ns, name), f"replicas {dep.get('replicas', '-')}"),
                "aws": "pod identity" if dep.get("serviceAccountName") in identities else "-",
                "route": routes.get(name, "-"),
            }
        )
    return sorted(rows, key=lambda r: (r["namespace"], r["agent"]))


def agent_lines(plan: Plan) -> list[str]:
    rows = agent_rows(plan)
    if not rows:
        return []
    out = [
        "## Agents (kagent.dev/v1alpha2)",
        "",
        "| agent | namespace | type | model | tools | scaling | AWS | route |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r['agent']} | {r['namespace']} | {r['type']} | {r['model']} | {', '.join(r['tools']) or '-'} | "
        f"{r['scaling']} | {r['aws']} | {r['route']} |"
        for r in rows
    ]
    return out + [""]


def credential_lines(plan: Plan) -> list[str]:
    rows = credential_rows(plan)
    if not rows:
        return []
    out = [
        "## Credentials (AWS Secrets Manager -> ExternalSecrets)",
        "",
        "| secret | value | synced to |",
        "|---|---|---|",
    ]
    out += [f"| {r['secret']} | {r['source']} | {', '.join(r['synced_to']) or '-'} |" for r in rows]
    return out + [""]
