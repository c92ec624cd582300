"""Runtime test harness: a fake OpenAI-compatible server on loopback, settings and an in-process ASGI client."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_llm import FakeLLM

from agent_runtime.observability import Metrics
from agent_runtime.server import Runtime, create_app
from agent_runtime.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def llm_server() -> FakeLLM:
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def llm(llm_server: FakeLLM) -> FakeLLM:
    llm_server.reset()
    yield llm_server
    llm_server.reset()


@pytest.fixture
def make_settings(llm_server: FakeLLM, tmp_path: Path, monkeypatch):
    for key in ("KUBE_AGENT_LLM_URL", "REDIS_URL", "MILVUS_URI", "AGENT_JWT_SECRET", "KUBE_AGENT_GITEA_TOKEN"):
        monkeypatch.delenv(key, raising=False)

    def make(**overrides: Any) -> Settings:
        base = dict(
            llm_url=llm_server.url,
            llm_model="fake-model",
            llm_backoff=0.01,
            namespace="team-a",
            file_roots=[str(tmp_path / "work")],
            agent_name="test-agent",
            request_timeout=20,
            kube_api_url="http://127.0.0.1:9",
            embeddings_dim=llm_server.dim,
        )
        base.update(overrides)
        (tmp_path / "work").mkdir(exist_ok=True)
        return Settings(**base)

    return make


@pytest.fixture
async def make_runtime(make_settings):
    """Runtimes built for a test are closed on the test's own event loop."""
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        extra = {k: overrides.pop(k) for k in ("tools", "memory", "metrics", "llm", "long_term") if k in overrides}
        rt = Runtime.build(make_settings(**overrides), **extra)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.aclose()


@pytest.fixture
async def make_client(make_settings):
    made: list[tuple[httpx.AsyncClient, Runtime]] = []

    def make(runtime: Runtime | None = None, **overrides: Any) -> httpx.AsyncClient:
        settings = runtime.settings if runtime else make_settings(**overrides)
        rt = runtime or Runtime.build(settings)
        app = create_app(settings, rt)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent", timeout=30)
        client.app = app  # type: ignore[attr-defined]
        client.runtime = rt  # type: ignore[attr-defined]
        made.append((client, rt))
        return client

    yield make
    for client, rt in made:
        await client.aclose()
        await rt.aclose()


def metric(runtime: Runtime, name: str, **labels: str) -> float:
    value = runtime.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


__all__ = ["FakeLLM", "Metrics", "metric"]
