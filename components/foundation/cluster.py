"""The EKS cluster (pulumi-eks), its KMS key, add-ons, system node group, gp3 StorageClass and Kubernetes provider.

Authentication is API mode with access entries; the system managed node group is on-demand and tainted
``CriticalAddonsOnly`` so only cluster add-ons and Karpenter land on it. Every Kubernetes object in the stack uses
:attr:`EksCluster.provider`, built from this cluster's kubeconfig.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from config.cluster import ClusterConfig
from kit.aws import eks_access_policy, kms_key, role_with_policies, service_principal
from kit.k8s import Scope
from kit.labels import KARPENTER_DISCOVERY, SYSTEM_LABELS, SYSTEM_TAINT_EKS, metadata
from kit.naming import safe_name
from kit.shared import Shared

EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
NODE_POLICIES = [
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
]


def gp3_storage_class() -> dict[str, Any]:
    """The default StorageClass: encrypted gp3 through the EBS CSI driver, bound where the pod lands."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": metadata("gp3", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true", "fsType": "ext4"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Delete",
    }


class EksCluster(pulumi.ComponentResource):
    provider: k8s.Provider
    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, cfg: ClusterConfig, network: Any, shared: Shared):
        super().__init__("agentic:aws:EksCluster", name, None, shared.aws_opts())
        child = pulumi.ResourceOptions(parent=self)
        region = shared.region

        self.secrets_key = None
        if cfg.secrets_encryption:
            self.secrets_key = kms_key(
                f"{name}-secrets-key",
                f"{cfg.name}-eks-secrets",
                f"EKS secrets envelope encryption for {cfg.name}",
                self,
            )

        access_entries = {
            f"admin-{i}": eks.AccessEntryArgs(
                principal_arn=admin.principal_arn,
                type=eks.AccessEntryType.STANDARD,
                access_policies={
                    "policy": eks.AccessPolicyAssociationArgs(
                        policy_arn=eks_access_policy(admin.policy, region),
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )
            for i, admin in enumerate(cfg.admins)
        }
        ep = cfg.endpoint
        self.cluster = eks.Cluster(
            f"{name}-eks",
            name=cfg.name,
            version=cfg.kubernetes_version,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            public_subnet_ids=network.public_subnet_ids,
            node_associate_public_ip_address=False,
            endpoint_private_access=ep.private,
            endpoint_public_access=ep.public,
            public_access_cidrs=list(ep.public_cidrs) if ep.public else None,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            encryption_config_key_arn=self.secrets_key.arn if self.secrets_key else None,
            enabled_cluster_log_types=list(cfg.log_types),
            create_oidc_provider=True,
            skip_default_node_group=True,
            deletion_protection=cfg.deletion_protection,
            use_default_vpc_cni=False,
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True, enable_prefix_delegation=True),
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=True),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=True),
            tags=shared.tags,
            opts=child,
        )
        cluster_name = self.cluster.eks_cluster.name
        self.cluster_name = cluster_name
        self.cluster_security_group_id = self.cluster.eks_cluster.vpc_config.cluster_security_group_id

        # System node group: on-demand, tainted for critical add-ons; Karpenter and add-ons run here.
        ng_cfg = cfg.system_node_group
        self.system_node_role = role_with_policies(
            f"{name}-system-node-role",
            f"{cfg.name}-system-node",
            service_principal("ec2", region),
            NODE_POLICIES,
            self,
            region,
        )
        self.system_launch_template = aws.ec2.LaunchTemplate(
            f"{name}-system-lt",
            name_prefix=f"{cfg.name}-system-",
            update_default_version=True,
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": ng_cfg.disk_size_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            # IMDSv2 only; hop limit 2 because host-network add-ons (VPC CNI, EBS CSI node) read instance metadata.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 2},
            tag_specifications=[{"resource_type": "instance", "tags": {**shared.tags, "Name": f"{cfg.name}-system"}}],
            opts=child,
        )
        self.system_node_group = aws.eks.NodeGroup(  # type: ignore[call-overload]  # plain dicts for the Args types
            f"{name}-system",
            cluster_name=cluster_name,
            node_group_name=safe_name(cfg.name, "system", limit="eks_nodegroup"),
            node_role_arn=self.system_node_role.arn,
            subnet_ids=network.private_subnet_ids,
            capacity_type="ON_DEMAND",
            instance_types=list(ng_cfg.instance_types),
            ami_type=ng_cfg.ami_type,
            launch_template={
                "id": self.system_launch_template.id,
                "version": self.system_launch_template.latest_version.apply(str),
            },
            scaling_config={
                "min_size": ng_cfg.min_size,
                "desired_size": ng_cfg.desired_size,
                "max_size": ng_cfg.max_size,
            },
            labels=SYSTEM_LABELS,
            taints=[SYSTEM_TAINT_EKS],
            update_config={"max_unavailable": 1},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )

        # Pod Identity agent first; the EBS CSI driver's controller gets its role through it.
        self.pod_identity_addon = aws.eks.Addon(
            f"{name}-eks-pod-identity-agent",
            cluster_name=cluster_name,
            addon_name="eks-pod-identity-agent",
            resolve_conflicts_on_update="OVERWRITE",
            opts=child,
        )
        # The node monitoring agent turns kernel, GPU (XID, lost devices), storage and network faults into node
        # conditions (AcceleratedHardwareReady, ...) that alerts show and Karpenter's node repair acts on.
        self.node_monitoring_addon = (
            aws.eks.Addon(
                f"{name}-eks-node-monitoring-agent",
                cluster_name=cluster_name,
                addon_name="eks-node-monitoring-agent",
                resolve_conflicts_on_update="OVERWRITE",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_node_group]),
            )
            if cfg.node_health.monitoring_agent
            else None
        )
        self.ebs_csi_role = role_with_policies(
            f"{name}-ebs-csi-role",
            f"{cfg.name}-ebs-csi",
            "pods.eks.amazonaws.com",
            ["service-role/AmazonEBSCSIDriverPolicy"],
            self,
            region,
            tag_session=True,
        )
        self.ebs_csi_addon = aws.eks.Addon(
            f"{name}-aws-ebs-csi-driver",
            cluster_name=cluster_name,
            addon_name="aws-ebs-csi-driver",
            resolve_conflicts_on_update="OVERWRITE",
            pod_identity_associations=[
                aws.eks.AddonPodIdentityAssociationArgs(
                    role_arn=self.ebs_csi_role.arn, service_account=EBS_CSI_SERVICE_ACCOUNT
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.pod_identity_addon, self.system_node_group]),
        )

        # Karpenter discovers the security group for its nodes by tag: use the EKS-managed cluster SG.
        aws.ec2.Tag(
            f"{name}-cluster-sg-discovery-tag",
            resource_id=self.cluster_security_group_id,
            key=KARPENTER_DISCOVERY,
            value=cfg.name,
            opts=child,
        )

        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.cluster.kubeconfig_json,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_node_group]),
        )
        scope = Scope(self.provider, self, name)
        self.storage_class = scope.apply(gp3_storage_class(), name="gp3", depends_on=[self.ebs_csi_addon])
        #: what every in-cluster controller must wait for
        self.ready = (self.system_node_group, self.pod_identity_addon)
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(self.cluster.kubeconfig_json)
        self.oidc_issuer = self.cluster.oidc_issuer
        self.register_outputs(
            {"cluster_name": cluster_name, "kubeconfig": self.kubeconfig, "oidc_issuer": self.oidc_issuer}
        )
