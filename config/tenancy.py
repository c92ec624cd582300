"""Layer namespaces and tenants: Pod Security level, quota, LimitRange, groups; with their cross-field rules."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from config.base import (
    ROOT,
    DnsLabel,
    NonEmpty,
    Problem,
    Quantity,
    Strict,
    duplicates,
    label_key_problem,
    label_value_problem,
    quantity,
)
from config.deploy import DeployIdentity
from config.secrets import SecretRef

if TYPE_CHECKING:
    from config.platform import Platform

Layer = Literal["gateway", "agents", "inference", "data", "observability"]
LAYERS: tuple[str, ...] = ("gateway", "agents", "inference", "data", "observability")
PodSecurity = Literal["privileged", "baseline", "restricted"]
CIDR = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$"
#: Namespaces Kubernetes, EKS or the platform itself own: a layer may not take their name.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "karpenter")
#: Label prefixes the platform sets on namespaces (Pod Security, layer, tenant): user labels may not override them.
RESERVED_LABEL_PREFIXES = (
    "pod-security.kubernetes.io/",
    "agentic.platform/",
    "kubernetes.io/",
    "k8s.io/",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)


class Quota(Strict):
    requests_cpu: Quantity
    requests_memory: Quantity
    limits_cpu: Quantity
    limits_memory: Quantity
    gpus: int = Field(default=0, ge=0, le=100_000, description="requests.nvidia.com/gpu")
    pods: int = Field(default=100, ge=1, le=1_000_000)
    services: int = Field(default=50, ge=0, le=1_000_000)
    persistentvolumeclaims: int = Field(default=20, ge=0, le=1_000_000)


class LimitRange(Strict):
    default_cpu: Quantity = "500m"
    default_memory: Quantity = "512Mi"
    default_request_cpu: Quantity = "100m"
    default_request_memory: Quantity = "128Mi"
    max_cpu: Quantity = "16"
    max_memory: Quantity = "64Gi"


class LayerNamespace(Strict):
    name: DnsLabel
    layer: Layer
    pod_security: PodSecurity
    quota: Quota
    limit_range: LimitRange = LimitRange()
    labels: dict[str, str] = Field(default_factory=dict)


class TenantAllowance(Strict):
    """What the platform lets a tenant use beside its own namespace."""

    redis: bool = Field(default=False, description="Session memory: the Redis connection Secret and port 6379")
    milvus: bool = Field(default=False, description="The knowledge base: the Milvus connection Secret and port 19530")
    models: list[DnsLabel] = Field(
        default_factory=list,
        description="Platform models (platform.models[].name) the tenant's agents may call through the gateway",
    )
    max_agents: int = Field(default=10, ge=0, le=1000, description="Agents a tenant stack may declare")
    egress: list[Annotated[str, Field(pattern=CIDR)]] = Field(
        default_factory=list,
        max_length=50,
        description="IPv4 CIDRs outside the cluster the tenant's agents may reach (agents[].egress within them; "
        "0.0.0.0/0 also lets them reach remote MCP servers and Gitea on the internet). Default: none",
    )
    gateway_token: SecretRef | None = Field(
        default=None,
        description="Self-service tenants behind a JWT gateway: the team's token (from the identity "
        "provider), kept in Secrets Manager by this stack; the tenant stack syncs it for its model configs",
    )


class Tenant(Strict):
    name: DnsLabel = Field(description="Namespace is tenant-<name>")
    allow: TenantAllowance = TenantAllowance()
    quota: Quota
    limit_range: LimitRange = LimitRange()
    admin_groups: list[NonEmpty] = Field(default_factory=list, description="Kubernetes groups bound to tenant admin")
    viewer_groups: list[NonEmpty] = Field(default_factory=list)
    pod_security: PodSecurity = "baseline"
    self_service: bool = Field(
        default=False,
        description="The team's own stack (Pulumi.tenant-<name>.yaml) creates "
        "the namespace, quota, RBAC and agents; the platform only publishes this entry as its "
        "allowance (quota = the ceiling), and keeps the tenant in its NetworkPolicies",
    )

    deploy: DeployIdentity | None = Field(
        default=None,
        description="Self-service: the AWS role and GitHub environment CI deploys the team's stack with (the "
        "platform team owns them; `agentic ci` uses these, whatever the tenant's file says)",
    )

    @property
    def namespace(self) -> str:
        return f"tenant-{self.name}"


def _check_limit_range(lr: LimitRange, path: str) -> list[Problem]:
    out = []
    for res in ("cpu", "memory"):
        default, request, top = (quantity(getattr(lr, f"{k}_{res}")) for k in ("default", "default_request", "max"))
        if default > top:
            out.append(
                Problem(
                    f"{path}.max_{res}",
                    f"is below default_{res}: the API server refuses a LimitRange whose default exceeds its max",
                )
            )
        if request > default:
            out.append(
                Problem(
                    f"{path}.default_request_{res}", f"is above default_{res}: a request above the limit is refused"
                )
            )
    return out


def _check_labels(labels: dict[str, str], path: str) -> list[Problem]:
    out = []
    for key, value in labels.items():
        if key.startswith(RESERVED_LABEL_PREFIXES):
            out.append(
                Problem(
                    f"{path}.{key}",
                    f"the platform sets labels under {key.split('/')[0]}/ itself "
                    "(Pod Security, layer, tenant): use another prefix",
                )
            )
        elif problem := label_key_problem(key) or label_value_problem(value):
            out.append(Problem(f"{path}.{key}", problem))
    return out


def check_namespaces(cfg: Platform) -> list[Problem]:
    out = duplicates(cfg.namespaces, "name", f"{ROOT}.namespaces")
    out += duplicates(cfg.tenants, "name", f"{ROOT}.tenants")
    layers = Counter(ns.layer for ns in cfg.namespaces)
    for i, ns in enumerate(cfg.namespaces):
        if layers[ns.layer] > 1:
            out.append(Problem(f"{ROOT}.namespaces[{i}].layer", f"layer '{ns.layer}' has more than one namespace"))
        if ns.name.startswith("tenant-"):
            out.append(
                Problem(f"{ROOT}.namespaces[{i}].name", "the 'tenant-' prefix is reserved for tenant namespaces")
            )
        if ns.quota.gpus and ns.layer != "inference":
            out.append(
                Problem(f"{ROOT}.namespaces[{i}].quota.gpus", "only the inference layer runs GPU workloads: set 0")
            )
        if ns.name in RESERVED_NAMESPACES:
            out.append(
                Problem(
                    f"{ROOT}.namespaces[{i}].name",
                    f"'{ns.name}' belongs to Kubernetes, EKS or Karpenter: choose another name",
                )
            )
        out += _check_labels(ns.labels, f"{ROOT}.namespaces[{i}].labels")
        out += _check_limit_range(ns.limit_range, f"{ROOT}.namespaces[{i}].limit_range")
    for missing in sorted(set(LAYERS) - set(layers)):
        out.append(Problem(f"{ROOT}.namespaces", f"no namespace for layer '{missing}': add one"))
    platform_names = {ns.name for ns in cfg.namespaces} | set(LAYERS) | set(RESERVED_NAMESPACES)
    models = {m.name for m in cfg.models}
    for i, t in enumerate(cfg.tenants):
        if t.name in platform_names or t.name.startswith(("tenant-", "kube-")):
            out.append(
                Problem(
                    f"{ROOT}.tenants[{i}].name",
                    f"'{t.name}' is the name of a platform namespace, layer "
                    "or system prefix: a tenant named so is easily mistaken for "
                    "it in RBAC groups and labels; choose the team's name",
                )
            )
        for j, m in enumerate(t.allow.models):
            if m not in models:
                out.append(
                    Problem(
                        f"{ROOT}.tenants[{i}].allow.models[{j}]",
                        f"no platform model '{m}' (models: {', '.join(sorted(models)) or 'none'})",
                    )
                )
        if t.self_service and t.allow.models and cfg.gateway.jwt is not None and t.allow.gateway_token is None:
            out.append(
                Problem(
                    f"{ROOT}.tenants[{i}].allow.gateway_token",
                    "the gateway requires JWTs (gateway.jwt): "
                    "give the team's token as a credential "
                    "reference, or its agents cannot call models",
                )
            )
        if t.allow.gateway_token is not None and not t.self_service:
            out.append(
                Problem(
                    f"{ROOT}.tenants[{i}].allow.gateway_token",
                    "only read for self-service tenants: agents in this stack carry api_key",
                )
            )
        if t.deploy is not None and not t.self_service:
            out.append(
                Problem(
                    f"{ROOT}.tenants[{i}].deploy", "only read for self-service tenants: the platform deploys this one"
                )
            )
        if t.self_service and t.pod_security == "privileged":
            out.append(Problem(f"{ROOT}.tenants[{i}].pod_security", "a self-service tenant cannot be privileged"))
        if len(t.namespace) > 63:
            out.append(Problem(f"{ROOT}.tenants[{i}].name", f"namespace '{t.namespace}' would exceed 63 characters"))
        out += _check_limit_range(t.limit_range, f"{ROOT}.tenants[{i}].limit_range")
    return out
