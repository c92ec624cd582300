"""Images the config names: known vulnerabilities of the engines' releases (catalog.versions.VLLM_VULNERABILITIES)."""

from __future__ import annotations

import re

from catalog.versions import VLLM_VULNERABILITIES


def vllm_vulnerabilities(image: str) -> list[str]:
    """The known vulnerabilities of a vLLM image by its tag (``v0.28.0``, ``0.28.0``, ``v0.28.0-cu128``); an
    unversioned tag (``latest``, a digest) cannot be checked and yields none."""
    tag = image.rsplit("@", 1)[0].rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag)
    if not m:
        return []
    have = tuple(int(x) for x in m.groups())
    return [
        f"{cve} ({what}; fixed in {fixed})"
        for cve, fixed, what in VLLM_VULNERABILITIES
        if have < tuple(int(x) for x in fixed.split("."))
    ]
