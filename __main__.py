"""Pulumi entry point: load the typed platform config, build the stack. Nothing else lives here."""

from stacks.loader import load_from_pulumi_config
from stacks.platform import build_platform

build_platform(load_from_pulumi_config())
