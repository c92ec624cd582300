"""The platform stack's composition: the platform as an ordered list of domains, built from the typed config.

Read top to bottom: AWS foundation → cluster → namespaces and tenants → observability → node provisioning → the
agent-runtime image → what the config describes that this version does not deploy yet → stack outputs. Each step
hands a component its config slice and the :class:`kit.shared.Shared` handle of what exists so far. Where does a
Kubernetes object come from? Its Pulumi parent is the component that made it (see ARCHITECTURE.md).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.agents.agents import Agents
from components.agents.kagent import Kagent
from components.agents.workflows import Workflows
from components.data.milvus import Milvus
from components.data.redis import Redis
from components.foundation.cluster import EksCluster
from components.foundation.network import Network
from components.foundation.registry import ImageRegistry
from components.foundation.runtime_image import RuntimeImage, content_tag
from components.nodes.efa import EfaNetwork
from components.nodes.gpu_software import GpuSoftware
from components.nodes.karpenter import Karpenter
from components.nodes.nodepools import NodePools
from components.observability.langfuse import Langfuse
from components.observability.langfuse import keys_secret as langfuse_keys_secret
from components.observability.langfuse import web_url as langfuse_web_url
from components.observability.logs import LogShipping
from components.observability.monitoring import Monitoring, prometheus_url
from components.observability.traces import Collector
from components.secrets.credentials import Credentials
from components.secrets.operator import SecretsStore
from components.serving.autoscaling import Autoscaling
from components.serving.canary import Canaries
from components.serving.lws import LeaderWorkerSetController
from components.serving.models import ModelServers
from components.serving.routes import ModelRoutes
from components.serving.sources import serving_notes
from components.serving.weights import ModelsBucket
from components.tenancy.namespaces import GovernedNamespace, NamespaceSpec
from components.tenancy.tenants import TenantNamespace
from components.traffic.ai_budgets import AiBudgets
from components.traffic.ai_gateway import AiGatewayComponent, proxy_replicas
from components.traffic.gateway_api import GatewayApiCrds
from components.traffic.kgateway import Gateway
from components.traffic.lb_controller import LoadBalancerController
from config import ConfigError, Platform, Problem, parse_platform, warnings
from config.agents import approvals, database_mode
from config.ai_gateway import budgets_counted
from config.data import BUDGETS_REDIS_USER, embedding_of
from config.loader import FULL_KEY, KEY, PROJECT
from config.secrets import aws_name
from kit.shared import Notes, Shared
from program.admission import build_admission
from program.ai_wiring import ai_gateway_note, ai_key_hashes, ai_provider_secrets
from program.wiring import (
    agent_context,
    base_tags,
    credentials_of,
    langfuse_refs,
    milvus_readers,
    milvus_users,
    needs_keda,
    redis_readers,
    redis_users,
    tenancy_facts,
    tenant_data_ports,
    vpc_service_ports,
)

#: Config this version validates but does not deploy yet: path -> what is missing. Each entry is reported in the
#: plan whenever the path is configured (tests/contract/test_ignored_config.py keeps this list honest).
NOT_DEPLOYED: dict[str, str] = {}


def _configured(cfg: Platform, path: str) -> bool:
    """Is the config at ``path`` asking for something (enabled, non-empty)?"""

    def at(value: Any, parts: list[str]) -> bool:
        if isinstance(value, list):
            return any(at(v, parts) for v in value)
        if parts:
            return isinstance(value, dict) and at(value.get(parts[0]), parts[1:])
        if isinstance(value, dict):
            return value.get("enabled", True) is not False and (
                "enabled" in value or any(bool(v) for k, v in value.items() if k != "enabled")
            )
        return bool(value)

    return at(cfg.model_dump(exclude_defaults=path.startswith("models.")), path.split("."))


def report_not_deployed(cfg: Platform, notes: Notes) -> None:
    for path, what in NOT_DEPLOYED.items():
        if _configured(cfg, path):
            notes.not_deployed(f"platform.{path}", what)


def build(cfg: Platform) -> dict[str, pulumi.Output]:
    """Register every resource of the platform described by ``cfg``; returns (and exports) the stack outputs."""
    prefix = cfg.prefix
    notes = Notes()
    for warning in warnings(cfg):
        notes.add(f"warning: {warning}")

    # 1. AWS foundation
    aws_provider = aws.Provider(
        f"{prefix}-aws",
        region=cfg.aws.region,
        default_tags={"tags": base_tags(cfg)},
        allowed_account_ids=[cfg.aws.account_id] if cfg.aws.account_id else None,
    )
    shared = Shared(
        prefix=prefix,
        environment=cfg.environment,
        region=cfg.aws.region,
        tags=base_tags(cfg),
        aws_provider=aws_provider,
        notes=notes,
        vpc_cidr=cfg.network.vpc_cidr,
    )
    network = Network(f"{prefix}-network", cfg.network, shared)
    cluster = EksCluster(f"{prefix}-cluster", cfg.cluster, network, shared)
    shared = shared.with_(
        cluster_name=cfg.cluster.name,
        cluster_name_output=cluster.cluster_name,
        k8s_provider=cluster.provider,
        cluster_ready=cluster.ready,
        namespaces={
            **{ns.layer: ns.name for ns in cfg.namespaces},
            **({"keda": "keda"} if any(m.autoscaling for m in cfg.models) else {}),
            **({"flagger": "flagger"} if any(m.rollout for m in cfg.models) else {}),
        },
        tenant_namespaces=tuple(t.namespace for t in cfg.tenants),
        tenant_data=tenant_data_ports(cfg),
        vpc_services=vpc_service_ports(cfg),
        vpc_id=network.vpc_id,
        private_subnet_ids=tuple(network.private_subnet_ids),
        node_security_group_id=cluster.cluster_security_group_id,
        rotation=dict(cfg.secrets.rotation),
    )

    # 2. Tenancy: layer namespaces and tenants
    layer_ns = {
        ns.layer: GovernedNamespace(f"{prefix}-{ns.name}", NamespaceSpec.for_layer(ns), shared) for ns in cfg.namespaces
    }
    shared = shared.with_(namespace_resources=layer_ns)
    for tenant in cfg.tenants:
        if tenant.self_service:  # the team's own stack owns the namespace; this stack publishes its allowance
            notes.add(
                f"tenant '{tenant.name}' is self-service: Pulumi.tenant-{tenant.name}.yaml creates its "
                "namespace, quota, RBAC and agents within the allowance in stack output 'tenancy'"
            )
        else:
            TenantNamespace(f"{prefix}-{tenant.namespace}", tenant, shared)

    # 3. Secrets: the external-secrets operator, the AWS Secrets Manager store, every credential
    store = SecretsStore(f"{prefix}-secrets", cfg.secrets, shared)
    credentials = Credentials(f"{prefix}-credentials", credentials_of(cfg, shared), store, shared)

    # 4. Observability (before the rest: it installs the monitoring CRDs other components' monitors need)
    if cfg.observability.prometheus:
        monitoring = Monitoring(
            f"{prefix}-monitoring", cfg.observability, store, shared, repair=cfg.cluster.node_health.repair_action
        )
        shared = shared.with_(monitoring_crds=monitoring.release)
        store.monitor(monitoring.release)
    else:
        notes.add("Prometheus stack disabled (observability.prometheus: false): no ServiceMonitors are created.")
    if cfg.observability.logs:
        LogShipping(f"{prefix}-logs", cfg.observability, shared)
    build_traces(cfg, shared, store)

    # 5. Node provisioning: Karpenter, its pools, NVIDIA software on GPU nodes
    karpenter = Karpenter(f"{prefix}-karpenter", shared, repair=cfg.cluster.node_health.repair_action)
    efa = (
        EfaNetwork(f"{prefix}-efa", list(cfg.gpu_pools), shared, after=(karpenter.release,))
        if any(p.efa or p.placement_group for p in cfg.gpu_pools)
        else None
    )
    NodePools(
        f"{prefix}-nodepools",
        list(cfg.gpu_pools),
        cfg.cpu_pool,
        karpenter.node_role.name,
        karpenter.release,
        shared,
        after=tuple(efa.resources) if efa else (),
    )
    GpuSoftware(
        f"{prefix}-gpu", list(cfg.gpu_pools), cfg.observability.dcgm_exporter, shared, after=(karpenter.release,)
    )

    # 6. Traffic: Gateway API CRDs, the AWS Load Balancer Controller, kgateway and the Gateway
    gateway = None
    if cfg.gateway.enabled:
        crds = GatewayApiCrds(f"{prefix}-gateway-api", shared)
        lbc = LoadBalancerController(f"{prefix}-lb-controller", network.vpc_id, shared)
        # Flagger writes a rolled-out model's HTTPRoute into the inference namespace: the listeners must admit it
        route_namespaces = [shared.namespaces["gateway"]]
        if any(m.rollout for m in cfg.models):
            route_namespaces.append(shared.namespaces["inference"])
        gateway = Gateway(f"{prefix}-gateway", cfg.gateway, crds, lbc.release, shared, route_namespaces)
        if cfg.gateway.ai.enabled:  # agentgateway beside kgateway: LLM egress, virtual keys, token limits, guards
            ai_gateway = AiGatewayComponent(
                f"{prefix}-agentgateway", cfg, ai_key_hashes(cfg, credentials), ai_provider_secrets(cfg), crds, shared
            )
            notes.add(ai_gateway_note(cfg, shared.namespaces["gateway"]))
    else:
        notes.add("Gateway disabled (gateway.enabled: false): nothing reaches the models from outside the cluster.")

    scalers = None
    # 7. Serving: model servers on the GPU pools (the models bucket when weights come from S3), routes to them
    if cfg.models:
        bucket = None
        if any(m.weights_s3_prefix for m in cfg.models):
            bucket = ModelsBucket(f"{prefix}-models-bucket", list(cfg.models), shared).bucket_name
        lws = None
        if any(m.multi_node for m in cfg.models):
            lws = LeaderWorkerSetController(f"{prefix}-lws", shared, after=(karpenter.release,)).release
        servers = ModelServers(
            f"{prefix}-models",
            list(cfg.models),
            shared,
            bucket=bucket,
            after=(karpenter.release,),
            kubernetes_version=cfg.cluster.kubernetes_version,
            pools={p.name: p for p in cfg.gpu_pools},
            lws=lws,
        )
        serving_notes(cfg, shared.notes)
        if gateway is not None:
            ModelRoutes(f"{prefix}-routes", list(cfg.models), cfg.gateway, gateway.gateway, shared, after=(servers,))
        if needs_keda(cfg):
            scalers = Autoscaling(f"{prefix}-autoscaling", list(cfg.models), shared)
        if gateway is not None and any(m.rollout for m in cfg.models):
            Canaries(
                f"{prefix}-canaries",
                list(cfg.models),
                cfg.gateway,
                shared,
                after=(servers, gateway.gateway, *((scalers,) if scalers else ())),
            )

    elif needs_keda(cfg):
        scalers = Autoscaling(f"{prefix}-autoscaling", [], shared)

    # 8. The agent-runtime image
    registry = ImageRegistry(f"{prefix}-registry", cfg.agent_runtime, shared)
    runtime_image = None
    if cfg.agent_runtime.build:
        runtime_image = RuntimeImage(f"{prefix}-runtime-image", registry.repository, content_tag(), shared)

    # 9. Data: session memory (Redis/Valkey or ElastiCache) and the knowledge base (Milvus and its collection)
    data_endpoints: dict[str, pulumi.Input[Any]] = {}
    redis = None
    if cfg.data.redis.enabled:
        services = {BUDGETS_REDIS_USER: shared.namespaces["gateway"]} if budgets_counted(cfg) else {}
        redis = Redis(
            f"{prefix}-redis",
            cfg.data.redis,
            credentials,
            redis_readers(cfg, shared),
            shared,
            redis_users(cfg, shared),
            services,
        )
        if services:  # the AI gateway's spend budgets, counted in Redis as user ai-budgets
            replicas = proxy_replicas(shared.high_availability)
            AiBudgets(f"{prefix}-ai-budgets", cfg.gateway.ai, replicas, shared, (redis,), ai_gateway)
        data_endpoints["redis"] = {"endpoint": redis.endpoint, "tls": redis.tls, "secret": "redis-connection"}
    if cfg.data.milvus.enabled:
        milvus = Milvus(
            f"{prefix}-milvus",
            cfg.data.milvus,
            credentials,
            milvus_readers(cfg, shared),
            runtime_image.ref if runtime_image else None,
            shared,
            embedding_dim=embedding[2] if (embedding := embedding_of(cfg)) else None,
            users=milvus_users(cfg, shared),
        )
        data_endpoints["milvus"] = {
            "uri": milvus.endpoint,
            "collection": cfg.data.milvus.collection,
            "secret": "milvus-connection",
        }

    # 10. Agents: kagent (charts, database), model configs, MCP servers, agents, identities, scaling, routes, RBAC
    if cfg.kagent.enabled:
        build_agents(cfg, shared, store, gateway, runtime_image.ref if runtime_image else None, scalers)
    else:
        notes.add("kagent disabled (kagent.enabled: false): no agents run")

    # 11. Admission for tenant namespaces: what a tenant admin applies is held to its allowance in the cluster too
    build_admission(cfg, shared, agent_context(cfg, shared), registry.repository_url)

    # 12. What the config describes that this version does not deploy
    report_not_deployed(cfg, notes)

    outputs: dict[str, pulumi.Output] = {
        "cluster_name": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "oidc_issuer": cluster.oidc_issuer,
        "node_role_name": karpenter.node_role.name,
        "interruption_queue": karpenter.queue.name,
        "ecr_repository_url": registry.repository_url,
        "agent_runtime_image": runtime_image.ref if runtime_image else pulumi.Output.from_input(""),
        "vpc_id": network.vpc_id,
        "namespaces": pulumi.Output.from_input(shared.namespaces),
        "tenant_namespaces": pulumi.Output.from_input(list(shared.tenant_namespaces)),
        "data_endpoints": pulumi.Output.from_input(data_endpoints),
        "secrets_prefix": pulumi.Output.from_input(store.prefix),
        "plan_notes": pulumi.Output.from_input(notes.items),
        # one JSON string: every tenant stack reads it through a StackReference, and a string costs the SDK nothing
        # to lift however many tenants it describes (a nested map of 200 tenants took seconds per tenant stack)
        "tenancy": pulumi.Output.json_dumps(tenancy_facts(cfg, shared, store, runtime_image, redis)),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


def build_traces(cfg: Platform, shared: Shared, store: SecretsStore) -> None:
    """Langfuse (in-cluster, or external at langfuse_keys.host) and the OpenTelemetry collector in front of it."""
    obs, ns = cfg.observability, shared.namespaces["observability"]
    url: str | None = None
    after: tuple[pulumi.Resource, ...] = ()
    if obs.langfuse:
        langfuse = Langfuse(f"{cfg.prefix}-langfuse", *langfuse_refs(cfg), store, shared, obs.langfuse_clickhouse)
        url, after = langfuse_web_url(ns), (langfuse.keys,)
    elif obs.langfuse_keys.host:
        public, secret = langfuse_refs(cfg)
        url = obs.langfuse_keys.host
        after = (
            shared.scope(store, f"{cfg.prefix}-langfuse", ns, depends_on=(store.store,)).apply(
                langfuse_keys_secret(
                    ns,
                    store.refresh_interval,
                    aws_name(public, store.prefix),
                    aws_name(secret, store.prefix),
                    public.source == "generated",
                ),
                name="keys",
            ),
        )
    if obs.otel_collector:
        Collector(f"{cfg.prefix}-traces", url, shared, after=after)


def build_agents(cfg: Platform, shared: Shared, store: SecretsStore, gateway: Any, image: Any, keda: Any) -> None:
    """kagent and everything the agents config describes (the translator of the configured kagent line)."""
    prefix = cfg.prefix
    ctx = agent_context(cfg, shared, image)
    memory = any(a.memory_model_config for a in cfg.kagent.agents)
    kagent = Kagent(
        f"{prefix}-kagent",
        cfg.kagent,
        database_mode(cfg) == "rds",
        [shared.namespaces["agents"], *shared.tenant_namespaces],
        ctx.otel_endpoint,
        memory,
        store,
        shared,
    )
    after = (kagent.crds, kagent.release, *((gateway.gateway,) if gateway is not None else ()))
    Agents(
        f"{prefix}-agents",
        cfg.kagent,
        ctx,
        shared,
        after=after,
        gateway=(cfg.gateway.name, shared.namespaces["gateway"]) if gateway is not None else None,
        prometheus=prometheus_url(shared.namespaces["observability"]),
        redis_tls=cfg.data.redis.mode == "elasticache",
        keda=keda.release if keda is not None else None,
    )
    if cfg.workflows:
        Workflows(f"{prefix}-workflows", list(cfg.workflows), ctx.runtime_image, shared, after=after)
    for a in cfg.kagent.agents:
        for tool in a.tools:
            server = next((s for s in cfg.kagent.mcp_servers if s.name == tool.mcp_server), None)
            if server is not None:
                waived = approvals(tool, server)[1]
                if waived:
                    shared.notes.add(
                        f"agent '{a.name}' may run destructive tools without approval "
                        f"(waive_approval): {', '.join(waived)}"
                    )


def load_from_pulumi_config() -> Platform:
    """Read ``agentic-platform:platform`` from the running stack; on bad config fail with the problems, no traceback."""
    raw = pulumi.Config(PROJECT).get_object(KEY)
    try:
        if raw is None:
            raise ConfigError([Problem(FULL_KEY, "is not set: copy Pulumi.dev.yaml as a starting point")])
        return parse_platform(raw, source=f"stack {pulumi.get_stack()}")
    except ConfigError as exc:
        for problem in exc.problems:
            pulumi.log.error(str(problem))
        raise pulumi.RunError(str(exc)) from None
