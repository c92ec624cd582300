"""``agentic verify``: a stack's plan applied to a real control plane (and its tenant stacks on top), reported.

One control plane per platform stack (dev and prod create the same namespaces with different contents); a tenant
stack is applied onto the control plane of the platform it builds on, as it would be deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.cluster import apply, nodes, rbac
from agentic.cluster.client import Client
from agentic.cluster.harness import ControlPlane


@dataclass
class Verified:
    stack: str
    control_plane: ControlPlane
    crds: int = 0
    nodes: list[nodes.NodeSpec] = field(default_factory=list)
    reports: dict[str, apply.ApplyReport] = field(default_factory=dict)  # stack -> report (platform, tenants)
    journeys: list[rbac.Outcome] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.control_plane.admin()

    def lines(self) -> list[str]:
        pools: dict[str, int] = {}
        for n in self.nodes:
            pools[n.pool] = pools.get(n.pool, 0) + 1
        out = [
            f"{self.stack}: control plane {self.control_plane.version()} with {self.crds} pinned CRDs (the groups it uses) and "
            f"{len(self.nodes)} simulated nodes ({', '.join(f'{k} {v}' for k, v in pools.items())})"
        ]
        for report in self.reports.values():
            out += report.lines()
        if self.journeys:
            failed = [j for j in self.journeys if not j.ok]
            out.append(f"{self.stack}: RBAC journeys {len(self.journeys) - len(failed)} passed, {len(failed)} failed")
            out += [f"  journey failed: {j.line}" for j in failed]
        return out


def start(directory: Path) -> ControlPlane:
    return ControlPlane(directory).start()


def verify(
    cp: ControlPlane, platform_plan: Any, tenant_plans: list[Any] | None = None, journeys: bool = True
) -> Verified:
    client = cp.admin()
    result = Verified(platform_plan.stack, cp)
    objects = apply.plan_objects(platform_plan)
    tenants = {tp.stack: apply.plan_objects(tp) for tp in tenant_plans or []}
    # only the CRDs of the groups the plans use: Argo's full CRDs alone cost ~9 s of API server time to establish
    used = apply.api_groups([o for objs in [objects, *tenants.values()] for o in objs])
    result.crds = apply.install_crds(client, groups=used)
    result.nodes = nodes.node_specs(platform_plan.config, objects)
    nodes.register(client, result.nodes)
    result.reports[platform_plan.stack] = apply.apply_plan(
        client, platform_plan.stack, objects, apply.helm_release_count(platform_plan)
    )
    for tp in tenant_plans or []:
        result.reports[tp.stack] = apply.apply_plan(client, tp.stack, tenants[tp.stack], apply.helm_release_count(tp))
    if journeys:
        result.journeys = rbac.run(
            client, rbac.journeys(platform_plan.config, [tp.config for tp in tenant_plans or []])
        )
    return result
