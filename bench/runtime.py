"""Agent runtime speed and memory, side by side in one run, against the same fake OpenAI-compatible model:

- `direct`: the bare model round trip (what any agent must pay);
- `runtime`: this runtime's A2A endpoint (JSON-RPC `message/send`, what kagent calls) and its OpenAI-compatible
  `/v1/chat/completions`;
- `kagent-adk`: kagent's own agent runtime (kagent-adk, the version the catalog pins for kagent) serving the same
  model over A2A, when its virtualenv exists (`make bench-deps` builds `.venv-kagent-adk`);
- `baseline` (with --baseline REF): this runtime from another git ref, to compare a change.

Every target gets the same aiohttp load generator and the same requests; A2A targets are measured in A-B-B-A order
so none gains from going first or last. Printed per target and concurrency (1 and 64 sessions): p50/p99 latency,
turns per second, CPU milliseconds per turn of the target's process; then idle RSS and start-to-ready time; then the
targets: c64 turns/s >= 25x kagent-adk's, c1 p50 overhead over the bare model <= 2 ms, idle RSS <= 100 MiB.

    python bench/runtime.py [--requests 400] [--baseline REF] [--kagent-adk PYTHON]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "agent_runtime" / "tests"))
from fake_llm import free_port

OPENAI_BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "ping"}]}
KAGENT_ADK_PYTHON = ROOT / ".venv-kagent-adk" / "bin" / "python"
TARGET_RATIO, TARGET_OVERHEAD_MS, TARGET_IDLE_MIB = 25.0, 2.0, 100.0


def a2a_body() -> dict:
    """A fresh A2A 0.3 `message/send` (new message id, no context: a new conversation, as kagent starts one)."""
    return {
        "jsonrpc": "2.0",
        "id": uuid.uuid4().hex,
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "role": "user",
                "messageId": uuid.uuid4().hex,
                "parts": [{"kind": "text", "text": "ping"}],
            }
        },
    }


def wait_http(url: str, timeout: float = 60.0) -> float:
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} not ready after {timeout}s")


@dataclass
class Target:
    name: str
    url: str
    body: object  # a dict, or a function making one per request
    proc: subprocess.Popen | None = None
    ready_s: float = 0.0
    latencies: dict[int, list[float]] = field(default_factory=dict)
    wall: dict[int, float] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    errors: int = 0

    @property
    def ps(self) -> psutil.Process | None:
        return psutil.Process(self.proc.pid) if self.proc else None

    def cpu_seconds(self) -> float:
        ps = self.ps
        if ps is None:
            return 0.0
        t = ps.cpu_times()
        return t.user + t.system


async def load(target: Target, concurrency: int, total: int) -> None:
    """``total`` requests from ``concurrency`` workers on one aiohttp session; transport errors are counted and the
    request retried; any non-200 answer (or an A2A error) stops the benchmark."""
    make = target.body if callable(target.body) else (lambda: target.body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def one() -> float:
            t0 = time.perf_counter()
            async with session.post(target.url, json=make()) as r:
                body = await r.read()
            if r.status != 200 or b'"error"' in body[:200]:
                raise RuntimeError(f"{target.name}: HTTP {r.status} {body[:300]!r}")
            return time.perf_counter() - t0

        for _ in range(min(10, total)):  # warm the connections and the target's lazy paths
            await one()
        remaining = total
        lat: list[float] = []

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                try:
                    lat.append(await one())
                except aiohttp.ClientConnectionError:
                    target.errors += 1
                    remaining += 1

        cpu0 = target.cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        target.wall[concurrency] = target.wall.get(concurrency, 0.0) + time.perf_counter() - start
        target.cpu[concurrency] = target.cpu.get(concurrency, 0.0) + target.cpu_seconds() - cpu0
        target.latencies.setdefault(concurrency, []).extend(lat)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def start(cmd: list[str], env: dict[str, str], ready_url: str) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    try:
        wait_http(ready_url)
    except RuntimeError:
        proc.kill()
        raise
    return proc, time.perf_counter() - t0


def start_runtime(name: str, env: dict[str, str], src: Path | None) -> tuple[Target, Target]:
    """`agent-runtime serve` (from ``src``: another checkout's agent_runtime/src, when given) as an A2A target and
    an OpenAI-compatible target on the same process."""
    port = free_port()
    env = {**env, "AGENT_PORT": str(port)}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc, ready = start([sys.executable, "-m", "agent_runtime.cli", "serve"], env, f"http://127.0.0.1:{port}/ready")
    a2a = Target(name, f"http://127.0.0.1:{port}/", a2a_body, proc, ready)
    openai = Target(f"{name} (OpenAI API)", f"http://127.0.0.1:{port}/v1/chat/completions", OPENAI_BODY, proc, ready)
    return a2a, openai


def start_kagent_adk(python: Path, llm_url: str, workdir: Path) -> Target:
    """kagent-adk serving an agent on the fake model, configured with the files kagent's controller renders."""
    port = free_port()
    config = {"model": {"type": "openai", "model": "fake-model", "base_url": llm_url}}
    config |= {"description": "bench agent", "instruction": "You are a helpful agent."}
    card = {
        "name": "bench_agent",
        "description": "bench agent",
        "url": f"http://127.0.0.1:{port}/",
        "version": "0.1",
        "protocolVersion": "0.3.0",
        "capabilities": {"streaming": True},
        "defaultInputModes": ["text"],
        "defaultOutputModes": ["text"],
        "skills": [],
    }
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "agent-card.json").write_text(json.dumps(card))
    env = {**os.environ, "OPENAI_API_KEY": "bench", "PYTHONWARNINGS": "ignore"}
    env.pop("PYTHONPATH", None)
    cmd = [str(python), str(ROOT / "bench" / "kagent_adk_serve.py"), str(workdir), str(port)]
    proc, ready = start(cmd, env, f"http://127.0.0.1:{port}/health")
    return Target("kagent-adk", f"http://127.0.0.1:{port}/", a2a_body, proc, ready)


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


def report(targets: list[Target]) -> None:
    print(f"{'sessions':>8} {'target':<28} {'p50 ms':>8} {'p99 ms':>8} {'turns/s':>8} {'CPU ms/turn':>12}")
    for conc in (1, 64):
        for t in targets:
            lat = t.latencies.get(conc)
            if not lat:
                continue
            cpu = f"{t.cpu[conc] / len(lat) * 1000:12.2f}" if t.proc else f"{'-':>12}"
            print(
                f"{conc:>8} {t.name:<28} {pct(lat, 50):8.2f} {pct(lat, 99):8.2f} {len(lat) / t.wall[conc]:8.0f} {cpu}"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400, help="requests per target at 64 sessions (a quarter at 1)")
    ap.add_argument("--baseline", help="git ref (or checkout directory) of a runtime to measure side by side")
    ap.add_argument("--kagent-adk", type=Path, default=KAGENT_ADK_PYTHON, help="a Python with kagent-adk installed")
    args = ap.parse_args()
    llm_port = free_port()
    llm_url = f"http://127.0.0.1:{llm_port}/v1"
    llm = subprocess.Popen([sys.executable, str(ROOT / "agent_runtime" / "tests" / "fake_llm.py"), str(llm_port)])
    env = {
        **os.environ,
        "KUBE_AGENT_LLM_URL": llm_url,
        "KUBE_AGENT_LLM_MODEL": "fake-model",
        "AGENT_HOST": "127.0.0.1",
        "AGENT_FILE_ROOTS": "/tmp",
        "KUBE_AGENT_NAMESPACE": "bench",
        "AGENT_LOG_LEVEL": "WARNING",
    }
    env.pop("PYTHONPATH", None)
    procs: list[subprocess.Popen] = [llm]
    try:
        wait_http(f"{llm_url}/models")
        direct = Target("direct (bare model)", f"{llm_url}/chat/completions", OPENAI_BODY)
        runtime, runtime_openai = start_runtime("runtime", env, None)
        a2a = [runtime]
        procs.append(runtime.proc)
        if args.baseline:
            baseline, _ = start_runtime("baseline", env, baseline_source(args.baseline))
            a2a.append(baseline)
            procs.append(baseline.proc)
        workdir = Path(tempfile.mkdtemp(prefix="bench-kagent-adk-"))
        if args.kagent_adk.exists():
            kagent = start_kagent_adk(args.kagent_adk, llm_url, workdir)
            a2a.append(kagent)
            procs.append(kagent.proc)
        else:
            print(f"kagent-adk: {args.kagent_adk} not found; `make bench-deps` builds it (no side-by-side ratio)")
        time.sleep(1.0)
        idle = {t.name: t.ps.memory_info().rss / 2**20 for t in a2a if t.ps}
        for conc, n in ((1, args.requests // 4), (64, args.requests)):
            asyncio.run(load(direct, conc, n))
            asyncio.run(load(runtime_openai, conc, n))
            for t in a2a + a2a[::-1]:
                asyncio.run(load(t, conc, n // 2))
        targets = [direct, runtime_openai, *a2a]
        report(targets)
        for t in a2a:
            rss = t.ps.memory_info().rss / 2**20
            print(
                f"{t.name}: start-to-ready {t.ready_s * 1000:.0f} ms; idle RSS {idle[t.name]:.0f} MiB; "
                f"loaded RSS {rss:.0f} MiB; transport errors {t.errors}"
            )
        base = pct(direct.latencies[1], 50)
        for t in (runtime, runtime_openai):
            over = pct(t.latencies[1], 50) - base
            print(f"{t.name}: c1 p50 overhead over the bare model +{over:.2f} ms (target <= {TARGET_OVERHEAD_MS:g})")
        print(f"runtime: idle RSS {idle['runtime']:.0f} MiB (target <= {TARGET_IDLE_MIB:g})")
        mine = len(runtime.latencies[64]) / runtime.wall[64]
        for other in a2a[1:]:
            theirs = len(other.latencies[64]) / other.wall[64]
            cpu_ratio = (other.cpu[64] / len(other.latencies[64])) / (runtime.cpu[64] / len(runtime.latencies[64]))
            target = f" (target >= {TARGET_RATIO:g}x)" if other.name == "kagent-adk" else ""
            print(
                f"runtime vs {other.name} at 64 sessions: {mine / theirs:.1f}x the turns/s{target}, "
                f"{cpu_ratio:.1f}x less CPU per turn"
            )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
