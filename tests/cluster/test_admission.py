"""Admission in the cluster for tenant namespaces (issue #21 point 3), judged by the real API server: the rendered
ValidatingAdmissionPolicies and their per-tenant bindings admit what the platform and the tenant stack render and
refuse, each with its message, what a tenant admin could otherwise `kubectl apply` past the preview-time policy pack:
images from other registries, GPUs without GPU quota, privileged or host-namespace pods, model configs that leave the
gateway or call a model the tenant may not use, agents using other namespaces' MCP servers, BYO images from elsewhere.
"""

from __future__ import annotations

import pytest

from agentic.cluster.client import ApiError

KAGENT = "kagent.dev/v1alpha2"


def _params(v, tenant: str) -> dict[str, str]:
    maps = v.client.list_all("v1", "ConfigMap")
    return next(m["data"] for m in maps if m["metadata"]["name"] == f"tenant-admission-{tenant}")


def _deployment(name: str, ns: str, image: str, **pod) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image, **pod.pop("container", {})}], **pod},
            },
        },
    }


def _refused(v, obj) -> str:
    """The API server's message refusing ``obj`` (a dry-run create), once the policies are in force."""

    def attempt():
        try:
            v.client.create(obj, dry_run=True)
        except ApiError as e:
            return e
        return None

    error = v.client.wait(attempt, timeout=20)  # a new policy takes effect within a second or two
    assert error is not None, f"{obj['kind']} {obj['metadata']['name']} was admitted"
    assert error.status in (400, 403, 422), error
    return error.message


def _admitted(v, obj) -> None:
    v.client.create(obj, dry_run=True)


@pytest.fixture(scope="module")
def dev(verified):
    v = verified("dev")
    v.ecr = _params(v, "sandbox")["registries"].split()[0]
    return v


def test_the_policies_and_each_tenants_bindings_are_in_the_cluster(dev):
    names = {
        p["metadata"]["name"]
        for p in dev.client.list_all("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy")
    }
    assert {"agentic-tenant-workloads", "agentic-tenant-agents"} <= names
    bindings = dev.client.list_all("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding")
    bound = {
        b["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for b in bindings
    }
    assert bound == {"tenant-sandbox", "tenant-demo"}


def test_images_only_from_the_allowed_registries(dev):
    _admitted(dev, _deployment("ok", "tenant-sandbox", f"{dev.ecr}agentic-dev/tool:1.0"))
    _admitted(dev, _deployment("kagent", "tenant-sandbox", "ghcr.io/kagent-dev/kagent/app:0.10.4"))
    message = _refused(dev, _deployment("hub", "tenant-sandbox", "docker.io/library/nginx:1.27"))
    assert "images must come from" in message and "docker.io/library/nginx:1.27 is not" in message
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "tenant-sandbox"}}
    pod["spec"] = {
        "containers": [{"name": "c", "image": f"{dev.ecr}x:1"}],
        "initContainers": [{"name": "i", "image": "quay.io/evil/init:1"}],
    }
    assert "quay.io/evil/init:1 is not" in _refused(dev, pod)


def test_no_gpu_without_gpu_quota(dev):
    tolerating = {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    message = _refused(dev, _deployment("gpu", "tenant-sandbox", f"{dev.ecr}x:1", **tolerating))
    assert "this tenant has no GPU quota" in message
    requesting = {"container": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}
    assert "no GPU quota" in _refused(dev, _deployment("gpu2", "tenant-sandbox", f"{dev.ecr}x:1", **requesting))
    # tenant-demo's allowance has GPUs: the same pod template is admitted there
    _admitted(dev, _deployment("gpu", "tenant-demo", f"{dev.ecr}x:1", **tolerating))


@pytest.mark.parametrize(
    "pod, words",
    [
        ({"container": {"securityContext": {"privileged": True}}}, "privileged containers are not allowed"),
        ({"hostNetwork": True}, "host namespaces"),
        ({"hostPID": True}, "host namespaces"),
        ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, "hostPath volumes"),
    ],
)
def test_no_privileged_or_host_namespace_pods_whatever_pod_security_says(dev, pod, words):
    """Deployments: Pod Security only warns about them; the policy refuses them outright."""
    assert words in _refused(dev, _deployment("bad", "tenant-sandbox", f"{dev.ecr}x:1", **pod))


def _model_config(name: str, ns: str, spec: dict) -> dict:
    return {"apiVersion": KAGENT, "kind": "ModelConfig", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_model_configs_call_allowed_platform_models_through_the_gateway(dev):
    p = _params(dev, "demo")
    gateway = {"provider": "OpenAI", "model": "m", "openAI": {"baseUrl": p["gatewayUrl"]}}
    allowed = p["models"].split()[0]
    _admitted(dev, _model_config("ok", "tenant-demo", {**gateway, "defaultHeaders": {p["modelHeader"]: allowed}}))
    other = _model_config("other", "tenant-demo", {**gateway, "defaultHeaders": {p["modelHeader"]: "llama-70b"}})
    assert "through the gateway" in _refused(dev, other)
    direct = _model_config(
        "direct",
        "tenant-demo",
        {"provider": "OpenAI", "model": "gpt-4o", "openAI": {"baseUrl": "https://api.openai.com/v1"}},
    )
    assert "through the gateway" in _refused(dev, direct)


def _agent(name: str, ns: str, spec: dict) -> dict:
    return {"apiVersion": KAGENT, "kind": "Agent", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_agents_use_their_own_namespaces_mcp_servers_and_allowed_images(dev):
    tool = {
        "type": "McpServer",
        "mcpServer": {
            "name": "kube-tools",
            "namespace": "ai-agents",
            "kind": "RemoteMCPServer",
            "apiGroup": "kagent.dev",
        },
    }
    declarative = {
        "type": "Declarative",
        "description": "x",
        "declarative": {"modelConfig": "llama-8b", "systemMessage": "x", "tools": [tool]},
    }
    assert "MCP servers of its own namespace" in _refused(dev, _agent("borrow", "tenant-demo", declarative))
    byo = {"type": "BYO", "description": "x", "byo": {"deployment": {"image": "docker.io/me/agent:1"}}}
    assert "a BYO agent image comes from" in _refused(dev, _agent("mine", "tenant-demo", byo))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_everything_the_stacks_render_in_tenant_namespaces_is_admitted(verified, plans, stack):
    """The platform's (and tenant-demo's) own objects in tenant namespaces pass the policies: re-applied (dry run)
    now that the policies are in force, none is refused."""
    v = verified(stack)
    runs = [plans(stack)] + ([plans("tenant-demo")] if stack == "dev" else [])
    tenant_objects = [
        dict(r.inputs)
        for plan in runs
        for r in plan.run.kubernetes_objects()
        if str((r.inputs.get("metadata") or {}).get("namespace", "")).startswith("tenant-")
        and r.inputs.get("kind") in ("Agent", "ModelConfig", "Deployment", "StatefulSet", "Job", "CronJob")
    ]
    assert tenant_objects
    refused = []
    for obj in tenant_objects:
        try:
            v.client.apply(obj, dry_run=True)
        except ApiError as e:
            refused.append((obj["kind"], obj["metadata"]["name"], e.message[:300]))
    assert refused == []
