"""VPC with public and private subnets across AZs, NAT (one, or one per AZ), tagged for load balancers and Karpenter."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_aws as aws

from config.cluster import NetworkConfig
from kit.labels import KARPENTER_DISCOVERY
from kit.shared import Shared


def allocate_subnets(vpc_cidr: str, prefixes: list[int]) -> list[str]:
    """Carve non-overlapping subnets of the given prefix lengths out of ``vpc_cidr`` (largest first, aligned).

    Returns CIDRs in the order of ``prefixes``. Raises ValueError when they do not fit (the config check reports this
    earlier with the config path).
    """
    vpc = ipaddress.IPv4Network(vpc_cidr)
    order = sorted(range(len(prefixes)), key=lambda i: prefixes[i])
    cursor = int(vpc.network_address)
    result: dict[int, str] = {}
    for i in order:
        size = 2 ** (32 - prefixes[i])
        cursor = (cursor + size - 1) // size * size
        net = ipaddress.IPv4Network((cursor, prefixes[i]))
        if not net.subnet_of(vpc):
            raise ValueError(f"subnets {prefixes} do not fit in {vpc_cidr}")
        result[i] = str(net)
        cursor += size
    return [result[i] for i in range(len(prefixes))]


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, cfg: NetworkConfig, shared: Shared):
        super().__init__("agentic:aws:Network", name, None, shared.aws_opts())
        cluster = shared.prefix
        child = pulumi.ResourceOptions(parent=self)
        if cfg.availability_zones:
            zones = [pulumi.Output.from_input(z) for z in cfg.availability_zones]
        else:
            names = aws.get_availability_zones_output(
                state="available", opts=pulumi.InvokeOutputOptions(parent=self)
            ).names
            zones = [names.apply(lambda n, i=i: n[i]) for i in range(cfg.az_count)]  # type: ignore[misc]
        n = cfg.az_count
        cidrs = allocate_subnets(cfg.vpc_cidr, [cfg.private_subnet_prefix] * n + [cfg.public_subnet_prefix] * n)
        private_cidrs, public_cidrs = cidrs[:n], cidrs[n:]

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cfg.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{cluster}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{cluster}-igw"}, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={"Name": f"{cluster}-public"},
            opts=child,
        )
        public, private, nats = [], [], []
        for i in range(n):
            sub = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=zones[i],
                map_public_ip_on_launch=False,
                tags={
                    "Name": f"{cluster}-public-{i}",
                    "kubernetes.io/role/elb": "1",
                    f"kubernetes.io/cluster/{cluster}": "shared",
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=sub.id, route_table_id=public_rt.id, opts=child
            )
            public.append(sub)
        nat_count = n if cfg.nat_mode == "per_az" else 1
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc", tags={"Name": f"{cluster}-nat-{i}"}, opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags={"Name": f"{cluster}-nat-{i}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        for i in range(n):
            sub = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=private_cidrs[i],
                availability_zone=zones[i],
                tags={
                    "Name": f"{cluster}-private-{i}",
                    "kubernetes.io/role/internal-elb": "1",
                    KARPENTER_DISCOVERY: cluster,
                    f"kubernetes.io/cluster/{cluster}": "shared",
                },
                opts=child,
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[i % nat_count].id}],
                tags={"Name": f"{cluster}-private-{i}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}-rta", subnet_id=sub.id, route_table_id=rt.id, opts=child)
            private.append(sub)

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.nat_gateway_count = nat_count
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )
