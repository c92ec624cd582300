"""Data stores: Milvus (vectors) and Redis/Valkey (session memory)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.base import Strict


class MilvusConfig(Strict):
    enabled: bool = True
    mode: Literal["standalone", "cluster"] = "standalone"
    storage_gib: int = Field(default=50, ge=10, le=65_536)


class RedisConfig(Strict):
    enabled: bool = True
    mode: Literal["in_cluster", "elasticache"] = "in_cluster"
    engine: Literal["valkey", "redis"] = "valkey"
    node_type: str = Field(default="cache.t4g.medium", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    replicas: int = Field(default=1, ge=0, le=5)


class DataConfig(Strict):
    milvus: MilvusConfig = MilvusConfig()
    redis: RedisConfig = RedisConfig()
