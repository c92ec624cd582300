"""What every policy module shares. Imports nothing from the project (the pack installs alone)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get(d: Any, *path: str, default: Any = None) -> Any:
    """``d[path[0]][path[1]]...``, or ``default`` where the path leaves the mappings."""
    for key in path:
        if not isinstance(d, Mapping) or key not in d:
            return default
        d = d[key]
    return d
