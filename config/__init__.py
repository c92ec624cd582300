"""The typed platform config: one pydantic tree split by domain, its rules, and loading from stack files.

Layer rule: this package imports nothing from Pulumi, the kit, the components or the composition.
"""

from config.base import ConfigError, Problem
from config.platform import Platform
from config.validate import check, parse_platform, warnings

__all__ = ["ConfigError", "Platform", "Problem", "check", "parse_platform", "warnings"]
