"""Secrets: where each credential lives, never its value.

Every credential is an AWS Secrets Manager secret under the platform's path prefix, created by the stack, and reaches
pods through an ``ExternalSecret`` (external-secrets operator) in the namespace that needs it. Its value comes from
one of three sources: ``generated`` (a random password made by the stack; bump ``generation`` to rotate it),
``stack`` (a Pulumi secret in stack config: ``pulumi config set --secret <stack_key> ...``) or ``external`` (the
secret is created empty and an operator fills it with ``aws secretsmanager put-secret-value``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from config.base import ROOT, DnsLabel, Duration, Problem, Strict

if TYPE_CHECKING:
    from config.platform import Platform

SecretSource = Literal["generated", "stack", "external"]
_AWS_NAME = r"^[A-Za-z0-9/_+=.@-]{1,512}$"
LITERAL_HINT = (
    "a literal secret value is not accepted here: reference where it lives, e.g. "
    "{name: openai-api-key, key: api-key, source: stack, stack_key: openai-api-key}"
)


class SecretRef(Strict):
    """A credential: the Kubernetes Secret (and key) pods read, and where its value comes from."""

    name: DnsLabel = Field(description="Kubernetes Secret name in each namespace that reads it")
    key: str = Field(default="value", pattern=r"^[-._a-zA-Z0-9]+$", description="Key within that Secret")
    source: SecretSource = Field(default="external", description="generated | stack | external (filled by an operator)")
    aws_secret_name: str | None = Field(
        default=None, pattern=_AWS_NAME, description="Secrets Manager name; default <secrets.path_prefix>/<name>"
    )
    stack_key: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="source 'stack': the Pulumi config key holding the secret value",
    )
    generation: int = Field(
        default=1, ge=1, le=1_000_000, description="source 'generated': change to rotate (consumers restart)"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_literals(cls, data: Any) -> Any:
        if isinstance(data, (str, int, float, bool)):
            raise ValueError(LITERAL_HINT)
        if isinstance(data, dict):
            for literal in ("value", "password", "token", "secret", "api_key", "data"):
                if literal in data:
                    raise ValueError(f"'{literal}': {LITERAL_HINT}")
        return data


class SecretsConfig(Strict):
    """The secrets mechanism: external-secrets with a ClusterSecretStore for AWS Secrets Manager."""

    path_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*$",
        description="Secrets Manager path prefix the operator may read; default agentic/<cluster name>",
    )
    refresh_interval: Duration = Field(default="1h", description="How often ExternalSecrets re-read AWS")
    recovery_window_days: int | None = Field(
        default=None, ge=0, le=30, description="Deletion recovery window; default 7 (dev) / 30 (prod)"
    )
    rotation: dict[str, int] = Field(
        default_factory=dict,
        description="Generation of each platform-generated credential, by name "
        "(redis-auth, milvus-root, grafana-admin): change to rotate",
    )

    def prefix_for(self, cluster: str) -> str:
        return self.path_prefix or f"agentic/{cluster}"


#: Credentials the platform generates for itself, by name: what reads them. ``rotatable``: a new value can simply
#: replace the old one (the Milvus root password cannot: Milvus keeps the one it was bootstrapped with).
PLATFORM_CREDENTIALS: dict[str, bool] = {"redis-auth": True, "milvus-root": False, "grafana-admin": True}


def aws_name(ref: SecretRef, prefix: str) -> str:
    return ref.aws_secret_name or f"{prefix}/{ref.name}"


def secret_refs(cfg: Platform) -> list[tuple[str, SecretRef]]:
    """Every credential the config references, with its config path."""
    refs = [(f"{ROOT}.models[{i}].hf_token", m.hf_token) for i, m in enumerate(cfg.models) if m.hf_token]
    refs += [
        (f"{ROOT}.kagent.model_configs[{i}].api_key", mc.api_key)
        for i, mc in enumerate(cfg.kagent.model_configs)
        if mc.api_key
    ]
    refs += [
        (f"{ROOT}.kagent.agents[{i}].secret_env.{k}", ref)
        for i, a in enumerate(cfg.kagent.agents)
        for k, ref in sorted(a.secret_env.items())
    ]
    refs += [
        (f"{ROOT}.tenants[{i}].allow.gateway_token", t.allow.gateway_token)
        for i, t in enumerate(cfg.tenants)
        if t.allow.gateway_token
    ]
    refs += [
        (f"{ROOT}.gateway.ai.providers[{i}].api_key", p.api_key)
        for i, p in enumerate(cfg.gateway.ai.providers)
        if p.api_key and cfg.gateway.ai.enabled
    ]
    alerts = cfg.observability.alerts
    if alerts.slack:
        refs.append((f"{ROOT}.observability.alerts.slack.webhook", alerts.slack.webhook))
    if alerts.email:
        refs.append((f"{ROOT}.observability.alerts.email.password", alerts.email.password))
    refs += [
        (f"{ROOT}.workflows[{i}].notify_on_failure", wf.notify_on_failure)
        for i, wf in enumerate(cfg.workflows)
        if wf.notify_on_failure
    ]
    keys = cfg.observability.langfuse_keys
    refs += [
        (f"{ROOT}.observability.langfuse_keys.{k}", getattr(keys, k))
        for k in ("public_key", "secret_key")
        if getattr(keys, k)
    ]
    return refs


def check_secrets(cfg: Platform) -> list[Problem]:
    base = f"{ROOT}.secrets"
    prefix = cfg.secrets.prefix_for(cfg.cluster.name)
    out: list[Problem] = []
    known = dict(PLATFORM_CREDENTIALS)
    if cfg.data.redis.enabled:  # each Redis user's own password (components.data.redis.user_ref)
        known |= {"redis-agents": True} | {f"redis-{t.namespace}": True for t in cfg.tenants if t.allow.redis}
    for name in cfg.secrets.rotation:
        if name not in known:
            out.append(
                Problem(
                    f"{base}.rotation.{name}",
                    f"no platform credential is called '{name}': one of {', '.join(known)}",
                )
            )
        elif not known[name]:
            out.append(
                Problem(
                    f"{base}.rotation.{name}",
                    "cannot be rotated by the stack (Milvus keeps the root "
                    "password it was bootstrapped with): change it in Milvus, "
                    "then put the new value in Secrets Manager",
                )
            )
    seen: dict[str, tuple[str, SecretRef]] = {}
    for path, ref in secret_refs(cfg):
        if ref.source == "stack" and not ref.stack_key:
            out.append(
                Problem(
                    f"{path}.stack_key",
                    "source 'stack' needs the Pulumi config key holding the value "
                    "(set it with: pulumi config set --secret <key> <value>)",
                )
            )
        if ref.source != "stack" and ref.stack_key:
            out.append(Problem(f"{path}.stack_key", f"only read when source is 'stack' (source is '{ref.source}')"))
        if ref.source != "generated" and ref.generation != 1:
            out.append(
                Problem(
                    f"{path}.generation",
                    "only generated secrets rotate by generation: rotate a "
                    f"'{ref.source}' secret where its value comes from",
                )
            )
        name = aws_name(ref, prefix)
        if not name.startswith(prefix + "/"):
            out.append(
                Problem(
                    f"{path}.aws_secret_name",
                    f"'{name}' is outside the platform's prefix '{prefix}/': "
                    "the operator may read nothing else. Drop the field or "
                    f"start it with '{prefix}/'",
                )
            )
        if re.search(r"-[A-Za-z0-9]{6}$", name):
            out.append(
                Problem(
                    f"{path}.aws_secret_name",
                    "ends like a Secrets Manager random suffix (-xxxxxx): "
                    "AWS cannot tell such names from partial ARNs; rename it",
                )
            )
        if ref.name in PLATFORM_CREDENTIALS:
            out.append(
                Problem(
                    f"{path}.name", f"'{ref.name}' is a credential the platform generates itself: choose another name"
                )
            )
        earlier = seen.get(name)
        if earlier and earlier[1].model_dump() != ref.model_dump():
            out.append(
                Problem(
                    path,
                    f"Secrets Manager secret '{name}' is also defined differently at {earlier[0]}: "
                    "one secret, one definition",
                )
            )
        seen.setdefault(name, (path, ref))
    return out
