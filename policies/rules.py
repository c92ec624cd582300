"""agentic-platform policies as plain functions.

Each ``check_*`` takes a resource type and its input properties (or, for stack checks, every resource) and returns
the violation messages. The pulumi-policy pack in ``__main__.py`` wraps them for ``pulumi preview --policy-pack``;
the offline plan calls them in-process. This module imports nothing from the project, so the pack installs alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

try:  # in-process (the offline plan, tests): the policies package
    from policies import agents, ai_gateway, data, observability, serving
    from policies.common import WORKLOAD_KINDS, pod_templates
    from policies.common import get as _get
    from policies.infra import (
        check_ebs_encrypted,
        check_ecr,
        check_eks_endpoint,
        check_gpu_nodepool,
        check_imdsv2,
        check_kms_rotation,
        check_secrets_encryption,
    )
except ImportError:  # pragma: no cover - `pulumi preview --policy-pack policies` puts this directory on sys.path
    import agents  # type: ignore[no-redef]
    import ai_gateway  # type: ignore[no-redef]
    import data  # type: ignore[no-redef]
    import observability  # type: ignore[no-redef]
    import serving  # type: ignore[no-redef]
    from common import WORKLOAD_KINDS, pod_templates  # type: ignore[no-redef]
    from common import get as _get  # type: ignore[no-redef]
    from infra import (  # type: ignore[no-redef]
        check_ebs_encrypted,
        check_ecr,
        check_eks_endpoint,
        check_gpu_nodepool,
        check_imdsv2,
        check_kms_rotation,
        check_secrets_encryption,
    )

REDACTED = "[secret]"
SENSITIVE = re.compile(r"(pass(word)?|secret|token|api[_-]?key|credential|private[_-]?key)", re.IGNORECASE)
NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
NAMESPACE = "kubernetes:core/v1:Namespace"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


@dataclass(frozen=True)
class Resource:
    """What a stack-level check sees of one resource."""

    type: str
    name: str
    props: Mapping[str, Any]


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


# --- images ---------------------------------------------------------------------------------------------------------


def image_problem(image: str) -> str | None:
    if not isinstance(image, str) or not image or "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image '{image}' has no tag: pin a version tag or digest"
    if last.endswith(":latest"):
        return f"image '{image}' uses the mutable tag 'latest': pin a version tag or digest"
    return None


def _containers(props: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return [
        c
        for t in pod_templates(kind, props)
        for key in ("initContainers", "containers")
        for c in ((t.get("spec") or {}).get(key) or [])
        if isinstance(c, Mapping)
    ]


def _walk(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def check_pinned_images(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    kind = _kind(resource_type)
    out: list[str] = []
    if kind in WORKLOAD_KINDS:
        for c in _containers(props, kind):
            problem = image_problem(c.get("image", ""))
            if problem:
                out.append(f"container '{c.get('name')}': {problem}")
    elif resource_type == HELM_RELEASE:
        values = props.get("values") or {}
        for path, value in _walk(values):
            leaf = path.rsplit(".", 1)[-1]
            if leaf == "tag" and str(value) == "latest":
                out.append(f"values.{path} is 'latest': pin the chart's image tag")
            elif leaf == "image" and isinstance(value, str):
                problem = image_problem(value)
                if problem:
                    out.append(f"values.{path}: {problem}")
    elif resource_type.startswith("kubernetes:kagent.dev/"):
        image = _get(props, "spec", "byo", "deployment", "image") or _get(props, "spec", "deployment", "image")
        problem = image_problem(image) if image else None
        if problem:
            out.append(problem)
    return out


# --- secrets ----------------------------------------------------------------------------------------------------------

SECRET_SOURCE_ANNOTATION = "agentic.platform/secret-source"


def _sensitive_value_key(key: str) -> bool:
    """True for keys that hold a secret value (``password``, ``apiKey``), not a reference to one
    (``existingSecret``, ``passwordKey``, ``secretName``, ``tokenSecretRef``)."""
    if not SENSITIVE.search(key):
        return False
    if re.fullmatch(r"secrets\[\d+\]", key):  # a list of Secret names to mount (prometheus-operator's `secrets`)
        return False
    if re.search(r"^existing|(ref|name|file|enabled|path|secret)$", key, re.IGNORECASE) and not re.fullmatch(
        r"(client[_-]?)?secret", key, re.IGNORECASE
    ):
        return False
    return not (
        re.search(r"key$", key, re.IGNORECASE)
        and not re.search(r"(api|private|access|secret)[_-]?key$", key, re.IGNORECASE)
    )


def check_no_plaintext_secrets(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    kind = _kind(resource_type)
    out: list[str] = []
    if resource_type == "kubernetes:core/v1:Secret":
        annotated = SECRET_SOURCE_ANNOTATION in (_get(props, "metadata", "annotations") or {})
        for field in ("data", "stringData"):
            values = props.get(field)
            if values == REDACTED:
                continue
            for key, value in (values or {}).items():
                if value != REDACTED and not annotated:
                    out.append(
                        f"{field}.{key} is a plaintext value in the program: make it a Pulumi secret, or sync it "
                        "from AWS Secrets Manager with an ExternalSecret"
                    )
    elif kind in WORKLOAD_KINDS:
        for c in _containers(props, kind):
            for env in c.get("env") or []:
                name, value = env.get("name", ""), env.get("value")
                reference = re.search(r"_(PATH|FILE|DIR)$", name)  # where a mounted secret is, not its value
                if SENSITIVE.search(name) and not reference and isinstance(value, str) and value and value != REDACTED:
                    out.append(
                        f"container '{c.get('name')}' env {name} has a literal value: use valueFrom.secretKeyRef"
                    )
    elif resource_type == HELM_RELEASE:
        for path, value in _walk(props.get("values") or {}):
            leaf = path.rsplit(".", 1)[-1]
            if _sensitive_value_key(leaf) and isinstance(value, str) and value and value != REDACTED:
                out.append(f"values.{path} holds a literal secret: reference an existing Secret instead")
    return out


# --- namespaces (stack-level) ----------------------------------------------------------------------------------------


def _is_default_deny(props: Mapping[str, Any]) -> bool:
    spec = props.get("spec") or {}
    return (
        spec.get("podSelector") in ({}, None)
        and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
        and not spec.get("ingress")
        and not spec.get("egress")
    )


def check_namespace_governance(resources: list[Resource]) -> list[tuple[str, str]]:
    """Every Namespace the stack declares has a ResourceQuota, a LimitRange and a default-deny NetworkPolicy."""
    namespaces = {_get(r.props, "metadata", "name"): r for r in resources if r.type == NAMESPACE}
    found: dict[str, set[str]] = {ns: set() for ns in namespaces}
    for r in resources:
        ns = _get(r.props, "metadata", "namespace")
        if ns not in found:
            continue
        if r.type == "kubernetes:core/v1:ResourceQuota":
            found[ns].add("ResourceQuota")
        elif r.type == "kubernetes:core/v1:LimitRange":
            found[ns].add("LimitRange")
        elif r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and _is_default_deny(r.props):
            found[ns].add("default-deny NetworkPolicy")
    out = []
    for ns, have in sorted(found.items()):
        missing = [k for k in ("ResourceQuota", "LimitRange", "default-deny NetworkPolicy") if k not in have]
        if missing:
            out.append((namespaces[ns].name, f"namespace '{ns}' has no {', no '.join(missing)}"))
    return out


ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[..., Any]
    stack: bool = False
    #: True: mandatory in every environment (a breach no environment should deploy); False: advisory in dev,
    #: mandatory in staging and prod. The same levels go to `pulumi preview` through policies/config.<env>.json.
    always: bool = False

    def level(self, environment: str) -> str:
        return "mandatory" if self.always or environment != "dev" else "advisory"


#: Rules mandatory everywhere: leaking secrets and unencrypted data are never acceptable, even in dev.
ALWAYS = {
    "no-plaintext-secrets",
    "eks-secrets-encryption",
    "ebs-encrypted",
    "kms-rotation",
    "secrets-from-secrets-manager",
    "provider-keys-stay-in-ai-gateway",
    "elasticache-tls-auth",
    "s3-private-tls-only",
    "volumes-encrypted",
    "agents-cannot-read-secrets",
    "pods-fit-namespace-pod-security",
}


RULES: list[Rule] = [
    Rule(
        "namespace-governance",
        "Every namespace has a ResourceQuota, a LimitRange and a default-deny NetworkPolicy",
        check_namespace_governance,
        stack=True,
    ),
    Rule("pinned-images", "Images carry a pinned tag or digest, never 'latest'", check_pinned_images),
    Rule(
        "no-plaintext-secrets", "No plaintext secret values in Secrets, env or Helm values", check_no_plaintext_secrets
    ),
    Rule(
        "eks-endpoint-private-in-prod",
        "The EKS API endpoint is private in prod and CIDR-limited elsewhere",
        check_eks_endpoint,
    ),
    Rule("eks-secrets-encryption", "EKS encrypts Secrets with a KMS key", check_secrets_encryption),
    Rule("imdsv2-required", "Nodes require IMDSv2 with hop limit 1", check_imdsv2),
    Rule("gpu-nodepool-guardrails", "GPU NodePools are tainted and GPU-limited", check_gpu_nodepool),
    Rule("ebs-encrypted", "EBS volumes are encrypted", check_ebs_encrypted),
    Rule("ecr-scan-immutable", "ECR repositories scan on push and have immutable tags", check_ecr),
    Rule("kms-rotation", "KMS keys rotate", check_kms_rotation),
    Rule(
        "gpu-pods-where-gpus-run",
        "Pods requesting GPUs tolerate the GPU taint and run only in the inference namespace or tenants allowed GPUs",
        serving.check_gpu_pods,
        stack=True,
    ),
    Rule(
        "model-pods-protected",
        "GPU pods carry karpenter.sh/do-not-disrupt and a PodDisruptionBudget covers them",
        serving.check_model_pods,
        stack=True,
    ),
    Rule(
        "load-balancer-only-at-gateway",
        "No LoadBalancer Service outside the gateway namespace",
        serving.check_load_balancers,
        stack=True,
    ),
    Rule("route-weights-sum-to-100", "HTTPRoute backend weights of a rule sum to 100", serving.check_route_weights),
    Rule(
        "secrets-from-secrets-manager",
        "Kubernetes Secrets come from AWS Secrets Manager through ExternalSecrets (Pulumi-made Secrets in dev only)",
        data.check_secrets_from_store,
        stack=True,
    ),
    Rule(
        "elasticache-tls-auth", "ElastiCache encrypts in transit and at rest and requires auth", data.check_elasticache
    ),
    Rule(
        "s3-private-tls-only",
        "S3 buckets block public access and deny requests without TLS",
        data.check_buckets,
        stack=True,
    ),
    Rule(
        "volumes-encrypted",
        "StorageClasses encrypt and every volume claim names an encrypted class",
        data.check_encrypted_volumes,
        stack=True,
    ),
    Rule(
        "agent-references-resolve",
        "Every Agent's model config, MCP servers and agent tools exist in the stack",
        agents.check_agent_references,
        stack=True,
    ),
    Rule(
        "byo-images-from-platform-ecr",
        "BYO agents run the platform's ECR images pinned by digest",
        agents.check_byo_images,
        stack=True,
    ),
    Rule(
        "destructive-tools-need-approval",
        "Destructive MCP tools require approval unless explicitly waived",
        agents.check_tool_approval,
    ),
    Rule(
        "agents-cannot-read-secrets",
        "No agent ServiceAccount is bound to a role that reads Secrets",
        agents.check_agent_secret_access,
        stack=True,
    ),
    Rule(
        "alerts-have-severity-and-runbook",
        "Every alert rule has a severity label and a runbook_url annotation",
        observability.check_rules_annotated,
    ),
    Rule(
        "monitors-need-monitoring",
        "ServiceMonitors, PodMonitors and PrometheusRules exist only with monitoring on",
        observability.check_monitors_need_monitoring,
        stack=True,
    ),
    Rule(
        "provider-keys-stay-in-ai-gateway",
        "With the AI gateway on, no agent or tenant reads an LLM provider key (it calls the gateway with a virtual key)",
        ai_gateway.check_provider_keys_stay_in_gateway,
        stack=True,
    ),
    Rule(
        "tenant-keys-limited",
        "Every tenant's AI gateway key has a token rate limit or a spend budget",
        ai_gateway.check_tenant_keys_limited,
        stack=True,
    ),
    Rule(
        "ai-backends-guarded",
        "Every AI gateway backend carries prompt guards (mandatory outside dev)",
        ai_gateway.check_backends_guarded,
        stack=True,
    ),
    Rule(
        "pods-fit-namespace-pod-security",
        "No workload breaks the Pod Security level its namespace enforces",
        observability.check_pod_security,
        stack=True,
    ),
]


RULES = [Rule(r.name, r.description, r.check, r.stack, r.name in ALWAYS) for r in RULES]


@dataclass(frozen=True)
class Finding:
    policy: str
    resource: str
    type: str
    message: str
    mandatory: bool


def evaluate(resources: list[Resource], environment: str = "prod") -> list[Finding]:
    """Run every rule over ``resources`` (what the in-process plan does), at ``environment``'s enforcement levels."""
    findings: list[Finding] = []
    for rule in RULES:
        mandatory = rule.level(environment) == "mandatory"
        if rule.stack:
            by_name = {r.name: r for r in resources}
            for name, message in rule.check(resources):
                findings.append(Finding(rule.name, name, by_name[name].type, message, mandatory))
            continue
        for r in resources:
            for message in rule.check(r.type, r.props):
                findings.append(Finding(rule.name, r.name, r.type, message, mandatory))
    return findings


def policy_pack_config(environment: str) -> dict[str, Any]:
    """`pulumi preview --policy-pack policies --policy-pack-config policies/config.<env>.json` content."""
    return {rule.name: {"enforcementLevel": rule.level(environment)} for rule in RULES}
