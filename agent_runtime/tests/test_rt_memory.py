"""Session memory with a real redis-server (Debian package), including Redis going away mid-session; knowledge
retrieval and long-term memory in milvus-lite."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import metric
from fake_llm import free_port

from agent_runtime.memory import SessionMemory
from agent_runtime.observability import Metrics
from agent_runtime.vectors import VectorStore

pytestmark = pytest.mark.anyio
REDIS = shutil.which("redis-server")


class RedisServer:
    """A real redis-server on loopback. ``persist``: append-only file fsynced on every write, so a kill -9 and a
    restart keep every write Redis acknowledged (what a production Redis/Valkey with AOF does)."""

    def __init__(self, tmp: Path, persist: bool = False):
        self.port = free_port()
        self.tmp = tmp
        self.persist = persist
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *aof, "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def redis_server(tmp_path):
    if REDIS is None:
        pytest.fail("redis-server is required (apt-get install redis-server; `make test` installs it)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_history_in_redis_with_ttl_and_bound(redis_server):
    import redis.asyncio as aioredis

    mem = SessionMemory(redis_server.url, "a", ttl=120, max_history=3, metrics=Metrics())
    for i in range(5):
        await mem.append("s", [{"role": "user", "content": f"m{i}"}])
    assert [m["content"] for m in await mem.history("s")] == ["m2", "m3", "m4"]
    r = aioredis.from_url(redis_server.url, decode_responses=True)
    assert await r.llen("agent:a:session:s") == 3
    assert 0 < await r.ttl("agent:a:session:s") <= 120
    await r.aclose()
    # A new process (fresh memory object) sees the same history: it lives in Redis.
    other = SessionMemory(redis_server.url, "a", ttl=120, max_history=3, metrics=Metrics())
    assert len(await other.history("s")) == 3
    await mem.close()
    await other.close()


async def test_redis_going_away_mid_session_loses_nothing(llm, make_client, redis_server):
    client = make_client(redis_url=redis_server.url, max_history=50)
    rt = client.runtime
    llm.reply("a1")
    assert (await client.post("/chat", json={"message": "q1", "session_id": "s"})).status_code == 200
    redis_server.stop()
    llm.reply("a2").reply("a3")
    r2 = await client.post("/chat", json={"message": "q2", "session_id": "s"})
    assert r2.status_code == 200 and r2.json()["reply"] == "a2"
    assert [m["content"] for m in llm.requests[-1]["messages"][1:]] == ["q1", "a1", "q2"]
    ready = (await client.get("/ready")).json()
    assert ready["redis"].startswith("degraded (in-process fallback")
    assert metric(rt, "agent_memory_degraded", agent_name="test-agent") == 1
    await client.post("/chat", json={"message": "q3", "session_id": "s"})
    # Redis comes back (empty: it kept nothing on disk); every acknowledged message is written back.
    redis_server.start()
    rt.memory._next_try = 0
    assert (await client.get("/ready")).json()["redis"] == "ok"
    assert metric(rt, "agent_memory_degraded", agent_name="test-agent") == 0
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_server.url, decode_responses=True)
    stored = [m for m in await r.lrange("agent:test-agent:session:s", 0, -1)]
    await r.aclose()
    contents = [__import__("json").loads(m)["content"] for m in stored]
    assert contents == ["q2", "a2", "q3", "a3"]  # q1/a1 were in Redis before it died; the rest was replayed


async def test_memory_without_redis_is_in_process(make_runtime):
    rt = make_runtime()
    await rt.memory.append("s", [{"role": "user", "content": "x"}])
    assert await rt.memory.history("s") == [{"role": "user", "content": "x"}]
    assert await rt.memory.status() == "disabled (in-process)"


# --- Milvus (milvus-lite) ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def milvus_file(tmp_path_factory):
    return str(tmp_path_factory.mktemp("milvus") / "kb.db")


async def test_long_term_memory_recalled_across_sessions(llm, make_runtime, milvus_file):
    settings_kw = dict(milvus_uri=milvus_file, long_term_memory=True, embeddings_dim=llm.dim)
    rt = make_runtime(**settings_kw)
    llm.reply("Noted: the staging cluster is called blue-harbor.")
    await rt.agent.run("remember that the staging cluster is called blue-harbor", session_id="one")
    llm.reply("It is blue-harbor.")
    await rt.agent.run("what is the staging cluster called", session_id="two")
    system = [m["content"] for m in llm.requests[-1]["messages"] if m["role"] == "system"]
    assert any("Relevant memories" in s and "blue-harbor" in s for s in system)


async def test_local_embedding_model_finds_meaning_not_words(make_settings, tmp_path):
    """The packaged all-MiniLM-L6-v2 (extra 'local-embeddings', offline) with milvus-lite: no shared keywords."""
    settings = make_settings(milvus_uri=str(tmp_path / "local.db"), embeddings_provider="local", embeddings_dim=384)
    store = VectorStore.from_settings(settings, "local_kb")
    try:
        assert store.embedder.dim == 384
        await store.add(
            [
                "To change your password, open Settings and choose Security.",
                "Invoices are sent by email at the start of each month.",
                "The cafeteria opens at eight.",
            ],
            category="faq",
        )
        hits = await store.search("I forgot my login credentials", top_k=3)
        assert "password" in hits[0]["content"]
        assert hits[0]["score"] > hits[1]["score"] + 0.1
    finally:
        await store.aclose()


def test_embedding_requests_carry_the_gateway_headers(make_settings):
    """The gateway routes /v1/embeddings on x-model-id like chat: the platform passes AGENT_EMBEDDINGS_HEADERS."""
    from agent_runtime.vectors import embedder_from_settings

    settings = make_settings(embeddings_headers="x-model-id=embed", embeddings_dim=1024)
    assert settings.embeddings_headers == {"x-model-id": "embed"}
    embedder = embedder_from_settings(settings)
    assert embedder.client.default_headers["x-model-id"] == "embed"


def test_a_local_model_with_another_dimension_is_refused(make_settings):
    from agent_runtime.vectors import embedder_from_settings

    with pytest.raises(ValueError, match="384 dimensions"):
        embedder_from_settings(make_settings(embeddings_provider="local", embeddings_dim=1024))
