"""Short-term session memory in Redis (TTL, bounded history) with an in-process fallback.

When Redis is unreachable the agent keeps answering: history is served from a local mirror, new messages are
queued locally (``agent_memory_degraded`` = 1, ``/ready`` says so) and written to Redis, in order, as soon as it
answers again. An acknowledged message is therefore never lost while the process lives.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

from agent_runtime.observability import Metrics, get_logger

log = get_logger("memory")

MIRROR_SESSIONS = 10_000
RETRY_INTERVAL = 1.0


class SessionMemory:
    def __init__(self, redis_url: str | None, agent: str, ttl: int, max_history: int, metrics: Metrics):
        self.agent = agent
        self.ttl = ttl
        self.max_history = max_history
        self.metrics = metrics
        self.redis: Any = None
        if redis_url:
            import redis.asyncio as aioredis

            self.redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                           retry_on_timeout=False, decode_responses=True)
        self._mirror: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._pending: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._replace_pending: set[str] = set()
        self.degraded = False
        self._next_try = 0.0
        self.last_error = ""

    def _key(self, session: str) -> str:
        return f"agent:{self.agent}:session:{session}"

    def _remember(self, session: str, messages: list[dict[str, Any]]) -> None:
        self._mirror[session] = messages[-self.max_history:]
        self._mirror.move_to_end(session)
        while len(self._mirror) > MIRROR_SESSIONS:
            old = next((s for s in self._mirror if s not in self._pending), None)  # keep what Redis lacks
            if old is None:
                break
            del self._mirror[old]

    def _set_degraded(self, exc: Exception | None) -> None:
        self.degraded = exc is not None
        self.last_error = f"{type(exc).__name__}: {exc}" if exc else ""
        self.metrics.memory_degraded.labels(self.agent).set(1 if exc else 0)
        if exc is not None:
            self._next_try = time.monotonic() + RETRY_INTERVAL

    async def _flush(self) -> None:
        """Write locally queued messages to Redis, oldest session first."""
        for session in list(self._pending):
            key = self._key(session)
            msgs = self._pending[session]
            pipe = self.redis.pipeline(transaction=True)
            if session in self._replace_pending:
                pipe.delete(key)
            if msgs:
                pipe.rpush(key, *[json.dumps(m) for m in msgs])
            pipe.ltrim(key, -self.max_history, -1)
            pipe.expire(key, self.ttl)
            await pipe.execute()
            del self._pending[session]
            self._replace_pending.discard(session)

    async def _redis_ok(self) -> bool:
        if self.redis is None:
            return False
        if self.degraded and time.monotonic() < self._next_try:
            return False
        try:
            if self._pending:
                await self._flush()
            if self.degraded:
                log.info("redis reachable again; session history flushed")
            self._set_degraded(None)
            return True
        except Exception as exc:  # noqa: BLE001
            if not self.degraded:
                log.warning("redis unreachable; using in-process session memory", error=str(exc))
            self._set_degraded(exc)
            return False

    async def history(self, session: str) -> list[dict[str, Any]]:
        if await self._redis_ok():
            try:
                raw = await self.redis.lrange(self._key(session), -self.max_history, -1)
                msgs = [json.loads(m) for m in raw]
                self._remember(session, msgs)
                return msgs
            except Exception as exc:  # noqa: BLE001
                self._set_degraded(exc)
        return list(self._mirror.get(session, []))

    async def append(self, session: str, messages: list[dict[str, Any]]) -> None:
        current = self._mirror.get(session, [])
        self._remember(session, current + messages)
        if self.redis is None:
            return
        self._pending.setdefault(session, []).extend(messages)
        self._pending.move_to_end(session)
        await self._redis_ok()

    async def replace(self, session: str, messages: list[dict[str, Any]]) -> None:
        """Swap a session's history (after summarization)."""
        self._remember(session, messages)
        if self.redis is None:
            return
        self._pending[session] = list(messages)
        self._replace_pending.add(session)
        await self._redis_ok()

    async def status(self) -> str:
        if self.redis is None:
            return "disabled (in-process)"
        try:
            await self.redis.ping()
            await self._redis_ok()
            return "ok"
        except Exception as exc:  # noqa: BLE001
            self._set_degraded(exc)
            return f"degraded (in-process fallback, {len(self._pending)} session(s) pending): {type(exc).__name__}"

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
