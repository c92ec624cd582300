"""One step of an agent workflow (an Argo Workflows DAG task; platform config ``workflows``): send the step's input to
an agent as A2A ``message/send`` (protocol 0.3, JSON-RPC over HTTP), pick each output from the reply by path, write
it where Argo reads output parameters. And the exit handler's notification when a run fails.

The reply is the agent's answer text (a Message's text parts, or a Task's artifacts, else its status message); when
that text is JSON it is the document an output path selects from, otherwise the document is ``{"result": <text>}``.
Paths are ``.`` (the whole document) or keys and indexes: ``.result.data``, ``.items[0].name``.

Exit codes: 0 done; 1 the agent failed, answered an error, or an output is missing; 2 bad arguments; 3 this workflow's
ServiceAccount may not call the agent (RBAC: ``get`` on the Agent); 4 timeout.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
KAGENT_API = "kagent.dev/v1alpha2"
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)((?:\[[0-9]{1,4}\])*)")


class StepError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


@dataclass
class Step:
    agent: str
    namespace: str
    url: str
    workflow: str
    run: str
    step: str
    timeout: float
    fields: dict[str, Any]
    outputs: dict[str, str]


def parse_pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        key, sep, rest = v.partition("=")
        if not sep or not key:
            raise StepError(f"{what} '{v}' is not key=value", 2)
        out.append((key, rest))
    return out


def build_fields(fields: list[str], json_fields: list[str], items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in parse_pairs(fields, "--field"):
        out[k] = v
    for k, v in parse_pairs(json_fields, "--field-json"):
        try:
            out[k] = json.loads(v)
        except ValueError as exc:
            raise StepError(f"--field-json {k}: not JSON ({exc})", 2) from None
    for k, v in parse_pairs(items, "--item"):
        out.setdefault(k, []).append(v)
    return out


def select(doc: Any, path: str) -> Any:
    """``path`` ('.' or '.a.b[0]') in ``doc``; StepError naming what is there when it is not."""
    if path == ".":
        return doc
    pos, cur = 0, doc
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            raise StepError(f"'{path}' is not an output path", 2)
        key = m.group(1)
        if not isinstance(cur, dict) or key not in cur:
            have = ", ".join(sorted(cur)) if isinstance(cur, dict) else type(cur).__name__
            raise StepError(f"path {path}: no '{key}' in the reply (there: {have or 'nothing'})")
        cur = cur[key]
        for index in re.findall(r"\[([0-9]+)\]", m.group(2)):
            if not isinstance(cur, list) or int(index) >= len(cur):
                raise StepError(f"path {path}: no item [{index}] in the reply")
            cur = cur[int(index)]
        pos = m.end()
    return cur


def reply_text(result: dict[str, Any]) -> str:
    """The agent's answer in an A2A ``message/send`` result (a Message or a Task)."""

    def texts(parts: list[dict[str, Any]] | None) -> list[str]:
        return [p["text"] for p in parts or [] if p.get("kind", "text") == "text" and isinstance(p.get("text"), str)]

    if result.get("kind") == "message":
        return "".join(texts(result.get("parts")))
    state = (result.get("status") or {}).get("state")
    status_text = "".join(texts(((result.get("status") or {}).get("message") or {}).get("parts")))
    if state in ("failed", "rejected", "canceled"):
        raise StepError(f"the agent's task ended {state}: {status_text or 'no message'}")
    found = [t for a in result.get("artifacts") or [] for t in texts(a.get("parts"))]
    return "".join(found) or status_text


def document(text: str) -> Any:
    try:
        doc = json.loads(text)
    except ValueError:
        return {"result": text}
    return doc if isinstance(doc, (dict, list)) else {"result": doc}


def check_rbac(step: Step) -> None:
    """In a pod: may this ServiceAccount ``get`` the Agent? (its Role names exactly the workflow's agents)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = SA_DIR / "token"
    if not host or not token_file.is_file():
        return  # not in a pod: nothing to ask
    group, version = KAGENT_API.split("/")
    url = f"https://{host}:{port}/apis/{group}/{version}/namespaces/{step.namespace}/agents/{step.agent}"
    context = ssl.create_default_context(cafile=str(SA_DIR / "ca.crt"))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token_file.read_text().strip()}"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context):  # noqa: S310 - the API server's URL
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise StepError(
                f"workflow {step.workflow} may not call agent {step.namespace}/{step.agent}: its ServiceAccount "
                "cannot get that Agent (RBAC); add the agent to the workflow's steps in the platform config",
                3,
            ) from None
        if exc.code == 404:
            raise StepError(f"agent {step.namespace}/{step.agent} does not exist") from None
        raise StepError(f"asking the API server about agent {step.agent}: HTTP {exc.code}") from None


def call(step: Step) -> dict[str, Any]:
    """POST message/send; the JSON-RPC result, or StepError."""
    body = {
        "jsonrpc": "2.0",
        "id": f"{step.run}-{step.step}",
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "role": "user",
                "messageId": str(uuid.uuid4()),
                "parts": [{"kind": "text", "text": json.dumps(step.fields, ensure_ascii=False)}],
                "metadata": {"workflow": step.workflow, "workflowRun": step.run, "workflowStep": step.step},
            }
        },
    }
    request = urllib.request.Request(  # noqa: S310 - http(s) only (main_step checks)
        step.url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Workflow-Run": step.run},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=step.timeout) as response:  # noqa: S310 - the agent's Service
            answer = json.loads(response.read())
    except TimeoutError:
        raise StepError(f"agent {step.agent} did not answer within {step.timeout:g}s", 4) from None
    except urllib.error.HTTPError as exc:
        raise StepError(f"agent {step.agent} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise StepError(f"agent {step.agent} did not answer within {step.timeout:g}s", 4) from None
        raise StepError(f"cannot reach agent {step.agent} at {step.url}: {reason}") from None
    except ValueError:
        raise StepError(f"agent {step.agent} did not answer JSON-RPC") from None
    if not isinstance(answer, dict):
        raise StepError(f"agent {step.agent} did not answer JSON-RPC")
    if answer.get("error"):
        err = answer["error"]
        raise StepError(f"agent {step.agent}: JSON-RPC error {err.get('code')}: {err.get('message')}")
    result = answer.get("result")
    if not isinstance(result, dict):
        raise StepError(f"agent {step.agent} answered no result")
    return result


def run_step(step: Step, outputs_dir: Path) -> dict[str, str]:
    check_rbac(step)
    started = time.monotonic()
    text = reply_text(call(step))
    doc = document(text)
    written: dict[str, str] = {}
    outputs_dir.mkdir(parents=True, exist_ok=True)
    for name, path in step.outputs.items():
        value = select(doc, path)
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        (outputs_dir / name).write_text(shown)
        written[name] = shown
    print(
        json.dumps(
            {
                "workflow": step.workflow,
                "run": step.run,
                "step": step.step,
                "agent": step.agent,
                "seconds": round(time.monotonic() - started, 3),
                "outputs": sorted(written),
            }
        )
    )
    return written


def notify(webhook: str, workflow: str, run: str, status: str, failures: str) -> None:
    """Post a Slack incoming-webhook message about a run that did not succeed."""
    if not re.match(r"^(https://[^/\s]+|http://(127\.0\.0\.1|localhost)(:[0-9]+)?)(/|$)", webhook):
        raise StepError("the notification webhook must be an https:// URL (http only to localhost)", 2)
    detail = ""
    try:
        failed = json.loads(failures) if failures else []
        detail = "; ".join(f"{f.get('displayName')}: {f.get('message')}" for f in failed[:5] if isinstance(f, dict))
    except ValueError:
        detail = failures[:500]
    text = f"Workflow {workflow} run {run} ended {status}" + (f" ({detail})" if detail else "")
    request = urllib.request.Request(  # noqa: S310 - https, or http to localhost (checked above)
        webhook, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20):  # noqa: S310 - https, or http to localhost (checked)
            pass
    except (urllib.error.URLError, OSError) as exc:
        raise StepError(f"posting the notification failed: {getattr(exc, 'reason', exc)}") from None


def main_step(args: dict[str, Any]) -> None:
    try:
        if not re.match(r"^https?://[^/\s]+/", args["url"] + "/"):
            raise StepError(f"--url {args['url']!r} is not an http(s) URL", 2)
        step = Step(
            agent=args["agent"],
            namespace=args["namespace"],
            url=args["url"],
            workflow=args["workflow"],
            run=args["run"],
            step=args["step"],
            timeout=float(args["timeout"]),
            fields=build_fields(args["field"], args["field_json"], args["item"]),
            outputs=dict(parse_pairs(args["output"], "--output")),
        )
        run_step(step, Path(args["outputs_dir"]))
    except StepError as exc:
        print(f"workflow step {args.get('step')}: {exc}", file=sys.stderr)
        raise SystemExit(exc.code) from None
