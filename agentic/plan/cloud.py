"""Realistic stand-ins for values only the cloud can assign (ids, ARNs, endpoints, kubeconfigs).

Every value made here is deterministic (a hash of the resource's URN) and recorded in :class:`Placeholders`, so the
plan can tell the reader exactly which strings in the rendered output are placeholders.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"  # placeholder account id; the real one comes from the deploying credentials
PARTITION = "aws"


def _hex(seed: str, n: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


@dataclass
class Placeholders:
    """value -> what it stands for (``<type> <name>.<attribute>``)."""

    values: dict[str, str] = field(default_factory=dict)

    def make(self, value: str, what: str) -> str:
        self.values[value] = what
        return value

    def found_in(self, text: str) -> dict[str, str]:
        return {v: w for v, w in self.values.items() if v in text}


_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
}


class CloudModel:
    """Produces the outputs a resource would have after ``pulumi up``, given its inputs."""

    def __init__(self, region: str, placeholders: Placeholders, account: str | None = None):
        self.region = region
        self.ph = placeholders
        self.account = account or ACCOUNT

    def arn(self, service: str, resource: str, what: str, regional: bool = True) -> str:
        region = self.region if regional else ""
        return self.ph.make(f"arn:{PARTITION}:{service}:{region}:{self.account}:{resource}", what)

    def outputs(self, typ: str, name: str, urn: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        h = _hex(urn)
        what = f"{typ} {name}"
        out: dict[str, Any] = {}
        prefix = _ID_PREFIX.get(typ)
        rid = self.ph.make(f"{prefix}-{h}", f"{what}.id") if prefix else f"{name}-{h[:8]}"
        physical = inputs.get("name") or f"{name}-{h[:7]}"
        if typ == "aws:ec2/vpc:Vpc":
            out["arn"] = self.arn("ec2", f"vpc/{rid}", f"{what}.arn")
        elif typ == "aws:ec2/subnet:Subnet":
            out["arn"] = self.arn("ec2", f"subnet/{rid}", f"{what}.arn")
        elif typ == "aws:ec2/eip:Eip":
            octets = [int(h[i : i + 2], 16) for i in range(0, 4, 2)]
            out["publicIp"] = self.ph.make(f"198.51.{octets[0]}.{octets[1]}", f"{what}.publicIp")
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            out["latestVersion"] = 1
            out["arn"] = self.arn("ec2", f"launch-template/{rid}", f"{what}.arn")
        elif typ == "aws:kms/key:Key":
            rid = self.ph.make(f"{h[:8]}-{h[8:12]}-4{h[12:15]}-8{h[15:17]}{h[:1]}-{_hex(h, 12)}", f"{what}.keyId")
            out["keyId"] = rid
            out["arn"] = self.arn("kms", f"key/{rid}", f"{what}.arn")
        elif typ == "aws:kms/alias:Alias":
            out["arn"] = self.arn("kms", str(inputs.get("name", name)), f"{what}.arn")
        elif typ == "aws:iam/role:Role":
            out["name"] = physical
            out["arn"] = self.arn("iam", f"role/{physical}", f"{what}.arn", regional=False)
            out["uniqueId"] = self.ph.make(f"AROA{h.upper()[:17]}", f"{what}.uniqueId")
            rid = physical
        elif typ == "aws:iam/policy:Policy":
            out["arn"] = self.arn("iam", f"policy/{physical}", f"{what}.arn", regional=False)
        elif typ == "aws:iam/instanceProfile:InstanceProfile":
            out["arn"] = self.arn("iam", f"instance-profile/{physical}", f"{what}.arn", regional=False)
        elif typ == "aws:sqs/queue:Queue":
            out["name"] = physical
            out["arn"] = self.arn("sqs", physical, f"{what}.arn")
            out["url"] = self.ph.make(f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}", f"{what}.url")
            rid = out["url"]
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            out["arn"] = self.arn("events", f"rule/{physical}", f"{what}.arn")
        elif typ == "aws:ecr/repository:Repository":
            out["arn"] = self.arn("ecr", f"repository/{physical}", f"{what}.arn")
            out["repositoryUrl"] = self.ph.make(
                f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{physical}", f"{what}.repositoryUrl"
            )
            out["registryId"] = self.account
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            out["arn"] = self.arn("eks", f"nodegroup/{name}/{h}", f"{what}.arn")
        elif typ == "aws:eks/addon:Addon":
            out["arn"] = self.arn("eks", f"addon/{name}/{h}", f"{what}.arn")
            out["addonVersion"] = self.ph.make(f"v0.0.0-eksbuild.{int(h[:2], 16)}", f"{what}.addonVersion")
        elif typ == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
            out["associationArn"] = self.arn("eks", f"podidentityassociation/{h}", f"{what}.associationArn")
        elif typ.startswith("docker-build:index:Image"):
            out["digest"] = self.ph.make(f"sha256:{_hex(urn, 64)}", f"{what}.digest")
            tags = inputs.get("tags") or []
            out["ref"] = self.ph.make(f"{tags[0] if tags else name}@{out['digest']}", f"{what}.ref")
        return rid, out

    # --- pulumi-eks ------------------------------------------------------------------------------------------------

    def eks_cluster(self, name: str, urn: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Outputs of the pulumi-eks ``eks:index:Cluster`` component and the state of its aws:eks Cluster child."""
        h = _hex(urn)
        cluster_name = inputs.get("name") or f"{name}-eksCluster-{h[:7]}"
        what = f"eks:index:Cluster {name}"
        endpoint = self.ph.make(
            f"https://{h.upper()[:32]}.gr7.{self.region}.eks.amazonaws.com", f"{what}.endpoint"
        )
        oidc_id = h.upper()[:32]
        issuer = self.ph.make(f"https://oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}", f"{what}.oidcIssuer")
        ca = self.ph.make("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCnBsYWNlaG9sZGVyCg==", f"{what}.certificateAuthority")
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
            "contexts": [{"name": "aws", "context": {"cluster": cluster_name, "user": "aws"}}],
            "current-context": "aws",
            "users": [
                {
                    "name": "aws",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
                        }
                    },
                }
            ],
        }
        cluster_sg = self.ph.make(f"sg-{_hex(urn + 'cluster-sg')}", f"{what}.clusterSecurityGroupId (EKS-managed)")
        child_state = {
            "name": cluster_name,
            "arn": self.arn("eks", f"cluster/{cluster_name}", f"{what}.arn"),
            "endpoint": endpoint,
            "version": inputs.get("version"),
            "vpcConfig": {"clusterSecurityGroupId": cluster_sg},
            "certificateAuthority": {"data": ca},
            "identities": [{"oidcs": [{"issuer": issuer}]}],
        }
        outputs = {
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig),
            "clusterSecurityGroupId": self.ph.make(f"sg-{_hex(urn + 'pulumi-sg')}", f"{what}.clusterSecurityGroupId"),
            "nodeSecurityGroupId": self.ph.make(f"sg-{_hex(urn + 'node-sg')}", f"{what}.nodeSecurityGroupId"),
            "oidcProviderArn": self.arn(
                "iam", f"oidc-provider/oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}", f"{what}.oidcProviderArn",
                regional=False,
            ),
            "oidcProviderUrl": issuer.removeprefix("https://"),
            "oidcIssuer": self.ph.make(issuer.removeprefix("https://"), f"{what}.oidcIssuer"),
        }
        return cluster_name, outputs, child_state

    # --- invokes -----------------------------------------------------------------------------------------------------

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:aws:iam::{self.account}:user/plan", "userId": "AIDAPLAN", "id": self.account}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": PARTITION, "dnsSuffix": "amazonaws.com", "id": PARTITION}
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": "ecr-token-placeholder", "authorizationToken": "placeholder",
                    "proxyEndpoint": f"https://{self.account}.dkr.ecr.{self.region}.amazonaws.com",
                    "expiresAt": "2099-01-01T00:00:00Z", "id": self.region}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{s}" for s in "abcdef"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 7)], "id": self.region}
        return {}
