"""Realistic stand-ins for values only the cloud can assign (ids, ARNs, endpoints, kubeconfigs).

Every value made here is deterministic (a hash of the resource's URN) and recorded in :class:`Placeholders`, so the
plan can tell the reader exactly which strings in the rendered output are placeholders.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kit.aws import partition

ACCOUNT = "123456789012"  # placeholder account id; the real one comes from the deploying credentials


def _hex(seed: str, n: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


@dataclass
class Placeholders:
    """value -> what it stands for (``<type> <name>.<attribute>``)."""

    values: dict[str, str] = field(default_factory=dict)
    #: secret values the mock cloud made up (generated passwords): never written anywhere, tests scan for them
    secrets: list[str] = field(default_factory=list)

    def make(self, value: str, what: str) -> str:
        self.values[value] = what
        return value

    def secret(self, value: str) -> str:
        self.secrets.append(value)
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
        self.partition = partition(region)

    def arn(self, service: str, resource: str, what: str, regional: bool = True) -> str:
        region = self.region if regional else ""
        return self.ph.make(f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}", what)

    def outputs(self, typ: str, name: str, urn: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(id, outputs) of a resource after ``pulumi up``: the id, then what :data:`OUTPUTS` knows of its type."""
        h = _hex(urn)
        prefix = _ID_PREFIX.get(typ)
        what = f"{typ} {name}"
        rid = self.ph.make(f"{prefix}-{h}", f"{what}.id") if prefix else f"{name}-{h[:8]}"
        fake = _Fake(self, what, h, rid, inputs.get("name") or f"{name}-{h[:7]}", urn, name, inputs)
        maker = OUTPUTS.get(typ) or next(
            (f for t, f in OUTPUTS.items() if t.endswith("*") and typ.startswith(t[:-1])), None
        )
        out = maker(fake) if maker else {}
        return out.pop("__id__", rid), out

    # --- pulumi-eks ------------------------------------------------------------------------------------------------

    def eks_cluster(self, name: str, urn: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Outputs of the pulumi-eks ``eks:index:Cluster`` component and the state of its aws:eks Cluster child."""
        h = _hex(urn)
        cluster_name = inputs.get("name") or f"{name}-eksCluster-{h[:7]}"
        what = f"eks:index:Cluster {name}"
        endpoint = self.ph.make(f"https://{h.upper()[:32]}.gr7.{self.region}.eks.amazonaws.com", f"{what}.endpoint")
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
                "iam",
                f"oidc-provider/oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}",
                f"{what}.oidcProviderArn",
                regional=False,
            ),
            "oidcProviderUrl": issuer.removeprefix("https://"),
            "oidcIssuer": self.ph.make(issuer.removeprefix("https://"), f"{what}.oidcIssuer"),
        }
        return cluster_name, outputs, child_state

    # --- invokes -----------------------------------------------------------------------------------------------------

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account,
                "arn": f"arn:{self.partition}:iam::{self.account}:user/plan",
                "userId": "AIDAPLAN",
                "id": self.account,
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": self.partition, "dnsSuffix": "amazonaws.com", "id": self.partition}
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "ecr-token-placeholder",
                "authorizationToken": "placeholder",
                "proxyEndpoint": f"https://{self.account}.dkr.ecr.{self.region}.amazonaws.com",
                "expiresAt": "2099-01-01T00:00:00Z",
                "id": self.region,
            }
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{s}" for s in "abcdef"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 7)], "id": self.region}
        return {}


@dataclass
class _Fake:
    """What an output maker knows of one resource."""

    cloud: CloudModel
    what: str
    h: str
    id: str
    physical: str
    urn: str
    name: str
    inputs: dict[str, Any]

    def arn(self, service: str, resource: str, attr: str = "arn", regional: bool = True) -> str:
        return self.cloud.arn(service, resource, f"{self.what}.{attr}", regional)

    def make(self, value: str, attr: str) -> str:
        return self.cloud.ph.make(value, f"{self.what}.{attr}")


def _eip(f: _Fake) -> dict[str, Any]:
    octets = [int(f.h[i : i + 2], 16) for i in range(0, 4, 2)]
    return {"publicIp": f.make(f"198.51.{octets[0]}.{octets[1]}", "publicIp")}


def _kms_key(f: _Fake) -> dict[str, Any]:
    h = f.h
    key_id = f.make(f"{h[:8]}-{h[8:12]}-4{h[12:15]}-8{h[15:17]}{h[:1]}-{_hex(h, 12)}", "keyId")
    return {"__id__": key_id, "keyId": key_id, "arn": f.arn("kms", f"key/{key_id}")}


def _iam_role(f: _Fake) -> dict[str, Any]:
    return {
        "__id__": f.physical,
        "name": f.physical,
        "arn": f.arn("iam", f"role/{f.physical}", regional=False),
        "uniqueId": f.make(f"AROA{f.h.upper()[:17]}", "uniqueId"),
    }


def _sqs_queue(f: _Fake) -> dict[str, Any]:
    c = f.cloud
    url = f.make(f"https://sqs.{c.region}.amazonaws.com/{c.account}/{f.physical}", "url")
    return {"__id__": url, "name": f.physical, "arn": f.arn("sqs", f.physical), "url": url}


def _ecr_repository(f: _Fake) -> dict[str, Any]:
    c = f.cloud
    return {
        "arn": f.arn("ecr", f"repository/{f.physical}"),
        "repositoryUrl": f.make(f"{c.account}.dkr.ecr.{c.region}.amazonaws.com/{f.physical}", "repositoryUrl"),
        "registryId": c.account,
    }


def _image(f: _Fake) -> dict[str, Any]:
    digest = f.make(f"sha256:{_hex(f.urn, 64)}", "digest")
    tags = f.inputs.get("tags") or []
    return {"digest": digest, "ref": f.make(f"{tags[0] if tags else f.name}@{digest}", "ref")}


def _bucket(f: _Fake) -> dict[str, Any]:
    name = f.make(f"{f.inputs.get('bucketPrefix', f.name)}{f.h[:12]}", "bucket")
    return {"__id__": name, "bucket": name, "arn": f.make(f"arn:{f.cloud.partition}:s3:::{name}", "arn")}


#: resource type -> the outputs the cloud would assign it (types not listed keep their inputs and a fake id).
OUTPUTS: dict[str, Callable[[_Fake], dict[str, Any]]] = {
    "aws:ec2/vpc:Vpc": lambda f: {"arn": f.arn("ec2", f"vpc/{f.id}")},
    "aws:ec2/subnet:Subnet": lambda f: {"arn": f.arn("ec2", f"subnet/{f.id}")},
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/launchTemplate:LaunchTemplate": lambda f: {
        "latestVersion": 1,
        "arn": f.arn("ec2", f"launch-template/{f.id}"),
    },
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": lambda f: {"arn": f.arn("kms", str(f.inputs.get("name", f.name)))},
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": lambda f: {"arn": f.arn("iam", f"policy/{f.physical}", regional=False)},
    "aws:iam/instanceProfile:InstanceProfile": lambda f: {
        "arn": f.arn("iam", f"instance-profile/{f.physical}", regional=False)
    },
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:cloudwatch/eventRule:EventRule": lambda f: {"arn": f.arn("events", f"rule/{f.physical}")},
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:eks/nodeGroup:NodeGroup": lambda f: {"arn": f.arn("eks", f"nodegroup/{f.name}/{f.h}")},
    "aws:eks/addon:Addon": lambda f: {
        "arn": f.arn("eks", f"addon/{f.name}/{f.h}"),
        "addonVersion": f.make(f"v0.0.0-eksbuild.{int(f.h[:2], 16)}", "addonVersion"),
    },
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": lambda f: {
        "associationArn": f.arn("eks", f"podidentityassociation/{f.h}", "associationArn")
    },
    "docker-build:index:Image*": _image,
    "aws:s3/bucket:Bucket": lambda f: _bucket(f),
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda f: {
        "arn": f.arn("elasticache", f"replicationgroup:{f.physical}"),
        "primaryEndpointAddress": f.make(
            f"master.{f.inputs.get('replicationGroupId', f.physical)}.{f.h[:6]}.{f.cloud.region}.cache.amazonaws.com",
            "primaryEndpointAddress",
        ),
    },
    # A value only the stack knows: the test that scans every plan output for secrets plants these.
    "random:index/randomPassword:RandomPassword": lambda f: {"result": f.cloud.ph.secret(f"PLANTED-random-{f.h[:24]}")},
    "aws:cloudwatch/logGroup:LogGroup": lambda f: {"arn": f.arn("logs", f"log-group:{f.physical}")},
    "aws:rds/instance:Instance": lambda f: {
        "address": f.make(
            f"{f.inputs.get('identifier', f.physical)}.{f.h[:12]}.{f.cloud.region}.rds.amazonaws.com", "address"
        ),
        "masterUserSecrets": [
            {
                "secretArn": f.arn(
                    "secretsmanager", f"secret:rds!db-{f.h[:8]}-{f.h[8:14]}", "masterUserSecrets[0].secretArn"
                ),
                "secretStatus": "active",
                "kmsKeyId": f.inputs.get("masterUserSecretKmsKeyId", ""),
            }
        ],
    },
    "aws:secretsmanager/secret:Secret": lambda f: {"arn": f.arn("secretsmanager", f"secret:{f.physical}-{f.h[:6]}")},
}
