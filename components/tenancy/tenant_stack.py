"""A team's self-service stack on the platform: its governed namespace and RBAC (the same builders the platform stack
uses), connection Secrets for the data stores it is allowed, EKS access entries for its people (groups bound in its
namespace, AmazonEKSViewPolicy scoped to it), and its agents through the kagent translator."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.agents import kagent_v0_10
from components.agents.agents import Agents
from components.data import milvus as milvus_data
from components.data import redis as redis_data
from components.secrets.credentials import external_secret
from components.tenancy.tenants import TenantNamespace
from config.agents import KagentConfig
from config.secrets import SecretRef
from config.tenancy import Tenant, TenantAllowance
from config.tenant_stack import GATEWAY_TOKEN_SECRET, PlatformFacts, TenantStack
from kit.shared import Shared

#: EKS access policy every tenant principal gets, scoped to the tenant's namespace: read, never Secrets. Writes come
#: from the tenant-admin Role bound to the principal's group.
VIEW_POLICY = "AmazonEKSViewPolicy"


def tenant_of(cfg: TenantStack) -> Tenant:
    """The platform's tenant model for this stack (namespace, quota, limits, groups): one builder for both stacks."""
    return Tenant(
        name=cfg.name,
        quota=cfg.quota,
        limit_range=cfg.limit_range,
        pod_security=cfg.pod_security,
        admin_groups=cfg.groups("admin"),
        viewer_groups=cfg.groups("viewer"),
        self_service=True,
        allow=TenantAllowance(
            redis=cfg.uses.redis, milvus=cfg.uses.milvus, models=list(cfg.models), max_agents=len(cfg.agents)
        ),
    )


def agent_context(cfg: TenantStack, facts: PlatformFacts) -> kagent_v0_10.Context:
    gw = facts.gateway
    return kagent_v0_10.Context(
        agents_namespace=cfg.namespace,
        gateway_url=gw.url if gw else None,
        model_header=gw.model_header if gw else "x-model-id",
        platform_models={
            m: kagent_v0_10.PlatformModel(f.hf_model, f.header, f.engine)
            for m, f in facts.models.items()
            if m in cfg.models
        },
        runtime_image=facts.runtime_image,
        otel_endpoint=facts.otel_endpoint,
        auth_env=dict(facts.runtime_auth_env),
        redis=cfg.uses.redis,
        milvus=cfg.uses.milvus,
        embedding_env=dict(facts.milvus.embedding_env) if facts.milvus and cfg.uses.milvus else {},
        ai_gateway_url=key.url if (key := facts.tenants[cfg.name].ai_key) else None,
        ai_key_secrets={
            **{mc.name: key.secret for mc in cfg.model_configs if mc.ai_model and key},
            **{f"agent:{a.name}": key.secret for a in cfg.agents if a.ai_model and key},
        },
    )


class TenantResources(pulumi.ComponentResource):
    """Everything one tenant stack owns."""

    def __init__(self, name: str, cfg: TenantStack, facts: PlatformFacts, shared: Shared):
        super().__init__("agentic:tenancy:TenantStack", name, None, shared.k8s_opts())
        ns = cfg.namespace
        self.tenant = TenantNamespace(f"{name}-{ns}", tenant_of(cfg), shared, parent=self)
        namespace = self.tenant.governed.namespace
        scope = shared.scope(self, f"{name}-connection", ns, depends_on=(namespace,))
        mine = facts.tenants[cfg.name].redis
        if cfg.uses.redis and facts.redis is not None and mine is not None:
            r = facts.redis
            scope.apply(
                redis_data.connection_secret(
                    ns,
                    redis_data.redis_url_template(r.host, r.tls, mine.user),
                    facts.secrets_refresh,
                    mine.aws_secret_name,
                    mine.generation,
                    f"{r.host}:{redis_data.PORT}",
                    r.tls,
                ),
                name="redis",
            )
        kb = facts.tenants[cfg.name].milvus
        if cfg.uses.milvus and facts.milvus is not None and kb is not None:
            scope.apply(
                milvus_data.connection_secret(
                    ns, facts.milvus.data_namespace, facts.secrets_refresh, kb.aws_secret_name, kb.user
                ),
                name="milvus",
            )
        partition = shared.partition
        for i, person in enumerate(cfg.access):
            entry = aws.eks.AccessEntry(
                f"{name}-access-{i}",
                cluster_name=facts.cluster_name,
                principal_arn=person.principal_arn,
                kubernetes_groups=[cfg.groups(person.role)[0]],
                type="STANDARD",
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-access-{i}-view",
                cluster_name=facts.cluster_name,
                principal_arn=person.principal_arn,
                policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/{VIEW_POLICY}",
                access_scope={"type": "namespace", "namespaces": [ns]},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )
        model_configs = list(cfg.model_configs)
        ai_key = facts.tenants[cfg.name].ai_key
        if ai_key is not None:  # the AI gateway key the platform keeps for this tenant
            scope.apply(
                external_secret(
                    ai_key.secret,
                    ns,
                    facts.secrets_refresh,
                    {"api-key": ai_key.aws_secret_name},
                    generation=ai_key.generation,
                ),
                name="ai-key",
            )
        token = facts.tenants[cfg.name].gateway_token
        if facts.gateway is not None and facts.gateway.jwt and token is not None:
            scope.apply(
                external_secret(GATEWAY_TOKEN_SECRET, ns, facts.secrets_refresh, {token.key: token.aws_secret_name}),
                name="gateway-token",
            )
            ref = SecretRef(name=GATEWAY_TOKEN_SECRET, key=token.key)
            model_configs = [
                mc.model_copy(update={"api_key": ref}) if mc.platform_model else mc for mc in model_configs
            ]
        if cfg.agents or cfg.model_configs or cfg.mcp_servers:
            kagent = KagentConfig(
                line=facts.kagent_line or "0.10",
                model_configs=model_configs,
                mcp_servers=list(cfg.mcp_servers),
                agents=[a.model_copy(update={"namespace": ns}) for a in cfg.agents],
            )
            Agents(
                f"{name}-agents",
                kagent,
                agent_context(cfg, facts),
                shared,
                after=(namespace,),
                cluster_name=facts.cluster_name,
                parent=self,
            )
        self.namespace = pulumi.Output.from_input(ns)
        self.register_outputs({"namespace": self.namespace})
