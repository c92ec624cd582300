"""Every acknowledged message is stored exactly once and in order: 20 concurrent sessions x 5 turns through the real
HTTP API against a real redis-server, also with Redis killed (-9) and restarted in the middle of the run."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from test_rt_memory import REDIS, RedisServer

pytestmark = pytest.mark.anyio
SESSIONS, TURNS = 20, 5


@pytest.fixture
def aof_redis(tmp_path):
    if REDIS is None:
        pytest.fail("redis-server is required (apt-get install redis-server; `make test` installs it)")
    server = RedisServer(tmp_path, persist=True)
    server.start()
    yield server
    server.stop()


async def stored(url: str) -> dict[str, list[str]]:
    import redis.asyncio as aioredis

    r = aioredis.from_url(url, decode_responses=True)
    try:
        out = {}
        for s in range(SESSIONS):
            out[f"s{s}"] = [json.loads(m)["content"] for m in await r.lrange(f"agent:test-agent:session:s{s}", 0, -1)]
        return out
    finally:
        await r.aclose()


def expected(session: str) -> list[str]:
    out = []
    for t in range(TURNS):
        out += [f"{session}-t{t}", f"echo: {session}-t{t}"]
    return out


async def drive(client, session: str, acknowledged: list[str], rng: random.Random) -> None:
    for t in range(TURNS):
        await asyncio.sleep(rng.random() * 0.02)
        r = await client.post("/chat", json={"message": f"{session}-t{t}", "session_id": session})
        assert r.status_code == 200, r.text
        assert r.json()["reply"] == f"echo: {session}-t{t}"
        acknowledged.append(f"{session}-t{t}")


async def test_concurrent_sessions_store_every_message_once_in_order(llm, make_client, aof_redis):
    client = make_client(redis_url=aof_redis.url, max_history=50)
    rng = random.Random(7)
    acked: list[str] = []
    await asyncio.gather(*(drive(client, f"s{s}", acked, rng) for s in range(SESSIONS)))
    assert len(acked) == SESSIONS * TURNS
    got = await stored(aof_redis.url)
    assert got == {f"s{s}": expected(f"s{s}") for s in range(SESSIONS)}


async def test_redis_killed_and_restarted_mid_run_loses_and_duplicates_nothing(llm, make_client, aof_redis):
    client = make_client(redis_url=aof_redis.url, max_history=50)
    memory = client.runtime.memory
    rng = random.Random(11)
    acked: list[str] = []

    async def chaos() -> None:
        await asyncio.sleep(0.15)
        aof_redis.proc.kill()  # SIGKILL: no shutdown, in-flight replies are lost
        aof_redis.proc.wait()
        await asyncio.sleep(0.4)
        aof_redis.start()  # same port, same append-only file

    await asyncio.gather(chaos(), *(drive(client, f"s{s}", acked, rng) for s in range(SESSIONS)))
    assert len(acked) == SESSIONS * TURNS
    for _ in range(50):  # the queued batches are written back once Redis answers
        memory._next_try = 0
        if await memory.status() == "ok":
            break
        await asyncio.sleep(0.1)
    assert await memory.status() == "ok" and memory.pending_sessions == 0
    got = await stored(aof_redis.url)
    assert got == {f"s{s}": expected(f"s{s}") for s in range(SESSIONS)}
