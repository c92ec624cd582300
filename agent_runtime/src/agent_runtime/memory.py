"""Short-term session memory in Redis (TTL, bounded history) with an in-process fallback.

Every acknowledged message is stored exactly once and in order:

- Writes are per session and serialized by a per-session lock; each turn's messages form one *batch* with a unique
  id, queued in order and written by one Lua script (atomic in Redis) that appends the batch only if its id has not
  been seen (a marker key with the session TTL). A batch whose reply was lost — Redis died after applying it —
  is retried with the same id and applied at most once.
- When Redis is unreachable the agent keeps answering: history comes from a local mirror, batches stay queued
  (``agent_memory_degraded`` = 1, ``/ready`` says so) and are written, oldest first, as soon as Redis answers again.
  An acknowledged message is therefore never lost while the process lives.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from agent_runtime.observability import Metrics, get_logger

log = get_logger("memory")

MIRROR_SESSIONS = 10_000
RETRY_INTERVAL = 1.0

#: KEYS: list, batch marker. ARGV: ttl, max_history, replace ('1'/'0'), messages...
_WRITE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) end
  if #ARGV > 3 then redis.call('RPUSH', KEYS[1], unpack(ARGV, 4)) end
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
  return 1
end
return 0
"""


@dataclass
class Batch:
    id: str
    messages: list[str]  # JSON-encoded
    replace: bool = False


class SessionMemory:
    def __init__(
        self, redis_url: str | None, agent: str, ttl: int, max_history: int, metrics: Metrics, key_prefix: str = ""
    ):
        """``key_prefix``: the keys this agent's Redis user may touch (REDIS_KEY_PREFIX, e.g. ``t:demo:``)."""
        self.agent = agent
        self.prefix = f"{key_prefix}agent:{agent}:"
        self.ttl = ttl
        self.max_history = max_history
        self.metrics = metrics
        self.redis: Any = None
        self._script: Any = None
        if redis_url:
            import redis.asyncio as aioredis

            self.redis = aioredis.from_url(
                redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False, decode_responses=True
            )
            self._script = self.redis.register_script(_WRITE)
        self._mirror: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._pending: OrderedDict[str, list[Batch]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self.degraded = False
        self.metrics.memory_degraded.labels(agent).set(0)  # exported from the start (the metrics contract)
        self._next_try = 0.0
        self.last_error = ""

    def _key(self, session: str) -> str:
        return f"{self.prefix}session:{session}"

    def _lock(self, session: str) -> asyncio.Lock:
        lock = self._locks.get(session)
        if lock is None:
            if len(self._locks) > MIRROR_SESSIONS:
                for s in [s for s, lk in self._locks.items() if not lk.locked() and s not in self._pending]:
                    del self._locks[s]
            lock = self._locks[session] = asyncio.Lock()
        return lock

    def _remember(self, session: str, messages: list[dict[str, Any]]) -> None:
        self._mirror[session] = messages[-self.max_history :]
        self._mirror.move_to_end(session)
        while len(self._mirror) > MIRROR_SESSIONS:
            old = next((s for s in self._mirror if s not in self._pending), None)  # keep what Redis lacks
            if old is None:
                break
            del self._mirror[old]

    def _set_degraded(self, exc: Exception | None) -> None:
        if exc is not None and not self.degraded:
            log.warning("redis unreachable; using in-process session memory", error=f"{type(exc).__name__}")
        if exc is None and self.degraded:
            log.info("redis reachable again")
        self.degraded = exc is not None
        self.last_error = f"{type(exc).__name__}: {exc}" if exc else ""
        self.metrics.memory_degraded.labels(self.agent).set(1 if exc else 0)
        if exc is not None:
            self._next_try = time.monotonic() + RETRY_INTERVAL

    def _may_try(self) -> bool:
        return self.redis is not None and (not self.degraded or time.monotonic() >= self._next_try)

    async def _flush_session(self, session: str) -> bool:
        """Write the session's queued batches in order (caller holds its lock). True when none is left."""
        queue = self._pending.get(session)
        while queue:
            if not self._may_try():
                return False
            batch = queue[0]
            try:
                await self._script(
                    keys=[self._key(session), f"{self.prefix}batch:{batch.id}"],
                    args=[self.ttl, self.max_history, "1" if batch.replace else "0", *batch.messages],
                )
            except Exception as exc:
                self._set_degraded(exc)
                return False
            queue.pop(0)
            self._set_degraded(None)
        self._pending.pop(session, None)
        return True

    async def _flush_all(self, skip: str | None = None) -> None:
        for session in list(self._pending):
            if session == skip or not self._may_try():
                continue
            async with self._lock(session):
                await self._flush_session(session)

    async def _enqueue(self, session: str, batch: Batch) -> None:
        if self.redis is None:
            return
        queue = self._pending.setdefault(session, [])
        if batch.replace:
            queue.clear()  # a replacement supersedes what was queued before it
        queue.append(batch)
        self._pending.move_to_end(session)
        await self._flush_session(session)

    async def history(self, session: str) -> list[dict[str, Any]]:
        await self._flush_all(skip=session)
        async with self._lock(session):
            if self._may_try() and not self._pending.get(session):
                try:
                    raw = await self.redis.lrange(self._key(session), -self.max_history, -1)
                    msgs = [json.loads(m) for m in raw]
                    self._remember(session, msgs)
                    self._set_degraded(None)
                    return msgs
                except Exception as exc:
                    self._set_degraded(exc)
            return list(self._mirror.get(session, []))

    async def append(self, session: str, messages: list[dict[str, Any]]) -> None:
        batch = Batch(uuid.uuid4().hex, [json.dumps(m) for m in messages])
        async with self._lock(session):
            self._remember(session, self._mirror.get(session, []) + messages)
            await self._enqueue(session, batch)
        await self._flush_all(skip=session)

    async def replace(self, session: str, messages: list[dict[str, Any]]) -> None:
        """Swap a session's history (after summarization)."""
        batch = Batch(uuid.uuid4().hex, [json.dumps(m) for m in messages], replace=True)
        async with self._lock(session):
            self._remember(session, list(messages))
            await self._enqueue(session, batch)

    @property
    def pending_sessions(self) -> int:
        return len(self._pending)

    async def status(self) -> str:
        if self.redis is None:
            return "disabled (in-process)"
        try:
            await self.redis.ping()
            self._set_degraded(None)
        except Exception as exc:
            self._set_degraded(exc)
        await self._flush_all()
        if not self.degraded and not self._pending:
            return "ok"
        return (
            f"degraded (in-process fallback, {len(self._pending)} session(s) pending): "
            f"{self.last_error.split(':', 1)[0] or 'retrying'}"
        )

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
