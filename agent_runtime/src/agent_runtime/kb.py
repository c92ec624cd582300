"""The knowledge base (seed 001): the ``agent_knowledge`` collection, its bootstrap, and tenant-scoped search.

Schema: ``id`` (VARCHAR 64, primary), ``content`` (VARCHAR 65535), ``embedding`` (FLOAT_VECTOR of the embedding
model's dimension), ``metadata`` (JSON), ``tenant_id`` (VARCHAR 64, the partition key). Index: HNSW, M=16,
efConstruction=256, COSINE. :func:`init_collection` creates it or checks an existing one (idempotent; a collection
with another schema is an error, never silently reused). Searches always filter by the caller's tenant and drop hits
under the seed's score threshold (0.7); top-k defaults to 5.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from agent_runtime.vectors import Embedder

INDEX: dict[str, Any] = {"index_type": "HNSW", "metric_type": "COSINE", "params": {"M": 16, "efConstruction": 256}}
SCORE_THRESHOLD = 0.7
TOP_K = 5
DEFAULT_ROOT_TOKEN = "root:Milvus"  # Milvus' documented initial root credentials
_TENANT = re.compile(r"^[a-z0-9]([-a-z0-9]{0,62})$")
_CATEGORY = re.compile(r"^[\w .:/-]{1,128}$")


class SchemaMismatch(RuntimeError):
    """An existing collection does not have the knowledge-base schema (say what differs and how to fix it)."""


def expected_fields(dim: int) -> dict[str, dict[str, Any]]:
    return {
        "id": {"type": "VARCHAR", "max_length": 64, "is_primary": True},
        "content": {"type": "VARCHAR", "max_length": 65535},
        "embedding": {"type": "FLOAT_VECTOR", "dim": dim},
        "metadata": {"type": "JSON"},
        "tenant_id": {"type": "VARCHAR", "max_length": 64, "is_partition_key": True},
    }


def build_schema(dim: int) -> Any:
    from pymilvus import DataType

    from agent_runtime.vectors import milvus_client_class

    schema = milvus_client_class().create_schema(
        auto_id=False, enable_dynamic_field=False, description="Knowledge base for agents"
    )
    for name, spec in expected_fields(dim).items():
        extra = {k: v for k, v in spec.items() if k != "type"}
        schema.add_field(name, getattr(DataType, spec["type"]), **extra)
    return schema


def _actual_fields(description: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for f in description.get("fields", []):
        spec: dict[str, Any] = {"type": getattr(f["type"], "name", str(f["type"]))}
        for k, v in (f.get("params") or {}).items():
            if k in ("max_length", "dim"):
                spec[k] = int(v)
        for flag in ("is_primary", "is_partition_key"):
            if f.get(flag):
                spec[flag] = True
        out[f["name"]] = spec
    return out


def schema_problems(description: dict[str, Any], dim: int) -> list[str]:
    want, have = expected_fields(dim), _actual_fields(description)
    problems = [f"field '{n}' is missing" for n in want if n not in have]
    problems += [f"field '{n}' is {have[n]}, expected {want[n]}" for n in want if n in have and have[n] != want[n]]
    problems += [f"unexpected field '{n}'" for n in have if n not in want]
    return problems


def init_collection(client: Any, collection: str, dim: int) -> str:
    """Create ``collection`` with the knowledge-base schema and index, or check the existing one.
    Returns ``created`` or ``exists``; raises :class:`SchemaMismatch` for a collection of another shape."""
    if client.has_collection(collection):
        problems = schema_problems(client.describe_collection(collection), dim)
        if problems:
            raise SchemaMismatch(
                f"collection '{collection}' exists with another schema: {'; '.join(problems)}. "
                "Migrate its data to a new collection (AGENT_KNOWLEDGE_COLLECTION) or drop it"
            )
        indexes = client.list_indexes(collection, field_name="embedding")
        if not indexes:
            client.create_index(collection, _index_params(client))
        else:
            index = client.describe_index(collection, indexes[0])
            if index.get("index_type") != INDEX["index_type"] or index.get("metric_type") != INDEX["metric_type"]:
                raise SchemaMismatch(
                    f"collection '{collection}' is indexed {index.get('index_type')}/"
                    f"{index.get('metric_type')}, expected HNSW/COSINE: drop the index and rerun"
                )
        client.load_collection(collection)
        return "exists"
    client.create_collection(collection, schema=build_schema(dim), index_params=_index_params(client))
    return "created"


def _index_params(client: Any) -> Any:
    params = client.prepare_index_params()
    params.add_index(
        field_name="embedding",
        index_type=INDEX["index_type"],
        metric_type=INDEX["metric_type"],
        params=dict(INDEX["params"]),
    )
    return params


def connect(uri: str, token: str | None, wait_seconds: float = 0, db_name: str = "") -> Any:
    """A MilvusClient (on ``db_name`` when given), retrying until ``wait_seconds`` pass (Milvus may still be starting
    when the job runs)."""
    from agent_runtime.vectors import milvus_client_class

    client_class = milvus_client_class()
    deadline = time.monotonic() + wait_seconds
    extra = {"db_name": db_name} if db_name else {}
    while True:
        try:
            return client_class(uri=uri, token=token or "", **extra)
        except Exception:
            if time.monotonic() >= deadline:
                raise
            time.sleep(3)


def bootstrap_root_password(uri: str, token: str, wait_seconds: float = 0) -> tuple[Any, str]:
    """Connect with ``token`` (``root:<password>``); if Milvus still has its initial root password, set ours.
    Returns (client, what happened). The password is never logged."""
    user, _, password = token.partition(":")
    if user != "root" or not password:
        raise ValueError("MILVUS_TOKEN must be root:<password> to bootstrap the root password")
    try:
        return connect(uri, token, wait_seconds), "root password already set"
    except Exception as first:
        try:
            client = connect(uri, DEFAULT_ROOT_TOKEN)
        except Exception:
            raise first from None
        client.update_password("root", DEFAULT_ROOT_TOKEN.partition(":")[2], password)
        client.close()
        return connect(uri, token), "root password set from the initial default"


#: What each tenant's role may do, and where: Milvus's built-in privilege group for reading and writing collections,
#: on every collection of the tenant's own database and nowhere else.
TENANT_PRIVILEGE = "CollectionReadWrite"
_IDENTITY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


def valid_identity(name: str) -> bool:
    """A Milvus user, role and database name: a letter, then letters, digits and underscores, 32 at most."""
    return bool(_IDENTITY.match(name))


def init_tenants(client: Any, users: dict[str, str], collection: str, dim: int) -> list[str]:
    """For each identity (``kb_<tenant>``): its own database with the knowledge-base collection, a user with the
    given password (recreated, so a new password takes effect), and a role of that name holding
    ``CollectionReadWrite`` on its database only, granted to the user. Idempotent; passwords are never printed."""
    done = []
    databases = set(client.list_databases())
    for identity, password in sorted(users.items()):
        if identity not in databases:
            client.create_database(identity)
        client.use_database(identity)
        result = init_collection(client, collection, dim)
        if identity in client.list_users():
            client.drop_user(identity)
        client.create_user(identity, password)
        if identity not in client.list_roles():
            client.create_role(identity)
        client.grant_privilege_v2(identity, TENANT_PRIVILEGE, "*", db_name=identity)
        client.grant_role(identity, identity)
        done.append(f"{identity}: database, collection {collection} ({result}), user and role")
    client.use_database("default")
    return done


def tenant_of(namespace: str | None, explicit: str | None = None) -> str:
    """The caller's tenant: explicit (AGENT_TENANT_ID), else ``tenant-<name>`` namespaces map to ``<name>``, else
    ``platform`` (the platform's own agents)."""
    tenant = explicit or (namespace[len("tenant-") :] if namespace and namespace.startswith("tenant-") else "platform")
    if not _TENANT.match(tenant):
        raise ValueError(f"tenant id {tenant!r} is not a DNS label")
    return tenant


class KnowledgeBase:
    """Tenant-scoped reads and writes of the knowledge-base collection (which must exist: ``kb init``)."""

    def __init__(
        self, uri: str, collection: str, embedder: Embedder, tenant: str, token: str | None = None, db_name: str = ""
    ):
        self.uri, self.collection, self.embedder, self.token, self.db_name = uri, collection, embedder, token, db_name
        self.tenant = tenant_of(None, tenant)
        self._client: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Any, embedder: Embedder | None = None) -> KnowledgeBase:
        from agent_runtime.vectors import embedder_from_settings

        token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
        return cls(
            settings.milvus_uri,
            settings.knowledge_collection,
            embedder or embedder_from_settings(settings),
            tenant_of(settings.effective_namespace, settings.tenant_id),
            token,
            settings.milvus_db,
        )

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._client is None:

                def open_() -> Any:
                    client = connect(self.uri, self.token, db_name=self.db_name)
                    if self.uri.endswith(".db"):  # milvus-lite (local runs): nobody ran `kb init`, so do it here
                        init_collection(client, self.collection, self.embedder.dim)
                    return client

                self._client = await asyncio.to_thread(open_)
        return self._client

    async def add(self, texts: list[str], category: str = "", metadata: dict[str, Any] | None = None) -> int:
        client = await self._ensure()
        vectors = await self.embedder.embed(texts)
        meta = {**(metadata or {}), **({"category": category} if category else {})}
        rows = [
            {"id": uuid.uuid4().hex, "content": t, "embedding": v, "metadata": meta, "tenant_id": self.tenant}
            for t, v in zip(texts, vectors, strict=False)
        ]
        await asyncio.to_thread(client.insert, collection_name=self.collection, data=rows)
        return len(rows)

    async def search(
        self, query: str, top_k: int = TOP_K, category: str | None = None, threshold: float = SCORE_THRESHOLD
    ) -> list[dict[str, Any]]:
        client = await self._ensure()
        [vector] = await self.embedder.embed([query])
        expr = f'tenant_id == "{self.tenant}"'  # validated DNS label: nothing to escape
        if category:
            if not _CATEGORY.match(category) or '"' in category:
                raise ValueError("category has characters that are not allowed")
            expr += f' and metadata["category"] == "{category}"'
        result = await asyncio.to_thread(
            client.search,
            collection_name=self.collection,
            data=[vector],
            limit=top_k,
            filter=expr,
            output_fields=["content", "metadata"],
            search_params={"metric_type": "COSINE", "params": {"ef": 64}},
        )
        hits = []
        for h in result[0]:
            score = float(h["distance"])
            if score < threshold:
                continue
            meta = h["entity"].get("metadata") or {}
            if isinstance(meta, str):
                meta = json.loads(meta)
            hits.append(
                {
                    "score": score,
                    "content": h["entity"]["content"],
                    "category": meta.get("category", ""),
                    "metadata": meta,
                }
            )
        return hits

    async def aclose(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        client = getattr(self.embedder, "client", None)
        if client is not None:
            await client.close()


#: Milvus' rules for a collection name (a letter or underscore first, then letters, digits, underscores; 255 at
#: most) and a float vector's dimension (2 to 32768).
_COLLECTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
MAX_DIM = 32_768


def invalid_collection(name: str) -> str | None:
    if _COLLECTION.fullmatch(name):
        return None
    shown = name if len(name) <= 40 else name[:40] + "..."
    return (
        f"collection name {shown!r} is not valid for Milvus: a letter or '_' first, then letters, digits or '_', "
        "at most 255 characters"
    )


def invalid_dim(dim: int) -> str | None:
    return None if 2 <= dim <= MAX_DIM else f"dimension {dim} is out of Milvus' range (2 to {MAX_DIM})"
