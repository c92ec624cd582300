"""Grafana dashboards as ConfigMaps for the chart's dashboard sidecar (label ``grafana_dashboard: "1"``): agent
overview, LLM performance, GPU usage, and cost per tenant and model. Every panel's PromQL is run through a real
Prometheus in the tests (tests/components/observability/test_dashboards_live.py)."""

from __future__ import annotations

import json
from typing import Any

from kit.labels import metadata

SIDECAR_LABEL = {"grafana_dashboard": "1"}
TENANT = 'label_replace({expr}, "tenant", "$1", "namespace", "tenant-(.+)")'

#: dashboard uid -> (title, [(panel title, unit, PromQL)])
DASHBOARDS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "agentic-agents": (
        "Agent overview",
        [
            (
                "Requests per second by agent",
                "reqps",
                "sum by (namespace, agent_name) (rate(agent_requests_total[5m]))",
            ),
            (
                "Error rate by agent (%)",
                "percent",
                'sum by (agent_name) (rate(agent_requests_total{status=~"failure|timeout"}[5m])) '
                "/ sum by (agent_name) (rate(agent_requests_total[5m])) * 100",
            ),
            (
                "p95 latency by agent",
                "s",
                "histogram_quantile(0.95, sum by (agent_name, le) (rate(agent_request_duration_seconds_bucket[5m])))",
            ),
            ("Active sessions", "short", "sum by (namespace, agent_name) (agent_active_sessions)"),
            ("Tool calls by tool and outcome", "ops", "sum by (tool, status) (rate(agent_tool_calls_total[5m]))"),
            ("Session memory degraded", "short", "max by (agent_name) (agent_memory_degraded)"),
        ],
    ),
    "agentic-llm": (
        "LLM performance",
        [
            (
                "Tokens per second by model and provider",
                "short",
                "sum by (model, provider, type) (rate(llm_tokens_total[5m]))",
            ),
            ("LLM retries by reason", "ops", "sum by (reason) (rate(llm_retries_total[5m]))"),
            (
                "vLLM p95 end-to-end latency",
                "s",
                "histogram_quantile(0.95, sum by (model_name, le) (rate(vllm:e2e_request_latency_seconds_bucket[5m])))",
            ),
            (
                "vLLM time to first token (p95)",
                "s",
                "histogram_quantile(0.95, sum by (model_name, le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
            ),
            ("vLLM requests waiting", "short", "sum by (model_name) (vllm:num_requests_waiting)"),
            ("vLLM KV cache usage", "percentunit", "max by (model_name) (vllm:kv_cache_usage_perc)"),
        ],
    ),
    "agentic-gpus": (
        "GPU usage",
        [
            ("GPU utilization", "percent", "avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)"),
            (
                "GPU memory used (%)",
                "percent",
                "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 100",
            ),
            ("GPU temperature", "celsius", "max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP)"),
            ("GPU power", "watt", "sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)"),
            (
                "GPUs in use against NodePool limits",
                "short",
                'sum by (nodepool) (karpenter_nodepools_usage{resource_type="nvidia.com/gpu"})',
            ),
        ],
    ),
    "agentic-cost": (
        "Cost per tenant and model",
        [
            (
                "LLM spend per hour by tenant (USD)",
                "currencyUSD",
                TENANT.format(expr="sum by (namespace) (rate(llm_cost_usd_total[1h]) * 3600)"),
            ),
            (
                "LLM spend per hour by model and provider (USD)",
                "currencyUSD",
                "sum by (model, provider) (rate(llm_cost_usd_total[1h]) * 3600)",
            ),
            (
                "Tokens per hour by tenant",
                "short",
                TENANT.format(expr="sum by (namespace) (rate(llm_tokens_total[1h]) * 3600)"),
            ),
            ("LLM spend today (USD)", "currencyUSD", "sum(increase(llm_cost_usd_total[24h]))"),
            # the AI gateway (agentgateway): per virtual key (consumer: tenant-<t>, agent-<a>, model-config-<m>)
            (
                "AI gateway spend per hour by key and model (USD)",
                "currencyUSD",
                "sum by (consumer, gen_ai_request_model) (rate(agentgateway_gen_ai_client_cost_usd_total[1h]) * 3600)",
            ),
            (
                "AI gateway tokens per hour by key and type",
                "short",
                "sum by (consumer, gen_ai_token_type) (rate(agentgateway_gen_ai_client_token_usage_sum[1h]) * 3600)",
            ),
            (
                "AI gateway spend today by key (USD, against its budget)",
                "currencyUSD",
                "sum by (consumer) (increase(agentgateway_gen_ai_client_cost_usd_total[24h]))",
            ),
        ],
    ),
}


def dashboard_json(uid: str) -> dict[str, Any]:
    title, panels = DASHBOARDS[uid]
    return {
        "uid": uid,
        "title": title,
        "tags": ["agentic-platform"],
        "schemaVersion": 39,
        "timezone": "browser",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [
            {
                "id": i + 1,
                "type": "timeseries",
                "title": p_title,
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
                "datasource": {"type": "prometheus", "uid": "prometheus"},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": expr, "datasource": {"type": "prometheus", "uid": "prometheus"}}],
            }
            for i, (p_title, unit, expr) in enumerate(panels)
        ],
    }


def queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, PromQL) of every panel."""
    return [(uid, p, expr) for uid, (_, panels) in DASHBOARDS.items() for p, _, expr in panels]


def dashboard_configmaps(namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(f"dashboard-{uid}", namespace, SIDECAR_LABEL),
            "data": {f"{uid}.json": json.dumps(dashboard_json(uid), indent=1, sort_keys=True)},
        }
        for uid in DASHBOARDS
    ]
