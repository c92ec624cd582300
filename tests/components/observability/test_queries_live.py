"""The rules and dashboards query what really exists (issue #12 points 4 and 5).

1. The real runtime is driven through a few turns (one with a tool call, one whose LLM fails) against the fake LLM;
   its /metrics is scraped; every runtime metric and label a rule or panel uses must be in that scrape, and every
   other metric name must be in a cited upstream list (vLLM, DCGM, Karpenter, kube-state-metrics,
   agentgateway).
2. A real Prometheus (Debian's) is started on a TSDB built with promtool from that scrape (plus the upstream series):
   every panel query and every rule expression is run through its HTTP API without error, and the runtime's panels
   return data.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from catalog import metrics as cited
from components.observability.alerts import rule_groups
from components.observability.dashboards import queries
from config.observability import AlertThresholds

RUNTIME_TESTS = Path(__file__).resolve().parents[3] / "agent_runtime" / "tests"
sys.path.insert(0, str(RUNTIME_TESTS))
from fake_llm import FakeLLM, free_port  # noqa: E402

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    (PROMETHEUS is None or PROMTOOL is None) and not os.environ.get("CI"),
    reason="Debian's prometheus package is not installed",
)
PROMQL_KEYWORDS = {
    "sum",
    "by",
    "rate",
    "increase",
    "histogram_quantile",
    "max",
    "avg",
    "on",
    "and",
    "or",
    "label_replace",
    "without",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
}


def expressions() -> list[tuple[str, str]]:
    out = [(f"panel {d}/{p}", q) for d, p, q in queries()]
    out += [(f"rule {r['alert']}", r["expr"]) for g in rule_groups(AlertThresholds(), "ai-agents") for r in g["rules"]]
    return out


def names_in(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (identifiers that are neither functions, keywords nor labels)."""
    stripped = re.sub(r'"[^"]*"', '""', expr)
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    found = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped))
    return {n for n in found if n not in PROMQL_KEYWORDS and not re.fullmatch(r"[0-9e]+", n)}


def labels_in(expr: str) -> set[str]:
    used = set()
    for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
        used |= {x.strip() for x in group.split(",") if x.strip()}
    for matcher in re.findall(r"\{([^}]*)\}", expr):
        used |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!=|!~|=)", matcher))
    return used - {"le"}


def base(name: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", name)


@pytest.fixture(scope="module")
def scrape(tmp_path_factory) -> str:
    """The runtime's /metrics after a normal turn, a tool call and a failed LLM call."""
    from agent_runtime.server import Runtime, create_app
    from agent_runtime.settings import Settings

    llm = FakeLLM().start()
    work = tmp_path_factory.mktemp("work")
    (work / "notes.txt").write_text("hello")
    settings = Settings(
        llm_url=llm.url,
        llm_model="meta-llama/Llama-3.1-8B-Instruct",
        llm_provider="vllm",
        agent_name="kube-agent",
        namespace="ai-agents",
        llm_backoff=0.01,
        llm_retries=1,
        file_roots=[str(work)],
        kube_api_url="http://127.0.0.1:9",
        usd_per_1k_prompt_tokens=0.5,
        usd_per_1k_completion_tokens=1.5,
    )

    async def drive() -> str:
        rt = Runtime.build(settings)
        app = create_app(settings, rt)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://agent", timeout=30
        ) as client:
            llm.reply("all good")
            assert (await client.post("/chat", json={"message": "status?"})).status_code == 200
            llm.tool("file_list", path=str(work)).reply("one file")
            assert (await client.post("/chat", json={"message": "list files"})).status_code == 200
            llm.error(500, times=4)
            assert (await client.post("/chat", json={"message": "fail please"})).status_code >= 500
            text = (await client.get("/metrics")).text
        await rt.aclose()
        return text

    try:
        return asyncio.run(drive())
    finally:
        llm.stop()


def _scraped(scrape: str) -> dict[str, set[str]]:
    """metric family -> label names seen on its samples."""
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            out.setdefault(base(sample.name), set()).update(sample.labels)
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def test_the_runtime_exports_the_contract(scrape):
    seen = _scraped(scrape)
    for name, (_kind, labels, _) in cited.RUNTIME.items():
        assert name in seen, f"{name} missing from the runtime's /metrics"
        assert set(labels) <= seen[name], (name, seen[name])
    assert 'agent_requests_total{agent_name="kube-agent",status="failure"}' in scrape
    assert 'agent_tool_calls_total{agent_name="kube-agent",status="ok",tool="file_list"}' in scrape
    assert (
        'llm_tokens_total{agent_name="kube-agent",model="meta-llama/Llama-3.1-8B-Instruct",provider="vllm",'
        'type="prompt"}' in scrape
    )


def test_every_query_uses_metrics_and_labels_that_exist(scrape):
    seen = _scraped(scrape)
    upstream = cited.VLLM | cited.DCGM | cited.KARPENTER | cited.KUBE_STATE | cited.AGENTGATEWAY
    scrape_labels = {"namespace", "pod", "job", "instance", "tenant"}  # added by Prometheus or label_replace
    for where, expr in expressions():
        names = {base(n) for n in names_in(expr)}
        for name in names:
            if name in cited.RUNTIME:
                assert name in seen, f"{where}: {name} is not in the runtime's /metrics"
            else:
                assert name in upstream, f"{where}: {name} is neither the runtime's nor a cited upstream metric"
        if names and names <= set(cited.RUNTIME):
            available = set().union(*(seen[n] for n in names)) | scrape_labels
            assert labels_in(expr) <= available, (where, labels_in(expr) - available)


def test_the_name_and_label_extraction_can_fail():
    assert names_in('sum by (agent_name) (rate(agent_requests_total{status="x"}[5m])) / foo_bar') == {
        "agent_requests_total",
        "foo_bar",
    }
    assert labels_in('sum by (agent, le) (rate(x{status=~"a"}[5m]))') == {"agent", "status"}


def _openmetrics(scrape: str, now: int) -> str:
    """The scrape as an OpenMetrics history (counters growing over 30 minutes), plus upstream series, for promtool."""
    lines = []
    series: list[tuple[str, str, float, bool]] = []
    for family in text_string_to_metric_families(scrape):
        counter = family.type in ("counter", "histogram")
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted({**s.labels, "namespace": "ai-agents"}.items()))
            series.append((s.name, labels, s.value, counter))
    extra = [
        ("vllm:num_requests_waiting", 'model_name="llama-8b",namespace="ai-inference"', 3.0, False),
        ("vllm:kv_cache_usage_perc", 'model_name="llama-8b",namespace="ai-inference"', 0.4, False),
        ("DCGM_FI_DEV_GPU_UTIL", 'Hostname="n1",gpu="0"', 80.0, False),
        ("DCGM_FI_DEV_FB_USED", 'Hostname="n1",gpu="0"', 20000.0, False),
        ("DCGM_FI_DEV_FB_FREE", 'Hostname="n1",gpu="0"', 60000.0, False),
        ("karpenter_nodepools_usage", 'nodepool="g5",resource_type="nvidia.com/gpu"', 4.0, False),
    ]
    series += extra
    for name, labels, value, counter in series:
        for i in range(31):
            v = value * (i + 1) / 31 if counter else value
            lines.append(f"{name}{{{labels}}} {v} {now - (30 - i) * 60}")
    lines.sort(key=lambda line: line.split("{")[0])
    return "\n".join(lines) + "\n# EOF\n"


def test_a_real_prometheus_runs_every_panel_and_rule(scrape, tmp_path):
    now = int(time.time()) // 60 * 60 - 3600
    om = tmp_path / "metrics.om"
    om.write_text(_openmetrics(scrape, now))
    data = tmp_path / "data"
    made = subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=10y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        empty = []
        for where, expr in expressions():
            r = httpx.get(f"{api}/query", params={"query": expr, "time": now}, timeout=10).json()
            assert r["status"] == "success", (where, r)
            if where.startswith("panel") and not r["data"]["result"]:
                empty.append(where)
        runtime_panels = [
            f"panel {d}/{p}"
            for d, p, q in queries()
            if names_in(q) and all(base(n) in cited.RUNTIME for n in names_in(q))
        ]
        assert runtime_panels and not set(runtime_panels) & set(empty), set(runtime_panels) & set(empty)
    finally:
        proc.terminate()
        proc.wait(10)


def test_readme_documents_the_contract():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    for name, (kind, labels, meaning) in cited.RUNTIME.items():
        assert f"| `{name}` | {kind} | {', '.join(f'`{x}`' for x in labels)} | {meaning} |" in readme, name
