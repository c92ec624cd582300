"""Each tenant's admission parameters, from the same config and translator output that render its objects: what
the platform itself puts in a tenant namespace (its model configs, the MCP servers of other namespaces its agents
use, the images of its BYO agents there) stays admissible; anything else a tenant admin applies is held to the
allowance (components.tenancy.admission)."""

from __future__ import annotations

from typing import Any

import pulumi

from catalog import versions
from components.agents.agents import TRANSLATORS
from components.agents.kagent_v0_10 import Context, namespace_of
from components.tenancy.admission import TenantAdmission
from config.platform import Platform
from kit.shared import Shared


def _image_repository(image: str) -> str:
    """``registry/path/name`` of an image reference (its tag or digest dropped)."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition("/")
    return f"{head}/{tail.split(':', 1)[0]}" if head else tail.split(":", 1)[0]


def _joined(extra: list[str]) -> Any:
    def join(ecr: str) -> str:
        return " ".join([ecr, versions.KAGENT_IMAGES, *extra])

    return join


def tenant_parameters(cfg: Platform, ctx: Context, ecr_registry: pulumi.Input[str]) -> list[dict[str, Any]]:
    """Keyword arguments of components.tenancy.admission.tenant_admission for every tenant of ``cfg``."""
    rendered = TRANSLATORS[cfg.kagent.line](cfg.kagent, ctx) if cfg.kagent.enabled else []
    models = {m.name: m.header_value for m in cfg.models}
    out = []
    for t in cfg.tenants:
        ns = t.namespace
        mine = [o for o in rendered if o["metadata"].get("namespace") == ns]
        servers = sorted(
            {
                f"{ref['namespace']}/{ref['name']}"
                for o in mine
                if o["kind"] == "Agent"
                for tool in (o["spec"].get("declarative") or {}).get("tools") or []
                if (ref := tool.get("mcpServer")) and ref.get("namespace") not in (None, ns)
            }
        )
        own_images = sorted(
            {_image_repository(a.image) for a in cfg.kagent.agents if a.image and namespace_of(a, ctx) == ns}
        )
        registries = pulumi.Output.from_input(ecr_registry).apply(_joined(own_images))
        out.append(
            {
                "tenant": t.name,
                "namespace": ns,
                "params_namespace": ctx.agents_namespace,
                "registries": registries,
                "gpus": t.quota.gpus > 0,
                "gateway_url": f"{ctx.gateway_url}/v1" if ctx.gateway_url else "",
                "model_header": ctx.model_header,
                "models": [models[m] for m in t.allow.models if m in models],
                "model_configs": sorted(o["metadata"]["name"] for o in mine if o["kind"] == "ModelConfig"),
                "mcp_servers": servers,
                "ai_gateway": (f"{ctx.ai_gateway_url}/v1", key.secret_name, list(key.models))
                if ctx.ai_gateway_url and (key := next((k for k in cfg.gateway.ai.keys if k.tenant == t.name), None))
                else ("", "", []),
            }
        )
    return out


def build_admission(cfg: Platform, shared: Shared, ctx: Context, ecr_repository_url: pulumi.Input[str]) -> None:
    """ValidatingAdmissionPolicies for the tenant namespaces (none without tenants)."""
    if not cfg.tenants:
        return
    ecr_registry = pulumi.Output.from_input(ecr_repository_url).apply(lambda url: url.split("/", 1)[0] + "/")
    TenantAdmission(
        f"{cfg.prefix}-tenant-admission", versions.KAGENT_API, tenant_parameters(cfg, ctx, ecr_registry), shared
    )
