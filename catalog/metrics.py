"""Metric names of upstream exporters that the platform's alert rules and dashboards query, cited per source at the
pinned versions (tests check every rule and panel query against these and the runtime's own metrics contract)."""

from __future__ import annotations

#: vLLM v0.34.0 (vllm/v1/metrics/loggers.py: the Prometheus logger's gauges, counters and histograms).
VLLM = {
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
    "vllm:kv_cache_usage_perc",
    "vllm:e2e_request_latency_seconds",
    "vllm:time_to_first_token_seconds",
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
}
#: dcgm-exporter 4.5.3-4.8.2 (chart 4.8.2 runs `-f /etc/dcgm-exporter/default-counters.csv`; etc/default-counters.csv
#: and etc/dcp-metrics-included.csv at tag 4.5.3-4.8.2).
DCGM = {
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE",
}
#: Karpenter 1.14 (website/content/en/v1.14/reference/metrics.md at v1.14.1). Not re-read for the 1.15.2 pin: the
#: module proxy's zip has no website and core's module is refused, so these names are 1.14's.
KARPENTER = {
    "karpenter_nodepools_usage",
    "karpenter_nodepools_limit",
    "karpenter_cloudprovider_errors_total",
    "karpenter_nodeclaims_created_total",
    "karpenter_scheduler_unschedulable_pods_count",
}
#: agentgateway v1.4.1 (crates/agentgateway/src/telemetry/metrics.rs: registry prefix ``agentgateway``, the counter
#: ``gen_ai_client_cost`` with unit usd, the histogram ``gen_ai_client_token_usage``); the platform's metrics policy
#: adds the label ``consumer`` (the virtual key's consumer) to every one.
AGENTGATEWAY = {
    "agentgateway_requests_total",  # labels backend, status (the pool canary analysis)
    "agentgateway_gen_ai_client_cost_usd_total",
    "agentgateway_gen_ai_client_token_usage",
}
#: kube-state-metrics (in kube-prometheus-stack 88.5.3): deployment readiness.
KUBE_STATE = {
    "kube_deployment_spec_replicas",
    "kube_deployment_status_replicas_ready",
    "kube_deployment_status_replicas_available",
}
#: The platform runtime's metrics contract: name -> (type, labels, meaning). The runtime exports exactly these.
RUNTIME: dict[str, tuple[str, tuple[str, ...], str]] = {
    "agent_requests_total": (
        "counter",
        ("agent_name", "status"),
        "requests by outcome: success, failure, timeout, cancelled",
    ),
    "agent_request_duration_seconds": ("histogram", ("agent_name",), "request duration"),
    "llm_tokens_total": (
        "counter",
        ("agent_name", "model", "provider", "type"),
        "LLM tokens; type prompt or completion",
    ),
    "llm_cost_usd_total": ("counter", ("agent_name", "model", "provider"), "LLM cost in USD (0 without a price)"),
    "agent_active_sessions": ("gauge", ("agent_name",), "requests in flight (KEDA scales on it)"),
    "agent_tool_calls_total": ("counter", ("agent_name", "tool", "status"), "tool calls by outcome"),
    "llm_retries_total": ("counter", ("agent_name", "reason"), "LLM call retries"),
    "agent_memory_degraded": ("gauge", ("agent_name",), "1 while Redis is unreachable"),
    "agent_rate_limited_total": ("counter", ("agent_name",), "requests refused by the rate limiter"),
}
