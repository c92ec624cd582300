"""References to secrets. A value never appears in config: only where it lives."""

from __future__ import annotations

from pydantic import Field

from config.base import DnsLabel, Strict


class SecretRef(Strict):
    """A Kubernetes Secret key, created from AWS Secrets Manager (never a literal value)."""

    name: DnsLabel
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]+$")
    aws_secret_name: str | None = Field(default=None, description="Secrets Manager secret the value syncs from")
