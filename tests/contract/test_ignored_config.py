"""No config is silently ignored: every field of the config tree is read by the program that deploys it, or its
path is in ``program.NOT_DEPLOYED`` and the plan says so whenever it is configured.

How: the committed stacks (and a maximal variant that sets every optional block) are parsed, then the program runs
under the mock engine while every field read on a config model is recorded. A field no component reads, and no
NOT_DEPLOYED entry covers, fails the test with its dotted path.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel

import program.platform as program  # the platform composition (program/ dispatches tenant stacks)
from config import Platform, parse_platform
from config.base import Strict
from kit.shared import Notes
from tests.conftest import run_under_mocks, stack_raw


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel], str]]:
    """(dotted path, owning model, field name) for every field in the tree."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        out.append((path, model, name))
        for sub in _models_in(info.annotation):
            out += _fields(sub, path)
    return out


def _models_in(ann: Any) -> list[type[BaseModel]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    return [m for arg in typing.get_args(ann) for m in _models_in(arg)]


def _reads_during_build(cfg: Platform, config: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    original = Strict.__getattribute__

    def recording(self: Any, name: str) -> Any:
        cls = type(self)
        if name in cls.model_fields:
            seen.add((cls.__name__, name))
        return original(self, name)

    Strict.__getattribute__ = recording  # type: ignore[method-assign]
    try:
        run_under_mocks(lambda: program.build(cfg), region=cfg.aws.region, config=config)
    finally:
        Strict.__getattribute__ = original  # type: ignore[method-assign]
    return seen


def _covered_by_not_deployed(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") or p.startswith(path + ".") for p in program.NOT_DEPLOYED)


def ignored_fields(cfgs: list[Platform], config: dict[str, Any] | None = None) -> list[str]:
    seen: set[tuple[str, str]] = set()
    for cfg in cfgs:
        seen |= _reads_during_build(cfg, config)
    return [
        path
        for path, model, name in _fields(Platform)
        if (model.__name__, name) not in seen and not _covered_by_not_deployed(path)
    ]


@pytest.fixture(scope="module")
def committed():
    return [parse_platform(stack_raw(s)) for s in ("dev", "prod")]


def test_every_config_field_is_deployed_or_reported(committed):
    # A data volume exercises the optional GpuPool.data_volume branch the committed stacks leave unset.
    raw = stack_raw("dev")
    raw["gpu_pools"][0]["data_volume"] = {"size_gib": 500}
    # dev's model behind two InferencePools split by weight, judged by the pool analysis
    raw["models"][0].pop("autoscaling")
    raw["models"][0].update(
        routing="inference_pool",
        endpoint_picker={"analysis": {"max_error_rate_percent": 2, "max_latency_ratio": 1.3, "window": "10m"}},
        variants=[{"name": "primary", "weight": 90}, {"name": "candidate", "weight": 10}],
    )
    raw["models"][0].update(
        hf_token={
            "name": "hf",
            "key": "token",
            "source": "stack",
            "stack_key": "hf-token",
            "aws_secret_name": "agentic/agentic-dev/hf",
        },
        weights_s3_prefix="llama/8b",
        tool_calling=True,
        tool_parser="llama3_json",
    )
    raw["secrets"] = {
        "path_prefix": "agentic/agentic-dev",
        "refresh_interval": "30m",
        "recovery_window_days": 3,
        "rotation": {"redis-auth": 2},
    }
    raw["tenants"][0]["allow"] = {"redis": True, "milvus": True, "models": ["llama-8b"]}
    raw["gateway"]["ai"]["guards"] |= {
        "webhook": {"url": "http://pii-guard.ai-gateway.svc:8000", "failure_mode": "FailOpen"},
        "bedrock_guardrail": {"identifier": "gr1abc", "version": "1"},
    }
    next(a for a in raw["kagent"]["agents"] if a.get("type") == "BYO")["egress"] = [{"cidr": "203.0.113.0/24"}]
    raw["observability"]["alerts"] = {
        "slack": {"channel": "#alerts", "webhook": {"name": "slack-webhook", "key": "url"}},
        "email": {
            "to": ["oncall@example.com"],
            "from": "am@example.com",
            "smarthost": "smtp.example.com:587",
            "username": "am",
            "password": {"name": "smtp", "key": "password"},
        },
    }
    # a provider's key through the AI gateway (a model config calling OpenAI itself is refused while it is on)
    raw["gateway"]["ai"]["providers"].append(
        {
            "name": "gpt",
            "kind": "openai",
            "model": "gpt-4o",
            "api_key": {"name": "openai", "source": "generated", "generation": 3},
            "price": {"input": 2.5, "output": 10},
        }
    )
    raw["gateway"]["ai"]["models"].append({"name": "gpt-4o", "groups": [["gpt"]]})
    raw["models"].append(
        {
            "name": "mixtral",
            "engine": "tgi",
            "hf_model": "mistralai/Mixtral-8x7B-Instruct-v0.1",
            "hf_token": {"name": "hf-mixtral", "key": "token", "source": "external"},
            "pool": "g5",
            "gpus": 4,
            "cpu": "16",
            "memory": "96Gi",
            "max_model_len": 8192,
            "variants": [{"name": "primary", "replicas": 0, "weight": 100}],
            "rollout": {"strategy": "bluegreen", "iterations": 5},
        }
    )
    byo = next(a for a in raw["kagent"]["agents"] if a["name"] == "kube-agent")
    byo["gitea"] = {"url": "https://gitea.example.com", "token": {"name": "gitea-token", "source": "external"}}
    raw["kagent"]["mcp_servers"].append(
        {"name": "search", "kind": "kmcp", "image": "ghcr.io/example/mcp:1.0.0", "port": 3001, "path": "/mcp"}
    )
    raw["kagent"]["agents"][0]["tools"].append({"mcp_server": "search"})
    raw["kagent"]["agents"].append(
        {
            "name": "queue-worker",
            "type": "BYO",
            "session_memory": True,
            "scaling": {"kind": "keda-redis", "list_name": "jobs", "list_length": 10},
        }
    )
    assert ignored_fields([*committed, parse_platform(raw)], {"agentic-platform:hf-token": "x"}) == []


def test_the_walk_would_catch_an_ignored_field(committed, monkeypatch):
    """Drop every NOT_DEPLOYED entry and read nothing: every field is reported."""
    monkeypatch.setattr(program, "NOT_DEPLOYED", {})
    monkeypatch.setattr(program, "build", lambda cfg: None)
    assert {"observability.langfuse", "kagent.agents.name", "data.milvus.mode"} <= set(ignored_fields(committed[:1]))


def test_configured_but_not_deployed_is_said_in_the_plan(monkeypatch):
    """Every field is deployed today (NOT_DEPLOYED is empty); an entry for configured config shows up as a note,
    one for config left at its off state does not."""
    assert program.NOT_DEPLOYED == {}
    monkeypatch.setattr(
        program, "NOT_DEPLOYED", {"observability.otel_collector": "the collector", "observability.langfuse": "Langfuse"}
    )
    notes = Notes()
    program.report_not_deployed(parse_platform(stack_raw("dev")), notes)
    assert notes.items == [
        "platform.observability.otel_collector: configured but not deployed by this version (the collector)"
    ]  # dev leaves Langfuse off: nothing to report


def test_nothing_reported_when_nothing_is_asked():
    raw = stack_raw("dev")
    raw["models"] = []
    raw.pop("gateway", None)
    raw["kagent"] = {"enabled": False, "model_configs": [], "mcp_servers": [], "agents": []}
    raw["workflows"] = []
    raw["gateway"] = {"enabled": False}
    raw["data"] = {"milvus": {"enabled": False}, "redis": {"enabled": False}}
    raw["tenants"] = raw["tenants"][:1]  # the self-service tenant's allowance names a model
    raw["tenants"][0].pop("allow")
    raw["observability"]["otel_collector"] = False
    raw["observability"]["logs"] = False
    notes = Notes()
    program.report_not_deployed(parse_platform(raw), notes)
    assert notes.items == []
