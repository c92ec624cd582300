"""The typed handle components receive beside their config slice: what the composition has built so far.

The composition fills it in order (AWS first, then the cluster, namespaces, monitoring), deriving a new handle at
each step with :meth:`Shared.with_`; a component reads only what exists before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from kit.aws import partition
from kit.k8s import Scope


@dataclass
class Notes:
    """What the plan tells the reader: things configured but not deployed, defaults chosen, parts left out."""

    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)

    def not_deployed(self, path: str, what: str) -> None:
        self.add(f"{path}: configured but not deployed by this version ({what})")


@dataclass(frozen=True)
class Shared:
    prefix: str
    environment: str
    region: str
    tags: dict[str, str]
    aws_provider: pulumi.ProviderResource
    notes: Notes
    vpc_cidr: str | None = None
    vpc_id: pulumi.Input[str] | None = None
    private_subnet_ids: tuple[pulumi.Input[str], ...] = ()
    #: the security group every node carries (the EKS cluster security group): what data stores admit
    node_security_group_id: pulumi.Input[str] | None = None
    #: filled once the cluster exists
    cluster_name: str = ""
    cluster_name_output: pulumi.Input[str] | None = None
    k8s_provider: k8s.Provider | None = None
    #: resources every in-cluster controller must wait for (system node group, pod identity agent)
    cluster_ready: tuple[pulumi.Resource, ...] = ()
    #: platform layer -> namespace name, and every tenant namespace
    namespaces: dict[str, str] = field(default_factory=dict)
    tenant_namespaces: tuple[str, ...] = ()
    #: tenant namespace -> the data ports it may reach (tenants[].allow); None: every port (unit tests)
    tenant_data: dict[str, list[int]] | None = None
    #: namespace -> ports of VPC-resident AWS services it reaches (ElastiCache 6379, RDS 5432)
    vpc_services: dict[str, list[int]] = field(default_factory=dict)
    namespace_resources: dict[str, pulumi.Resource] = field(default_factory=dict)
    #: the Helm release that installs the prometheus-operator CRDs, None when monitoring is off
    monitoring_crds: pulumi.Resource | None = None
    #: generation of each platform-generated credential (secrets.rotation)
    rotation: dict[str, int] = field(default_factory=dict)

    @property
    def high_availability(self) -> bool:
        return self.environment == "prod"

    @property
    def partition(self) -> str:
        return partition(self.region)

    def with_(self, **changes: Any) -> Shared:
        return replace(self, **changes)

    def aws_opts(self, parent: pulumi.Resource | None = None, **extra: Any) -> pulumi.ResourceOptions:
        if parent is not None:
            return pulumi.ResourceOptions(parent=parent, **extra)
        return pulumi.ResourceOptions(providers=[self.aws_provider], **extra)

    def k8s_opts(self, **extra: Any) -> pulumi.ResourceOptions:
        """Options for a top-level component that holds Kubernetes objects (children inherit the provider)."""
        assert self.k8s_provider is not None, "the cluster must exist before Kubernetes components"
        return pulumi.ResourceOptions(providers=[self.k8s_provider, self.aws_provider], **extra)

    def scope(
        self,
        parent: pulumi.Resource,
        prefix: str,
        namespace: str | None = None,
        depends_on: tuple[pulumi.Resource, ...] = (),
    ) -> Scope:
        assert self.k8s_provider is not None, "the cluster must exist before Kubernetes objects"
        return Scope(self.k8s_provider, parent, prefix, namespace, tuple(depends_on))
