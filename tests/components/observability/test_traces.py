"""Issue #12 point 6: the OpenTelemetry collector (values checked against the chart's values.schema.json) exporting
traces to Langfuse with keys as Secret references and span metrics to Prometheus; Langfuse per environment."""

from __future__ import annotations

import json

import jsonschema
import pytest

from components.observability.langfuse import KEYS_SECRET, init_env, keys_secret, langfuse_values
from components.observability.traces import collector_config, collector_values, endpoint
from tests.conftest import FIXTURES, build_stack, stack_raw, validate_object
from tests.helm_values import chart_defaults, merged, unknown_keys

RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize("ha,monitoring,url", [(False, True, None), (True, True, "http://langfuse-web:3000")])
def test_collector_values_validate_against_the_chart_schema(ha, monitoring, url):
    values = collector_values(ha, monitoring, url).render()
    schema = json.loads((FIXTURES / "charts/opentelemetry-collector/values.schema.json").read_text())
    jsonschema.validate(merged(chart_defaults("opentelemetry-collector"), values), schema)
    assert unknown_keys(values, chart_defaults("opentelemetry-collector")) == []
    assert values["mode"] == "deployment" and values["image"]["repository"] == "otel/opentelemetry-collector-contrib"
    assert all(not values["ports"][p]["enabled"] for p in ("jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin"))


def test_collector_pipelines():
    cfg = collector_config("http://langfuse-web.observability.svc.cluster.local:3000")
    traces = cfg["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"] and traces["processors"] == ["memory_limiter", "batch"]
    assert traces["exporters"] == ["otlphttp/langfuse", "spanmetrics"]
    langfuse = cfg["exporters"]["otlphttp/langfuse"]
    assert langfuse["endpoint"].endswith("/api/public/otel")
    assert langfuse["headers"] == {"Authorization": "Basic ${env:LANGFUSE_AUTH}"}  # from a Secret, never a value
    assert cfg["service"]["pipelines"]["metrics/spans"]["exporters"] == ["prometheus"]
    assert collector_config(None)["service"]["pipelines"]["traces"]["exporters"] == ["spanmetrics"]
    env = collector_values(False, True, "http://x").render()["extraEnvs"]
    assert env == [{"name": "LANGFUSE_AUTH", "valueFrom": {"secretKeyRef": {"name": KEYS_SECRET, "key": "auth"}}}]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_collector_in_the_plan_and_agents_send_to_it(plans, stack):
    run = plans(stack).run
    collector = next(r for r in run.of_type(RELEASE) if r.inputs["chart"] == "opentelemetry-collector")
    assert collector.inputs["version"] == "0.170.0" and collector.inputs["namespace"] == "observability"
    kagent = next(r for r in run.of_type(RELEASE) if r.inputs["name"] == "kagent")
    assert kagent.inputs["values"]["otel"]["tracing"]["exporter"]["otlp"]["endpoint"] == endpoint("observability")
    langfuse = [r for r in run.of_type(RELEASE) if r.inputs["chart"] == "langfuse"]
    assert bool(langfuse) is (stack == "prod")  # dev leaves Langfuse off


def test_langfuse_dev_in_cluster_prod_on_rds_and_s3(plans):
    dev = langfuse_values(False, "us-west-2").render()
    assert unknown_keys(dev, chart_defaults("langfuse")) == []
    assert dev["postgresql"] == {"deploy": True} and dev["s3"] == {"deploy": True}
    assert dev["clickhouse"] == {"deploy": True, "crdCheck": False}
    prod_plan = plans("prod").run
    release = next(r for r in prod_plan.of_type(RELEASE) if r.inputs["chart"] == "langfuse").inputs["values"]
    assert unknown_keys(release, chart_defaults("langfuse")) == []
    assert release["postgresql"]["deploy"] is False and release["postgresql"]["auth"]["existingSecret"]
    assert release["s3"]["deploy"] is False and "accessKeyId" not in release["s3"]  # Pod Identity, no keys
    db = [r for r in prod_plan.of_type("aws:rds/instance:Instance") if r.inputs["dbName"] == "langfuse"]
    assert len(db) == 1 and db[0].inputs["manageMasterUserPassword"]
    assoc = [
        a
        for a in prod_plan.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"] == "langfuse"
    ]
    assert assoc and assoc[0].inputs["namespace"] == "observability"
    # prod keeps traces in an external ClickHouse (no operator needed: no note); operator mode notes the prerequisite
    assert not any("ClickHouse operator" in n for n in prod_plan.outputs["plan_notes"])


def test_langfuse_keys_are_secret_references():
    es = keys_secret("observability", "1h", "agentic/x/langfuse-public-key", "agentic/x/langfuse-secret-key", True)
    validate_object(es, "1.35")
    data = es["spec"]["target"]["template"]["data"]
    assert data["public-key"] == "pk-lf-{{ .public }}" and "b64enc" in data["auth"]
    assert all("valueFrom" in e for e in init_env() if e["name"].endswith("_KEY"))
    given = keys_secret("observability", "1h", "a", "b", False)["spec"]["target"]["template"]["data"]
    assert given["public-key"] == "{{ .public }}"


def test_external_langfuse_gets_the_keys_secret_without_the_release():
    raw = stack_raw("dev")
    raw["observability"]["langfuse_keys"] = {
        "host": "https://cloud.langfuse.com",
        "public_key": {"name": "langfuse-pk", "source": "external"},
        "secret_key": {"name": "langfuse-sk", "source": "external"},
    }
    run = build_stack(raw)
    assert not [r for r in run.of_type(RELEASE) if r.inputs["chart"] == "langfuse"]
    collector = next(r for r in run.of_type(RELEASE) if r.inputs["chart"] == "opentelemetry-collector")
    assert (
        collector.inputs["values"]["config"]["exporters"]["otlphttp/langfuse"]["endpoint"]
        == "https://cloud.langfuse.com/api/public/otel"
    )
    keys = [
        e.inputs
        for e in run.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if e.inputs["metadata"]["name"] == KEYS_SECRET
    ]
    assert keys and keys[0]["spec"]["data"][0]["remoteRef"]["key"] == "agentic/agentic-dev/langfuse-pk"
