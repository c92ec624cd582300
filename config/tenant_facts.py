"""What a platform stack publishes for its self-service tenants (stack output ``tenancy``) and how a tenant stack
reads it: :class:`PlatformFacts`, validated by :func:`parse_facts` with errors that name the platform stack."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, ValidationError

from config.base import ConfigError, Problem, Strict
from config.deploy import DeployIdentity
from config.tenancy import Quota, TenantAllowance
from config.validate import problems_from_pydantic

TENANT_ROOT = "tenant"
#: Version of the platform's ``tenancy`` output this code reads; the platform bumps it on incompatible changes.
FACTS_VERSION = 1


# --- what the platform publishes ----------------------------------------------------------------------------------


class GatewayTokenFacts(Strict):
    aws_secret_name: str
    key: str


#: the Secret a tenant stack syncs its gateway token into; its model configs present it as their API key
GATEWAY_TOKEN_SECRET = "gateway-token"


class TenantAiKeyFacts(Strict):
    """A self-service tenant's AI gateway key: generated and kept in Secrets Manager by the platform stack (which
    gives the gateway its hash); the tenant stack syncs it as Secret ``secret`` (key ``api-key``)."""

    aws_secret_name: str
    secret: str
    models: list[str]
    url: str  # the AI gateway's in-cluster URL (OpenAI base URL: <url>/v1)
    generation: int = 1


class TenantFacts(Strict):
    namespace: str
    self_service: bool
    quota: Quota
    allow: TenantAllowance
    data_ports: list[int] = Field(default_factory=list)
    vpc_service_ports: list[int] = Field(default_factory=list)
    gateway_token: GatewayTokenFacts | None = None
    ai_key: TenantAiKeyFacts | None = None
    redis: TenantRedisFacts | None = None
    milvus: TenantMilvusFacts | None = None
    deploy: DeployIdentity | None = None  # who CI deploys the tenant's stack as (platform tenants[].deploy)


class GatewayFacts(Strict):
    name: str
    namespace: str
    url: str
    model_header: str
    jwt: bool = False


class ModelFacts(Strict):
    hf_model: str
    header: str
    engine: str


class RedisFacts(Strict):
    host: str
    tls: bool


class TenantMilvusFacts(Strict):
    """The tenant's own Milvus user (its own database only): never root's password."""

    user: str
    aws_secret_name: str


class TenantRedisFacts(Strict):
    """The tenant's own Redis user (its key prefix only): never the administrator's password."""

    user: str
    aws_secret_name: str
    generation: int


class MilvusFacts(Strict):
    data_namespace: str
    embedding_env: dict[str, str] = Field(default_factory=dict)  # the knowledge base's embedding model for agents


class PlatformFacts(Strict):
    """Stack output ``tenancy`` of a platform stack: everything a tenant stack builds on."""

    version: int
    environment: str
    cluster_name: str
    region: str
    vpc_cidr: str | None = None
    namespaces: dict[str, str]
    tenant_namespaces: list[str]
    gateway: GatewayFacts | None = None
    models: dict[str, ModelFacts] = Field(default_factory=dict)
    redis: RedisFacts | None = None
    milvus: MilvusFacts | None = None
    secrets_refresh: str = "1h"
    runtime_image: str | None = None
    runtime_auth_env: dict[str, str] = Field(default_factory=dict)
    otel_endpoint: str | None = None
    prometheus: bool = False
    kagent_line: str | None = None
    admins: list[str] = Field(default_factory=list, description="The platform's cluster admins (principal ARNs)")
    tenants: dict[str, TenantFacts]


def parse_facts(raw: Any, platform_stack: str, tenant: str | None = None) -> PlatformFacts:
    """The platform's ``tenancy`` output, or ConfigError naming what the platform stack lacks. With ``tenant``, only
    that tenant's allowance is validated (a platform of 200 tenants costs each tenant stack nothing more)."""
    where = f"platform stack {platform_stack}"
    if isinstance(raw, str):  # the platform publishes it as one JSON string
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ConfigError(
                [Problem(f"{TENANT_ROOT}.platform_stack", f"{where}: output 'tenancy' is not JSON")]
            ) from None
    if raw is None:
        raise ConfigError(
            [
                Problem(
                    f"{TENANT_ROOT}.platform_stack",
                    f"{where} has no output 'tenancy': run `pulumi up` "
                    "on it with an agentic-platform version that publishes tenant allowances",
                )
            ]
        )
    if not isinstance(raw, dict):
        raise ConfigError([Problem(f"{TENANT_ROOT}.platform_stack", f"{where}: output 'tenancy' is not a mapping")])
    if raw.get("version") not in (None, FACTS_VERSION):
        raise ConfigError(
            [
                Problem(
                    f"{TENANT_ROOT}.platform_stack",
                    f"{where} publishes tenancy version "
                    f"{raw.get('version')}; this code reads version {FACTS_VERSION}: upgrade",
                )
            ]
        )
    tenants = raw.get("tenants")
    if tenant is not None and isinstance(tenants, dict) and tenant in tenants:
        raw = {**raw, "tenants": {tenant: tenants[tenant]}}
    try:
        return PlatformFacts.model_validate(raw)
    except ValidationError as exc:
        problems = problems_from_pydantic(exc, PlatformFacts, f"{where}: output tenancy")
        raise ConfigError(
            [Problem(f"{TENANT_ROOT}.platform_stack", f"{p.path}: {p.message}") for p in problems]
        ) from None
