"""The EKS cluster (pulumi-eks), its KMS key, add-ons, system node group, gp3 StorageClass and Kubernetes provider.

Authentication is API mode with access entries; the system managed node group is on-demand and tainted
``CriticalAddonsOnly`` so only cluster add-ons and Karpenter land on it. Every Kubernetes object in the stack uses
:attr:`EksCluster.provider`, built from this cluster's kubeconfig.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.iam import role_with_policies
from stacks.config import ClusterConfig

SYSTEM_LABEL = {"node.agentic.platform/role": "system"}
SYSTEM_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"


@dataclass(frozen=True)
class EksClusterArgs:
    config: ClusterConfig
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Input[str]]
    public_subnet_ids: list[pulumi.Input[str]]
    tags: dict[str, str]


class EksCluster(pulumi.ComponentResource):
    provider: k8s.Provider
    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:aws:EksCluster", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)

        self.secrets_key = None
        if cfg.secrets_encryption:
            self.secrets_key = aws.kms.Key(
                f"{name}-secrets-key",
                description=f"EKS secrets envelope encryption for {cfg.name}",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                opts=child,
            )
            aws.kms.Alias(
                f"{name}-secrets-key-alias",
                name=f"alias/{cfg.name}-eks-secrets",
                target_key_id=self.secrets_key.key_id,
                opts=child,
            )

        access_entries = {
            f"admin-{i}": eks.AccessEntryArgs(
                principal_arn=admin.principal_arn,
                type=eks.AccessEntryType.STANDARD,
                access_policies={
                    "policy": eks.AccessPolicyAssociationArgs(
                        policy_arn=f"arn:aws:eks::aws:cluster-access-policy/{admin.policy}",
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
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
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
            tags=args.tags,
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
            "ec2.amazonaws.com",
            ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly",
             "AmazonSSMManagedInstanceCore"],
            self,
        )
        self.system_launch_template = aws.ec2.LaunchTemplate(
            f"{name}-system-lt",
            name_prefix=f"{cfg.name}-system-",
            update_default_version=True,
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {"volume_size": ng_cfg.disk_size_gib, "volume_type": "gp3", "encrypted": "true",
                            "delete_on_termination": "true"},
                }
            ],
            # IMDSv2 only; hop limit 2 because host-network add-ons (VPC CNI, EBS CSI node) read instance metadata.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 2},
            tag_specifications=[{"resource_type": "instance", "tags": {**args.tags, "Name": f"{cfg.name}-system"}}],
            opts=child,
        )
        self.system_node_group = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster_name,
            node_group_name=f"{cfg.name}-system",
            node_role_arn=self.system_node_role.arn,
            subnet_ids=args.private_subnet_ids,
            capacity_type="ON_DEMAND",
            instance_types=list(ng_cfg.instance_types),
            ami_type=ng_cfg.ami_type,
            launch_template={"id": self.system_launch_template.id,
                             "version": self.system_launch_template.latest_version.apply(str)},
            scaling_config={"min_size": ng_cfg.min_size, "desired_size": ng_cfg.desired_size,
                            "max_size": ng_cfg.max_size},
            labels=SYSTEM_LABEL,
            taints=[SYSTEM_TAINT],
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
        self.ebs_csi_role = role_with_policies(
            f"{name}-ebs-csi-role",
            f"{cfg.name}-ebs-csi",
            "pods.eks.amazonaws.com",
            ["service-role/AmazonEBSCSIDriverPolicy"],
            self,
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
            key="karpenter.sh/discovery",
            value=cfg.name,
            opts=child,
        )

        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.cluster.kubeconfig_json,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_node_group]),
        )
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": "gp3", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "fsType": "ext4"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.ebs_csi_addon]),
        )
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig_json)
        self.oidc_issuer = self.cluster.oidc_issuer
        self.register_outputs(
            {"cluster_name": cluster_name, "kubeconfig": self.kubeconfig, "oidc_issuer": self.oidc_issuer}
        )
