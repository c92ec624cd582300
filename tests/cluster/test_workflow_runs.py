"""Issue #25 point 3 on the real API server (the dev plan applied, Argo's pinned CRDs installed): the README's run
(the seed's WorkflowRun as an Argo Workflow referencing the template) is accepted; the status the README reads
(phase, per-step phase, start and completion times) is a shape Argo's schema holds; a malformed run is refused."""

from __future__ import annotations

import re

import pytest
import yaml

from agentic.cluster.client import ApiError
from tests.conftest import PROJECT_ROOT

WORKFLOWS = "/apis/argoproj.io/v1alpha1/namespaces/ai-agents/workflows"


def _readme_run() -> dict:
    text = (PROJECT_ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return next(d for b in blocks if (d := yaml.safe_load(b)) and d.get("kind") == "Workflow")


def test_the_readme_run_is_accepted_and_names_the_template(verified):
    client = verified("dev").client
    run = _readme_run()
    template = client.get("/apis/argoproj.io/v1alpha1/namespaces/ai-agents/workflowtemplates/research-report-workflow")
    params = {p["name"] for p in template["spec"]["arguments"]["parameters"]}
    assert {p["name"] for p in run["spec"]["arguments"]["parameters"]} <= params
    created = client.request("POST", WORKFLOWS, run)
    name = created["metadata"]["name"]
    assert name.startswith("research-report-workflow-")
    # the status Argo's controller writes, read back the way the README's jsonpath reads it
    nodes = {
        f"{name}-{i}": {
            "id": f"{name}-{i}",
            "name": f"{name}.{step}",
            "displayName": step,
            "type": "Pod",
            "phase": phase,
            "startedAt": "2026-12-03T10:00:00Z",
            **({"finishedAt": "2026-12-03T10:03:00Z"} if phase == "Succeeded" else {}),
        }
        for i, (step, phase) in enumerate([("research", "Succeeded"), ("analyze-trends", "Running")])
    }
    status = {"phase": "Running", "startedAt": "2026-12-03T10:00:00Z", "nodes": nodes}
    patched = client.request(
        "PATCH", f"{WORKFLOWS}/{name}", {"status": status}, content_type="application/merge-patch+json"
    )
    steps = {n["displayName"]: (n["phase"], n.get("finishedAt")) for n in patched["status"]["nodes"].values()}
    assert steps == {"research": ("Succeeded", "2026-12-03T10:03:00Z"), "analyze-trends": ("Running", None)}
    client.request("DELETE", f"{WORKFLOWS}/{name}")


def test_a_malformed_run_is_refused(verified):
    client = verified("dev").client
    run = _readme_run()
    run["spec"]["arguments"]["parameters"][0]["value"] = {"not": "a string"}
    with pytest.raises(ApiError) as exc:
        client.request("POST", WORKFLOWS, run)
    assert exc.value.status == 422 and "spec.arguments.parameters[0].value" in exc.value.message
