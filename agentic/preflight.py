"""Pre-flight: read-only AWS calls that tell, before ``pulumi up``, whether this account and region can take the
stack's config. Each failed check is a blocker with what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from catalog.instances import instances_of
from config import Platform

OWNER_TAG = "agentic.platform/cluster"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class PreflightReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def blockers(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def add(self, name: str, ok: bool, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, ok, detail, fix))


def _zones(cfg: Platform, ec2: Any, report: PreflightReport) -> list[str]:
    available = [
        z["ZoneName"]
        for z in ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])[
            "AvailabilityZones"
        ]
    ]
    if cfg.network.availability_zones:
        missing = [z for z in cfg.network.availability_zones if z not in available]
        report.add(
            "availability zones",
            not missing,
            f"configured {cfg.network.availability_zones}; available {available}",
            f"pick zones from {available} in platform.network.availability_zones" if missing else "",
        )
        return [z for z in cfg.network.availability_zones if z in available]
    ok = len(available) >= cfg.network.az_count
    report.add(
        "availability zones",
        ok,
        f"need {cfg.network.az_count}, region has {len(available)}",
        "" if ok else "lower platform.network.az_count",
    )
    return sorted(available)[: cfg.network.az_count]


def _offerings(ec2: Any, types: list[str], zones: list[str]) -> dict[str, set[str]]:
    offered: dict[str, set[str]] = {t: set() for t in types}
    paginator = ec2.get_paginator("describe_instance_type_offerings")
    for i in range(0, len(types), 100):
        for page in paginator.paginate(
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": types[i : i + 100]}, {"Name": "location", "Values": zones}],
        ):
            for o in page["InstanceTypeOfferings"]:
                offered.setdefault(o["InstanceType"], set()).add(o["Location"])
    return offered


def _instance_types(cfg: Platform, ec2: Any, zones: list[str], report: PreflightReport) -> None:
    for pool in cfg.gpu_pools:
        wanted = [t.name for t in instances_of(list(pool.instance_families), list(pool.gpu_counts))]
        offered = _offerings(ec2, wanted, zones)
        usable = sorted(t for t, where in offered.items() if where)
        if not usable:
            report.add(
                f"GPU pool '{pool.name}' instance types",
                False,
                f"none of {wanted} is offered in {zones}",
                "choose other zones (platform.network.availability_zones), another region or other families",
            )
        else:
            thin = sorted(t for t in usable if len(offered[t]) < len(zones))
            detail = f"offered: {', '.join(usable)}"
            if thin:
                detail += f" (not in every zone: {', '.join(thin)})"
            report.add(f"GPU pool '{pool.name}' instance types", True, detail)
    system = list(cfg.cluster.system_node_group.instance_types)
    offered = _offerings(ec2, system, zones)
    missing = [t for t in system if not offered.get(t)]
    report.add(
        "system node group instance types",
        not missing,
        f"{system} offered in {zones}" if not missing else f"{missing} not offered in {zones}",
        "change platform.cluster.system_node_group.instance_types" if missing else "",
    )


def _admins(cfg: Platform, iam: Any, report: PreflightReport) -> None:
    for i, admin in enumerate(cfg.cluster.admins):
        kind, name = admin.principal_arn.split(":", 5)[5].split("/", 1)
        name = name.rsplit("/", 1)[-1]
        try:
            (iam.get_role(RoleName=name) if kind == "role" else iam.get_user(UserName=name))
            report.add(f"cluster admin {admin.principal_arn}", True, "exists")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            report.add(
                f"cluster admin {admin.principal_arn}",
                False,
                f"{kind} does not exist",
                f"create it or fix platform.cluster.admins[{i}].principal_arn",
            )


def _ours(tags: dict[str, str], cluster: str) -> bool:
    return tags.get(OWNER_TAG) == cluster


def _names(cfg: Platform, kms: Any, ecr: Any, iam: Any, sqs: Any, report: PreflightReport) -> None:
    cluster = cfg.cluster.name
    aliases = {a["AliasName"]: a for p in kms.get_paginator("list_aliases").paginate() for a in p["Aliases"]}
    for alias in (f"alias/{cluster}-eks-secrets", f"alias/{cluster}-ecr"):
        found = aliases.get(alias)
        if not found:
            report.add(f"KMS alias {alias}", True, "free")
            continue
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=found["TargetKeyId"])["Tags"]}
        report.add(
            f"KMS alias {alias}",
            _ours(tags, cluster),
            "already ours (this stack's tag)" if _ours(tags, cluster) else "taken by a key of another owner",
            "" if _ours(tags, cluster) else "rename the cluster (platform.cluster.name) or delete the alias",
        )
    repo = f"{cluster}/{cfg.agent_runtime.repository}"
    try:
        found = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]
        tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=found["repositoryArn"])["tags"]}
        report.add(
            f"ECR repository {repo}",
            _ours(tags, cluster),
            "already ours" if _ours(tags, cluster) else "exists and is not this stack's",
            "" if _ours(tags, cluster) else "change platform.agent_runtime.repository or import it",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        report.add(f"ECR repository {repo}", True, "free")
    for role in (
        f"{cluster}-karpenter-node",
        f"{cluster}-karpenter-controller",
        f"{cluster}-system-node",
        f"{cluster}-ebs-csi",
    ):
        try:
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            report.add(f"IAM role {role}", True, "free")
            continue
        report.add(
            f"IAM role {role}",
            _ours(tags, cluster),
            "already ours" if _ours(tags, cluster) else "exists and is not this stack's",
            "" if _ours(tags, cluster) else "delete it or rename the cluster",
        )
    queue = f"{cluster}-karpenter"
    try:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        report.add(
            f"SQS queue {queue}",
            _ours(tags, cluster),
            "already ours" if _ours(tags, cluster) else "exists and is not this stack's",
            "" if _ours(tags, cluster) else "delete it or rename the cluster",
        )
    except ClientError as exc:
        if "NonExistentQueue" not in exc.response["Error"]["Code"]:
            raise
        report.add(f"SQS queue {queue}", True, "free")


def run_preflight(cfg: Platform, session: boto3.Session | None = None) -> PreflightReport:
    """Every pre-flight check for ``cfg``; never changes anything in the account."""
    session = session or boto3.Session(region_name=cfg.aws.region)
    client = lambda svc: session.client(svc, region_name=cfg.aws.region)  # noqa: E731
    report = PreflightReport()
    try:
        account = client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        report.add("AWS credentials", False, f"cannot call STS: {exc}", "configure AWS credentials (aws sso login)")
        return report
    expected = cfg.aws.account_id
    report.add(
        "AWS account",
        expected in (None, account),
        f"credentials are for {account}" + (f", stack expects {expected}" if expected else ""),
        "" if expected in (None, account) else "switch to the stack's account profile",
    )
    ec2 = client("ec2")
    zones = _zones(cfg, ec2, report)
    if zones:
        _instance_types(cfg, ec2, zones, report)
    _admins(cfg, client("iam"), report)
    _names(cfg, client("kms"), client("ecr"), client("iam"), client("sqs"), report)
    return report
