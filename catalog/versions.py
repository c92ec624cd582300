"""Every pinned upstream version the platform deploys: charts, CRD API versions, images, Kubernetes support dates.

This is the only module that names an upstream version. Components import from here; a contract test checks that
every pin is used by some component and that no component hard-codes a chart version or an image tag. Sources are in
``tests/fixtures/crds/*/SOURCE.txt`` and ``tests/fixtures/charts/*/SOURCE.txt`` (copied from the pinned tags).
A pin is added together with the component that uses it, never ahead of it.
"""

from __future__ import annotations

import datetime as dt
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


# --- Kubernetes on EKS -------------------------------------------------------------------------------------------
#: End of EKS *standard* support per minor version (AWS "Kubernetes version lifecycle on EKS" release calendar).
#: 1.36: released on EKS 2026-06-02, standard support through 2027-08-02 ("Kubernetes 1.36 on Amazon EKS",
#: devopsdreams.blogspot.com, 2026-08-16; the stored AWS calendar ends at 1.35), which is AWS's documented rule of
#: 14 months of standard support from the EKS release. Karpenter 1.14 supports it (its compatibility matrix:
#: Kubernetes 1.36 needs Karpenter >= 1.13). 1.35 stays the default: the suite's control plane is 1.35.
EKS_STANDARD_SUPPORT_END: dict[str, dt.date] = {
    "1.33": dt.date(2026, 7, 29),
    "1.34": dt.date(2026, 12, 2),
    "1.35": dt.date(2027, 3, 27),
    "1.36": dt.date(2027, 8, 2),
}
KUBERNETES_VERSIONS: tuple[str, ...] = tuple(EKS_STANDARD_SUPPORT_END)
DEFAULT_KUBERNETES_VERSION = "1.35"

#: When a pin the platform deploys by default stops being supported upstream: (date, source). A test fails once a date
#: has passed, so a pin cannot silently age out of support.
SUPPORT_ENDS: dict[str, tuple[dt.date, str]] = {
    f"EKS {DEFAULT_KUBERNETES_VERSION} (default cluster version)": (
        EKS_STANDARD_SUPPORT_END[DEFAULT_KUBERNETES_VERSION],
        "AWS EKS Kubernetes release calendar: end of standard support",
    ),
    "PostgreSQL 17 (RDS, kagent and Langfuse)": (
        dt.date(2029, 11, 8),
        "postgresql.org versioning policy: 17 is supported until November 8, 2029",
    ),
    "Python 3.11 (agent-runtime base image)": (
        dt.date(2027, 10, 24),
        "PEP 664 (Python 3.11 release schedule): end of life 2027-10",
    ),
}

# --- Test infrastructure: the control plane the suite applies plans to (controlplane/go.mod builds it) ----------
#: k8s.io/kubernetes (Go module proxy); its staging modules (k8s.io/api, apiserver, ...) are replaced by their
#: published v0.<minor>.<patch> releases in controlplane/go.mod. Same minor as DEFAULT_KUBERNETES_VERSION.
CONTROL_PLANE_KUBERNETES = "v1.35.4"
#: go.etcd.io/etcd/server/v3, the version k8s.io/kubernetes v1.35.4's module graph selects (Debian 12's etcd-server is
#: 3.4.23, older than the 3.5+ Kubernetes 1.35 supports).
CONTROL_PLANE_ETCD = "v3.6.5"

# --- Helm charts -------------------------------------------------------------------------------------------------
#: Checked for newer releases on 2026-12-03 (issue #24). Karpenter 1.15.2 (2026-11-12) is read from the Go module proxy
#: (github.com/aws/karpenter-provider-aws@v1.15.2: its charts/ and pkg/apis/crds/; the GitHub snapshot ends at 1.14.1);
#: its controller's AWS calls (pkg/aws/sdk.go) are compared with the controller policy in tests/components/nodes.
#: Still the newest verifiable here: external-secrets 2.9.0 (snapshot 2026-08-08; the module proxy has no 2.x), Milvus
#: chart 5.0.19 = Milvus 2.6.15 (zilliztech/milvus-helm, 2026-04-16: no 2.6.16 chart; Milvus 3.0 is not taken: no
#: chart for it can be read here, and a major version of a stateful store needs its own migration and a test against
#: the runtime's pymilvus client first),
#: KEDA 2.20.2 (the keda 2.21.1 module is published, but not the kedacore/charts chart and values that go with it),
#: Flagger 1.44.0 (2026-07-21) and kube-prometheus-stack 88.5.3 (2026-08-22). kgateway v2.5.2 is published (release
#: notes of 2026-11-13: a Go CVE fix) but its CRDs and chart values cannot be read here (the stored repository ends in
#: 2025-02 and the module proxy refuses kgateway/v2), so 2.4.3 stays until they can be validated.
KARPENTER_CRD = Chart("karpenter-crd", "1.15.2", "oci://public.ecr.aws/karpenter")
KARPENTER = Chart("karpenter", "1.15.2", "oci://public.ecr.aws/karpenter")
NVIDIA_DEVICE_PLUGIN = Chart("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")
DCGM_EXPORTER = Chart("dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts")
KUBE_PROMETHEUS_STACK = Chart("kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts")

KGATEWAY_CRDS = Chart("kgateway-crds", "v2.4.3", "oci://cr.kgateway.dev/kgateway-dev/charts")
KGATEWAY = Chart("kgateway", "v2.4.3", "oci://cr.kgateway.dev/kgateway-dev/charts")
#: AWS Load Balancer Controller chart 3.5.0 = controller v3.5.0 (kubernetes-sigs/aws-load-balancer-controller tag v3.5.0,
#: August 2026: the newest release verifiable here); its IAM policy is vendored in catalog/data.
AWS_LOAD_BALANCER_CONTROLLER = Chart("aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts")

KEDA = Chart("keda", "2.20.2", "https://kedacore.github.io/charts")
FLAGGER = Chart("flagger", "1.44.0", "https://flagger.app")

#: external-secrets 2.9.0 (tag helm-chart-2.9.0, 2026-08-08): AWS Secrets Manager -> Kubernetes Secrets.
EXTERNAL_SECRETS = Chart("external-secrets", "2.9.0", "https://charts.external-secrets.io")
#: The official Valkey chart 0.11.0 (Valkey 9.1.1; valkey-io/valkey-helm tag valkey-0.11.0): in-cluster Redis for dev.
VALKEY = Chart("valkey", "0.11.0", "https://valkey.io/valkey-helm/")
#: Milvus chart 5.0.19 (Milvus 2.6.15; zilliztech/milvus-helm tag milvus-5.0.19): Woodpecker is its 2.6 message queue.
MILVUS = Chart("milvus", "5.0.19", "https://zilliztech.github.io/milvus-helm/")

#: kagent 0.10 (kagent.dev/v1alpha2). The CRD schemas in tests/fixtures/crds/kagent are release/v0.10.x at 03e950f6
#: (= tag v0.10.0-rc3); re-check them when moving to a 0.10.x tag newer than the one validated here.
#: Argo Workflows for agent workflows (decision 13): chart argo-workflows 1.0.18 = Argo Workflows v4.0.6
#: (argoproj/argo-helm tag argo-workflows-1.0.18, 2026-06-25: the newest chart verifiable here); its full CRDs are
#: in catalog/crds/argo-workflows (SOURCE.txt).
ARGO_WORKFLOWS = Chart("argo-workflows", "1.0.18", "https://argoproj.github.io/argo-helm")
ARGO_WORKFLOWS_API = "argoproj.io/v1alpha1"

#: LeaderWorkerSet v0.10.0 (kubernetes-sigs/lws tag v0.10.0, 2026-08-11: the newest tag in the stored snapshot) for
#: multi-node models; CRD in catalog/crds/lws (SOURCE.txt). The chart is published as OCI at registry.k8s.io.
LWS = Chart("lws", "0.10.0", "oci://registry.k8s.io/lws/charts")
LWS_API = "leaderworkerset.x-k8s.io/v1"
#: AWS EFA Kubernetes device plugin chart v0.5.30 (device plugin v0.5.20; aws/eks-charts
#: stable/aws-efa-k8s-device-plugin, 2026-07-21): advertises vpc.amazonaws.com/efa on EFA nodes.
EFA_DEVICE_PLUGIN = Chart("aws-efa-k8s-device-plugin", "v0.5.30", "https://aws.github.io/eks-charts")
#: Karpenter's node repair (feature gate ``nodeRepair``, alpha) exists from this release on (karpenter.sh docs
#: "Feature Gates": NodeRepair, alpha, v1.1.x).
KARPENTER_NODE_REPAIR_SINCE = "1.1.0"
#: Node repair that reboots a node in place (awsFeatureGates.rebootForRepair, alpha) and repair as a voluntary
#: disruption paced by NodePool budgets (reason Unhealthy) arrived in 1.15.0 (karpenter-provider-aws v1.15.0 release
#: notes: "reboot as a node action", "node repair as voluntary disruption"; chart values of v1.15.2).
KARPENTER_REBOOT_REPAIR_SINCE = "1.15.0"
#: The first EKS-optimized AL2023 AMI whose nodeadm knows the FastImagePull feature gate (SOCI parallel pull and
#: unpack; awslabs/amazon-eks-ami, first released in v20250821).
FAST_IMAGE_PULL_AMI = "v20250821"

#: agentgateway v1.4.1 (agentgateway/agentgateway tag v1.4.1, 2026-07-29): the AI gateway (decision 14), the newest
#: release whose CRDs and chart values could be read here (the stored snapshot ends 2026-08-21; 1.5-1.7 are published,
#: 1.5 with per-key budgets, but their schemas are not available to validate against). CRDs: catalog/crds/agentgateway.
AGENTGATEWAY_CRDS = Chart("agentgateway-crds", "v1.4.1", "oci://cr.agentgateway.dev/charts")
AGENTGATEWAY = Chart("agentgateway", "v1.4.1", "oci://cr.agentgateway.dev/charts")
AGENTGATEWAY_API = "agentgateway.dev/v1alpha1"
#: llm-d router v0.10.0 (llm-d/llm-d-router tag v0.10.0, 2026-08-17: the newest tag in the stored snapshot): chart
#: llm-d-router-gateway makes a variant's InferencePool and its endpoint picker (EPP). The chart's committed values say
#: image tag "main"; the release script sets the EPP image below, which the platform pins explicitly.
LLM_D_ROUTER = Chart("llm-d-router-gateway", "v0.10.0", "oci://ghcr.io/llm-d/charts")
LLM_D_EPP_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
#: Gateway API Inference Extension v1.6.0 (InferencePool GA); CRDs in catalog/crds/inference-extension (SOURCE.txt).
INFERENCE_API = "inference.networking.k8s.io/v1"
#: Envoy's rate limit service counts the AI gateway's spend budgets (agentgateway 1.4's global rate limit, cost from
#: its model cost catalog) in the platform's Redis. envoyproxy/ratelimit publishes images tagged by commit only:
#: commit 3fb70258 (2026-01-22), the newest the Go module proxy serves (pseudo-version below), so the suite builds and
#: runs the same code the image holds (agentic.cluster.binaries builds it beside the control plane).
RATELIMIT_IMAGE = "docker.io/envoyproxy/ratelimit:3fb70258"
CONTROL_PLANE_RATELIMIT = "github.com/envoyproxy/ratelimit/src/service_cmd@v1.4.1-0.20260122083618-3fb702589d36"

KAGENT_CRDS = Chart("kagent-crds", "0.10.4", "oci://ghcr.io/kagent-dev/kagent/helm")
KAGENT = Chart("kagent", "0.10.4", "oci://ghcr.io/kagent-dev/kagent/helm")
#: Where kagent's own images come from (the chart's `registry: ghcr.io` with repositories kagent-dev/kagent/*): the
#: Declarative agents' runtime and its init containers. Tenant namespaces admit these beside the platform's ECR.
KAGENT_IMAGES = "ghcr.io/kagent-dev/kagent/"

#: AWS for Fluent Bit chart 0.2.0 (Fluent Bit 3.2.1; aws/eks-charts stable/aws-for-fluent-bit, 2026-08-03).
AWS_FOR_FLUENT_BIT = Chart("aws-for-fluent-bit", "0.2.0", "https://aws.github.io/eks-charts")

#: OpenTelemetry collector chart 0.170.0 (collector 0.158.0; open-telemetry/opentelemetry-helm-charts, 2026-08-14).
OPENTELEMETRY_COLLECTOR = Chart(
    "opentelemetry-collector", "0.170.0", "https://open-telemetry.github.io/opentelemetry-helm-charts"
)
#: Langfuse chart 2.0.0 (Langfuse 4.4.0; langfuse/langfuse-k8s tag langfuse-2.0.0, 2026-08-18).
LANGFUSE = Chart("langfuse", "2.0.0", "https://langfuse.github.io/langfuse-k8s")

CHARTS: tuple[Chart, ...] = (
    KARPENTER_CRD,
    KARPENTER,
    NVIDIA_DEVICE_PLUGIN,
    DCGM_EXPORTER,
    KUBE_PROMETHEUS_STACK,
    KGATEWAY_CRDS,
    KGATEWAY,
    AWS_LOAD_BALANCER_CONTROLLER,
    KEDA,
    FLAGGER,
    EXTERNAL_SECRETS,
    VALKEY,
    MILVUS,
    KAGENT_CRDS,
    KAGENT,
    AWS_FOR_FLUENT_BIT,
    OPENTELEMETRY_COLLECTOR,
    LANGFUSE,
    ARGO_WORKFLOWS,
    LWS,
    EFA_DEVICE_PLUGIN,
    AGENTGATEWAY_CRDS,
    AGENTGATEWAY,
    LLM_D_ROUTER,
)

# --- Custom resource API versions ------------------------------------------------------------------------------
KARPENTER_NODEPOOL_API = "karpenter.sh/v1"
KARPENTER_NODECLASS_API = "karpenter.k8s.aws/v1"
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
REFERENCE_GRANT_API = "gateway.networking.k8s.io/v1beta1"
#: Gateway API standard-channel CRDs, vendored in catalog/data (installed before kgateway)
GATEWAY_API_BUNDLE = "v1.6.1"
KGATEWAY_API = "gateway.kgateway.dev/v1alpha1"
KEDA_API = "keda.sh/v1alpha1"
FLAGGER_API = "flagger.app/v1beta1"
EXTERNAL_SECRETS_API = "external-secrets.io/v1"
KAGENT_API = "kagent.dev/v1alpha2"
KMCP_API = "kagent.dev/v1alpha1"  # kmcp MCPServer (kmcp v0.3.0, installed by kagent-crds)

# --- Images -----------------------------------------------------------------------------------------------------
#: Default model server images per engine (platform.models[].engine); a variant may pin another tag.
#: vLLM 0.34.0: the newest release verifiable here (PyPI vllm 0.34.0, the release the vllm/vllm-openai tag is built
#: from; its wheel's engine arguments and vllm/v1/metrics/loggers.py checked against VLLM_FLAGS and catalog.metrics).
VLLM_IMAGE = "vllm/vllm-openai:v0.34.0"
#: Known vLLM vulnerabilities: (id, first fixed release, what it does). A pinned or configured vLLM image older than
#: the fix is refused with the id.
VLLM_VULNERABILITIES: tuple[tuple[str, str, str], ...] = (
    ("CVE-2026-105757", "0.30.0", "a structured-output request crashes the shared engine"),
)


#: Hugging Face TGI 3.3.6 (the last 3.3 patch with published images; seed 001 serves Mixtral with TGI on 8080).
TGI_IMAGE = "ghcr.io/huggingface/text-generation-inference:3.3.6"
AGENT_RUNTIME_BASE_IMAGE = "python:3.11-slim"
#: ElastiCache engine versions per engine (prod Redis): Valkey 8.1, Redis OSS 7.1 (the newest each offers here).
ELASTICACHE_ENGINE_VERSIONS = {"valkey": "8.1", "redis": "7.1"}
#: RDS PostgreSQL for kagent and Langfuse in prod (major 17; pgvector is available as an extension for kagent memory).
POSTGRES_VERSION = "17"
KUBECTL = "v1.35.0"  # baked into the agent-runtime image; matches the default cluster minor version
