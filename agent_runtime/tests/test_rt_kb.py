"""The knowledge base: `agent-runtime kb init` against milvus-lite (schema, index, partition key, idempotence, a
wrong existing schema), the root-password bootstrap, and tenant-scoped search with the seed's threshold and top-k."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from agent_runtime import kb
from agent_runtime.cli import app
from agent_runtime.observability import Metrics
from agent_runtime.tools import ToolRegistry, knowledge


class AngleEmbedder:
    """2-D unit vectors at chosen angles: cosine similarity between two texts is cos(angle difference)."""

    dim = 8

    def __init__(self, angles: dict[str, float]):
        self.angles = angles

    async def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for t in texts:
            a = math.radians(self.angles[t])
            out.append([math.cos(a), math.sin(a)] + [0.0] * (self.dim - 2))
        return out


def run_init(monkeypatch, uri: str, *args: str):
    monkeypatch.setenv("MILVUS_URI", uri)
    monkeypatch.delenv("MILVUS_TOKEN", raising=False)
    return CliRunner().invoke(app, ["kb", "init", *args])


def test_kb_init_creates_the_seed_schema_once(monkeypatch, tmp_path):
    uri = str(tmp_path / "kb.db")
    first = run_init(monkeypatch, uri, "--dim", "1536")
    assert first.exit_code == 0, first.output
    assert "agent_knowledge: created" in first.output
    client = kb.connect(uri, None)
    try:
        desc = client.describe_collection("agent_knowledge")
        assert kb.schema_problems(desc, 1536) == []
        fields = {f["name"]: f for f in desc["fields"]}
        assert fields["tenant_id"].get("is_partition_key") is True
        assert fields["embedding"]["params"]["dim"] == 1536
        [index] = client.list_indexes("agent_knowledge")
        info = client.describe_index("agent_knowledge", index)
        assert (info["index_type"], info["metric_type"]) == ("HNSW", "COSINE")
        assert kb.INDEX["params"] == {"M": 16, "efConstruction": 256}
    finally:
        client.close()
    again = run_init(monkeypatch, uri, "--dim", "1536")
    assert again.exit_code == 0 and "agent_knowledge: exists" in again.output
    other_dim = run_init(monkeypatch, uri, "--dim", "384")
    assert other_dim.exit_code == 1
    assert "field 'embedding'" in other_dim.output and "expected" in other_dim.output


def test_kb_init_refuses_a_collection_of_another_shape(monkeypatch, tmp_path):
    uri = str(tmp_path / "other.db")
    client = kb.connect(uri, None)
    client.create_collection("agent_knowledge", dimension=1536)  # the quick-start schema: int ids, no tenant_id
    client.close()
    result = run_init(monkeypatch, uri)
    assert result.exit_code == 1
    assert "field 'tenant_id' is missing" in result.output


def test_kb_init_without_a_uri_says_so(monkeypatch):
    monkeypatch.delenv("MILVUS_URI", raising=False)
    result = CliRunner().invoke(app, ["kb", "init"])
    assert result.exit_code == 2 and "MILVUS_URI" in result.output


class FakeMilvus:
    """What bootstrap_root_password talks to: a server whose root password is ``password``."""

    def __init__(self, password: str):
        self.password = password
        self.changes: list[tuple[str, str]] = []

    def client(self, uri: str, token: str | None, wait: float = 0):
        _user, _, password = (token or "").partition(":")
        if password != self.password:
            raise PermissionError("auth failed")
        server = self

        class Client:
            def update_password(self, user_name, old, new):
                assert old == server.password
                server.password = new
                server.changes.append((user_name, "changed"))

            def close(self):
                pass

        return Client()


def test_root_password_bootstrap_sets_ours_once(monkeypatch):
    server = FakeMilvus("Milvus")
    monkeypatch.setattr(kb, "connect", server.client)
    _, what = kb.bootstrap_root_password("http://m:19530", "root:s3cret-from-aws")
    assert what == "root password set from the initial default" and server.password == "s3cret-from-aws"
    _, what = kb.bootstrap_root_password("http://m:19530", "root:s3cret-from-aws")
    assert what == "root password already set" and server.changes == [("root", "changed")]
    server.password = "someone-else-changed-it"
    with pytest.raises(PermissionError):  # neither ours nor the default: fail, never guess
        kb.bootstrap_root_password("http://m:19530", "root:s3cret-from-aws")
    with pytest.raises(ValueError):
        kb.bootstrap_root_password("http://m:19530", "reader:x")


def test_tenant_ids():
    assert kb.tenant_of("tenant-search") == "search"
    assert kb.tenant_of("ai-agents") == "platform"
    assert kb.tenant_of("ai-agents", "billing") == "billing"
    with pytest.raises(ValueError):
        kb.tenant_of(None, 'x" or tenant_id != "')


@pytest.mark.anyio
async def test_search_is_tenant_scoped_with_threshold_and_top_k(tmp_path):
    uri = str(tmp_path / "search.db")
    angles = {"a-doc": 0, "a-near": 10, "b-doc": 0, "a-far": 60, "q": 0, "q-40": 40}
    angles.update({f"a-{i}": i for i in range(1, 9)})
    emb = AngleEmbedder(angles)
    a = kb.KnowledgeBase(uri, "agent_knowledge", emb, "team-a")
    b = kb.KnowledgeBase(uri, "agent_knowledge", emb, "team-b")
    try:
        await a.add(["a-doc", "a-near", "a-far"], category="faq")
        await a.add([f"a-{i}" for i in range(1, 9)], category="manual")
        await b.add(["b-doc"], category="faq")
        hits = await a.search("q")
        assert len(hits) == kb.TOP_K  # default top-k 5
        assert all(h["content"].startswith("a-") for h in hits)  # never another tenant's documents
        assert "b-doc" not in [h["content"] for h in await a.search("q", top_k=20)]
        assert [h["content"] for h in await b.search("q")] == ["b-doc"]
        # cos(60°) = 0.5 < 0.7: dropped; cos(10°) ≈ 0.98: kept
        faq = [h["content"] for h in await a.search("q", top_k=20, category="faq")]
        assert faq == ["a-doc", "a-near"]
        # every document is 40° or more away from "q-40"... except those between 0° and 80°: cos(40°) ≈ 0.77
        assert all(h["score"] >= kb.SCORE_THRESHOLD for h in await a.search("q-40", top_k=20))
        with pytest.raises(ValueError):
            await a.search("q", category='faq" or tenant_id == "team-b')
        reg = ToolRegistry(Metrics(), "t")
        reg.extend(knowledge.tools(None, a))  # type: ignore[arg-type]
        result = await reg.call("search_knowledge_base", {"query": "q", "top_k": 2})
        assert result.ok and len(result.output.splitlines()) == 3
    finally:
        await a.aclose()
        await b.aclose()
