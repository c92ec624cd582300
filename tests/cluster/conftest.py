"""The real control plane, started once per session (on one xdist worker: every test here is in the 'cluster'
group), with the dev plan (and tenant-demo on top of it) and the prod plan applied; stopped at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentic.cluster import verify
from agentic.cluster.harness import ControlPlane
from tests.conftest import PROJECT_ROOT

FIGURES = PROJECT_ROOT / "out" / "verify"


@pytest.fixture(scope="session")
def verified(plans, tmp_path_factory) -> Iterator[Callable[[str], verify.Verified]]:
    """``verified("dev")``: the dev plan and tenant-demo applied to a control plane; ``verified("prod")``: prod."""
    made: dict[str, verify.Verified] = {}

    def get(stack: str) -> verify.Verified:
        if stack not in made:
            cp = ControlPlane(tmp_path_factory.mktemp(f"cp-{stack}")).start()
            try:
                tenants = [plans("tenant-demo")] if stack == "dev" else []
                made[stack] = verify.verify(cp, plans(stack), tenants)
            except BaseException:
                cp.stop(clean=True)
                raise
            FIGURES.mkdir(parents=True, exist_ok=True)
            (FIGURES / f"{stack}.txt").write_text("\n".join(made[stack].lines()) + "\n")
        return made[stack]

    yield get
    for v in made.values():
        v.control_plane.stop(clean=True)


def figures() -> list[str]:
    return [line for p in sorted(FIGURES.glob("*.txt")) for line in Path(p).read_text().splitlines()]
