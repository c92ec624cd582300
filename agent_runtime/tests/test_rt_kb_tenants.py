"""`kb init --tenant-users`: each identity gets its own database with the collection, a user with its password and a
role whose only privilege is CollectionReadWrite on that database. Milvus's RBAC cannot run here (milvus-lite has no
users or roles), so this records what the job asks Milvus to do, against a client that keeps the same state."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent_runtime import kb


class RecordingMilvus:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.databases = {"default"}
        self.users = {"root"}
        self.roles = {"admin", "public"}
        self.collections: dict[str, set[str]] = {"default": set()}
        self.db = "default"

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))

        return call

    def list_databases(self):
        return sorted(self.databases)

    def create_database(self, name):
        self.calls.append(("create_database", (name,), {}))
        self.databases.add(name)
        self.collections[name] = set()

    def use_database(self, name):
        self.calls.append(("use_database", (name,), {}))
        self.db = name

    def has_collection(self, name):
        return name in self.collections[self.db]

    def create_collection(self, collection_name, **kwargs):
        self.calls.append(("create_collection", (self.db, collection_name), {}))
        self.collections[self.db].add(collection_name)

    def list_users(self):
        return sorted(self.users)

    def drop_user(self, name):
        self.calls.append(("drop_user", (name,), {}))
        self.users.discard(name)

    def create_user(self, name, password):
        self.calls.append(("create_user", (name, "***"), {}))
        self.users.add(name)

    def list_roles(self):
        return sorted(self.roles)

    def create_role(self, name):
        self.calls.append(("create_role", (name,), {}))
        self.roles.add(name)


@pytest.fixture
def milvus(monkeypatch):
    fake = RecordingMilvus()
    monkeypatch.setattr(kb, "init_collection", lambda client, name, dim: (client.create_collection(name), "created")[1])
    return fake


def test_each_identity_gets_its_database_user_and_a_role_on_that_database_only(milvus):
    kb.init_tenants(milvus, {"kb_demo": "pw-demo-123", "kb_platform": "pw-platform-1"}, "agent_knowledge", 384)
    grants = [c for c in milvus.calls if c[0] == "grant_privilege_v2"]
    assert grants == [
        ("grant_privilege_v2", ("kb_demo", "CollectionReadWrite", "*"), {"db_name": "kb_demo"}),
        ("grant_privilege_v2", ("kb_platform", "CollectionReadWrite", "*"), {"db_name": "kb_platform"}),
    ]
    assert [c for c in milvus.calls if c[0] == "grant_role"] == [
        ("grant_role", ("kb_demo", "kb_demo"), {}),
        ("grant_role", ("kb_platform", "kb_platform"), {}),
    ]
    assert milvus.collections["kb_demo"] == {"agent_knowledge"} and milvus.db == "default"
    # run again with a new password: the user is recreated (a rotated password takes effect), nothing duplicated
    milvus.calls.clear()
    kb.init_tenants(milvus, {"kb_demo": "pw-demo-456"}, "agent_knowledge", 384)
    names = [c[0] for c in milvus.calls]
    assert "create_database" not in names and "create_role" not in names
    assert names.index("drop_user") < names.index("create_user")


def test_the_cli_refuses_bad_identities_before_touching_milvus(monkeypatch):
    from agent_runtime.cli import app

    monkeypatch.setenv("MILVUS_URI", "http://milvus:19530")
    monkeypatch.setenv("MILVUS_TOKEN", "root:pw")
    monkeypatch.setattr(kb, "connect", lambda *a, **k: RecordingMilvus())
    monkeypatch.setattr(kb, "init_collection", lambda *a: "exists")
    for users, words in (
        ("not json", "not JSON"),
        (json.dumps({"../x": "password1"}), "invalid entries"),
        (json.dumps({"kb_ok": "short"}), "invalid entries"),
    ):
        monkeypatch.setenv("MILVUS_KB_USERS", users)
        result = CliRunner().invoke(app, ["kb", "init", "--collection", "kb", "--dim", "8", "--tenant-users"])
        assert result.exit_code == 2 and words in result.output, result.output
