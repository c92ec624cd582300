"""The composition layer: what a stack registers, from its typed config.

``agentic-platform:platform`` -> :mod:`program.platform` (the platform: AWS, EKS, every layer);
``agentic-platform:tenant`` -> :mod:`program.tenant` (one team's self-service slice, on a platform stack).
Each is imported only when its kind of stack runs, so a tenant stack loads no platform components.
"""

from __future__ import annotations

import importlib
from typing import Any

import pulumi

from config.loader import PROJECT
from config.tenant_stack import KEY as TENANT_KEY


def main() -> None:
    """Build the stack Pulumi runs: a tenant stack when its config sets ``agentic-platform:tenant``."""
    tenant = pulumi.Config(PROJECT).get_object(TENANT_KEY)
    if tenant is not None:
        tenant_program = importlib.import_module("program.tenant")
        tenant_program.build(tenant_program.load_from_pulumi_config(tenant))
    else:
        platform = importlib.import_module("program.platform")
        platform.build(platform.load_from_pulumi_config())


def __getattr__(name: str) -> Any:
    """``program.build`` and friends: the platform composition's names, imported on first use."""
    if name.startswith("_") or name in ("platform", "tenant", "wiring"):
        raise AttributeError(f"module 'program' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module("program.platform"), name)
    except AttributeError:
        raise AttributeError(f"module 'program' has no attribute {name!r}") from None
