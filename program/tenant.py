"""The composition of a self-service tenant stack (``agentic-platform:tenant``): read the platform stack through a
StackReference, hold the tenant config to the allowance it publishes, then build the tenant's slice.

The platform's ``tenancy`` output is known at preview time (it is read from the platform stack's state), so every
tenant resource shows in ``pulumi preview``. When the config asks for more than the platform allows, the program fails
with each problem's config path before registering anything of the tenant's.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.tenancy.tenant_stack import TenantResources
from config import ConfigError, Problem
from config.loader import PROJECT
from config.tenant_stack import (
    KEY,
    TENANT_ROOT,
    PlatformFacts,
    TenantStack,
    check_platform_stack,
    parse_tenant,
    validated,
)
from kit.shared import Notes, Shared

FULL_KEY = f"{PROJECT}:{KEY}"


def fail(exc: ConfigError) -> None:
    for problem in exc.problems:
        pulumi.log.error(str(problem))
    raise pulumi.RunError(str(exc))


def build_slice(cfg: TenantStack, facts: PlatformFacts, kubeconfig: pulumi.Input[str]) -> TenantResources:
    """Providers for the platform's cluster and region, then the tenant's resources."""
    prefix = f"{facts.cluster_name}-{cfg.namespace}"
    tags = {"agentic.platform/cluster": facts.cluster_name, "agentic.platform/tenant": cfg.name, "managed-by": "pulumi"}
    aws_provider = aws.Provider(f"{prefix}-aws", region=facts.region, default_tags={"tags": tags})
    k8s_provider = k8s.Provider(f"{prefix}-k8s", kubeconfig=kubeconfig, enable_server_side_apply=True)
    data = {ns: t.data_ports for t in facts.tenants.values() for ns in [t.namespace]}
    vpc = {t.namespace: t.vpc_service_ports for t in facts.tenants.values() if t.vpc_service_ports}
    shared = Shared(
        prefix=facts.cluster_name,
        environment=facts.environment,
        region=facts.region,
        tags=tags,
        aws_provider=aws_provider,
        notes=Notes(),
        vpc_cidr=facts.vpc_cidr,
        cluster_name=facts.cluster_name,
        cluster_name_output=facts.cluster_name,
        k8s_provider=k8s_provider,
        namespaces=dict(facts.namespaces),
        tenant_namespaces=tuple(facts.tenant_namespaces),
        tenant_data=data,
        vpc_services=vpc,
    )
    return TenantResources(prefix, cfg, facts, shared)


def build(cfg: TenantStack) -> dict[str, Any]:
    """Register the tenant stack; its outputs name the namespace and the platform stack it runs on."""
    problems = check_platform_stack(cfg, pulumi.get_organization(), pulumi.get_project())
    if problems:
        fail(ConfigError(problems, f"stack {pulumi.get_stack()}"))
    ref = pulumi.StackReference(f"{cfg.namespace}-platform", stack_name=cfg.platform_stack)
    kubeconfig = ref.require_output("kubeconfig")

    def with_facts(raw: Any) -> str:
        try:
            facts = validated(cfg, raw)
        except ConfigError as exc:
            fail(exc)
        build_slice(cfg, facts, kubeconfig)
        return facts.cluster_name

    outputs = {
        "namespace": pulumi.Output.from_input(cfg.namespace),
        "platform_stack": cfg.platform_stack,
        "cluster_name": ref.get_output("tenancy").apply(with_facts),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


def load_from_pulumi_config(raw: Any) -> TenantStack:
    try:
        if not isinstance(raw, dict):
            raise ConfigError([Problem(TENANT_ROOT, "must be a mapping: see Pulumi.tenant-demo.yaml")])
        return parse_tenant(raw, source=f"stack {pulumi.get_stack()}", stack=pulumi.get_stack())
    except ConfigError as exc:
        fail(exc)
        raise
