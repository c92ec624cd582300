"""Agent runtime overhead, measured side by side in one run against the same fake OpenAI-compatible server:

- latency of a direct round trip to the fake LLM vs the same turn through the runtime's /v1/chat/completions
  (p50 and p99, at 1 and 64 concurrent sessions) and the difference = what the runtime adds per turn;
- turns per second through the runtime at 64 concurrent sessions;
- the runtime's idle and loaded RSS; start-to-ready time (process start until GET /ready answers 200).

Three processes on loopback: the fake LLM, `agent-runtime serve`, and this load generator; with --baseline REF a
second runtime (another git ref's agent_runtime/src) is measured in the same run, interleaved A-B-B-A so neither
gains from going second.
    python bench/runtime.py [--requests 400] [--baseline REF]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent_runtime" / "tests"))
from fake_llm import free_port

BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "ping"}]}


def wait_http(url: str, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} not ready after {timeout}s")


ERRORS: dict[str, int] = {}


async def load(url: str, concurrency: int, total: int, body: dict) -> tuple[list[float], float]:
    """Latencies of ``total`` requests from ``concurrency`` workers; transport errors are counted in ERRORS[url]
    (and the request retried), not fatal."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                t0 = time.perf_counter()
                try:
                    r = await client.post(url, json=body)
                except httpx.TransportError:
                    ERRORS[url] = ERRORS.get(url, 0) + 1
                    queue.put_nowait(0)
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")

        for _ in range(min(20, total)):  # warm connections
            await client.post(url, json=body)
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, wall


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def start_runtime(env: dict[str, str], port: int, src: Path | None) -> tuple[subprocess.Popen, float]:
    """Start `agent-runtime serve` (from ``src`` when given: another checkout's agent_runtime/src) on ``port``."""
    env = {**env, "AGENT_PORT": str(port)}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "agent_runtime.cli", "serve"], env=env)
    wait_http(f"http://127.0.0.1:{port}/ready")
    return proc, time.perf_counter() - t0


def baseline_source(ref: str) -> Path:
    """A checkout of ``ref`` (a git ref, or a directory) whose agent_runtime/src is the baseline runtime."""
    path = Path(ref)
    if not path.is_dir():
        path = Path(f"/tmp/agentic-bench-{ref.replace('/', '_')}")
        if not path.exists():
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref], check=True, capture_output=True
            )
    return path / "agent_runtime" / "src"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--baseline", help="git ref (or checkout directory) of a runtime to measure side by side")
    args = ap.parse_args()
    llm_port = free_port()
    llm = subprocess.Popen([sys.executable, str(ROOT / "agent_runtime" / "tests" / "fake_llm.py"), str(llm_port)])
    env = {
        **os.environ,
        "KUBE_AGENT_LLM_URL": f"http://127.0.0.1:{llm_port}/v1",
        "KUBE_AGENT_LLM_MODEL": "fake-model",
        "AGENT_HOST": "127.0.0.1",
        "AGENT_RATE_LIMIT": "1000000",
        "AGENT_FILE_ROOTS": "/tmp",
        "KUBE_AGENT_NAMESPACE": "bench",
        "AGENT_LOG_LEVEL": "WARNING",
    }
    env.pop("PYTHONPATH", None)
    runtimes: dict[str, tuple[subprocess.Popen, float, psutil.Process, str]] = {}
    try:
        wait_http(f"http://127.0.0.1:{llm_port}/v1/models")
        sources: dict[str, Path | None] = {"runtime": None}
        if args.baseline:
            sources["baseline"] = baseline_source(args.baseline)
        for name, src in sources.items():
            port = free_port()
            proc, ready = start_runtime(env, port, src)
            runtimes[name] = (proc, ready, psutil.Process(proc.pid), f"http://127.0.0.1:{port}/v1/chat/completions")
        time.sleep(0.5)
        for name, (_, ready, ps, _) in runtimes.items():
            print(f"{name}: start-to-ready {ready * 1000:.0f} ms; idle RSS {ps.memory_info().rss / 2**20:.0f} MiB")
        direct = f"http://127.0.0.1:{llm_port}/v1/chat/completions"
        print(f"{'concurrency':>11} {'path':<9} {'p50 ms':>8} {'p99 ms':>8} {'turns/s':>9}")
        peak = {name: ps.memory_info().rss / 2**20 for name, (_, _, ps, _) in runtimes.items()}
        overhead: dict[tuple[str, int], tuple[float, float]] = {}
        throughput: dict[tuple[str, int], float] = {}
        for conc in (1, 64):
            n = args.requests if conc == 1 else args.requests * 4
            d_lat, d_wall = asyncio.run(load(direct, conc, n, BODY))
            print(f"{conc:>11} {'direct':<9} {pct(d_lat, 50):>8.2f} {pct(d_lat, 99):>8.2f} {len(d_lat) / d_wall:>9.0f}")
            names = list(runtimes)
            order = names + names[::-1]  # ABBA: each runtime measured first once and last once (no order bias)
            lat_by: dict[str, list[float]] = {n_: [] for n_ in names}
            wall_by: dict[str, float] = {n_: 0.0 for n_ in names}
            for name in order:
                _, _, ps, url = runtimes[name]
                lat, wall = asyncio.run(load(url, conc, n // 2, BODY))
                lat_by[name] += lat
                wall_by[name] += wall
                peak[name] = max(peak[name], ps.memory_info().rss / 2**20)
            for name in names:
                r_lat, r_wall = lat_by[name], wall_by[name]
                throughput[(name, conc)] = len(r_lat) / r_wall
                print(
                    f"{conc:>11} {name:<9} {pct(r_lat, 50):>8.2f} {pct(r_lat, 99):>8.2f} "
                    f"{throughput[(name, conc)]:>9.0f}"
                )
                overhead[(name, conc)] = (pct(r_lat, 50) - pct(d_lat, 50), pct(r_lat, 99) - pct(d_lat, 99))
        for (name, conc), (p50, p99) in overhead.items():
            print(
                f"{name} overhead at {conc:>2} sessions: p50 +{p50:.2f} ms (target <= 2), p99 +{p99:.2f} ms "
                "(target <= 10)"
            )
        if "baseline" in runtimes:
            ratio = throughput[("runtime", 64)] / throughput[("baseline", 64)]
            print(f"c64 throughput vs baseline: {ratio:.2f}x (target >= 0.90)")
        for name, mib in peak.items():
            print(f"{name}: loaded RSS {mib:.0f} MiB; transport errors {ERRORS.get(runtimes[name][3], 0)}")
    finally:
        for proc, *_ in runtimes.values():
            proc.terminate()
            proc.wait(5)
        llm.terminate()
        llm.wait(5)


if __name__ == "__main__":
    main()
