"""Alert rules as code (seed 000/002) and their routing. Pure builders: thresholds come from
``observability.thresholds``; every rule carries ``severity`` and a ``runbook_url`` annotation; ``promtool check
rules`` and ``promtool test rules`` run on exactly what :func:`rule_groups` returns (tests/components/observability).
"""

from __future__ import annotations

from typing import Any

from config.observability import AlertRouting, AlertThresholds

RUNBOOKS = "https://github.com/agentic-platform/agentic-platform/blob/main/docs/runbooks.md"
#: Agent namespaces as a regex for rule selectors (the agents layer and every tenant).
AGENT_NS = "{agents}|tenant-.+"


def _rule(
    alert: str, expr: str, for_: str, severity: str, summary: str, anchor: str, description: str | None = None
) -> dict[str, Any]:
    annotations = {"summary": summary, "runbook_url": f"{RUNBOOKS}#{anchor}"}
    if description:
        annotations["description"] = description
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": annotations,
    }


#: What happens to a GPU node with a hardware fault, per cluster.node_health (the XID alert says which).
REPAIR = {
    "replace": "Karpenter's node repair replaces the node after the node monitoring agent has reported "
    "AcceleratedHardwareReady=False for 10 minutes, paced by the pool's disruption budgets (reason Unhealthy)",
    "reboot": "Karpenter's node repair reboots the node in place when the agent reports a reboot-clearable fault, and "
    "replaces it otherwise, after AcceleratedHardwareReady=False for 10 minutes, paced by the pool's disruption "
    "budgets (reason Unhealthy)",
    "off": "node repair is off (cluster.node_health.repair): cordon the node and delete its NodeClaim",
}


def rule_groups(t: AlertThresholds, agents_ns: str, repair: str = "off") -> list[dict[str, Any]]:
    ns = AGENT_NS.format(agents=agents_ns)
    errors = (
        f'sum by (namespace, agent_name) (rate(agent_requests_total{{status=~"failure|timeout"}}[5m])) '
        f"/ sum by (namespace, agent_name) (rate(agent_requests_total[5m])) * 100 > {t.error_rate_percent:g}"
    )
    latency = (
        "histogram_quantile({q}, sum by (namespace, agent_name, le) "
        "(rate(agent_request_duration_seconds_bucket[5m]))) > {s:g}"
    )
    ready = (
        f'sum by (namespace, deployment) (kube_deployment_status_replicas_ready{{namespace=~"{ns}"}}) '
        f'/ sum by (namespace, deployment) (kube_deployment_spec_replicas{{namespace=~"{ns}"}} > 0) * 100 '
        f"< {t.ready_ratio_percent:g}"
    )
    down = (
        f'sum by (namespace, deployment) (kube_deployment_spec_replicas{{namespace=~"{ns}"}}) > 0 '
        f'and sum by (namespace, deployment) (kube_deployment_status_replicas_available{{namespace=~"{ns}"}}) == 0'
    )
    cost = f"sum by (namespace) (rate(llm_cost_usd_total[1h])) * 3600 > {t.llm_cost_usd_per_hour:g}"
    gpu_mem = f"DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 100 > {t.gpu_memory_percent:g}"
    return [
        {
            "name": "agents",
            "rules": [
                _rule(
                    "AgentHighErrorRate",
                    errors,
                    "5m",
                    "critical",
                    f"Agent {{{{ $labels.agent_name }}}} fails more than {t.error_rate_percent:g}% of requests",
                    "agenthigherrorrate",
                ),
                _rule(
                    "AgentHighLatency",
                    latency.format(q=0.99, s=t.p99_latency_seconds),
                    "5m",
                    "critical",
                    f"Agent {{{{ $labels.agent_name }}}} p99 latency is above {t.p99_latency_seconds:g}s",
                    "agenthighlatency",
                ),
                _rule(
                    "AgentHighLatency",
                    latency.format(q=0.95, s=t.p95_latency_seconds),
                    "10m",
                    "warning",
                    f"Agent {{{{ $labels.agent_name }}}} p95 latency is above {t.p95_latency_seconds:g}s",
                    "agenthighlatency",
                ),
                _rule(
                    "AgentPodNotReady",
                    ready,
                    "5m",
                    "warning",
                    f"Fewer than {t.ready_ratio_percent:g}% of {{{{ $labels.deployment }}}} pods are ready",
                    "agentpodnotready",
                ),
                _rule(
                    "AgentDown", down, "2m", "critical", "No pod of {{ $labels.deployment }} is available", "agentdown"
                ),
                _rule(
                    "HighLLMCost",
                    cost,
                    "15m",
                    "warning",
                    f"LLM spend in {{{{ $labels.namespace }}}} is above ${t.llm_cost_usd_per_hour:g}/h",
                    "highllmcost",
                ),
            ],
        },
        {
            "name": "gpus",
            "rules": [
                _rule(
                    "GpuXidError",
                    "max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS) > 0",
                    "0m",
                    "critical",
                    "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported an XID error",
                    "gpuxiderror",
                    REPAIR[repair],
                ),
                _rule(
                    "GpuRowRemapFailure",
                    "max by (Hostname, gpu) (DCGM_FI_DEV_ROW_REMAP_FAILURE) > 0",
                    "0m",
                    "critical",
                    "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} failed to remap memory rows: drain the node",
                    "gpurowremapfailure",
                ),
                _rule(
                    "GpuMemoryPressure",
                    gpu_mem,
                    "10m",
                    "warning",
                    f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.Hostname }}}} uses more than {t.gpu_memory_percent:g}% of its memory",
                    "gpumemorypressure",
                ),
                _rule(
                    "VllmQueueSaturated",
                    f"sum by (namespace, model_name) (vllm:num_requests_waiting) > {t.vllm_queue_depth}",
                    "5m",
                    "warning",
                    f"More than {t.vllm_queue_depth} requests wait for model {{{{ $labels.model_name }}}}",
                    "vllmqueuesaturated",
                ),
            ],
        },
        {
            "name": "capacity",
            "rules": [
                _rule(
                    "KarpenterProvisioningFailures",
                    'sum by (error) (increase(karpenter_cloudprovider_errors_total{method="Create"}[15m])) > 0',
                    "0m",
                    "warning",
                    "Karpenter failed to launch capacity ({{ $labels.error }})",
                    "karpenterprovisioningfailures",
                ),
                _rule(
                    "NodePoolGpuLimitReached",
                    'karpenter_nodepools_usage{resource_type="nvidia.com/gpu"} '
                    '>= on (nodepool) karpenter_nodepools_limit{resource_type="nvidia.com/gpu"}',
                    "5m",
                    "warning",
                    "NodePool {{ $labels.nodepool }} has used its whole GPU limit",
                    "nodepoolgpulimitreached",
                ),
            ],
        },
    ]


SECRETS_DIR = "/etc/alertmanager/secrets"


def alertmanager_config(routing: AlertRouting) -> tuple[dict[str, Any], list[str]]:
    """Alertmanager's configuration (kube-prometheus-stack ``alertmanager.config``) routing critical and warning
    alerts to the configured receivers, and the Secrets to mount. Webhook URLs and passwords are read from those
    mounted Secrets (``api_url_file``, ``auth_password_file``), synced from Secrets Manager: never values."""
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    secrets: list[str] = []
    if routing.slack:
        ref = routing.slack.webhook
        secrets.append(ref.name)
        receivers.append(
            {
                "name": "slack",
                "slack_configs": [
                    {
                        "channel": routing.slack.channel,
                        "send_resolved": True,
                        "api_url_file": f"{SECRETS_DIR}/{ref.name}/{ref.key}",
                    }
                ],
            }
        )
    if routing.email:
        e = routing.email
        secrets.append(e.password.name)
        receivers.append(
            {
                "name": "email",
                "email_configs": [
                    {
                        "to": ", ".join(e.to),
                        "from": e.sender,
                        "smarthost": e.smarthost,
                        "auth_username": e.username,
                        "auth_password_file": f"{SECRETS_DIR}/{e.password.name}/{e.password.key}",
                        "send_resolved": True,
                    }
                ],
            }
        )
    routes: list[dict[str, Any]] = [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}]
    for severity in ("critical", "warning"):
        for target in routing.targets(severity):
            routes.append({"receiver": target, "continue": True, "matchers": [f'severity = "{severity}"']})
    config = {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "receivers": receivers,
    }
    return config, sorted(set(secrets))
