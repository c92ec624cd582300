"""Data stores: Milvus (vectors, the knowledge base) and Redis/Valkey (session memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from config.base import ROOT, DnsLabel, Problem, Quantity, Strict

if TYPE_CHECKING:
    from config.platform import Platform


class Resources(Strict):
    cpu: Quantity = "500m"
    memory: Quantity = "1Gi"


#: The agent runtime's packaged model (extra local-embeddings, in the image): all-MiniLM-L6-v2 on ONNX Runtime.
LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
LOCAL_EMBEDDING_DIM = 384


class Embeddings(Strict):
    """The one embedding model of the knowledge base: kb-init creates the collection with its dimension, agents embed
    with it, and (provider platform) the platform serves it."""

    provider: Literal["platform", "local"] = Field(
        default="platform",
        description="platform: a models[] entry with embedding_dim, through the gateway; local: the runtime's "
        f"packaged {LOCAL_EMBEDDING_MODEL} ({LOCAL_EMBEDDING_DIM} dimensions, CPU, in every agent pod)",
    )
    model: DnsLabel | None = Field(default=None, description="provider platform: the name of the embedding model")


class MilvusConfig(Strict):
    enabled: bool = True
    mode: Literal["standalone", "cluster"] = "standalone"
    storage_gib: int = Field(default=50, ge=10, le=65_536, description="Persistent volume per stateful pod")
    object_storage: Literal["in_cluster", "s3"] | None = Field(
        default=None,
        description="Where segments live: in_cluster (MinIO, standalone only) or s3 (a platform "
        "bucket through Pod Identity). Default: in_cluster for standalone, s3 for cluster",
    )
    query_nodes: int = Field(default=2, ge=1, le=100, description="cluster mode: query node replicas")
    data_nodes: int = Field(default=2, ge=1, le=100, description="cluster mode: data node replicas")
    proxies: int = Field(default=2, ge=1, le=100, description="cluster mode: proxy replicas")
    resources: Resources = Resources(cpu="1", memory="4Gi")
    embedding: Embeddings | None = Field(
        default=None, description="The knowledge base's embedding model (required when an agent or tenant uses it)"
    )
    collection: str = Field(default="agent_knowledge", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")

    @property
    def storage(self) -> str:
        return self.object_storage or ("s3" if self.mode == "cluster" else "in_cluster")


class RedisConfig(Strict):
    enabled: bool = True
    mode: Literal["in_cluster", "elasticache"] = "in_cluster"
    engine: Literal["valkey", "redis"] = "valkey"
    # in_cluster (Valkey chart)
    storage_gib: int = Field(default=8, ge=1, le=16_384, description="in_cluster: persistent volume size")
    resources: Resources = Resources(cpu="250m", memory="512Mi")
    # elasticache
    node_type: str = Field(default="cache.t4g.medium", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    replicas: int = Field(default=1, ge=0, le=5, description="elasticache: replicas beside the primary")


class DataConfig(Strict):
    milvus: MilvusConfig = MilvusConfig()
    redis: RedisConfig = RedisConfig()


def embedding_of(cfg: Platform) -> tuple[str, str, int, str | None] | None:
    """(provider, model id, dimension, platform model name) of the knowledge base's embedding model: the one place
    the dimension is read from (the model's own embedding_dim, or the packaged local model's)."""
    e = cfg.data.milvus.embedding
    if e is None:
        return None
    if e.provider == "local":
        return ("local", LOCAL_EMBEDDING_MODEL, LOCAL_EMBEDDING_DIM, None)
    model = next((m for m in cfg.models if m.name == e.model), None)
    if model is None or model.embedding_dim is None:
        return None
    return ("platform", model.hf_model, model.embedding_dim, model.name)


def _check_embedding(cfg: Platform) -> list[Problem]:
    m, base = cfg.data.milvus, f"{ROOT}.data.milvus.embedding"
    users = [f"kagent.agents[{i}]" for i, a in enumerate(cfg.kagent.agents) if a.knowledge_base]
    users += [f"tenants[{i}]" for i, t in enumerate(cfg.tenants) if t.allow.milvus]
    if not m.enabled:
        return []
    if m.embedding is None:
        if users:
            return [
                Problem(
                    base,
                    f"the knowledge base is used ({', '.join(users[:3])}) but has no embedding model: set "
                    "{provider: platform, model: <a models[] entry with embedding_dim>} or {provider: local}",
                )
            ]
        return []
    e = m.embedding
    if e.provider == "local":
        return [Problem(f"{base}.model", "is for provider platform: the local model is fixed")] if e.model else []
    if e.model is None:
        return [Problem(f"{base}.model", "provider platform needs the name of a served embedding model")]
    names = {x.name: x for x in cfg.models}
    if e.model not in names:
        return [Problem(f"{base}.model", f"'{e.model}' is not in models[] (served: {', '.join(names) or 'none'})")]
    if names[e.model].embedding_dim is None:
        i = list(names).index(e.model)
        return [
            Problem(
                f"{base}.model",
                f"'{e.model}' is not an embedding model: set models[{i}].embedding_dim to its output dimension",
            )
        ]
    return []


def check_data(cfg: Platform) -> list[Problem]:
    base = f"{ROOT}.data"
    r, m = cfg.data.redis, cfg.data.milvus
    out: list[Problem] = _check_embedding(cfg)
    set_fields = r.model_fields_set
    if r.enabled and r.mode == "elasticache":
        stray = sorted({"storage_gib", "resources"} & set_fields)
        for f in stray:
            out.append(
                Problem(
                    f"{base}.redis.{f}",
                    "is an in_cluster (Valkey chart) option; ElastiCache sizes by node_type and replicas: remove it",
                )
            )
    if r.enabled and r.mode == "in_cluster":
        stray = sorted({"node_type", "replicas"} & set_fields)
        for f in stray:
            out.append(
                Problem(
                    f"{base}.redis.{f}",
                    "is an ElastiCache option but mode is in_cluster: remove it or set mode: elasticache",
                )
            )
        if r.engine == "redis":
            out.append(Problem(f"{base}.redis.engine", "in-cluster Redis is the official Valkey chart: use 'valkey'"))
    if r.enabled and r.mode == "elasticache" and cfg.environment == "prod" and r.replicas < 1:
        out.append(
            Problem(f"{base}.redis.replicas", "prod needs at least 1 replica: with none there is no multi-AZ failover")
        )
        if cfg.environment == "prod":
            out.append(
                Problem(
                    f"{base}.redis.mode",
                    "prod runs ElastiCache (multi-AZ, failover, TLS): in_cluster Valkey has no automatic failover",
                    severity="warning",
                )
            )
    if m.enabled:
        if m.mode == "cluster" and m.storage != "s3":
            out.append(
                Problem(
                    f"{base}.milvus.object_storage",
                    "cluster mode needs object storage every node reaches: set s3 (a platform bucket)",
                )
            )
        if m.mode == "standalone":
            stray = sorted({"query_nodes", "data_nodes", "proxies"} & m.model_fields_set)
            for f in stray:
                out.append(
                    Problem(
                        f"{base}.milvus.{f}",
                        "is a cluster-mode option but mode is standalone: remove it or set mode: cluster",
                    )
                )
    for i, t in enumerate(cfg.tenants):
        for store, enabled in (("redis", r.enabled), ("milvus", m.enabled)):
            if getattr(t.allow, store) and not enabled:
                out.append(
                    Problem(
                        f"{ROOT}.tenants[{i}].allow.{store}",
                        f"{store} is disabled (data.{store}.enabled: false): enable it or disallow it here",
                    )
                )
    return out


# --- who may use which Redis keys -----------------------------------------------------------------------------------

#: The ACL rule of every Redis user but the administrator: its own key prefix only, the commands session memory and
#: KEDA's list scaler use (read, write, Lua scripts, connection), nothing of @dangerous (KEYS, FLUSHALL, CONFIG,
#: DEBUG, ...), no Pub/Sub channels. ``{prefix}`` is the user's key prefix.
REDIS_ACL = "~{prefix}* resetchannels -@all +@read +@write +@scripting +@connection -@dangerous"


def redis_key_prefix(namespace: str) -> str:
    """The keys a namespace's agents own: ``t:<tenant>:`` for tenant-<tenant>, ``t:platform:`` for the platform's
    (the agent runtime reads the same prefix from REDIS_KEY_PREFIX in its connection Secret)."""
    tenant = namespace.removeprefix("tenant-") if namespace.startswith("tenant-") else "platform"
    return f"t:{tenant}:"


def redis_user(namespace: str) -> str:
    """The Redis user of a namespace's agents: ``tenant-<name>`` for a tenant, ``agents`` for the platform's."""
    return namespace if namespace.startswith("tenant-") else "agents"


def redis_acl(namespace: str) -> str:
    return REDIS_ACL.format(prefix=redis_key_prefix(namespace))


#: Redis users of platform services rather than of a namespace's agents, each limited to keys ``<user>:*``, without
#: scripting: the AI gateway's budget counter (Envoy's rate limit service: INCRBY and EXPIRE).
BUDGETS_REDIS_USER = "ai-budgets"
SERVICE_ACL = "~{user}:* resetchannels -@all +@read +@write +@connection -@dangerous"


def service_acl(user: str) -> str:
    return SERVICE_ACL.format(user=user)


def milvus_identity(namespace: str) -> str:
    """The Milvus user, role and database of a namespace's agents: ``kb_<tenant>`` (``kb_platform`` for the
    platform's), as Milvus names them (a letter first, then letters, digits, underscores; at most 32)."""
    tenant = namespace.removeprefix("tenant-") if namespace.startswith("tenant-") else "platform"
    name = "kb_" + tenant.replace("-", "_")
    if len(name) > 32:
        import hashlib

        name = f"{name[:23]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return name
