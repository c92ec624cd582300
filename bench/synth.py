"""Plan synthesis time: dev, prod, prod + 20 / 200 generated tenants, each beside the floor (the same mock engine
registering the same number of trivial resources), measured side by side in one run; then self-service tenant
stacks: 20 and 200 of them planned one after another on the dev platform's outputs (cost must grow linearly: 200
within 10x of 20), and one tenant stack end to end (`agentic plan --stack tenant-demo`, fresh process, < 2 s).

    python bench/synth.py [--repeat N]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import pulumi

from agentic.plan.engine import run_program
from config import parse_platform
from config.loader import FULL_KEY, read_stack_config
from program import build as build_platform


def with_tenants(raw: dict, n: int) -> dict:
    raw = copy.deepcopy(raw)
    for i in range(n):
        raw["tenants"].append(
            {
                "name": f"team-{i:03d}",
                "quota": {"requests_cpu": "4", "requests_memory": "8Gi", "limits_cpu": "8", "limits_memory": "16Gi"},
                "admin_groups": [f"team-{i:03d}-admins"],
            }
        )
    return raw


def synth(raw: dict, stack: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    cfg = parse_platform(raw)
    run = run_program(
        lambda: build_platform(cfg),
        project="agentic-platform",
        stack=stack,
        config={FULL_KEY: raw},
        region=cfg.aws.region,
    )
    return time.perf_counter() - t0, len(run.registrations)


def tenant_stacks(n: int, dev_outputs: dict) -> tuple[float, int]:
    """Plan ``n`` tenant stacks (tenant-demo's config renamed team-NNN, each allowed by the platform's outputs) one
    after another; seconds and resources per stack."""
    from config.loader import load_tenant_stack
    from program import tenant as tenant_program

    config, demo = load_tenant_stack("tenant-demo", PROJECT_ROOT)
    import json

    outputs = copy.deepcopy(dev_outputs)
    facts = json.loads(outputs["tenancy"])
    allowance = facts["tenants"]["demo"]
    per = 0
    t0 = time.perf_counter()
    for i in range(n):
        name = f"team-{i:03d}"
        facts["tenants"][name] = {**allowance, "namespace": f"tenant-{name}"}
        outputs["tenancy"] = json.dumps(facts)  # as the platform publishes it: one JSON string
        cfg = demo.model_copy(update={"name": name})
        run = run_program(
            lambda cfg=cfg: tenant_program.build(cfg),
            project="agentic-platform",
            stack=f"tenant-{name}",
            config=config,
            stack_outputs={cfg.platform_stack: outputs},
            region="us-west-2",
        )
        per = len(run.registrations)
    return time.perf_counter() - t0, per


def floor(n: int) -> float:
    def program():
        for i in range(n):
            pulumi.CustomResource("bench:index:Trivial", f"r{i}", {"value": i})

    t0 = time.perf_counter()
    run_program(program, project="agentic-platform", stack="floor", config={})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    dev = read_stack_config(PROJECT_ROOT / "Pulumi.dev.yaml")[FULL_KEY]
    prod = read_stack_config(PROJECT_ROOT / "Pulumi.prod.yaml")[FULL_KEY]
    cases = [
        ("dev", dev),
        ("prod", prod),
        ("prod+20 tenants", with_tenants(prod, 20)),
        ("prod+200 tenants", with_tenants(prod, 200)),
    ]
    synth(dev, "warmup")  # imports and first-call costs out of the figures
    print(f"{'case':<18}{'resources':>10}{'synth ms':>10}{'floor ms':>10}{'ms/res':>8}{'floor ms/res':>13}{'ratio':>7}")
    for name, raw in cases:
        times, n = [], 0
        floors = []
        for _ in range(args.repeat):
            t, n = synth(raw, name.replace(" ", "-").replace("+", "-"))
            times.append(t)
            floors.append(floor(n))
        t, f = statistics.median(times) * 1000, statistics.median(floors) * 1000
        print(f"{name:<18}{n:>10}{t:>10.0f}{f:>10.0f}{t / n:>8.2f}{f / n:>13.2f}{t / f:>7.2f}")
    from agentic.plan.render import synthesize

    dev_outputs = synthesize("dev", PROJECT_ROOT).run.outputs
    t20, per = tenant_stacks(20, dev_outputs)
    t200, _ = tenant_stacks(200, dev_outputs)
    print(
        f"tenant stacks: {per} resources each; 20 stacks {t20:.2f} s ({t20 / 20 * 1000:.0f} ms/stack), 200 stacks "
        f"{t200:.2f} s ({t200 / 200 * 1000:.0f} ms/stack): 200/20 = {t200 / t20:.1f}x (target <= 10x)"
    )


def end_to_end(stack: str, n_floor: int, *extra: str) -> tuple[float, float]:
    """Wall time of `agentic plan --stack <stack>` in a fresh process (imports, validation, synthesis, policies,
    every output written) and of a fresh process registering the same number of trivial resources (the floor)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "agentic.cli",
                "plan",
                "--stack",
                stack,
                "--out",
                f"{tmp}/plan",
                "-C",
                str(PROJECT_ROOT),
                *extra,
            ],
            check=True,
            capture_output=True,
        )
        plan = time.perf_counter() - t0
    code = (
        f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r})\nimport pulumi\n"
        "from agentic.plan.engine import run_program\n"
        "def p():\n    [pulumi.CustomResource('bench:index:Trivial', f'r{i}', {'value': i}) "
        f"for i in range({n_floor})]\n"
        "run_program(p, project='agentic-platform', stack='floor', config={})\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return plan, time.perf_counter() - t0


PHASES = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, ROOT)
import agentic.cli, pulumi, pulumi_aws, pulumi_kubernetes  # noqa
from pathlib import Path
import agentic.plan.render as R
from agentic.plan import cel, graph, report
spent = {"imports": time.perf_counter() - t0}
def timed(name, fn):
    def wrapper(*a, **k):
        s = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent[name] = spent.get(name, 0) + time.perf_counter() - s
    return wrapper
R.load_stack = timed("config", R.load_stack)
R.run_program = timed("mock engine + program", R.run_program)
R.evaluate = timed("policies", R.evaluate)
cel.evaluate = timed("CEL", cel.evaluate)
R.write_manifests = timed("manifests", R.write_manifests)
graph.write_graph = timed("diagram", graph.write_graph)
report.render = timed("reviewer page", report.render)
plan = R.synthesize(STACK, Path(ROOT))
R.write_plan(plan, Path(OUT))
print(" ".join(f"{k} {v * 1000:.0f} ms" for k, v in spent.items()))
"""


def phases(stack: str) -> str:
    """Where a fresh ``agentic plan`` spends its time (imports, config, the mock engine running the program,
    policies, CEL, manifests, diagram, page), from one fresh process."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        code = PHASES.replace("ROOT", repr(str(PROJECT_ROOT)), 2).replace("STACK", repr(stack))
        code = code.replace("OUT", repr(f"{tmp}/plan"))
        return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
    prod_raw = read_stack_config(PROJECT_ROOT / "Pulumi.prod.yaml")[FULL_KEY]
    _, resources = synth(prod_raw, "e2e")
    runs = [end_to_end("prod", resources) for _ in range(5)]
    plan_s = statistics.median(r[0] for r in runs)
    floor_s = statistics.median(r[1] for r in runs)
    print(
        f"prod end to end (agentic plan, fresh process, median of 5): {plan_s:.2f} s for {resources} resources "
        f"(runs {', '.join(f'{r[0]:.2f}' for r in runs)}); SDK floor (fresh process, {resources} trivial "
        f"resources): {floor_s:.2f} s; target <= 5 s on an idle machine"
    )
    print(f"prod phases (one fresh process): {phases('prod')}")
    import json
    import tempfile

    from agentic.plan.render import synthesize

    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump({"stack": "dev", "outputs": synthesize("dev", PROJECT_ROOT).run.outputs}, f)
        f.flush()
        plan_s, floor_s = end_to_end("tenant-demo", 40, "--platform-outputs", f.name)
    print(
        f"tenant-demo end to end (agentic plan --platform-outputs, fresh process): {plan_s:.2f} s; "
        f"SDK floor {floor_s:.2f} s; target < 2 s"
    )
