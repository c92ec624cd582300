"""Where the platform config comes from on disk: a ``Pulumi.<stack>.yaml`` in the project directory, which is the
current directory unless told otherwise (like ``pulumi`` itself). Reading it from a running stack is the
composition's job (:func:`program.load_from_pulumi_config`), so this package never imports Pulumi."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from config.base import ConfigError, Problem
from config.platform import Platform
from config.validate import parse_platform

PROJECT = "agentic-platform"
KEY = "platform"
FULL_KEY = f"{PROJECT}:{KEY}"
SECRET = "[secret]"


def stack_file(stack: str, root: Path | None = None) -> Path:
    return (root or Path.cwd()) / f"Pulumi.{stack}.yaml"


MAX_FILE_BYTES = 4 * 2**20
MAX_ALIASES = 200


class DuplicateKey(yaml.YAMLError):
    """A mapping gives the same key twice: YAML parsers keep the last silently, which hides a whole block."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses files using many aliases (an alias bomb expands exponentially downstream) and
    mappings that give a key twice (naming both lines)."""

    aliases = 0

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in seen and key != "<<":
                    raise DuplicateKey(
                        f"key '{key}' is given twice (lines {seen[key]} and {line}): YAML would keep only the "
                        "second; merge them into one"
                    )
                seen[key] = line
        return super().construct_mapping(node, deep)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} YAML aliases: refusing to expand them")
        return super().compose_node(parent, index)


def read_secrets_provider(path: Path) -> str | None:
    """The stack file's top-level ``secretsprovider`` (``awskms://...``; None: Pulumi's default for the backend)."""
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506 - a SafeLoader subclass
    value = doc.get("secretsprovider") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def read_stack_config(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file, keys fully qualified (``project:key``)."""
    if not path.exists():
        raise ConfigError(
            [
                Problem(
                    str(path),
                    "stack file not found: create it, pick another --stack, or run from "
                    "the project directory (or pass -C DIR)",
                )
            ]
        )
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([Problem(str(path), f"is {len(data)} bytes: a stack file over {MAX_FILE_BYTES} is refused")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), f"is not UTF-8 text (byte {exc.start}): save it as UTF-8")]) from None
    try:
        doc = yaml.load(text, Loader=_Loader) or {}  # noqa: S506 - a SafeLoader subclass
    except DuplicateKey as exc:
        raise ConfigError([Problem(str(path), str(exc))]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), f"is not valid YAML: {str(exc)[:300]}")]) from None
    except RecursionError:
        raise ConfigError([Problem(str(path), "is nested too deeply to be a stack file")]) from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise ConfigError([Problem(f"{path}:config", "must be a mapping of config keys")])
    return {(k if ":" in str(k) else f"{PROJECT}:{k}"): v for k, v in config.items()}


def load_stack(stack: str, root: Path | None = None) -> tuple[dict[str, Any], Platform]:
    """The stack file's config (secure values replaced by a redacted stand-in) and its validated platform model."""
    path = stack_file(stack, root)
    config = read_stack_config(path)
    for k, v in list(config.items()):
        if isinstance(v, dict) and "secure" in v:
            config[k] = SECRET  # ciphertext cannot be decrypted offline; the program sees a redacted stand-in
    if FULL_KEY not in config:
        raise ConfigError([Problem(f"{path}:{FULL_KEY}", "is not set: copy Pulumi.dev.yaml as a starting point")])
    cfg = parse_platform(config[FULL_KEY], source=str(path))
    problems = stack_problems(stack, config, cfg)
    if problems:
        raise ConfigError(problems, str(path))
    return config, cfg


def stack_problems(stack: str, config: dict[str, Any], cfg: Platform) -> list[Problem]:
    """What the platform config and the rest of its stack file disagree on: a credential kept as a stack secret
    that the file does not set, and an ``aws:region`` other than ``platform.aws.region``."""
    from config.secrets import secret_refs

    out = []
    for where, ref in secret_refs(cfg):
        if ref.source == "stack" and ref.stack_key and f"{PROJECT}:{ref.stack_key}" not in config:
            out.append(
                Problem(
                    f"{where}.stack_key",
                    f"the stack secret '{ref.stack_key}' is not set in Pulumi.{stack}.yaml: "
                    f"pulumi config set --secret {ref.stack_key} <value> --stack {stack}",
                )
            )
    region = config.get("aws:region")
    if region is not None and region != cfg.aws.region:
        out.append(
            Problem(
                "aws:region",
                f"is {region}, but platform.aws.region is {cfg.aws.region}: the AWS provider and the platform "
                "would disagree on where resources go; make them the same",
            )
        )
    return out


def stack_kind(stack: str, root: Path | None = None) -> str:
    """'tenant' when the stack file sets ``agentic-platform:tenant`` (a self-service tenant stack), else 'platform'."""
    return "tenant" if f"{PROJECT}:tenant" in read_stack_config(stack_file(stack, root)) else "platform"


def load_tenant_stack(stack: str, root: Path | None = None) -> tuple[dict[str, Any], Any]:
    """A tenant stack file's config and its validated :class:`config.tenant_stack.TenantStack`."""
    from config.tenant_stack import parse_tenant

    path = stack_file(stack, root)
    config = read_stack_config(path)
    both = FULL_KEY in config
    if both:
        raise ConfigError(
            [
                Problem(
                    f"{path}:{FULL_KEY}",
                    f"a stack is a platform or a tenant stack, not both: remove one of {FULL_KEY} and {PROJECT}:tenant",
                )
            ]
        )
    return config, parse_tenant(config[f"{PROJECT}:tenant"], source=str(path), stack=stack)
