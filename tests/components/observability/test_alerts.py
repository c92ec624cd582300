"""Alert rules as tested code (issue #12 point 3): `promtool check rules` and `promtool test rules` (Prometheus' own
tooling, Debian's prometheus package) on the rules the plan renders, with input series for every alert: it fires when
it should and stays silent when it should not (another series below the threshold, and before its `for`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.observability.alerts import alertmanager_config, rule_groups
from config.observability import AlertRouting, AlertThresholds
from tests.conftest import stack_raw

PROMTOOL = shutil.which("promtool")
# `make test` installs Debian's prometheus; only a run outside it (no CI) may skip.
pytestmark = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("CI"), reason="promtool not installed (apt-get install prometheus)"
)
NS = 'namespace="ai-agents"'


def _alerts(groups) -> dict[tuple[str, str], dict]:
    return {(r["alert"], r["labels"]["severity"]): r for g in groups for r in g["rules"]}


def _annotations(rule: dict, labels: dict[str, str]) -> dict[str, str]:
    """The rule's annotations with its label templates filled, as Prometheus renders them."""
    return {
        k: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], v) for k, v in rule["annotations"].items()
    }


def _bucket_series(name: str, labels: str, le_counts: dict[str, str]) -> list[dict[str, str]]:
    return [{"series": f'{name}_bucket{{{labels},le="{le}"}}', "values": values} for le, values in le_counts.items()]


def cases(t: AlertThresholds) -> list[dict]:
    """(alert, severity) -> input series, eval time, the labels of the one alert expected; every case also has a
    series that must stay silent and an evaluation before `for` with no alert."""
    slow = {"1": "0x20", "10": "0x20", "30": "0x20", "60": "0+10x20", "+Inf": "0+10x20"}
    fast = {"1": "0+10x20", "10": "0+10x20", "30": "0+10x20", "60": "0+10x20", "+Inf": "0+10x20"}
    return [
        {
            "alert": "AgentHighErrorRate",
            "severity": "critical",
            "at": "12m",
            "early": "4m",
            "labels": {"namespace": "ai-agents", "agent_name": "bad"},
            "series": [
                {"series": f'agent_requests_total{{{NS},agent_name="bad",status="success"}}', "values": "0+90x20"},
                {"series": f'agent_requests_total{{{NS},agent_name="bad",status="failure"}}', "values": "0+10x20"},
                {"series": f'agent_requests_total{{{NS},agent_name="ok",status="success"}}', "values": "0+98x20"},
                {"series": f'agent_requests_total{{{NS},agent_name="ok",status="timeout"}}', "values": "0+2x20"},
            ],
        },
        {
            "alert": "AgentHighLatency",
            "severity": "critical",
            "at": "12m",
            "early": "3m",
            "labels": {"namespace": "ai-agents", "agent_name": "slow"},
            "series": _bucket_series("agent_request_duration_seconds", f'{NS},agent_name="slow"', slow)
            + _bucket_series("agent_request_duration_seconds", f'{NS},agent_name="fast"', fast),
        },
        {
            "alert": "AgentHighLatency",
            "severity": "warning",
            "at": "16m",
            "early": "8m",
            "labels": {"namespace": "ai-agents", "agent_name": "slow"},
            "series": _bucket_series("agent_request_duration_seconds", f'{NS},agent_name="slow"', slow)
            + _bucket_series("agent_request_duration_seconds", f'{NS},agent_name="fast"', fast),
        },
        {
            "alert": "AgentPodNotReady",
            "severity": "warning",
            "at": "7m",
            "early": "4m",
            "labels": {"namespace": "tenant-a", "deployment": "helper"},
            "series": [
                {"series": 'kube_deployment_spec_replicas{namespace="tenant-a",deployment="helper"}', "values": "4x10"},
                {
                    "series": 'kube_deployment_status_replicas_ready{namespace="tenant-a",deployment="helper"}',
                    "values": "1x10",
                },
                {"series": 'kube_deployment_spec_replicas{namespace="ai-agents",deployment="fine"}', "values": "4x10"},
                {
                    "series": 'kube_deployment_status_replicas_ready{namespace="ai-agents",deployment="fine"}',
                    "values": "3x10",
                },
                # not an agent namespace: never alerts
                {"series": 'kube_deployment_spec_replicas{namespace="ai-data",deployment="milvus"}', "values": "4x10"},
                {
                    "series": 'kube_deployment_status_replicas_ready{namespace="ai-data",deployment="milvus"}',
                    "values": "0x10",
                },
            ],
        },
        {
            "alert": "AgentDown",
            "severity": "critical",
            "at": "4m",
            "early": "1m",
            "labels": {"namespace": "ai-agents", "deployment": "gone"},
            "series": [
                {"series": f'kube_deployment_spec_replicas{{{NS},deployment="gone"}}', "values": "2x10"},
                {"series": f'kube_deployment_status_replicas_available{{{NS},deployment="gone"}}', "values": "0x10"},
                {"series": f'kube_deployment_spec_replicas{{{NS},deployment="up"}}', "values": "2x10"},
                {"series": f'kube_deployment_status_replicas_available{{{NS},deployment="up"}}', "values": "2x10"},
            ],
        },
        {
            "alert": "HighLLMCost",
            "severity": "warning",
            "at": "80m",
            "early": "10m",
            "labels": {"namespace": "tenant-big"},
            "series": [  # 3 USD a minute = 180 USD/h above 100; 1 USD a minute = 60 USD/h below
                {
                    "series": 'llm_cost_usd_total{namespace="tenant-big",agent_name="a",model="m",provider="vllm"}',
                    "values": "0+3x90",
                },
                {
                    "series": 'llm_cost_usd_total{namespace="tenant-small",agent_name="a",model="m",provider="vllm"}',
                    "values": "0+1x90",
                },
            ],
        },
        {
            "alert": "GpuXidError",
            "severity": "critical",
            "at": "5m",
            "early": None,
            "labels": {"Hostname": "n1", "gpu": "0"},
            "series": [
                {"series": 'DCGM_FI_DEV_XID_ERRORS{Hostname="n1",gpu="0"}', "values": "0 0 0 79 79 79"},
                {"series": 'DCGM_FI_DEV_XID_ERRORS{Hostname="n1",gpu="1"}', "values": "0x5"},
            ],
        },
        {
            "alert": "GpuRowRemapFailure",
            "severity": "critical",
            "at": "3m",
            "early": None,
            "labels": {"Hostname": "n2", "gpu": "3"},
            "series": [
                {"series": 'DCGM_FI_DEV_ROW_REMAP_FAILURE{Hostname="n2",gpu="3"}', "values": "1x5"},
                {"series": 'DCGM_FI_DEV_ROW_REMAP_FAILURE{Hostname="n2",gpu="4"}', "values": "0x5"},
            ],
        },
        {
            "alert": "GpuMemoryPressure",
            "severity": "warning",
            "at": "12m",
            "early": "5m",
            "labels": {"Hostname": "n1", "gpu": "0"},
            "series": [
                {"series": 'DCGM_FI_DEV_FB_USED{Hostname="n1",gpu="0"}', "values": "79000x15"},
                {"series": 'DCGM_FI_DEV_FB_FREE{Hostname="n1",gpu="0"}', "values": "1000x15"},
                {"series": 'DCGM_FI_DEV_FB_USED{Hostname="n1",gpu="1"}', "values": "40000x15"},
                {"series": 'DCGM_FI_DEV_FB_FREE{Hostname="n1",gpu="1"}', "values": "40000x15"},
            ],
        },
        {
            "alert": "VllmQueueSaturated",
            "severity": "warning",
            "at": "7m",
            "early": "3m",
            "labels": {"namespace": "ai-inference", "model_name": "llama"},
            "series": [
                {
                    "series": 'vllm:num_requests_waiting{namespace="ai-inference",model_name="llama",pod="p1"}',
                    "values": f"{t.vllm_queue_depth + 10}x10",
                },
                {
                    "series": 'vllm:num_requests_waiting{namespace="ai-inference",model_name="small",pod="p2"}',
                    "values": "3x10",
                },
            ],
        },
        {
            "alert": "KarpenterProvisioningFailures",
            "severity": "warning",
            "at": "10m",
            "early": None,
            "labels": {"error": "InsufficientInstanceCapacity"},
            "series": [
                {
                    "series": 'karpenter_cloudprovider_errors_total{method="Create",error="InsufficientInstanceCapacity"'
                    ',controller="nodeclaim.lifecycle",provider="aws"}',
                    "values": "0+1x15",
                },
                {
                    "series": 'karpenter_cloudprovider_errors_total{method="Delete",error="NotFound",'
                    'controller="nodeclaim.lifecycle",provider="aws"}',
                    "values": "0+1x15",
                },
            ],
        },
        {
            "alert": "NodePoolGpuLimitReached",
            "severity": "warning",
            "at": "7m",
            "early": "3m",
            "labels": {"nodepool": "p5"},
            "series": [
                {
                    "series": 'karpenter_nodepools_usage{nodepool="p5",resource_type="nvidia.com/gpu"}',
                    "values": "16x10",
                },
                {
                    "series": 'karpenter_nodepools_limit{nodepool="p5",resource_type="nvidia.com/gpu"}',
                    "values": "16x10",
                },
                {"series": 'karpenter_nodepools_usage{nodepool="g5",resource_type="nvidia.com/gpu"}', "values": "8x10"},
                {
                    "series": 'karpenter_nodepools_limit{nodepool="g5",resource_type="nvidia.com/gpu"}',
                    "values": "24x10",
                },
            ],
        },
    ]


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule_groups(AlertThresholds(), "ai-agents")}, sort_keys=False))
    return path


def test_promtool_check_rules(rules_file):
    out = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 12 rules found" in out.stdout


def test_every_alert_has_a_case():
    alerts = _alerts(rule_groups(AlertThresholds(), "ai-agents"))
    assert {(c["alert"], c["severity"]) for c in cases(AlertThresholds())} == set(alerts)


def test_promtool_test_rules_fire_and_stay_silent(rules_file, tmp_path):
    t = AlertThresholds()
    alerts = _alerts(rule_groups(t, "ai-agents"))
    tests = []
    for c in cases(t):
        rule = alerts[(c["alert"], c["severity"])]
        others = [r for (name, sev), r in alerts.items() if name == c["alert"] and sev != c["severity"]]
        expected = [
            {
                "exp_labels": {**c["labels"], "severity": c["severity"]},
                "exp_annotations": _annotations(rule, c["labels"]),
            }
        ]
        evals = [
            {
                "eval_time": c["at"],
                "alertname": c["alert"],
                "exp_alerts": expected
                + [
                    {
                        "exp_labels": {**c["labels"], "severity": o["labels"]["severity"]},
                        "exp_annotations": _annotations(o, c["labels"]),
                    }
                    for o in others
                    if c["alert"] == "AgentHighLatency"
                ],
            }
        ]
        if c["early"]:
            evals.append({"eval_time": c["early"], "alertname": c["alert"], "exp_alerts": []})
        tests.append(
            {
                "name": f"{c['alert']}/{c['severity']}",
                "interval": "1m",
                "input_series": c["series"],
                "alert_rule_test": evals,
            }
        )
    # The latency case lists both severities; keep one of the two (identical inputs).
    tests = [x for x in tests if x["name"] != "AgentHighLatency/warning"] + [
        {
            **next(x for x in tests if x["name"] == "AgentHighLatency/warning"),
            "alert_rule_test": [
                {
                    "eval_time": "8m",
                    "alertname": "AgentHighLatency",
                    "exp_alerts": [
                        {
                            "exp_labels": {"namespace": "ai-agents", "agent_name": "slow", "severity": "critical"},
                            "exp_annotations": _annotations(
                                alerts[("AgentHighLatency", "critical")], {"agent_name": "slow"}
                            ),
                        }
                    ],
                }
            ],
        }
    ]
    spec = tmp_path / "tests.yml"
    spec.write_text(
        yaml.safe_dump({"rule_files": [str(rules_file)], "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    )
    out = subprocess.run([PROMTOOL, "test", "rules", str(spec)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_thresholds_come_from_config(rules_file, tmp_path):
    """A lower error-rate threshold makes the 2 % agent alert too: the threshold is the config's, not a constant."""
    strict = AlertThresholds(error_rate_percent=1)
    path = tmp_path / "strict.yml"
    path.write_text(yaml.safe_dump({"groups": rule_groups(strict, "ai-agents")}))
    case = cases(strict)[0]
    rule = _alerts(rule_groups(strict, "ai-agents"))[("AgentHighErrorRate", "critical")]
    spec = tmp_path / "t.yml"
    spec.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(path)],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": case["series"],
                        "alert_rule_test": [
                            {
                                "eval_time": "12m",
                                "alertname": "AgentHighErrorRate",
                                "exp_alerts": [
                                    {
                                        "exp_labels": {
                                            "namespace": "ai-agents",
                                            "agent_name": n,
                                            "severity": "critical",
                                        },
                                        "exp_annotations": _annotations(rule, {"agent_name": n}),
                                    }
                                    for n in ("bad", "ok")
                                ],
                            }
                        ],
                    }
                ],
            }
        )
    )
    out = subprocess.run([PROMTOOL, "test", "rules", str(spec)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_rule_has_severity_and_runbook():
    for g in rule_groups(AlertThresholds(), "ai-agents"):
        for r in g["rules"]:
            assert r["labels"]["severity"] in ("critical", "warning")
            assert r["annotations"]["runbook_url"].startswith("https://") and "#" in r["annotations"]["runbook_url"]
    runbooks = (Path(__file__).resolve().parents[3] / "docs" / "runbooks.md").read_text()
    anchors = {
        r["annotations"]["runbook_url"].split("#")[1] for g in rule_groups(AlertThresholds(), "a") for r in g["rules"]
    }
    headings = {h.strip().lower().replace(" ", "") for h in re.findall(r"^## (.+)$", runbooks, re.M)}
    assert anchors <= headings, anchors - headings


def test_alertmanager_routes_and_receivers_read_secrets_from_files():
    routing = AlertRouting.model_validate(
        {
            "slack": {"channel": "#alerts", "webhook": {"name": "slack-webhook", "key": "url"}},
            "email": {
                "to": ["oncall@example.com"],
                "from": "am@example.com",
                "smarthost": "smtp.example.com:587",
                "username": "am",
                "password": {"name": "smtp", "key": "password"},
            },
        }
    )
    config, secrets = alertmanager_config(routing)
    assert secrets == ["slack-webhook", "smtp"]
    slack = next(r for r in config["receivers"] if r["name"] == "slack")["slack_configs"][0]
    assert slack["api_url_file"] == "/etc/alertmanager/secrets/slack-webhook/url" and "api_url" not in slack
    email = next(r for r in config["receivers"] if r["name"] == "email")["email_configs"][0]
    assert email["auth_password_file"] == "/etc/alertmanager/secrets/smtp/password" and "auth_password" not in email
    routes = [(r["receiver"], r["matchers"]) for r in config["route"]["routes"][1:]]
    assert routes == [
        ("slack", ['severity = "critical"']),
        ("email", ['severity = "critical"']),
        ("slack", ['severity = "warning"']),
    ]
    assert alertmanager_config(AlertRouting())[0]["receivers"] == [{"name": "null"}]


def test_the_xid_alert_says_what_node_repair_does():
    """Issue #24: the XID alert links to what happens next: Karpenter's repair (replace, or reboot in place), or
    replacing the node by hand; prod's config picks the reboot text."""
    from components.observability.alerts import REPAIR
    from config import parse_platform

    for repair in ("off", "replace", "reboot"):
        [xid] = [
            a for (name, _), a in _alerts(rule_groups(AlertThresholds(), "a", repair)).items() if name == "GpuXidError"
        ]
        assert xid["annotations"]["description"] == REPAIR[repair]
        assert xid["annotations"]["runbook_url"].endswith("#gpuxiderror")
    assert "AcceleratedHardwareReady=False for 10 minutes" in REPAIR["replace"]
    assert "reboots the node in place" in REPAIR["reboot"] and "budgets (reason Unhealthy)" in REPAIR["reboot"]
    assert parse_platform(stack_raw("prod")).cluster.node_health.repair_action == "reboot"
    assert parse_platform(stack_raw("dev")).cluster.node_health.repair_action == "off"
