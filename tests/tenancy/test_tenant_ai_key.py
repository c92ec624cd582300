"""A self-service tenant's AI gateway key (issue #23 point 3): the platform stack generates it, keeps it in Secrets
Manager and gives the gateway its hash; the tenant's own stack syncs it into its namespace from the published facts,
and its model configs with ``ai_model`` present it. Followed through both plans to the model's pods."""

from __future__ import annotations

import copy
import json

import pytest

from tests.plan.test_request_path import resolve
from tests.tenancy.test_tenant_stack import _refused, _tenant_raw


@pytest.fixture(scope="module")
def dev_outputs(plans):
    outputs = copy.deepcopy(plans("dev").run.outputs)
    return {**outputs, "tenancy": json.loads(outputs["tenancy"])}


def _objs(plan) -> list[dict]:
    return [dict(r.inputs) for r in plan.run.kubernetes_objects()]


def test_the_platform_publishes_the_key_and_the_tenant_stack_syncs_and_uses_it(plans):
    dev, tenant = plans("dev"), plans("tenant-demo")
    facts = json.loads(dev.run.outputs["tenancy"])
    key = facts["tenants"]["demo"]["ai_key"]
    assert key["secret"] == "ai-key-tenant-demo" and key["models"] == ["llama-8b"]
    assert key["aws_secret_name"].endswith("/ai-key-tenant-demo")
    # the platform syncs it nowhere itself: only the tenant's stack does, into the tenant's namespace
    platform_syncs = [o for o in _objs(dev) if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == key["secret"]]
    assert platform_syncs == []
    [synced] = [o for o in _objs(tenant) if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == key["secret"]]
    assert synced["metadata"]["namespace"] == "tenant-demo"
    assert synced["spec"]["data"] == [{"secretKey": "api-key", "remoteRef": {"key": key["aws_secret_name"]}}]
    # the gateway knows its hash, under the tenant's consumer name
    [keys] = [o for o in _objs(dev) if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "llm-gateway-keys"]
    assert json.loads(keys["data"]["tenant-demo"])["metadata"]["models"] == ["llama-8b"]
    # the helpdesk's model config calls the AI gateway with it, and the request reaches the model
    [mc] = [o for o in _objs(tenant) if o["kind"] == "ModelConfig" and o["metadata"]["name"] == "llama-8b-ai"]
    assert mc["spec"]["apiKeySecret"] == key["secret"] and mc["spec"]["openAI"]["baseUrl"] == key["url"] + "/v1"
    assert resolve(_objs(dev), mc["spec"]["openAI"]["baseUrl"], {":model": mc["spec"]["model"]}) == ""


def test_a_model_config_on_the_ai_gateway_without_a_key_is_refused(tmp_path, dev_outputs):
    outputs = copy.deepcopy(dev_outputs)
    outputs["tenancy"]["tenants"]["demo"]["ai_key"] = None
    problems = _refused(tmp_path, _tenant_raw(), outputs)
    assert "no AI gateway key" in problems["tenant.model_configs[1].ai_model"]


def test_a_model_outside_the_tenants_key_is_refused(tmp_path, dev_outputs):
    raw = _tenant_raw()
    raw["model_configs"][1]["ai_model"] = "claude"
    problems = _refused(tmp_path, raw, dev_outputs)
    assert "allows ['llama-8b'], not 'claude'" in problems["tenant.model_configs[1].ai_model"]
