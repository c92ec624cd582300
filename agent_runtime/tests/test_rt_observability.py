"""OpenTelemetry spans exported over OTLP/HTTP to a local collector, LLM cost accounting, JWKS-based JWT auth."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from conftest import metric
from fake_llm import serve_app as serve
from fastapi import FastAPI, Request
from fastapi.responses import Response

from agent_runtime.observability import shutdown_tracing

pytestmark = pytest.mark.anyio


async def test_spans_exported_over_otlp(llm, make_client, tmp_path):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[ExportTraceServiceRequest] = []
    collector = FastAPI()

    @collector.post("/v1/traces")
    async def traces(request: Request) -> Response:
        msg = ExportTraceServiceRequest()
        msg.ParseFromString(await request.body())
        received.append(msg)
        return Response(status_code=200)

    url, server = serve(collector)
    try:
        client = make_client(otel_endpoint=url, otel_service_name="kube-agent-test")
        llm.tool("file_list", path=str(tmp_path / "work")).reply("Done")
        assert (await client.post("/chat", json={"message": "list"})).status_code == 200
        shutdown_tracing()  # flushes the batch processor
        spans = [s for m in received for rs in m.resource_spans for ss in rs.scope_spans for s in ss.spans]
        names = [s.name for s in spans]
        assert names.count("llm.chat") == 2 and "tool.call" in names and "agent.request" in names
        service = received[0].resource_spans[0].resource.attributes
        assert any(a.key == "service.name" and a.value.string_value == "kube-agent-test" for a in service)
        tool = next(s for s in spans if s.name == "tool.call")
        assert any(a.key == "tool" and a.value.string_value == "file_list" for a in tool.attributes)
        request = next(s for s in spans if s.name == "agent.request")
        assert all(s.trace_id == request.trace_id for s in spans)  # LLM and tool spans are children of the request
    finally:
        shutdown_tracing()
        server.should_exit = True


async def test_llm_cost_total(llm, make_runtime):
    rt = make_runtime(usd_per_1k_prompt_tokens=1.0, usd_per_1k_completion_tokens=2.0)
    llm.reply("a")
    await rt.agent.run("q", session_id="s")
    # fake usage: 10 prompt + 5 completion tokens -> 0.010 + 0.010 USD
    assert metric(
        rt, "llm_cost_usd_total", agent_name="test-agent", model="fake-model", provider="openai"
    ) == pytest.approx(0.02)


async def test_jwt_via_jwks(llm, make_client):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="RS256", use="sig")
    idp = FastAPI()

    @idp.get("/.well-known/jwks.json")
    async def jwks() -> dict:
        return {"keys": [jwk]}

    url, server = serve(idp)
    try:
        client = make_client(jwt_jwks_url=f"{url}/.well-known/jwks.json", jwt_issuer="https://idp.example")
        good = jwt.encode(
            {"sub": "bob", "exp": time.time() + 60, "iss": "https://idp.example"},
            key,
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        wrong_iss = jwt.encode(
            {"sub": "bob", "exp": time.time() + 60, "iss": "https://evil"},
            key,
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        llm.reply("hi bob")
        ok = await client.post("/chat", json={"message": "x"}, headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200 and ok.json()["reply"] == "hi bob"
        bad = await client.post("/chat", json={"message": "x"}, headers={"Authorization": f"Bearer {wrong_iss}"})
        assert bad.status_code == 401
    finally:
        server.should_exit = True
