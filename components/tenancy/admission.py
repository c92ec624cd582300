"""Admission in the cluster for tenant namespaces: ValidatingAdmissionPolicies (CEL, admissionregistration.k8s.io/v1)
that hold what a tenant admin applies with kubectl to what the policy pack holds the stacks to at preview.

Two policies, one binding of each per tenant, with that tenant's parameters in a ConfigMap in a platform namespace
(tenant admins cannot edit it):

- ``agentic-tenant-workloads`` (pods and their controllers): images only from the allowed registries (the platform's
  ECR and kagent's own images); no GPU request or GPU toleration without GPU quota; no privileged container, host
  namespace or hostPath volume, whatever the namespace's Pod Security label says.
- ``agentic-tenant-agents`` (kagent Agents and ModelConfigs): a ModelConfig either is one the platform renders there
  or calls an allowed platform model through the gateway; an Agent's model config is in its own namespace, its MCP
  servers are its own or ones the platform gives it, and a BYO agent's image comes from an allowed registry.

Pure functions: unit-tested without the engine, and proven on the real API server (tests/cluster)."""

from __future__ import annotations

from typing import Any

import pulumi

from kit.labels import NAMESPACE_NAME, TENANT, metadata
from kit.shared import Shared

API = "admissionregistration.k8s.io/v1"
WORKLOADS = "agentic-tenant-workloads"
AGENTS = "agentic-tenant-agents"
GPU = "nvidia.com/gpu"

_ANY = ["CREATE", "UPDATE"]
_SPEC = (
    "object.kind == 'Pod' ? object.spec : "
    "(object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)"
)
_IMAGES = (
    "variables.spec.containers.map(c, c.image) + "
    "(has(variables.spec.initContainers) ? variables.spec.initContainers.map(c, c.image) : [])"
)
_CONTAINERS_PRIVILEGED = (
    "variables.spec.containers.exists(c, has(c.securityContext) && has(c.securityContext.privileged) && "
    "c.securityContext.privileged) || (has(variables.spec.initContainers) && variables.spec.initContainers.exists(c, "
    "has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged))"
)
_GPU_REQUESTED = (
    "variables.spec.containers.exists(c, has(c.resources) && ((has(c.resources.limits) && "
    f"'{GPU}' in c.resources.limits) || (has(c.resources.requests) && '{GPU}' in c.resources.requests)))"
)
_GPU_TOLERATED = (
    f"has(variables.spec.tolerations) && variables.spec.tolerations.exists(t, has(t.key) && t.key == '{GPU}')"
)
_ALLOWED = "params.data.registries.split(' ').exists(r, r != '' && {image}.startsWith(r))"


def workloads_policy() -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": metadata(WORKLOADS),
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": _ANY, "resources": ["pods"]},
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": _ANY,
                        "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"],
                    },
                    {
                        "apiGroups": ["batch"],
                        "apiVersions": ["v1"],
                        "operations": _ANY,
                        "resources": ["jobs", "cronjobs"],
                    },
                ]
            },
            "variables": [{"name": "spec", "expression": _SPEC}, {"name": "images", "expression": _IMAGES}],
            "validations": [
                {
                    "expression": "variables.images.all(i, " + _ALLOWED.format(image="i") + ")",
                    "messageExpression": "'images must come from ' + params.data.registries.split(' ').join(', ') + "
                    "': ' + variables.images.filter(i, !(" + _ALLOWED.format(image="i") + ")).join(', ') + "
                    "' is not'",
                    "reason": "Forbidden",
                },
                {
                    "expression": f"params.data.gpus == 'true' || !(({_GPU_REQUESTED}) || ({_GPU_TOLERATED}))",
                    "message": "this tenant has no GPU quota: no nvidia.com/gpu request and no toleration of the GPU "
                    "taint (ask the platform team for tenants[].quota.gpus)",
                    "reason": "Forbidden",
                },
                {
                    "expression": f"!({_CONTAINERS_PRIVILEGED})",
                    "message": "privileged containers are not allowed in tenant namespaces",
                    "reason": "Forbidden",
                },
                {
                    "expression": "!(has(variables.spec.hostNetwork) && variables.spec.hostNetwork) && "
                    "!(has(variables.spec.hostPID) && variables.spec.hostPID) && "
                    "!(has(variables.spec.hostIPC) && variables.spec.hostIPC) && "
                    "(!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath)))",
                    "message": "host namespaces (hostNetwork, hostPID, hostIPC) and hostPath volumes are not allowed "
                    "in tenant namespaces",
                    "reason": "Forbidden",
                },
            ],
        },
    }


_GATEWAY_MODEL = (
    "has(object.spec.provider) && object.spec.provider == 'OpenAI' && has(object.spec.openAI) && "
    "has(object.spec.openAI.baseUrl) && object.spec.openAI.baseUrl == params.data.gatewayUrl && "
    "has(object.spec.defaultHeaders) && params.data.modelHeader in object.spec.defaultHeaders && "
    "object.spec.defaultHeaders[params.data.modelHeader] in params.data.models.split(' ')"
)
#: Or the AI gateway with the tenant's own virtual key, for a model its key allows (gateway.ai.keys).
_AI_GATEWAY_MODEL = (
    "params.data.aiGatewayUrl != '' && has(object.spec.provider) && object.spec.provider == 'OpenAI' && "
    "has(object.spec.openAI) && has(object.spec.openAI.baseUrl) && object.spec.openAI.baseUrl == "
    "params.data.aiGatewayUrl && has(object.spec.apiKeySecret) && object.spec.apiKeySecret == params.data.aiKeySecret "
    "&& object.spec.model in params.data.aiModels.split(' ')"
)
_OWN_OR_GIVEN = (
    "!has(object.spec.declarative.tools) || object.spec.declarative.tools.all(t, !has(t.mcpServer) || "
    "!has(t.mcpServer.namespace) || t.mcpServer.namespace == object.metadata.namespace || "
    "(t.mcpServer.namespace + '/' + t.mcpServer.name) in params.data.mcpServers.split(' '))"
)


def agents_policy(kagent_api: str) -> dict[str, Any]:
    group, version = kagent_api.split("/")
    return {
        "apiVersion": API,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": metadata(AGENTS),
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": [version],
                        "operations": _ANY,
                        "resources": ["agents", "modelconfigs"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "object.kind != 'ModelConfig' || object.metadata.name in "
                    f"params.data.modelConfigs.split(' ') || ({_GATEWAY_MODEL}) || ({_AI_GATEWAY_MODEL})",
                    "messageExpression": "'a model config here calls one of the platform models this tenant may use "
                    "(' + params.data.models.split(' ').join(', ') + ') through the gateway ' + "
                    "params.data.gatewayUrl + ' with provider OpenAI and header ' + params.data.modelHeader + "
                    "(params.data.aiGatewayUrl == '' ? '' : ', or a model of its key (' + "
                    "params.data.aiModels.split(' ').join(', ') + ') through the AI gateway ' + "
                    "params.data.aiGatewayUrl + ' with apiKeySecret ' + params.data.aiKeySecret)",
                    "reason": "Forbidden",
                },
                {
                    "expression": "object.kind != 'Agent' || !has(object.spec.declarative) || "
                    "!has(object.spec.declarative.modelConfig) || !object.spec.declarative.modelConfig.contains('/')",
                    "message": "an agent's model config is one in its own namespace",
                    "reason": "Forbidden",
                },
                {
                    "expression": f"object.kind != 'Agent' || !has(object.spec.declarative) || ({_OWN_OR_GIVEN})",
                    "messageExpression": "'an agent uses MCP servers of its own namespace' + "
                    "(params.data.mcpServers == '' ? '' : ' or ' + params.data.mcpServers.split(' ').join(', '))",
                    "reason": "Forbidden",
                },
                {
                    "expression": "object.kind != 'Agent' || !has(object.spec.byo) || !has(object.spec.byo.deployment) "
                    "|| !has(object.spec.byo.deployment.image) || "
                    + _ALLOWED.format(image="object.spec.byo.deployment.image"),
                    "messageExpression": "'a BYO agent image comes from ' + "
                    "params.data.registries.split(' ').join(', ')",
                    "reason": "Forbidden",
                },
            ],
        },
    }


def tenant_admission(
    tenant: str,
    namespace: str,
    params_namespace: str,
    *,
    registries: pulumi.Input[str],
    gpus: bool,
    gateway_url: str,
    model_header: str,
    models: list[str],
    model_configs: list[str],
    mcp_servers: list[str],
    ai_gateway: tuple[str, str, list[str]] = ("", "", []),
) -> list[dict[str, Any]]:
    """The tenant's parameters (a ConfigMap in ``params_namespace``) and a binding of each policy to its namespace.
    ``registries``: space-separated image prefixes (an Output where the ECR registry is still unknown)."""
    params = f"tenant-admission-{tenant}"
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(params, params_namespace, {TENANT: tenant}),
            "data": {
                "registries": registries,
                "gpus": "true" if gpus else "false",
                "gatewayUrl": gateway_url,
                "modelHeader": model_header,
                "models": " ".join(models),
                "modelConfigs": " ".join(model_configs),
                "mcpServers": " ".join(mcp_servers),
                # the AI gateway: its URL, the Secret holding the tenant's key, the models the key allows
                "aiGatewayUrl": ai_gateway[0],
                "aiKeySecret": ai_gateway[1],
                "aiModels": " ".join(ai_gateway[2]),
            },
        }
    ]
    for policy in (WORKLOADS, AGENTS):
        objects.append(
            {
                "apiVersion": API,
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": metadata(f"{policy}-{tenant}"),
                "spec": {
                    "policyName": policy,
                    "validationActions": ["Deny"],
                    "paramRef": {"name": params, "namespace": params_namespace, "parameterNotFoundAction": "Deny"},
                    "matchResources": {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: namespace}}},
                },
            }
        )
    return objects


class TenantAdmission(pulumi.ComponentResource):
    """The two policies (cluster-wide) and each tenant's parameters and bindings."""

    def __init__(self, name: str, kagent_api: str, tenants: list[dict[str, Any]], shared: Shared):
        super().__init__("agentic:tenancy:TenantAdmission", name, None, shared.k8s_opts())
        scope = shared.scope(self, name, depends_on=tuple(shared.cluster_ready))
        policies = [scope.apply(p) for p in (workloads_policy(), agents_policy(kagent_api))]
        for tenant in tenants:
            for obj in tenant_admission(**tenant):
                scope.apply(obj, depends_on=policies if obj["kind"] != "ConfigMap" else ())
        self.register_outputs({})
