"""EFA between GPU nodes and the pools' cold-start settings on the node side.

For pools with ``efa: true``: a security group open to itself (EFA's requirement: all traffic in from and out to the
group itself; EFA's SRD traffic is not IP, so the cluster security group's IP rules do not cover it), found by
Karpenter through a tag on the EFA pools' EC2NodeClasses; the AWS EFA device plugin, which advertises
``vpc.amazonaws.com/efa`` on EFA nodes (Karpenter then launches them with as many EFA interfaces as pods request);
and, per pool with ``placement_group: true``, an EC2 cluster placement group its EC2NodeClass selects by name.

Pure builders first (:func:`efa_values`, :func:`placement_group_name`, :func:`user_data`); :class:`EfaNetwork`
registers the AWS resources and the chart.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from catalog import versions
from config.pools import GpuPool
from kit.helm import HelmValues, release
from kit.labels import GPU_TOLERATION
from kit.naming import safe_name
from kit.shared import Shared

NAMESPACE = "kube-system"
#: EC2 tag by which the EFA pools' EC2NodeClasses select the EFA security group (value: the cluster name)
EFA_SG_TAG = "agentic.platform/efa"
EFA_RESOURCE = "vpc.amazonaws.com/efa"


class EfaValues(HelmValues):
    tolerations: list[dict[str, str]]


def efa_values() -> EfaValues:
    """The chart's own node affinity keeps it on EFA-capable instance types; GPU nodes are tainted."""
    return EfaValues(tolerations=[GPU_TOLERATION])


def placement_group_name(cluster: str, pool: str) -> str:
    return safe_name(cluster, pool, "cluster", limit=255)


def user_data(pool: GpuPool) -> str | None:
    """nodeadm NodeConfig merged by Karpenter into the AL2023 user data (MIME multi-part), or None."""
    if not pool.fast_image_pull:
        return None
    return (
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="//"\n\n'
        "--//\nContent-Type: application/node.eks.aws\n\n"
        "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  featureGates:\n    FastImagePull: true\n"
        "--//--\n"
    )


class EfaNetwork(pulumi.ComponentResource):
    """The EFA security group, cluster placement groups and the EFA device plugin of the pools that ask for them."""

    def __init__(self, name: str, gpu_pools: list[GpuPool], shared: Shared, after: tuple[pulumi.Resource, ...] = ()):
        super().__init__("agentic:aws:EfaNetwork", name, None, shared.k8s_opts())
        child = pulumi.ResourceOptions(parent=self, provider=shared.aws_provider)
        self.resources: list[pulumi.Resource] = []
        self.device_plugin = None
        efa_pools = [p for p in gpu_pools if p.efa]
        if efa_pools:
            sg = aws.ec2.SecurityGroup(
                f"{name}-sg",
                name=safe_name(shared.prefix, "efa", limit=255),
                vpc_id=shared.vpc_id,
                description=f"EFA between the GPU nodes of {shared.prefix}: all traffic within this group",
                tags={**shared.tags, EFA_SG_TAG: shared.prefix},
                opts=child,
            )
            rules = [
                rule(
                    f"{name}-sg-{way}-self",
                    security_group_id=sg.id,
                    referenced_security_group_id=sg.id,
                    ip_protocol="-1",
                    description=f"EFA: all traffic {way} the group itself",
                    opts=child,
                )
                for rule, way in (
                    (aws.vpc.SecurityGroupIngressRule, "from"),
                    (aws.vpc.SecurityGroupEgressRule, "to"),
                )
            ]
            self.resources += [sg, *rules]
            scope = shared.scope(self, name, NAMESPACE, depends_on=after)
            self.device_plugin = release(
                f"{name}-device-plugin",
                versions.EFA_DEVICE_PLUGIN,
                release_name="aws-efa-k8s-device-plugin",
                namespace=NAMESPACE,
                values=efa_values(),
                opts=scope.opts(),
            )
            shared.notes.add(
                f"EFA on GPU pools {', '.join(p.name for p in efa_pools)}: security group "
                f"{safe_name(shared.prefix, 'efa', limit=255)} (all traffic within itself) beside the cluster's, and "
                "the EFA device plugin; multi-node model pods request vpc.amazonaws.com/efa."
            )
        for pool in gpu_pools:
            if pool.placement_group:
                self.resources.append(
                    aws.ec2.PlacementGroup(
                        f"{name}-{pool.name}-pg",
                        name=placement_group_name(shared.prefix, pool.name),
                        strategy="cluster",
                        tags=shared.tags,
                        opts=child,
                    )
                )
        self.register_outputs({})
