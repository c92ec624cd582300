"""The request path: the gateway and the models served on the GPU pools, with their cross-field rules."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from catalog.versions import TGI_IMAGE, VLLM_IMAGE
from config.ai_gateway import ROUTING, AiGateway, EndpointPicker
from config.base import (
    ROOT,
    Cidr,
    DnsLabel,
    Duration,
    Hostname,
    HttpUrl,
    Image,
    NonEmpty,
    Problem,
    Quantity,
    ServiceName,
    Strict,
    duplicates,
    quantity,
    unknown_ref,
)
from config.images import vllm_vulnerabilities
from config.secrets import SecretRef

if TYPE_CHECKING:
    from config.platform import Platform


class GatewayJwt(Strict):
    """JWT authentication at the gateway (seed 001: OIDC/JWT at the edge)."""

    issuer: NonEmpty = Field(max_length=512)
    jwks_url: HttpUrl = Field(description="The identity provider's JWKS endpoint (https)")
    audiences: list[NonEmpty] = Field(default_factory=list)


class RateLimit(Strict):
    """A token bucket per route: ``requests`` per ``per``, bursting up to ``burst``."""

    requests: int = Field(ge=1, le=1_000_000)
    per: Literal["second", "minute", "hour"] = "minute"
    burst: int | None = Field(default=None, ge=1, le=10_000_000, description="Default: requests")


class GatewayConfig(Strict):
    enabled: bool = True
    name: DnsLabel = "ai-gateway"
    hostnames: list[Hostname] = Field(default_factory=list)
    model_header: str = Field(default="x-model-id", pattern=r"^[A-Za-z0-9-]+$")
    scheme: Literal["internal", "internet-facing"] = Field(default="internal", description="The NLB's scheme")
    tls: Literal["none", "gateway", "nlb"] = Field(
        default="none",
        description="HTTPS: 'gateway' terminates with tls_secret, 'nlb' at the NLB with "
        "certificate_arn (HTTP inside the VPC)",
    )
    tls_secret: DnsLabel | None = Field(default=None, description="Secret with the HTTPS listener certificate")
    certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$"
    )
    load_balancer_source_ranges: list[Cidr] = Field(default_factory=list, description="Who may reach the NLB")
    jwt: GatewayJwt | None = None
    rate_limit: RateLimit | None = Field(default=None, description="Default per-route request rate limit")
    ai: AiGateway = Field(default_factory=AiGateway, description="agentgateway beside kgateway (opt-in)")


class ModelVariant(Strict):
    name: DnsLabel = Field(description="Suffix of the Deployment/Service, e.g. 'primary', 'canary'")
    image: Image | None = Field(
        default=None, description="Model server image; default: the catalog's release of the model's engine"
    )
    replicas: int = Field(default=1, ge=0, le=1000, description="Fixed replicas (not with autoscaling)")
    weight: int = Field(ge=0, le=100, description="Share of the model's route traffic, percent")


class ModelAutoscaling(Strict):
    """KEDA on the engine's queue depth (vllm:num_requests_waiting / tgi_queue_size) through Prometheus."""

    min_replicas: int = Field(default=1, ge=0, le=1000, description="0 (scale to zero) is allowed only in dev")
    max_replicas: int = Field(ge=1, le=1000)
    queue_depth_target: int = Field(default=5, ge=1, le=10_000, description="Waiting requests per replica")
    cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    scale_down_stabilization_seconds: int = Field(
        default=600, ge=0, le=86_400, description="HPA scale-down stabilization window"
    )
    polling_interval_seconds: int = Field(default=15, ge=1, le=3600)


class CanaryAnalysis(Strict):
    """Flagger analysis (seed 002: 10 -> 25 -> 50 -> promote; roll back above 1 % errors or p95 > 1.5x stable)."""

    strategy: Literal["canary", "bluegreen"] = "canary"
    step_weights: list[int] = Field(default_factory=lambda: [10, 25, 50], min_length=1)
    interval: Duration = "1m"
    threshold: int = Field(default=5, ge=1, le=100, description="Failed checks before rollback")
    iterations: int = Field(default=10, ge=1, le=1000, description="blue/green: checks before the switch")
    max_error_rate_percent: float | None = Field(default=1.0, ge=0, le=100)
    max_latency_ratio: float | None = Field(
        default=1.5, gt=1, le=100, description="Canary p95 latency over the stable version's"
    )


class Model(Strict):
    name: ServiceName = Field(description="Also the name of its Services: a DNS-1035 label (starts with a letter)")
    engine: Literal["vllm", "tgi"] = "vllm"
    hf_model: NonEmpty = Field(
        pattern=r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$",
        description="Model id the engine serves, e.g. meta-llama/Llama-3.1-8B-Instruct",
    )
    hf_token: SecretRef | None = Field(default=None, description="Secret with the Hugging Face token (gated models)")
    weights_s3_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9!_.*'()/-]{0,900}$",
        description="Load weights from this prefix of the platform's models bucket instead of Hugging Face (vLLM)",
    )
    embedding_dim: int | None = Field(
        default=None,
        ge=8,
        le=32_768,
        description="An embedding model (vLLM pooling runner, /v1/embeddings): its output dimension, e.g. 1024 for "
        "BAAI/bge-m3",
    )
    tool_calling: bool = Field(default=False, description="Serve OpenAI tool calls (vLLM: needs tool_parser)")
    tool_parser: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,40}$",
        description="vLLM --tool-call-parser, e.g. llama3_json, hermes, mistral",
    )
    load_timeout: Duration = Field(default="30m", description="How long the startup probe waits for the model")
    route_timeout: Duration = Field(default="300s", description="Gateway request timeout for this model")
    rate_limit: RateLimit | None = Field(default=None, description="This model's route limit (default: the gateway's)")
    autoscaling: ModelAutoscaling | None = None
    rollout: CanaryAnalysis | None = Field(
        default=None, description="Progressive delivery with Flagger (one variant); without it: static variant weights"
    )
    pool: DnsLabel = Field(description="GPU pool (platform.gpu_pools[].name) the model runs on")
    gpus: int = Field(ge=1, le=128, description="GPUs per replica; more than one node holds: set pipeline_parallel")
    pipeline_parallel: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Nodes per replica (vLLM --pipeline-parallel-size; each node runs gpus / pipeline_parallel GPUs "
        "tensor parallel). Above 1 the model is a LeaderWorkerSet of that many pods on an EFA pool",
    )
    cpu: Quantity = "8"
    memory: Quantity = "64Gi"
    route_header_value: str | None = Field(default=None, description="Gateway header value; default the name")
    variants: list[ModelVariant] = Field(min_length=1)
    max_model_len: int | None = Field(default=None, ge=256, le=10_000_000)
    routing: Literal["service", "inference_pool"] = Field(default="service", description=ROUTING)
    endpoint_picker: EndpointPicker | None = Field(default=None, description="inference_pool: the llm-d picker")

    @property
    def multi_node(self) -> bool:
        return self.pipeline_parallel > 1

    @property
    def gpus_per_node(self) -> int:
        """GPUs of each pod (the tensor parallel size): all of them on one node, or one node's share of a group."""
        return self.gpus // self.pipeline_parallel

    @property
    def header_value(self) -> str:
        return self.route_header_value or self.name

    @property
    def max_replicas(self) -> int:
        """Replicas the model may run at once: the autoscaling maximum, else the fixed replicas of every variant; a
        rollout doubles it (Flagger runs the primary and the canary side by side)."""
        base = self.autoscaling.max_replicas if self.autoscaling else sum(v.replicas for v in self.variants)
        return base * 2 if self.rollout else base

    def image(self, variant: ModelVariant) -> str:
        return variant.image or ENGINE_IMAGES[self.engine]


#: Default image per engine (catalog pins).
ENGINE_IMAGES = {"vllm": VLLM_IMAGE, "tgi": TGI_IMAGE}


def check_gateway(cfg: Platform) -> list[Problem]:
    g = cfg.gateway
    p = f"{ROOT}.gateway"
    out = []
    if g.tls == "gateway" and not g.tls_secret:
        out.append(Problem(f"{p}.tls_secret", "tls: gateway terminates HTTPS with a certificate Secret: name it here"))
    if g.tls == "nlb" and not g.certificate_arn:
        out.append(
            Problem(f"{p}.certificate_arn", "tls: nlb terminates HTTPS at the NLB: give the ACM certificate ARN")
        )
    if g.tls != "gateway" and g.tls_secret:
        out.append(Problem(f"{p}.tls_secret", "is only used with tls: gateway"))
    if g.tls != "nlb" and g.certificate_arn:
        out.append(Problem(f"{p}.certificate_arn", "is only used with tls: nlb"))
    if g.jwt and not g.jwt.jwks_url.startswith("https://"):
        out.append(Problem(f"{p}.jwt.jwks_url", "fetch signing keys over https"))
    if cfg.models and not g.enabled:
        out.append(Problem(f"{p}.enabled", "models are served through the gateway: enable it (or remove the models)"))
    return out


#: Hugging Face repositories that serve weights only to accounts that accepted the model's licence (an anonymous
#: download answers 401/403): Meta Llama, Google Gemma, Mistral's instruct and large models.
GATED_REPOS = ("meta-llama/", "google/gemma", "mistralai/")


def check_models(cfg: Platform) -> list[Problem]:
    out = duplicates(cfg.models, "name", f"{ROOT}.models")
    pools = {p.name: p for p in cfg.gpu_pools}
    headers = Counter(m.header_value for m in cfg.models)
    gpus_on_pool: dict[str, list[tuple[str, int, str]]] = {}
    for i, m in enumerate(cfg.models):
        p = f"{ROOT}.models[{i}]"
        total = sum(v.weight for v in m.variants)
        if total != 100:
            out.append(
                Problem(
                    f"{p}.variants",
                    f"route weights sum to {total}, not 100: adjust variants[].weight "
                    f"({', '.join(f'{v.name}={v.weight}' for v in m.variants)})",
                )
            )
        out += duplicates(m.variants, "name", f"{p}.variants")
        out += _check_engine_and_scaling(cfg, m, p)
        for j, v in enumerate(m.variants):
            found = vllm_vulnerabilities(v.image) if m.engine == "vllm" and v.image else []
            if found:
                out.append(
                    Problem(
                        f"{p}.variants[{j}].image",
                        f"{v.image} is affected by {', '.join(found)}: use {VLLM_IMAGE} or newer",
                    )
                )
        if m.hf_model.startswith(GATED_REPOS) and m.hf_token is None and not m.weights_s3_prefix:
            out.append(
                Problem(
                    f"{p}.hf_token",
                    f"{m.hf_model} is a gated Hugging Face model: its pods cannot download it anonymously. Set "
                    "hf_token (a credential, e.g. {name: hf-token, key: token, source: external}) or "
                    "weights_s3_prefix (weights copied into the models bucket)",
                )
            )
        if headers[m.header_value] > 1:
            out.append(Problem(f"{p}.route_header_value", f"'{m.header_value}' routes to more than one model"))
        pool = pools.get(m.pool)
        if pool is None:
            out.append(Problem(f"{p}.pool", unknown_ref("GPU pool", m.pool, pools, "platform.gpu_pools")))
            continue
        gpus_on_pool.setdefault(m.pool, []).append((m.name, m.gpus * m.max_replicas, _shape(m)))
    for i, pool in enumerate(cfg.gpu_pools):
        users = gpus_on_pool.get(pool.name, [])
        need = sum(n for _, n, _ in users)
        if need > pool.limits.gpus:
            who = ", ".join(f"model '{n}' requests {g} GPUs ({shape})" for n, g, shape in users)
            out.append(
                Problem(
                    f"{ROOT}.gpu_pools[{i}].limits.gpus",
                    f"must be >= {need} because {who} on pool '{pool.name}': "
                    "raise the limit or lower the models' replicas",
                )
            )
    return out


def _shape(m: Model) -> str:
    """How a model's GPUs add up: replicas x GPUs, or groups x nodes x GPUs for a multi-node model."""
    n = m.max_replicas
    if m.multi_node:
        return f"{n} group{'s' * (n != 1)} x {m.pipeline_parallel} nodes x {m.gpus_per_node} GPUs"
    return f"{n} replica{'s' * (n != 1)} x {m.gpus} GPUs"


VLLM_ONLY = ("tool_parser", "weights_s3_prefix", "embedding_dim")


def _check_engine_and_scaling(cfg: Platform, m: Model, p: str) -> list[Problem]:
    out = []
    if m.engine == "tgi":
        for field in VLLM_ONLY:
            if getattr(m, field) is not None:
                out.append(
                    Problem(f"{p}.{field}", "is a vLLM option; TGI has no equivalent: remove it or set engine: vllm")
                )
    elif m.embedding_dim is not None and m.tool_calling:
        out.append(Problem(f"{p}.tool_calling", "an embedding model (embedding_dim) does not generate: remove it"))
    elif m.tool_calling and not m.tool_parser:
        out.append(
            Problem(
                f"{p}.tool_parser", "vLLM needs a tool-call parser for tool calling (e.g. llama3_json, hermes, mistral)"
            )
        )
    if m.tool_parser and not m.tool_calling:
        out.append(Problem(f"{p}.tool_parser", "is set but tool_calling is false: enable it or remove the parser"))
    if m.autoscaling:
        a = m.autoscaling
        fixed = [j for j, v in enumerate(m.variants) if "replicas" in v.model_fields_set]
        for j in fixed:
            out.append(
                Problem(
                    f"{p}.variants[{j}].replicas",
                    "a model with autoscaling has no fixed replica count (KEDA owns it): remove replicas",
                )
            )
        if a.min_replicas > a.max_replicas:
            out.append(Problem(f"{p}.autoscaling.min_replicas", "is greater than max_replicas"))
        if a.min_replicas == 0 and cfg.environment == "prod":
            out.append(
                Problem(
                    f"{p}.autoscaling.min_replicas",
                    "scale to zero is allowed only in dev: cold starts load the whole model (minutes)",
                )
            )
        if len(m.variants) > 1:
            out.append(
                Problem(
                    f"{p}.variants",
                    "an autoscaled model has one variant (the scaler targets one Deployment); use rollout for a canary",
                )
            )
    if (m.autoscaling or m.rollout) and not cfg.observability.prometheus:
        out.append(
            Problem(
                f"{p}.{'autoscaling' if m.autoscaling else 'rollout'}",
                "scales and analyses on Prometheus metrics: set observability.prometheus: true",
            )
        )
    if m.rollout and not cfg.gateway.enabled:
        out.append(Problem(f"{p}.rollout", "Flagger shifts the gateway route's weights: enable the gateway"))
    if m.rollout:
        r = m.rollout
        if len(m.variants) != 1:
            out.append(
                Problem(
                    f"{p}.variants",
                    "a model with rollout has exactly one variant: Flagger creates the "
                    "primary and canary from it (static weights and Flagger are two "
                    "modes, choose one)",
                )
            )
        if r.max_error_rate_percent is None and r.max_latency_ratio is None:
            out.append(
                Problem(
                    f"{p}.rollout",
                    "a canary without metrics cannot roll back: set max_error_rate_percent and/or max_latency_ratio",
                )
            )
        if r.step_weights != sorted(set(r.step_weights)) or not all(0 < w < 100 for w in r.step_weights):
            out.append(Problem(f"{p}.rollout.step_weights", "must rise strictly between 0 and 100, e.g. [10, 25, 50]"))
    return out


def _check_tenant_gpus(cfg: Platform, model_gpus: int) -> list[Problem]:
    """Tenant GPU quotas (seed 001: e.g. 4 per tenant) must fit what the GPU pools' limits leave after the platform's
    own models at max replicas: otherwise a tenant's quota promises GPUs no node can ever provide."""
    total = sum(p.limits.gpus for p in cfg.gpu_pools)
    asked = [(i, t) for i, t in enumerate(cfg.tenants) if t.quota.gpus]
    if not asked:
        return []
    spare = total - model_gpus
    wanted = sum(t.quota.gpus for _, t in asked)
    if wanted <= spare:
        return []
    i, _t = asked[-1]
    return [
        Problem(
            f"{ROOT}.tenants[{i}].quota.gpus",
            f"tenant GPU quotas add up to {wanted} but the GPU pools' limits ({total}) leave {max(spare, 0)} "
            f"after the models' {model_gpus}: lower the tenants' quotas or raise gpu_pools[].limits.gpus",
        )
    ]


def check_quota_covers(cfg: Platform) -> list[Problem]:
    """The inference namespace quota must admit every model replica the stack itself deploys."""
    out: list[Problem] = []
    idx = next((i for i, ns in enumerate(cfg.namespaces) if ns.layer == "inference"), None)
    if idx is None:
        return out
    if not cfg.models:
        return _check_tenant_gpus(cfg, 0)
    quota = cfg.namespaces[idx].quota
    lr = cfg.namespaces[idx].limit_range
    for i, m in enumerate(cfg.models):
        for res, top in (("cpu", lr.max_cpu), ("memory", lr.max_memory)):
            if quantity(getattr(m, res)) > quantity(top):
                out.append(
                    Problem(
                        f"{ROOT}.models[{i}].{res}",
                        f"{getattr(m, res)} is above the inference namespace's LimitRange max_{res} {top}: "
                        f"raise platform.namespaces[{idx}].limit_range.max_{res} or lower it",
                    )
                )
    gpus = sum(m.gpus * m.max_replicas for m in cfg.models)
    out += _check_tenant_gpus(cfg, gpus)
    cpu = sum(quantity(m.cpu) * m.max_replicas * m.pipeline_parallel for m in cfg.models)  # cpu/memory: per pod
    mem = sum(quantity(m.memory) * m.max_replicas * m.pipeline_parallel for m in cfg.models)
    p = f"{ROOT}.namespaces[{idx}].quota"
    if gpus > quota.gpus:
        out.append(Problem(f"{p}.gpus", f"must be >= {gpus}: the models in this stack request {gpus} GPUs"))
    if cpu > quantity(quota.requests_cpu):
        out.append(
            Problem(f"{p}.requests_cpu", f"must be >= {Decimal(cpu).normalize():f}: the models request that much CPU")
        )
    if mem > quantity(quota.requests_memory):
        gib = (Decimal(mem) / 2**30).quantize(Decimal("0.1"))
        out.append(Problem(f"{p}.requests_memory", f"must be >= {gib}Gi: the models request that much memory"))
    return out
