"""AWS account, network and EKS cluster settings, with their cross-field rules."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections import Counter
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from catalog.versions import DEFAULT_KUBERNETES_VERSION, EKS_STANDARD_SUPPORT_END, KUBERNETES_VERSIONS
from config.base import ROOT, Cidr, DnsLabel, Problem, Strict, short

if TYPE_CHECKING:
    from config.platform import Platform


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
    min_size: int = Field(default=2, ge=1, le=450)
    desired_size: int = Field(default=2, ge=1, le=450)
    max_size: int = Field(default=4, ge=1, le=450)
    disk_size_gib: int = Field(default=50, ge=20, le=1000)
    ami_type: Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD", "BOTTLEROCKET_x86_64"] = (
        "AL2023_x86_64_STANDARD"
    )


class NodeHealth(Strict):
    """GPU node health: the EKS node monitoring agent reports faults as node conditions (AcceleratedHardwareReady for
    XID errors and lost GPUs); Karpenter's node repair replaces a node whose condition stays bad."""

    monitoring_agent: bool = Field(default=True, description="The eks-node-monitoring-agent EKS add-on")
    repair: bool = Field(
        default=False,
        description="Karpenter node repair (feature gate nodeRepair, alpha): replaces nodes with a failed condition",
    )
    reboot_gpu_faults: bool = Field(
        default=False,
        description="Repair a reboot-clearable GPU fault by rebooting the node in place instead of replacing it "
        "(Karpenter awsFeatureGates.rebootForRepair, alpha; grants the controller ec2:RebootInstances on its nodes)",
    )

    @property
    def repair_action(self) -> Literal["off", "replace", "reboot"]:
        """What happens to a node with a GPU fault (the XID alert and the runbook say it)."""
        return "off" if not self.repair else "reboot" if self.reboot_gpu_faults else "replace"


class ClusterConfig(Strict):
    name: DnsLabel
    kubernetes_version: Literal[KUBERNETES_VERSIONS] = DEFAULT_KUBERNETES_VERSION  # type: ignore[valid-type]
    endpoint: EndpointAccess = EndpointAccess()
    log_types: list[ClusterLogType] = Field(
        default_factory=lambda: ["api", "audit", "authenticator"]  # type: ignore[arg-type]
    )
    admins: list[ClusterAdmin] = Field(default_factory=list)
    system_node_group: SystemNodeGroup = SystemNodeGroup()
    secrets_encryption: bool = True
    deletion_protection: bool = False
    node_health: NodeHealth = NodeHealth()


# --- rules ----------------------------------------------------------------------------------------------------------

#: RFC 1918: the only ranges a VPC of this platform may use.
RFC1918 = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
#: Tag keys AWS reserves or Karpenter/EKS set themselves (the EC2NodeClass CRD refuses them in spec.tags).
RESERVED_TAG_KEYS = re.compile(
    r"aws:.*|kubernetes\.io/cluster/?.*|karpenter\.sh/.*|karpenter\.k8s\.aws/.*|"
    r"eks:eks-cluster-name",
    re.IGNORECASE,
)


def check_tags(cfg: Platform) -> list[Problem]:
    """AWS tags go on every resource and into EC2NodeClass spec.tags: AWS and CRD limits apply."""
    out = []
    for key, value in cfg.aws.tags.items():
        p = f"{ROOT}.aws.tags.{key}"
        if not key or len(key) > 128:
            out.append(Problem(p, "tag keys must be 1-128 characters"))
        elif RESERVED_TAG_KEYS.fullmatch(key):
            out.append(
                Problem(
                    p,
                    f"{short(key)} is reserved (aws:*, kubernetes.io/cluster/*, karpenter.sh/*, "
                    "karpenter.k8s.aws/*, eks:eks-cluster-name): choose another key",
                )
            )
        if not value or len(value) > 256:
            out.append(Problem(p, "tag values must be 1-256 characters (Karpenter refuses empty values)"))
    return out


def _subnets_fit(vpc: ipaddress.IPv4Network, prefixes: list[int]) -> bool:
    # Power-of-two blocks allocated largest-first always pack, so total size decides.
    return all(p >= vpc.prefixlen for p in prefixes) and sum(2 ** (32 - p) for p in prefixes) <= vpc.num_addresses


def check_network(cfg: Platform) -> list[Problem]:
    out: list[Problem] = []
    net = cfg.network
    vpc = ipaddress.IPv4Network(net.vpc_cidr)
    if not any(vpc.subnet_of(r) for r in RFC1918):
        out.append(
            Problem(
                f"{ROOT}.network.vpc_cidr",
                f"{vpc} is not inside a private (RFC 1918) range "
                "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): use e.g. 10.0.0.0/16",
            )
        )
    if not 16 <= vpc.prefixlen <= 28:
        out.append(
            Problem(f"{ROOT}.network.vpc_cidr", f"a VPC CIDR must be between /16 and /28 (AWS), got /{vpc.prefixlen}")
        )
    prefixes = [net.public_subnet_prefix] * net.az_count + [net.private_subnet_prefix] * net.az_count
    if not _subnets_fit(vpc, prefixes):
        need = sum(2 ** (32 - p) for p in prefixes)
        out.append(
            Problem(
                f"{ROOT}.network.vpc_cidr",
                f"{vpc} ({vpc.num_addresses} addresses) cannot hold {net.az_count} public /{net.public_subnet_prefix} "
                f"and {net.az_count} private /{net.private_subnet_prefix} subnets ({need} addresses): "
                "widen the VPC CIDR or raise the subnet prefix lengths",
            )
        )
    if net.availability_zones:
        if len(net.availability_zones) != net.az_count:
            out.append(
                Problem(
                    f"{ROOT}.network.availability_zones",
                    f"lists {len(net.availability_zones)} zones but az_count is {net.az_count}: make them agree",
                )
            )
        seen = Counter(net.availability_zones)
        for i, az in enumerate(net.availability_zones):
            if not re.fullmatch(re.escape(cfg.aws.region) + r"[a-z]", az):
                out.append(
                    Problem(
                        f"{ROOT}.network.availability_zones[{i}]",
                        f"{short(az)} is not a zone of region {cfg.aws.region} (e.g. {cfg.aws.region}a)",
                    )
                )
            elif seen[az] > 1:
                out.append(Problem(f"{ROOT}.network.availability_zones[{i}]", f"'{az}' is listed twice"))
    admins = Counter(a.principal_arn for a in cfg.cluster.admins)
    for i, a in enumerate(cfg.cluster.admins):
        if admins[a.principal_arn] > 1:
            out.append(
                Problem(
                    f"{ROOT}.cluster.admins[{i}].principal_arn",
                    "this principal is listed twice: EKS allows one access entry per principal",
                )
            )
    ep = cfg.cluster.endpoint
    if not ep.private and not ep.public:
        out.append(Problem(f"{ROOT}.cluster.endpoint", "private and public access are both off: enable at least one"))
    if ep.public:
        if not ep.public_cidrs:
            out.append(
                Problem(
                    f"{ROOT}.cluster.endpoint.public_cidrs",
                    "public endpoint without allowed CIDRs would be open to the internet: list your office/VPN CIDRs",
                )
            )
        for i, c in enumerate(ep.public_cidrs):
            if ipaddress.IPv4Network(c).prefixlen == 0:
                out.append(
                    Problem(f"{ROOT}.cluster.endpoint.public_cidrs[{i}]", "0.0.0.0/0 opens the API server to everyone")
                )
    ng = cfg.cluster.system_node_group
    if not ng.min_size <= ng.desired_size <= ng.max_size:
        out.append(
            Problem(
                f"{ROOT}.cluster.system_node_group",
                f"sizes must satisfy min_size <= desired_size <= max_size (got {ng.min_size}, {ng.desired_size}, "
                f"{ng.max_size})",
            )
        )
    return out


def check_kubernetes_support(cfg: Platform, today: dt.date) -> list[Problem]:
    """A version past EKS standard support costs extended-support fees and loses fixes: an error in prod."""
    version = cfg.cluster.kubernetes_version
    ends = EKS_STANDARD_SUPPORT_END[version]
    if today <= ends:
        return []
    newest = max(KUBERNETES_VERSIONS, key=lambda v: EKS_STANDARD_SUPPORT_END[v])
    message = (
        f"Kubernetes {version} left EKS standard support on {ends.isoformat()} (extended support costs extra "
        f"per cluster hour): upgrade to {newest} (standard support until "
        f"{EKS_STANDARD_SUPPORT_END[newest].isoformat()})"
    )
    severity: Literal["error", "warning"] = "error" if cfg.environment == "prod" else "warning"
    return [Problem(f"{ROOT}.cluster.kubernetes_version", message, severity)]


def check_environment(cfg: Platform) -> list[Problem]:
    """Prod invariants: private API endpoint, NAT per AZ, KMS-encrypted Secrets, on-demand GPU fallback."""
    if cfg.environment != "prod":
        return []
    out: list[Problem] = []
    ep = cfg.cluster.endpoint
    if ep.public or not ep.private:
        out.append(
            Problem(
                f"{ROOT}.cluster.endpoint",
                "prod requires a private-only API endpoint: set private: true and public: false",
            )
        )
    if cfg.gpu_pools and not any("on-demand" in p.capacity_types for p in cfg.gpu_pools):
        out.append(
            Problem(f"{ROOT}.gpu_pools", "prod needs on-demand fallback on at least one GPU pool: add 'on-demand'")
        )
    if cfg.network.nat_mode != "per_az":
        out.append(Problem(f"{ROOT}.network.nat_mode", "prod needs one NAT gateway per AZ: set 'per_az'"))
    if not cfg.cluster.secrets_encryption:
        out.append(Problem(f"{ROOT}.cluster.secrets_encryption", "prod requires KMS envelope encryption of Secrets"))
    return out
