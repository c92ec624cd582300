"""The typed model of the whole platform: one pydantic tree, read from stack config key ``agentic-platform:platform``.

Field-level rules (types, ranges, DNS-1123 names, CIDRs) live here. Rules that look across the tree (references,
weights, quotas, prod invariants) live in :mod:`stacks.validation`, which reports every problem with its full
config path. Components receive these models (or slices of them), never raw dicts.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from stacks.instances import GPU_FAMILIES
from stacks.versions import KUBERNETES_VERSIONS

# --- reusable field types ----------------------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'llama-70b')"
        )
    return value


def _quantity(value: str | int | float) -> str:
    text = str(value)
    if not _QUANTITY.match(text):
        raise ValueError(f"{text!r} is not a Kubernetes quantity: write e.g. '500m', '4', '16Gi'")
    return text


def _duration(value: str) -> str:
    if value != "Never" and not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a duration: write e.g. '30s', '10m', '720h' or 'Never'")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid IPv4 CIDR ({exc}); write e.g. '10.0.0.0/16'") from None
    return value


def _image(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    if "@sha256:" in value:
        return value
    if ":" not in last:
        raise ValueError(f"image {value!r} has no tag: pin one, e.g. '{value}:v1.2.3'")
    if last.endswith(":latest"):
        raise ValueError(f"image {value!r} uses 'latest': pin a version tag or a digest")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Quantity = Annotated[str, AfterValidator(_quantity)]
Duration = Annotated[str, AfterValidator(_duration)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Image = Annotated[str, AfterValidator(_image)]
CapacityType = Literal["reserved", "spot", "on-demand"]
AmiAlias = Annotated[
    str,
    Field(
        pattern=r"^(al2023|bottlerocket)@(v\d{8}|v\d+\.\d+\.\d+)$",
        description="Pinned EC2NodeClass AMI alias, e.g. al2023@v20251016 or bottlerocket@v1.46.0 (never @latest)",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- AWS, network, cluster ---------------------------------------------------------------------------------------


class AwsConfig(Strict):
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$", description="AWS region, e.g. us-east-1")
    account_id: str | None = Field(
        default=None, pattern=r"^\d{12}$", description="Expected AWS account; pre-flight refuses any other"
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags applied to every AWS resource")


class NetworkConfig(Strict):
    vpc_cidr: Cidr = "10.0.0.0/16"
    az_count: int = Field(default=3, ge=2, le=6)
    availability_zones: list[str] = Field(
        default_factory=list, description="Explicit AZ names; empty = the region's first az_count zones"
    )
    nat_mode: Literal["single", "per_az"] = Field(
        default="single", description="'single' NAT gateway (cheap, dev) or one per AZ (HA, prod)"
    )
    public_subnet_prefix: int = Field(default=24, ge=16, le=28, description="Prefix length of each public subnet")
    private_subnet_prefix: int = Field(default=19, ge=16, le=28, description="Prefix length of each private subnet")


class EndpointAccess(Strict):
    private: bool = True
    public: bool = False
    public_cidrs: list[Cidr] = Field(default_factory=list, description="Who may reach a public endpoint")


ClusterLogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


class ClusterAdmin(Strict):
    principal_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
    policy: Literal["AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSViewPolicy"] = (
        "AmazonEKSClusterAdminPolicy"
    )


class SystemNodeGroup(Strict):
    instance_types: list[str] = Field(default_factory=lambda: ["m7i.large"], min_length=1)
    min_size: int = Field(default=2, ge=1)
    desired_size: int = Field(default=2, ge=1)
    max_size: int = Field(default=4, ge=1)
    disk_size_gib: int = Field(default=50, ge=20, le=1000)
    ami_type: Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD", "BOTTLEROCKET_x86_64"] = (
        "AL2023_x86_64_STANDARD"
    )


class ClusterConfig(Strict):
    name: DnsLabel
    kubernetes_version: Literal[KUBERNETES_VERSIONS] = "1.33"  # type: ignore[valid-type]
    endpoint: EndpointAccess = EndpointAccess()
    log_types: list[ClusterLogType] = Field(default_factory=lambda: ["api", "audit", "authenticator"])
    admins: list[ClusterAdmin] = Field(default_factory=list)
    system_node_group: SystemNodeGroup = SystemNodeGroup()
    secrets_encryption: bool = True
    deletion_protection: bool = False


# --- Karpenter pools ----------------------------------------------------------------------------------------------


class Volume(Strict):
    size_gib: int = Field(ge=20, le=16384)
    iops: int = Field(default=3000, ge=3000, le=16000)
    throughput_mibps: int = Field(default=125, ge=125, le=1000)


class Budget(Strict):
    nodes: str = Field(pattern=r"^((100|[0-9]{1,2})%|[0-9]+)$", description="'10%' or an absolute count")
    schedule: str | None = Field(default=None, description="Cron schedule the budget is active on")
    duration: Duration | None = None
    reasons: list[Literal["Underutilized", "Empty", "Drifted"]] = Field(default_factory=list)


class Disruption(Strict):
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmpty"
    consolidate_after: Duration = "10m"
    expire_after: Duration = "720h"
    budgets: list[Budget] = Field(default_factory=lambda: [Budget(nodes="10%")])


class GpuPoolLimits(Strict):
    gpus: int = Field(ge=1, description="Most GPUs the pool may run at once (cost guardrail)")
    cpu: int = Field(ge=1, description="vCPU limit")
    memory_gib: int = Field(ge=1)


class GpuPool(Strict):
    name: DnsLabel
    instance_families: list[Literal[GPU_FAMILIES]] = Field(min_length=1)  # type: ignore[valid-type]
    gpu_counts: list[Literal[1, 2, 4, 8]] = Field(
        default_factory=list, description="Allowed GPUs per node (empty = any size of the families)"
    )
    capacity_types: list[CapacityType] = Field(
        min_length=1, description="In order of preference; more than one lets Karpenter fall back"
    )
    capacity_reservations: list[Annotated[str, Field(pattern=r"^cr-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="EC2 capacity reservation ids; required when capacity_types has 'reserved'"
    )
    limits: GpuPoolLimits
    ami_alias: AmiAlias
    root_volume: Volume = Volume(size_gib=100)
    data_volume: Volume | None = Field(default=None, description="Extra volume for model weights/cache")
    disruption: Disruption = Disruption()
    weight: int = Field(default=10, ge=1, le=100)


class CpuPool(Strict):
    name: DnsLabel = "general"
    instance_categories: list[Literal["c", "m", "r", "t"]] = Field(default_factory=lambda: ["c", "m", "r"])
    architectures: list[Literal["amd64", "arm64"]] = Field(default_factory=lambda: ["amd64"])
    capacity_types: list[CapacityType] = Field(default_factory=lambda: ["spot", "on-demand"], min_length=1)
    cpu_limit: int = Field(default=200, ge=1)
    memory_limit_gib: int = Field(default=800, ge=1)
    ami_alias: AmiAlias
    root_volume: Volume = Volume(size_gib=50)
    disruption: Disruption = Disruption(consolidation_policy="WhenEmptyOrUnderutilized", consolidate_after="1m")
    weight: int = Field(default=50, ge=1, le=100)


# --- namespaces and tenants ---------------------------------------------------------------------------------------

Layer = Literal["gateway", "agents", "inference", "data", "observability"]
PodSecurity = Literal["privileged", "baseline", "restricted"]


class Quota(Strict):
    requests_cpu: Quantity
    requests_memory: Quantity
    limits_cpu: Quantity
    limits_memory: Quantity
    gpus: int = Field(default=0, ge=0, description="requests.nvidia.com/gpu")
    pods: int = Field(default=100, ge=1)
    services: int = Field(default=50, ge=0)
    persistentvolumeclaims: int = Field(default=20, ge=0)


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


class Tenant(Strict):
    name: DnsLabel = Field(description="Namespace is tenant-<name>")
    quota: Quota
    limit_range: LimitRange = LimitRange()
    admin_groups: list[str] = Field(default_factory=list, description="Kubernetes groups bound to tenant admin")
    viewer_groups: list[str] = Field(default_factory=list)
    pod_security: PodSecurity = "baseline"

    @property
    def namespace(self) -> str:
        return f"tenant-{self.name}"


# --- gateway and models -------------------------------------------------------------------------------------------


class GatewayConfig(Strict):
    enabled: bool = True
    name: DnsLabel = "ai-gateway"
    hostnames: list[str] = Field(default_factory=list)
    model_header: str = Field(default="x-model-id", pattern=r"^[A-Za-z0-9-]+$")
    tls_secret: DnsLabel | None = Field(default=None, description="Secret with the HTTPS listener certificate")


class ModelVariant(Strict):
    name: DnsLabel = Field(description="Suffix of the Deployment/Service, e.g. 'primary', 'canary'")
    image: Image
    replicas: int = Field(default=1, ge=0)
    weight: int = Field(ge=0, le=100, description="Share of the model's route traffic, percent")


class Model(Strict):
    name: DnsLabel
    hf_model: str = Field(description="Model id vLLM serves, e.g. meta-llama/Llama-3.1-8B-Instruct")
    pool: DnsLabel = Field(description="GPU pool (platform.gpu_pools[].name) the model runs on")
    gpus: int = Field(ge=1, le=8, description="GPUs per replica (tensor parallel size)")
    cpu: Quantity = "8"
    memory: Quantity = "64Gi"
    route_header_value: str | None = Field(default=None, description="Gateway header value; default the name")
    variants: list[ModelVariant] = Field(min_length=1)
    max_model_len: int | None = Field(default=None, ge=256)

    @property
    def header_value(self) -> str:
        return self.route_header_value or self.name


# --- data, observability --------------------------------------------------------------------------------------------


class MilvusConfig(Strict):
    enabled: bool = True
    mode: Literal["standalone", "cluster"] = "standalone"
    storage_gib: int = Field(default=50, ge=10)


class RedisConfig(Strict):
    enabled: bool = True
    mode: Literal["in_cluster", "elasticache"] = "in_cluster"
    engine: Literal["valkey", "redis"] = "valkey"
    node_type: str = Field(default="cache.t4g.medium", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    replicas: int = Field(default=1, ge=0, le=5)


class DataConfig(Strict):
    milvus: MilvusConfig = MilvusConfig()
    redis: RedisConfig = RedisConfig()


class ObservabilityConfig(Strict):
    prometheus: bool = True
    grafana: bool = True
    otel_collector: bool = True
    langfuse: bool = False
    dcgm_exporter: bool = True
    retention: str = Field(default="15d", pattern=r"^[0-9]+(h|d|w)$", description="Prometheus retention")


# --- kagent -----------------------------------------------------------------------------------------------------------


class SecretRef(Strict):
    """A Kubernetes Secret key, created from AWS Secrets Manager (never a literal value)."""

    name: DnsLabel
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]+$")
    aws_secret_name: str | None = Field(default=None, description="Secrets Manager secret the value syncs from")


class ModelConfigSpec(Strict):
    name: DnsLabel
    provider: Literal["OpenAI", "Anthropic", "Bedrock", "AzureOpenAI", "Ollama", "Gemini"]
    model: str
    platform_model: DnsLabel | None = Field(
        default=None, description="Serve from this platform model (platform.models[].name) through the gateway"
    )
    api_key: SecretRef | None = None
    bedrock_region: str | None = None


class McpServer(Strict):
    name: DnsLabel
    kind: Literal["remote", "kmcp"] = "remote"
    url: str | None = Field(default=None, pattern=r"^https?://")
    image: Image | None = None
    tools: list[str] = Field(default_factory=list)


class AgentTool(Strict):
    mcp_server: DnsLabel | None = None
    agent: DnsLabel | None = Field(default=None, description="Use another agent as a tool (A2A)")
    tool_names: list[str] = Field(default_factory=list)
    require_approval: list[str] = Field(default_factory=list)


class AgentScaling(Strict):
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=3, ge=1)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)


class Agent(Strict):
    name: DnsLabel
    type: Literal["Declarative", "BYO"] = "Declarative"
    namespace: DnsLabel | None = Field(default=None, description="Default: the agents layer namespace")
    description: str = ""
    system_message: str | None = None
    model_config_ref: DnsLabel | None = Field(default=None, alias="model_config")
    tools: list[AgentTool] = Field(default_factory=list)
    image: Image | None = Field(default=None, description="BYO only; default: the platform agent-runtime image")
    scaling: AgentScaling | None = None
    cpu: Quantity = "500m"
    memory: Quantity = "512Mi"


class KagentConfig(Strict):
    enabled: bool = True
    model_configs: list[ModelConfigSpec] = Field(default_factory=list)
    mcp_servers: list[McpServer] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)


class AgentRuntimeImage(Strict):
    repository: DnsLabel = "agent-runtime"
    build: bool = Field(default=True, description="Build and push the image from agent_runtime/ on deploy")
    scan_on_push: bool = True
    keep_images: int = Field(default=30, ge=1, le=1000, description="Lifecycle policy: keep this many images")


# --- the whole platform --------------------------------------------------------------------------------------------


class Platform(Strict):
    """Root of ``agentic-platform:platform``."""

    environment: Literal["dev", "staging", "prod"]
    aws: AwsConfig
    network: NetworkConfig = NetworkConfig()
    cluster: ClusterConfig
    gpu_pools: list[GpuPool] = Field(default_factory=list)
    cpu_pool: CpuPool
    namespaces: list[LayerNamespace] = Field(min_length=1)
    tenants: list[Tenant] = Field(default_factory=list)
    gateway: GatewayConfig = GatewayConfig()
    models: list[Model] = Field(default_factory=list)
    data: DataConfig = DataConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    kagent: KagentConfig = KagentConfig()
    agent_runtime: AgentRuntimeImage = AgentRuntimeImage()

    @property
    def prefix(self) -> str:
        """Prefix of every resource name: the cluster name (unique per account and region)."""
        return self.cluster.name

    def namespace_for(self, layer: Layer) -> LayerNamespace | None:
        return next((ns for ns in self.namespaces if ns.layer == layer), None)

    def pool(self, name: str) -> GpuPool | None:
        return next((p for p in self.gpu_pools if p.name == name), None)
