"""Runs a rendered Argo WorkflowTemplate's DAG the way the workflow controller would, for the journey tests: tasks in
dependency order, siblings in parallel, Argo's ``{{...}}`` substitution of workflow parameters, task outputs and
template inputs, each task's container command run as a local process with its template's ``activeDeadlineSeconds``
and ``retryStrategy.limit``, output parameters read from ``valueFrom.path``, the DAG's outputs, and the exit handler
with ``{{workflow.status}}``. Test infrastructure only: it executes exactly what the template says and fails on any
field it does not understand, so a template the controller would run differently cannot pass here silently.

The one deviation, stated by the caller: in-cluster host names are mapped to local addresses (``hosts``), since
there is no cluster DNS here; and the container's ``/tmp/outputs`` is a per-attempt temporary directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

VAR = re.compile(r"\{\{\s*([a-zA-Z0-9_.\-\[\]']+)\s*\}\}")
KNOWN_TASK_KEYS = {"name", "template", "dependencies", "arguments"}
KNOWN_TEMPLATE_KEYS = {
    "name",
    "inputs",
    "outputs",
    "activeDeadlineSeconds",
    "retryStrategy",
    "metrics",
    "container",
    "dag",
    "steps",
    "metadata",  # pod labels: no effect on how the template runs
}


@dataclass
class Attempt:
    started: float
    finished: float
    code: int
    stderr: str


@dataclass
class Node:
    name: str
    phase: str = "Pending"
    attempts: list[Attempt] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    phase: str
    nodes: dict[str, Node]
    outputs: dict[str, str]
    exit_handler: list[Attempt]


class Unsupported(AssertionError):
    pass


def substitute(text: str, scope: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in scope:
            raise Unsupported(f"unresolved Argo variable {{{{{key}}}}} in {text!r}")
        return scope[key]

    return VAR.sub(one, text)


def run_workflow(
    template: dict[str, Any],
    arguments: dict[str, str],
    *,
    hosts: dict[str, str],
    env: dict[str, str] | None = None,
    run_name: str = "run-1",
    command: Callable[[list[str]], list[str]] | None = None,
) -> Run:
    spec = template["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    for t in templates.values():
        extra = set(t) - KNOWN_TEMPLATE_KEYS
        if extra:
            raise Unsupported(f"template {t['name']}: fields this runner does not execute: {extra}")
    params: dict[str, str] = {}
    for p in spec["arguments"]["parameters"]:
        value = arguments.get(p["name"], p.get("value"))
        if value is None:
            raise Unsupported(f"parameter {p['name']} is required")  # Argo refuses the submission
        if "enum" in p and value not in p["enum"]:
            raise Unsupported(f"parameter {p['name']}={value!r} is not one of {p['enum']}")
        params[p["name"]] = value
    scope = {f"workflow.parameters.{k}": v for k, v in params.items()} | {"workflow.name": run_name}
    entry = templates[spec["entrypoint"]]
    tasks = {t["name"]: t for t in entry["dag"]["tasks"]}
    for t in tasks.values():
        if set(t) - KNOWN_TASK_KEYS:
            raise Unsupported(f"task {t['name']}: {set(t) - KNOWN_TASK_KEYS}")
    nodes = {n: Node(n) for n in tasks}
    lock = threading.Lock()
    base_env = {**os.environ, **(env or {})}
    cmd = command or (lambda args: [sys.executable, "-m", "agent_runtime.cli", *args])

    def run_container(tpl: dict[str, Any], inputs: dict[str, str]) -> tuple[Attempt, dict[str, str]]:
        local = {**scope, **{f"inputs.parameters.{k}": v for k, v in inputs.items()}}
        with tempfile.TemporaryDirectory() as out:
            args = [substitute(a, local) for a in tpl["container"]["args"]]
            args = [out if a == "/tmp/outputs" else a for a in args]
            for host, local_url in hosts.items():
                args = [a.replace(host, local_url) for a in args]
            cenv = dict(base_env)
            for e in tpl["container"].get("env", []):
                if "value" in e:
                    cenv[e["name"]] = substitute(e["value"], local)
                else:
                    ref = e["valueFrom"]["secretKeyRef"]
                    cenv[e["name"]] = (env or {})[f"secret:{ref['name']}/{ref['key']}"]
            started = time.monotonic()
            deadline = float(tpl.get("activeDeadlineSeconds", 3600))
            try:
                proc = subprocess.run(cmd(args), env=cenv, capture_output=True, text=True, timeout=deadline)
                code, stderr = proc.returncode, proc.stderr
            except subprocess.TimeoutExpired:
                code, stderr = -1, f"activeDeadlineSeconds {deadline:g} exceeded"
            attempt = Attempt(started, time.monotonic(), code, stderr)
            outputs = {}
            if code == 0:
                for p in (tpl.get("outputs") or {}).get("parameters", []):
                    path = p["valueFrom"]["path"].replace("/tmp/outputs", out)
                    with open(path) as f:
                        outputs[p["name"]] = f.read()
            return attempt, outputs

    def run_task(name: str) -> None:
        task = tasks[name]
        tpl = templates[task["template"]]
        with lock:
            local = dict(scope)
        inputs = {p["name"]: substitute(p["value"], local) for p in (task.get("arguments") or {}).get("parameters", [])}
        declared = {p["name"] for p in (tpl.get("inputs") or {}).get("parameters", [])}
        if set(inputs) != declared:
            raise Unsupported(f"task {name}: arguments {sorted(inputs)} != template inputs {sorted(declared)}")
        limit = int((tpl.get("retryStrategy") or {}).get("limit", 0))
        node = nodes[name]
        node.phase = "Running"
        for _ in range(limit + 1):
            attempt, outputs = run_container(tpl, inputs)
            node.attempts.append(attempt)
            if attempt.code == 0:
                node.outputs = outputs
                node.phase = "Succeeded"
                with lock:
                    scope.update({f"tasks.{name}.outputs.parameters.{k}": v for k, v in outputs.items()})
                return
        node.phase = "Failed"

    done: set[str] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        running: dict[str, Any] = {}
        while True:
            for n, fut in list(running.items()):
                if fut.done():
                    fut.result()
                    done.add(n)
                    del running[n]
            failed = any(nodes[n].phase == "Failed" for n in done)
            ready = [
                n
                for n, t in tasks.items()
                if n not in done
                and n not in running
                and nodes[n].phase == "Pending"
                and all(nodes[d].phase == "Succeeded" for d in t.get("dependencies", []))
            ]
            if not failed:
                for n in ready:
                    running[n] = pool.submit(run_task, n)
            if not running:
                break
            time.sleep(0.02)
    phase = "Succeeded" if all(n.phase == "Succeeded" for n in nodes.values()) else "Failed"
    outputs = {}
    if phase == "Succeeded":
        for p in (entry.get("outputs") or {}).get("parameters", []):
            outputs[p["name"]] = substitute(p["valueFrom"]["parameter"], scope)
    handler: list[Attempt] = []
    if spec.get("onExit"):
        scope["workflow.status"] = phase
        scope["workflow.failures"] = "[]"
        for group in templates[spec["onExit"]]["steps"]:
            for s in group:
                left, op, right = substitute(s["when"], scope).partition(" != ")
                if op and left != right:
                    handler.append(run_container(templates[s["template"]], {})[0])
    return Run(phase, nodes, outputs, handler)
