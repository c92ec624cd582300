"""AI gateway rules (issue #23) on the rendered stack: with agentgateway's backends present, LLM provider keys stay
with the gateway, every tenant key is rate limited, and the backends carry prompt guards."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

AG = "kubernetes:agentgateway.dev/v1alpha1:"
KEYS_LABEL = "agentic.platform/ai-gateway-keys"


def _meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return props.get("metadata") or {}


def _provider_keys(resources: Iterable[Any]) -> dict[str, str]:
    """Secret name -> namespace of the AgentgatewayBackend that authenticates to a provider with it."""
    out: dict[str, str] = {}
    for r in resources:
        if r.type != AG + "AgentgatewayBackend":
            continue
        ai = (r.props.get("spec") or {}).get("ai") or {}
        providers = [p for g in ai.get("groups") or [] for p in g.get("providers") or []]
        providers += [ai["provider"]] if ai.get("provider") else []
        for p in providers:
            ref = ((p.get("policies") or {}).get("auth") or {}).get("secretRef")
            if ref:
                out[ref["name"]] = _meta(r.props).get("namespace", "")
    return out


def _secret_names(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k in ("secretKeyRef", "secretRef") and isinstance(v, Mapping) and "name" in v:
                yield str(v["name"])
            elif k == "secret" and isinstance(v, Mapping) and "secretName" in v:
                yield str(v["secretName"])
            else:
                yield from _secret_names(v)
    elif isinstance(value, list):
        for v in value:
            yield from _secret_names(v)


def check_provider_keys_stay_in_gateway(resources: list[Any]) -> list[tuple[str, str]]:
    """No model config, agent or workload outside the backends' namespace reads a provider key the gateway holds."""
    keys = _provider_keys(resources)
    out: list[tuple[str, str]] = []
    for r in resources:
        if not r.type.startswith("kubernetes:") or r.type.startswith(AG):
            continue
        ns = _meta(r.props).get("namespace", "")
        kind = r.type.rsplit(":", 1)[-1]
        spec = r.props.get("spec") or {}
        used = set(_secret_names(spec))
        if kind == "ModelConfig" and spec.get("apiKeySecret"):
            used.add(str(spec["apiKeySecret"]))
        if kind == "ExternalSecret":
            used.add(str((spec.get("target") or {}).get("name", "")))
        for name in sorted(used & set(keys)):
            if ns != keys[name]:
                out.append((r.name, f"reads LLM provider key '{name}' that the AI gateway holds: call the gateway "
                                    "with a virtual key instead"))  # fmt: skip
    return out


def check_tenant_keys_limited(resources: list[Any]) -> list[tuple[str, str]]:
    """Every tenant's virtual key has a token rate limit or a spend budget (a conditional rate limit entry)."""
    limited: set[str] = set()
    for r in resources:
        if r.type == AG + "AgentgatewayPolicy":
            for c in (
                (((r.props.get("spec") or {}).get("traffic") or {}).get("rateLimit") or {}).get("conditional")
            ) or []:
                limited.add(str(c.get("condition", "")))
    out: list[tuple[str, str]] = []
    for r in resources:
        if r.type != "kubernetes:core/v1:ConfigMap" or KEYS_LABEL not in (_meta(r.props).get("labels") or {}):
            continue
        for consumer, entry in sorted((r.props.get("data") or {}).items()):
            if not consumer.startswith("tenant-"):
                continue
            meta = json.loads(entry).get("metadata", {}) if isinstance(entry, str) and entry.startswith("{") else {}
            name = meta.get("consumer", consumer)
            if not any(f'"{name}"' in c for c in limited):
                out.append(
                    (
                        r.name,
                        f"tenant key '{name}' has no token rate limit or budget: set gateway.ai.keys[]."
                        "tokens_per_minute or budget_usd_per_day",
                    )
                )
    return out


def check_backends_guarded(resources: list[Any]) -> list[tuple[str, str]]:
    """Every AI backend carries prompt guards (mandatory in prod)."""
    return [
        (r.name, "AI backend without prompt guards: set gateway.ai.guards")
        for r in resources
        if r.type == AG + "AgentgatewayBackend"
        and (r.props.get("spec") or {}).get("ai")
        and not (((r.props.get("spec") or {}).get("policies") or {}).get("ai") or {}).get("promptGuard")
    ]
