"""Agent runtime overhead, measured side by side in one run against the same fake OpenAI-compatible server:

- latency of a direct round trip to the fake LLM vs the same turn through the runtime's /v1/chat/completions
  (p50 and p99, at 1 and 64 concurrent sessions) and the difference = what the runtime adds per turn;
- turns per second through the runtime at 64 concurrent sessions;
- the runtime's idle and loaded RSS; start-to-ready time (process start until GET /ready answers 200).

Three processes on loopback: the fake LLM, `agent-runtime serve`, and this load generator.
    python bench/runtime.py [--requests 400]
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
from fake_llm import free_port  # noqa: E402

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


async def load(url: str, concurrency: int, total: int, body: dict) -> tuple[list[float], float]:
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
                r = await client.post(url, json=body)
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
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    args = ap.parse_args()
    llm_port, rt_port = free_port(), free_port()
    llm = subprocess.Popen([sys.executable, str(ROOT / "agent_runtime" / "tests" / "fake_llm.py"), str(llm_port)])
    env = {**os.environ, "KUBE_AGENT_LLM_URL": f"http://127.0.0.1:{llm_port}/v1", "KUBE_AGENT_LLM_MODEL": "fake-model",
           "AGENT_HOST": "127.0.0.1", "AGENT_PORT": str(rt_port), "AGENT_RATE_LIMIT": "1000000",
           "AGENT_FILE_ROOTS": "/tmp", "KUBE_AGENT_NAMESPACE": "bench", "AGENT_LOG_LEVEL": "WARNING"}
    try:
        wait_http(f"http://127.0.0.1:{llm_port}/v1/models")
        t0 = time.perf_counter()
        rt = subprocess.Popen([sys.executable, "-m", "agent_runtime.cli", "serve"], env=env)
        ready = wait_http(f"http://127.0.0.1:{rt_port}/ready")
        start_to_ready = time.perf_counter() - t0
        proc = psutil.Process(rt.pid)
        time.sleep(0.5)
        idle_rss = proc.memory_info().rss / 2**20
        direct = f"http://127.0.0.1:{llm_port}/v1/chat/completions"
        through = f"http://127.0.0.1:{rt_port}/v1/chat/completions"
        print(f"start-to-ready: {start_to_ready * 1000:.0f} ms (ready endpoint answered after {ready * 1000:.0f} ms "
              f"of polling); idle RSS {idle_rss:.0f} MiB")
        print(f"{'concurrency':>11} {'path':<8} {'p50 ms':>8} {'p99 ms':>8} {'turns/s':>9}")
        peak = idle_rss
        summary = {}
        for conc in (1, 64):
            n = args.requests if conc == 1 else args.requests * 4
            d_lat, d_wall = asyncio.run(load(direct, conc, n, BODY))
            r_lat, r_wall = asyncio.run(load(through, conc, n, BODY))
            peak = max(peak, proc.memory_info().rss / 2**20)
            for name, lat, wall in (("direct", d_lat, d_wall), ("runtime", r_lat, r_wall)):
                print(f"{conc:>11} {name:<8} {pct(lat, 50):>8.2f} {pct(lat, 99):>8.2f} {len(lat) / wall:>9.0f}")
            summary[conc] = (pct(r_lat, 50) - pct(d_lat, 50), pct(r_lat, 99) - pct(d_lat, 99))
        for conc, (p50, p99) in summary.items():
            print(f"overhead at {conc:>2} sessions: p50 +{p50:.2f} ms (target <= 2), p99 +{p99:.2f} ms (target <= 10)")
        print(f"loaded RSS {peak:.0f} MiB; start-to-ready {start_to_ready:.2f} s (target <= 1 s)")
    finally:
        for p in (locals().get("rt"), llm):
            if p is not None:
                p.terminate()
                p.wait(5)


if __name__ == "__main__":
    main()
