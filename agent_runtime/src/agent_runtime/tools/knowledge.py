"""``search_knowledge_base``: retrieval over the knowledge-base collection in Milvus (see :mod:`agent_runtime.kb`).

Results are always the caller's tenant's documents, at or above the seed's score threshold (0.7), top 5 unless
asked otherwise."""

from __future__ import annotations

from typing import Any

from agent_runtime.kb import SCORE_THRESHOLD, TOP_K, KnowledgeBase
from agent_runtime.tools import Tool, ToolError, params, table


def tools(settings: Any, kb: KnowledgeBase | None = None) -> list[Tool]:
    if kb is None and not settings.milvus_uri:
        return []
    base = kb or KnowledgeBase.from_settings(settings)

    async def search(a: dict[str, Any]) -> str:
        try:
            hits = await base.search(
                a["query"],
                top_k=a.get("top_k", TOP_K),
                category=None if a.get("category") in (None, "all") else a["category"],
            )
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        if not hits:
            raise ToolError(f"no documents scored {SCORE_THRESHOLD} or more; try other words")
        return table(
            [[f"{h['score']:.3f}", h.get("category", ""), h["content"][:400]] for h in hits],
            ["SCORE", "CATEGORY", "CONTENT"],
        )

    return [
        Tool(
            "search_knowledge_base",
            "Search the knowledge base for passages relevant to a question",
            params(
                {
                    "query": {"type": "string", "minLength": 1},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": 20},
                    "category": {"type": "string"},
                },
                ["query"],
            ),
            search,
            group="knowledge",
        )
    ]
