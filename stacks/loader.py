"""Where the platform config comes from: Pulumi stack config (real runs) or a ``Pulumi.<stack>.yaml`` file (plan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stacks.config import Platform
from stacks.validation import ConfigError, Problem, parse_platform

PROJECT = "agentic-platform"
KEY = "platform"
FULL_KEY = f"{PROJECT}:{KEY}"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_from_pulumi_config() -> Platform:
    """Read ``agentic-platform:platform`` from the running stack; on bad config fail with the problems, no traceback."""
    import pulumi

    raw = pulumi.Config(PROJECT).get_object(KEY)
    try:
        if raw is None:
            raise ConfigError([Problem(FULL_KEY, "is not set: copy Pulumi.dev.yaml as a starting point")])
        return parse_platform(raw, source=f"stack {pulumi.get_stack()}")
    except ConfigError as exc:
        for problem in exc.problems:
            pulumi.log.error(str(problem))
        raise pulumi.RunError(str(exc)) from None


def stack_file(stack: str, root: Path | None = None) -> Path:
    return (root or PROJECT_ROOT) / f"Pulumi.{stack}.yaml"


def read_stack_config(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file, keys fully qualified (``project:key``)."""
    if not path.exists():
        raise ConfigError([Problem(str(path), "stack file not found: create it or pick another --stack")])
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), f"is not valid YAML: {exc}")]) from None
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([Problem(f"{path}:config", "must be a mapping")])
    return {(k if ":" in k else f"{PROJECT}:{k}"): v for k, v in config.items()}


def load_stack_file(path: Path) -> Platform:
    config = read_stack_config(path)
    if FULL_KEY not in config:
        raise ConfigError([Problem(f"{path}:{FULL_KEY}", "is not set")], source=str(path))
    return parse_platform(config[FULL_KEY], source=str(path))
