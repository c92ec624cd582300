"""``agentic plan --output json``: the plan's summary as one JSON document on stdout, for scripts and CI (what the
terminal tables show, with nothing cut and no markup). The files the plan writes are listed by path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any


def summary(result: Any, out_dir: Path) -> dict[str, Any]:
    from agentic.plan.render import component_of

    run = result.run
    cfg = result.config
    doc: dict[str, Any] = {
        "stack": result.stack,
        "kind": "tenant" if result.is_tenant else "platform",
        "resources": len(run.registrations),
        "components": dict(sorted(Counter(component_of(run, r) for r in run.registrations if r.custom).items())),
        "policies": {
            "findings": [
                {
                    "policy": f.policy,
                    "resource": f.resource,
                    "type": f.type,
                    "message": f.message,
                    "mandatory": f.mandatory,
                }
                for f in result.findings
            ],
            "mandatory_violations": len(result.mandatory_violations),
        },
        "cel": result.cel.as_dict() if result.cel is not None else None,
        "notes": list(run.outputs.get("plan_notes") or []),
        "out_dir": str(out_dir),
        "files": sorted(
            str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file() and "manifests" not in p.parts
        ),
    }
    if result.is_tenant:
        doc["platform_stack"] = cfg.platform_stack
        doc["namespace"] = cfg.namespace
    else:
        doc |= {
            "environment": cfg.environment,
            "region": cfg.aws.region,
            "cluster": cfg.cluster.name,
            "kubernetes_version": cfg.cluster.kubernetes_version,
            "gpu_pools": [
                {
                    "pool": c.pool,
                    "gpu_limit": c.gpu_limit,
                    "priciest_instance": c.worst_instance,
                    "usd_per_gpu_hour": c.usd_per_gpu_hour,
                    "ceiling_usd_per_hour": c.ceiling_usd_per_hour,
                }
                for c in result.costs
            ],
            "gpu_cost_ceiling_usd_per_hour": result.total_ceiling,
        }
    return doc
