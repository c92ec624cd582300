"""How the platform's domains connect: who reads which credential and data store, which namespaces reach which
VPC services, what the kagent translator and tenant stacks are told about the rest of the platform. Pure functions of
the typed config (and the handles built so far), used by the composition in :mod:`program`."""

from __future__ import annotations

from typing import Any

from components.agents import kagent_v0_10
from components.data.milvus import ROOT as MILVUS_ROOT
from components.data.milvus import user_ref as milvus_user_ref
from components.data.redis import AUTH as REDIS_AUTH
from components.data.redis import service_user_ref
from components.data.redis import user_ref as redis_user_ref
from components.observability.langfuse import PUBLIC_KEY as LANGFUSE_PUBLIC_KEY
from components.observability.langfuse import SECRET_KEY as LANGFUSE_SECRET_KEY
from components.observability.monitoring import GRAFANA_ADMIN
from components.secrets.credentials import Credential
from components.secrets.operator import SecretsStore
from components.tenancy.namespaces import DATA_PORTS
from components.traffic import ai_gateway
from components.traffic.kgateway import in_cluster_host
from config import Platform
from config.agents import database_mode, runtime_auth_env
from config.ai_gateway import budgets_counted
from config.data import BUDGETS_REDIS_USER, embedding_of, milvus_identity, redis_key_prefix, redis_user
from config.secrets import SecretRef, aws_name
from config.tenant_stack import FACTS_VERSION
from kit.shared import Shared

#: The OpenTelemetry collector's Service (the name the observability domain deploys it under)
OTEL_COLLECTOR = "opentelemetry-collector"


def vpc_service_ports(cfg: Platform) -> dict[str, list[int]]:
    """Which namespaces reach AWS services inside the VPC: ElastiCache (agents and tenants allowed Redis), RDS
    (kagent in the agents namespace, Langfuse in the observability namespace)."""
    out: dict[str, set[int]] = {}
    agents = next(ns.name for ns in cfg.namespaces if ns.layer == "agents")
    obs = next(ns.name for ns in cfg.namespaces if ns.layer == "observability")
    if cfg.data.redis.enabled and cfg.data.redis.mode == "elasticache":
        for ns in [agents, *(t.namespace for t in cfg.tenants if t.allow.redis)]:
            out.setdefault(ns, set()).add(6379)
        if budgets_counted(cfg):  # the AI gateway's budget counter
            out.setdefault(_layer(cfg, "gateway"), set()).add(6379)
    if cfg.kagent.enabled and database_mode(cfg) == "rds":
        out.setdefault(agents, set()).add(5432)
    if cfg.observability.langfuse and cfg.environment == "prod":
        out.setdefault(obs, set()).add(5432)
    ch = cfg.observability.langfuse_clickhouse
    if cfg.observability.langfuse and ch.mode == "external":  # a ClickHouse in the VPC (PrivateLink or EC2)
        out.setdefault(obs, set()).update({ch.http_port, ch.native_port})
    return {ns: sorted(ports) for ns, ports in out.items()}


def tenant_data_ports(cfg: Platform) -> dict[str, list[int]]:
    """The data ports each tenant may reach: those of the enabled stores its allowance names; and Redis for the AI
    gateway's budget counter in the gateway namespace."""
    enabled = {"redis": cfg.data.redis.enabled, "milvus": cfg.data.milvus.enabled}
    out = {
        t.namespace: sorted(port for store, port in DATA_PORTS.items() if enabled[store] and getattr(t.allow, store))
        for t in cfg.tenants
    }
    if budgets_counted(cfg) and cfg.data.redis.mode == "in_cluster":  # ElastiCache: vpc_service_ports
        out[_layer(cfg, "gateway")] = [DATA_PORTS["redis"]]
    return out


def _layer(cfg: Platform, layer: str) -> str:
    return next(ns.name for ns in cfg.namespaces if ns.layer == layer)


def credentials_of(cfg: Platform, shared: Shared) -> list[Credential]:
    """Every credential the platform uses, with the namespaces that read it."""
    ns = shared.namespaces
    out = [
        Credential(
            m.hf_token,
            (ns["inference"],),
            (f"model server {m.name} ({ns['inference']})",),
            f"Hugging Face token of model {m.name}",
        )
        for m in cfg.models
        if m.hf_token
    ]
    if cfg.kagent.enabled:
        homes = kagent_v0_10.model_config_namespaces(cfg.kagent, agent_context(cfg, shared))
        out += [
            Credential(
                mc.api_key,
                tuple(homes[mc.name]),
                (f"agents using model config {mc.name}",),
                f"{mc.provider} API key of model config {mc.name}",
            )
            for mc in cfg.kagent.model_configs
            if mc.api_key
        ]
        out += [
            Credential(
                ref,
                (kagent_v0_10.namespace_of(a, agent_context(cfg, shared)),),
                (f"agent {a.name}",),
                f"{env} of agent {a.name}",
            )
            for a in cfg.kagent.agents
            for env, ref in sorted(a.secret_env.items())
        ]
        out += [
            Credential(
                a.gitea.token,
                (kagent_v0_10.namespace_of(a, agent_context(cfg, shared)),),
                (f"agent {a.name}",),
                f"Gitea API token of agent {a.name}",
            )
            for a in cfg.kagent.agents
            if a.gitea is not None
        ]
    from program.ai_wiring import ai_gateway_credentials  # it reads agent_context, defined here

    out += ai_gateway_credentials(cfg, shared)
    data = cfg.data
    if data.redis.enabled:
        out.append(
            Credential(
                REDIS_AUTH.model_copy(update={"generation": cfg.secrets.rotation.get("redis-auth", 1)}),
                (),
                (f"valkey ({ns['data']})",) if data.redis.mode == "in_cluster" else ("ElastiCache user 'default'",),
                "Redis/Valkey administrator (no agent holds it)",
            )
        )
        out += [
            Credential(
                redis_user_ref(user_ns, dict(cfg.secrets.rotation)),
                (),
                (f"agents in {user_ns} (Secret redis-connection), the server's ACL",),
                f"Redis user {redis_user(user_ns)}: keys {redis_key_prefix(user_ns)}* only",
            )
            for user_ns in redis_users(cfg, shared)
        ]
        if budgets_counted(cfg):
            out.append(
                Credential(
                    service_user_ref(BUDGETS_REDIS_USER, dict(cfg.secrets.rotation)),
                    (),
                    (f"the AI gateway's budget counter in {ns['gateway']} (Secret {BUDGETS_REDIS_USER}-redis)",),
                    f"Redis user {BUDGETS_REDIS_USER}: keys {BUDGETS_REDIS_USER}:* only",
                )
            )
    if data.milvus.enabled:
        out += [
            Credential(
                milvus_user_ref(user_ns),
                (),
                (f"agents in {user_ns} (Secret milvus-connection), the kb-init job",),
                f"Milvus user {milvus_identity(user_ns)}: its own database only",
            )
            for user_ns in milvus_users(cfg, shared)
        ]
    obs = cfg.observability
    receivers = [
        ("slack webhook", obs.alerts.slack.webhook if obs.alerts.slack else None),
        ("e-mail password", obs.alerts.email.password if obs.alerts.email else None),
    ]
    out += [
        Credential(ref, (ns["observability"],), ("alertmanager (observability)",), f"Alertmanager {what}")
        for what, ref in receivers
        if ref is not None and obs.prometheus
    ]
    out += [
        Credential(
            wf.notify_on_failure,
            (ns["agents"],),
            (f"workflow {wf.name} exit handler ({ns['agents']})",),
            f"Slack webhook notified when workflow {wf.name} fails",
        )
        for wf in cfg.workflows
        if wf.notify_on_failure
    ]
    if cfg.observability.prometheus and cfg.observability.grafana:
        out.append(
            Credential(
                GRAFANA_ADMIN.model_copy(update={"generation": cfg.secrets.rotation.get(GRAFANA_ADMIN.name, 1)}),
                (),
                (f"grafana ({ns['observability']})",),
                "Grafana admin password",
            )
        )
    if obs.langfuse and obs.langfuse_clickhouse.password is not None:
        out.append(
            Credential(
                obs.langfuse_clickhouse.password,
                (ns["observability"],),
                (f"langfuse ({ns['observability']})",),
                "Langfuse's ClickHouse password",
            )
        )
    if obs.langfuse or obs.langfuse_keys.host:
        out += [
            Credential(ref, (), (), f"Langfuse project {what} key")
            for what, ref in zip(("public", "secret"), langfuse_refs(cfg), strict=False)
        ]
    out += [
        Credential(
            t.allow.gateway_token,
            (),
            (f"tenant {t.name}'s model configs (its own stack syncs it)",),
            f"gateway token of tenant {t.name}",
        )
        for t in cfg.tenants
        if t.allow.gateway_token is not None and t.self_service
    ]
    if data.milvus.enabled:
        out.append(Credential(MILVUS_ROOT, (), (), "Milvus root password (set once by the kb-init job)"))
    return out


def agent_context(cfg: Platform, shared: Shared, image: Any = None) -> kagent_v0_10.Context:
    """What the kagent translator needs from the rest of the platform."""
    obs = shared.namespaces.get("observability")
    gateway = f"http://{in_cluster_host(cfg.gateway, shared.namespaces['gateway'])}" if cfg.gateway.enabled else None
    return kagent_v0_10.Context(
        agents_namespace=shared.namespaces["agents"],
        gateway_url=gateway,
        model_header=cfg.gateway.model_header,
        platform_models={m.name: kagent_v0_10.PlatformModel(m.hf_model, m.header_value, m.engine) for m in cfg.models},
        runtime_image=image,
        otel_endpoint=f"http://{OTEL_COLLECTOR}.{obs}.svc.cluster.local:4317"
        if cfg.observability.otel_collector and obs
        else None,
        auth_env=runtime_auth_env(cfg.kagent.runtime_auth),
        redis=cfg.data.redis.enabled,
        milvus=cfg.data.milvus.enabled,
        embedding_env=platform_embedding_env(cfg, gateway),
        ai_gateway_url=ai_gateway.url(cfg.gateway.ai, shared.namespaces["gateway"]) if cfg.gateway.ai.enabled else None,
        ai_key_secrets={
            **{k.model_config_name: k.secret_name for k in cfg.gateway.ai.keys if k.model_config_name},
            **{f"agent:{k.agent}": k.secret_name for k in cfg.gateway.ai.keys if k.agent},
        },
    )


def platform_embedding_env(cfg: Platform, gateway_url: str | None) -> dict[str, str]:
    """The knowledge base's embedding settings for agents (and, through 'tenancy', tenant agents)."""
    found = embedding_of(cfg)
    if found is None:
        return {}
    provider, model, dim, name = found
    header = None
    if name is not None:
        served = next(m for m in cfg.models if m.name == name)
        header = f"{cfg.gateway.model_header}={served.header_value}"
    return kagent_v0_10.runtime_embedding_env(provider, model, dim, header, gateway_url)


def redis_readers(cfg: Platform, shared: Shared) -> list[str]:
    """Namespaces this stack gives Secret redis-connection (self-service tenants make their own)."""
    return [shared.namespaces["agents"], *(t.namespace for t in cfg.tenants if t.allow.redis and not t.self_service)]


def redis_users(cfg: Platform, shared: Shared) -> list[str]:
    """Namespaces whose agents have a Redis user of their own: the agents layer and every tenant allowed Redis."""
    return [shared.namespaces["agents"], *(t.namespace for t in cfg.tenants if t.allow.redis)]


def milvus_users(cfg: Platform, shared: Shared) -> list[str]:
    """Namespaces whose agents have a Milvus user, role and database of their own."""
    return [shared.namespaces["agents"], *(t.namespace for t in cfg.tenants if t.allow.milvus)]


def milvus_readers(cfg: Platform, shared: Shared) -> list[str]:
    return [shared.namespaces["agents"], *(t.namespace for t in cfg.tenants if t.allow.milvus and not t.self_service)]


def base_tags(cfg: Platform) -> dict[str, str]:
    return {
        "agentic.platform/environment": cfg.environment,
        "agentic.platform/cluster": cfg.cluster.name,
        "managed-by": "pulumi",
        **cfg.aws.tags,
    }


def tenancy_facts(cfg: Platform, shared: Shared, store: SecretsStore, image: Any, redis: Any) -> dict[str, Any]:
    """Stack output ``tenancy``: what tenant stacks build on and the allowance each tenant is held to
    (config.tenant_stack.PlatformFacts reads it)."""
    from program.ai_wiring import tenant_ai_key  # program.ai_wiring imports this module

    ctx = agent_context(cfg, shared)
    data = tenant_data_ports(cfg)
    vpc = vpc_service_ports(cfg)
    gw = cfg.gateway
    return {
        "version": FACTS_VERSION,
        "environment": cfg.environment,
        "cluster_name": cfg.cluster.name,
        "region": cfg.aws.region,
        "vpc_cidr": cfg.network.vpc_cidr,
        "namespaces": dict(shared.namespaces),
        "tenant_namespaces": list(shared.tenant_namespaces),
        "gateway": {
            "name": gw.name,
            "namespace": shared.namespaces["gateway"],
            "url": ctx.gateway_url,
            "model_header": gw.model_header,
            "jwt": gw.jwt is not None,
        }
        if gw.enabled
        else None,
        "models": {m.name: {"hf_model": m.hf_model, "header": m.header_value, "engine": m.engine} for m in cfg.models},
        "redis": {"host": redis.host, "tls": redis.tls} if redis is not None else None,
        "milvus": {
            "data_namespace": shared.namespaces["data"],
            "embedding_env": dict(ctx.embedding_env),
        }
        if cfg.data.milvus.enabled
        else None,
        "secrets_refresh": store.refresh_interval,
        "runtime_image": image.ref if image is not None else None,
        "runtime_auth_env": runtime_auth_env(cfg.kagent.runtime_auth),
        "otel_endpoint": ctx.otel_endpoint,
        "prometheus": cfg.observability.prometheus,
        "kagent_line": cfg.kagent.line if cfg.kagent.enabled else None,
        "admins": [a.principal_arn for a in cfg.cluster.admins],
        "tenants": {
            t.name: {
                "namespace": t.namespace,
                "self_service": t.self_service,
                "quota": t.quota.model_dump(),
                "allow": {
                    "redis": t.allow.redis,
                    "milvus": t.allow.milvus,
                    "models": list(t.allow.models),
                    "max_agents": t.allow.max_agents,
                    "egress": list(t.allow.egress),
                },
                "data_ports": data[t.namespace],
                "vpc_service_ports": vpc.get(t.namespace, []),
                "gateway_token": {
                    "aws_secret_name": aws_name(t.allow.gateway_token, store.prefix),
                    "key": t.allow.gateway_token.key,
                }
                if t.allow.gateway_token is not None and t.self_service
                else None,
                "ai_key": tenant_ai_key(cfg, t.name, shared.namespaces["gateway"], store.prefix)
                if t.self_service
                else None,
                "redis": {
                    "user": redis_user(t.namespace),
                    "aws_secret_name": aws_name(redis.users[t.namespace], store.prefix),
                    "generation": redis.users[t.namespace].generation,
                }
                if redis is not None and t.allow.redis
                else None,
                "milvus": {
                    "user": milvus_identity(t.namespace),
                    "aws_secret_name": aws_name(milvus_user_ref(t.namespace), store.prefix),
                }
                if cfg.data.milvus.enabled and t.allow.milvus
                else None,
                "deploy": {
                    "aws_role_arn": t.deploy.aws_role_arn,
                    "github_environment": t.deploy.github_environment,
                    "preview_role_arn": t.deploy.preview_role_arn,
                }
                if t.deploy is not None and t.self_service
                else None,
            }
            for t in cfg.tenants
        },
    }


def langfuse_refs(cfg: Platform) -> tuple[SecretRef, SecretRef]:
    keys = cfg.observability.langfuse_keys
    return keys.public_key or LANGFUSE_PUBLIC_KEY, keys.secret_key or LANGFUSE_SECRET_KEY


def needs_keda(cfg: Platform) -> bool:
    agents = cfg.kagent.agents if cfg.kagent.enabled else []
    return any(m.autoscaling for m in cfg.models) or any(a.scaling and a.scaling.kind != "hpa" for a in agents)
