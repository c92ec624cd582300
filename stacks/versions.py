"""Every pinned upstream version the platform deploys: charts, CRD API versions, images.

This is the only module that names an upstream version. Components import from here; the plan prints it; a
test checks that no other module hard-codes a chart version or an image tag. Sources are in
``tests/fixtures/crds/*/SOURCE.txt`` (copied from the pinned upstream tags).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned to one version."""

    name: str
    version: str
    repository: str

    @property
    def is_oci(self) -> bool:
        return self.repository.startswith("oci://")


#: Kubernetes versions the platform supports (EKS standard support).
KUBERNETES_VERSIONS = ("1.33", "1.34")

# --- Helm charts -------------------------------------------------------------------------------------------------
KARPENTER_CRD = Chart("karpenter-crd", "1.14.1", "oci://public.ecr.aws/karpenter")
KARPENTER = Chart("karpenter", "1.14.1", "oci://public.ecr.aws/karpenter")
NVIDIA_DEVICE_PLUGIN = Chart("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")
DCGM_EXPORTER = Chart("dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts")
KGATEWAY_CRDS = Chart("kgateway-crds", "v2.4.3", "oci://cr.kgateway.dev/kgateway-dev/charts")
KGATEWAY = Chart("kgateway", "v2.4.3", "oci://cr.kgateway.dev/kgateway-dev/charts")
KAGENT_CRDS = Chart("kagent-crds", "0.10.4", "oci://ghcr.io/kagent-dev/kagent/helm")
KAGENT = Chart("kagent", "0.10.4", "oci://ghcr.io/kagent-dev/kagent/helm")
KEDA = Chart("keda", "2.20.2", "https://kedacore.github.io/charts")
KUBE_PROMETHEUS_STACK = Chart(
    "kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts"
)
OTEL_COLLECTOR = Chart(
    "opentelemetry-collector", "0.170.0", "https://open-telemetry.github.io/opentelemetry-helm-charts"
)
LANGFUSE = Chart("langfuse", "2.0.0", "https://langfuse.github.io/langfuse-k8s")
MILVUS = Chart("milvus", "5.0.19", "https://zilliztech.github.io/milvus-helm")
VALKEY = Chart("valkey", "0.11.0", "https://valkey.io/valkey-helm")
FLAGGER = Chart("flagger", "1.44.0", "https://flagger.app")

CHARTS: tuple[Chart, ...] = (
    KARPENTER_CRD, KARPENTER, NVIDIA_DEVICE_PLUGIN, DCGM_EXPORTER, KGATEWAY_CRDS, KGATEWAY, KAGENT_CRDS, KAGENT,
    KEDA, KUBE_PROMETHEUS_STACK, OTEL_COLLECTOR, LANGFUSE, MILVUS, VALKEY, FLAGGER,
)

# --- Custom resource API versions ------------------------------------------------------------------------------
KARPENTER_NODEPOOL_API = "karpenter.sh/v1"
KARPENTER_NODECLASS_API = "karpenter.k8s.aws/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_API_BUNDLE_VERSION = "v1.6.1"  # standard channel
KGATEWAY_API = "gateway.kgateway.dev/v1alpha1"
KAGENT_API = "kagent.dev/v1alpha2"
KMCP_API = "kagent.dev/v1alpha1"
KEDA_API = "keda.sh/v1alpha1"
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"
FLAGGER_API = "flagger.app/v1beta1"

# --- EKS managed add-ons (None = the version EKS picks as default for the cluster version) ------------------------
EKS_ADDONS: tuple[str, ...] = ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver")

# --- Images -----------------------------------------------------------------------------------------------------
VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"
AGENT_RUNTIME_BASE_IMAGE = "python:3.11-slim"
KUBECTL = "v1.33.5"  # baked into the agent-runtime image; matches the clusters' minor version
