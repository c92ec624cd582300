"""YAML as the plan writes it (manifests, Helm values, the reviewer page, diffs): libyaml's emitter when PyYAML was
built with it (several times faster than the pure-Python one on a plan's ~700 documents), the same safe subset."""

from __future__ import annotations

from typing import Any

import yaml

DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(value: Any, *, sort_keys: bool = False) -> str:
    return yaml.dump(value, Dumper=DUMPER, sort_keys=sort_keys, allow_unicode=True, width=120)
