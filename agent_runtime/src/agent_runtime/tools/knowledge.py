"""``search_knowledge_base``: retrieval over Milvus (pymilvus; an embedded milvus-lite file by default)."""

from __future__ import annotations

from typing import Any

from agent_runtime.tools import Tool, ToolError, params, table
from agent_runtime.vectors import VectorStore


def tools(settings: Any, store: VectorStore | None = None) -> list[Tool]:
    if not settings.milvus_uri and store is None:
        return []
    vs = store or VectorStore.from_settings(settings, settings.knowledge_collection)

    async def search(a: dict[str, Any]) -> str:
        hits = await vs.search(a["query"], top_k=a.get("top_k", 5),
                               category=None if a.get("category") in (None, "all") else a["category"])
        if not hits:
            raise ToolError("no documents matched; try other words")
        return table([[f"{h['score']:.3f}", h.get("category", ""), h["content"][:400]] for h in hits],
                     ["SCORE", "CATEGORY", "CONTENT"])

    return [Tool(
        "search_knowledge_base", "Search the knowledge base for passages relevant to a question",
        params({"query": {"type": "string", "minLength": 1},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 20},
                "category": {"type": "string"}}, ["query"]),
        search, group="knowledge")]
