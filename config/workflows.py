"""Agent workflows (seed 000's Workflow) as Argo Workflows: typed inputs, steps calling agents over A2A in a DAG,
outputs picked by path, timeouts, retries, a concurrency limit, a failure notification and an optional schedule.

A step's ``input`` values and a workflow's ``outputs`` are templates over ``{{ .input.<name> }}`` and
``{{ .steps.<step>.output.<name> }}`` (seed 000's syntax); nothing else may appear inside ``{{ }}``. An output
``path`` (``.result.data``) selects from the agent's reply: the reply text parsed as JSON, ``.`` being the whole
reply (text that is not JSON is ``{"result": <text>}``, so ``.result`` is the text itself).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from config.base import ROOT, DnsLabel, Problem, Strict, duplicates, unknown_ref
from config.secrets import SecretRef

if TYPE_CHECKING:
    from config.platform import Platform

#: ``{{ .input.x }}`` / ``{{ .steps.s.output.y }}`` (seed 000); a name is a DNS label (steps) or an identifier
REFERENCE = re.compile(r"\{\{\s*\.(input|steps)\.([a-z0-9][-a-z0-9_]*)(?:\.output\.([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}")
ANY_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)
#: an output path: '.' or '.a.b[0].c' (keys are identifiers, indexes non-negative integers)
PATH = re.compile(r"^\.$|^(\.[A-Za-z_][A-Za-z0-9_-]*(\[[0-9]{1,4}\])*)+$")
PARAMETER = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
#: five cron fields (Argo's CronWorkflow uses robfig/cron without seconds), or a descriptor like @daily
CRON = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$")
MAX_STEP_TIMEOUT = 6 * 3600
MAX_WORKFLOW_TIMEOUT = 24 * 3600


class WorkflowInput(Strict):
    """A typed input (seed: ``input[]``): a workflow parameter."""

    name: str = Field(pattern=PARAMETER)
    required: bool = False
    default: str | None = Field(default=None, max_length=4096)
    enum: list[str] | None = Field(default=None, min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _default_fits(self) -> WorkflowInput:
        if self.required and self.default is not None:
            raise ValueError("a required input has no default: drop 'default' or 'required'")
        if self.enum is not None and self.default is not None and self.default not in self.enum:
            raise ValueError(f"default '{self.default}' is not one of enum {self.enum}")
        return self


class StepOutput(Strict):
    """A value picked from the agent's reply by path (seed: ``output[]``)."""

    name: str = Field(pattern=PARAMETER)
    path: str = Field(default=".", max_length=200, description="'.' (the whole reply) or '.a.b[0]' into its JSON")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not PATH.match(value):
            raise ValueError(f"'{value}' is not an output path: write '.' or '.result.data' (keys and [index])")
        return value


class WorkflowStep(Strict):
    name: DnsLabel
    agent: DnsLabel = Field(description="An agent of platform.kagent.agents in the workflow's namespace")
    input: dict[str, str | list[str]] = Field(
        default_factory=dict, description="Message fields; values may use {{ .input.x }} and {{ .steps.s.output.y }}"
    )
    output: list[StepOutput] = Field(default_factory=list, max_length=20)
    depends_on: list[DnsLabel] = Field(default_factory=list, alias="dependsOn")
    parallel: bool = Field(default=False, description="Runs beside its siblings (needs a dependency they share)")
    timeout_seconds: int = Field(default=600, ge=10, le=MAX_STEP_TIMEOUT, description="Per attempt")
    retries: int = Field(default=0, ge=0, le=10, description="Further attempts after a failure or a timeout")

    @field_validator("input")
    @classmethod
    def _input_keys(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        bad = [k for k in value if not re.match(PARAMETER, k)]
        if bad:
            raise ValueError(f"input keys are identifiers (letters, digits, '_'): {', '.join(bad)}")
        return value


class Concurrency(Strict):
    """Seed: ``concurrency``. ``queue``: runs past the limit wait (Argo's semaphore); ``replace`` and ``reject`` apply
    to scheduled runs (a CronWorkflow's Replace / Forbid): Argo queues every run submitted by hand."""

    max_concurrent: int = Field(default=5, ge=1, le=100)
    policy: Literal["queue", "reject", "replace"] = "queue"


class Schedule(Strict):
    cron: str = Field(max_length=100, description="Five cron fields or @daily-style, e.g. '0 6 * * 1-5'")
    timezone: str = Field(default="UTC", pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}$")
    input: dict[str, str] = Field(default_factory=dict, description="The scheduled runs' inputs")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not CRON.match(value.strip()):
            raise ValueError(f"'{value}' is not a schedule: five cron fields ('0 6 * * 1-5') or '@daily'")
        return value.strip()


class Workflow(Strict):
    name: DnsLabel
    namespace: DnsLabel | None = Field(default=None, description="Default (and only choice today): the agents layer")
    description: str = Field(default="", max_length=1000)
    input: list[WorkflowInput] = Field(default_factory=list, max_length=50)
    steps: list[WorkflowStep] = Field(min_length=1, max_length=50)
    outputs: dict[str, str] = Field(default_factory=dict, description="Workflow outputs: templates over step outputs")
    timeout_seconds: int = Field(default=1800, ge=60, le=MAX_WORKFLOW_TIMEOUT)
    concurrency: Concurrency | None = None
    notify_on_failure: SecretRef | None = Field(
        default=None, description="Slack incoming-webhook URL (a credential) posted to when a run fails"
    )
    schedule: Schedule | None = None


def agents_namespace(cfg: Platform) -> str:
    layer = cfg.namespace_for("agents")
    return layer.name if layer else "ai-agents"


def _references(text: str) -> list[tuple[str, str, str | None]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in REFERENCE.finditer(text)]


def _template_problems(text: str, path: str) -> list[Problem]:
    """Anything inside {{ }} that is not one of the two reference forms."""
    out = []
    for found in ANY_TEMPLATE.findall(text):
        if not REFERENCE.fullmatch(found):
            out.append(
                Problem(
                    path,
                    f"'{found}' is not a reference: use {{{{ .input.<name> }}}} or "
                    "{{ .steps.<step>.output.<name> }}",
                )
            )
    return out


def _texts(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def ancestors(steps: list[WorkflowStep]) -> dict[str, set[str]]:
    """Step name -> every step it (transitively) depends on; a cycle leaves its members out of one another's sets
    only if check_workflows has not refused it already."""
    deps = {s.name: set(s.depends_on) for s in steps}
    out: dict[str, set[str]] = {}
    for name in deps:
        seen: set[str] = set()
        todo = list(deps[name])
        while todo:
            d = todo.pop()
            if d not in seen and d in deps:
                seen.add(d)
                todo += deps[d]
        out[name] = seen
    return out


def _cycle(steps: list[WorkflowStep]) -> list[str] | None:
    deps = {s.name: [d for d in s.depends_on] for s in steps}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in deps.get(n, []):
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d in deps and state.get(d) is None and (found := visit(d)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in deps:
        if state.get(n) is None and (found := visit(n)):
            return found
    return None


def check_workflows(cfg: Platform) -> list[Problem]:
    base = f"{ROOT}.workflows"
    out = duplicates(cfg.workflows, "name", base)
    agents_ns = agents_namespace(cfg)
    agents = {(a.namespace or agents_ns, a.name) for a in cfg.kagent.agents}
    if cfg.workflows and not cfg.kagent.enabled:
        out.append(Problem(base, "workflows call kagent agents: enable kagent (platform.kagent.enabled) or drop them"))
    for i, wf in enumerate(cfg.workflows):
        at = f"{base}[{i}]"
        ns = wf.namespace or agents_ns
        if ns != agents_ns:
            out.append(
                Problem(
                    f"{at}.namespace",
                    f"workflows run in the agents namespace '{agents_ns}' (one Argo controller manages it, with RBAC "
                    "in that namespace only): drop 'namespace'",
                )
            )
        out += duplicates(wf.steps, "name", f"{at}.steps")
        out += duplicates(wf.input, "name", f"{at}.input")
        inputs = {p.name: p for p in wf.input}
        steps = {s.name: s for s in wf.steps}
        cycle = _cycle(wf.steps)
        if cycle:
            out.append(
                Problem(
                    f"{at}.steps",
                    f"dependsOn forms a cycle ({' -> '.join(cycle)}): a workflow is a DAG; drop one of these "
                    "dependencies",
                )
            )
        above = ancestors(wf.steps)
        for j, step in enumerate(wf.steps):
            sp = f"{at}.steps[{j}]"
            if (ns, step.agent) not in agents:
                out.append(
                    Problem(
                        f"{sp}.agent",
                        unknown_ref("agent", step.agent, sorted(a for n, a in agents if n == ns), f"namespace {ns}")
                        + ": a workflow calls only agents of platform.kagent.agents in its own namespace",
                    )
                )
            for k, dep in enumerate(step.depends_on):
                if dep not in steps:
                    out.append(Problem(f"{sp}.dependsOn[{k}]", unknown_ref("step", dep, steps, f"workflow {wf.name}")))
                elif dep == step.name:
                    out.append(Problem(f"{sp}.dependsOn[{k}]", "a step cannot depend on itself"))
            if step.parallel:
                siblings = [s for s in wf.steps if s.parallel and s.name != step.name]
                shared = [s.name for s in siblings if set(s.depends_on) & set(step.depends_on)]
                if not step.depends_on or not shared:
                    out.append(
                        Problem(
                            f"{sp}.parallel",
                            "a parallel step runs beside siblings that wait for the same step: give it a dependsOn "
                            "shared with another parallel step, or drop 'parallel'",
                        )
                    )
            for key, value in step.input.items():
                for text in _texts(value):
                    out += _template_problems(text, f"{sp}.input.{key}")
                    out += _reference_problems(text, f"{sp}.input.{key}", inputs, steps, above.get(step.name, set()))
        for key, text in wf.outputs.items():
            out += _template_problems(text, f"{at}.outputs.{key}")
            out += _reference_problems(text, f"{at}.outputs.{key}", inputs, steps, set(steps))
        if wf.schedule:
            for key, value in wf.schedule.input.items():
                if key not in inputs:
                    out.append(Problem(f"{at}.schedule.input.{key}", unknown_ref("input", key, inputs, f"{at}.input")))
                elif inputs[key].enum and value not in (inputs[key].enum or []):
                    out.append(Problem(f"{at}.schedule.input.{key}", f"'{value}' is not one of {inputs[key].enum}"))
            missing = [p.name for p in wf.input if p.required and p.name not in wf.schedule.input]
            if missing:
                out.append(
                    Problem(f"{at}.schedule.input", f"scheduled runs need the required inputs: {', '.join(missing)}")
                )
        longest = sum(s.timeout_seconds * (s.retries + 1) for s in wf.steps)
        if min(s.timeout_seconds for s in wf.steps) > wf.timeout_seconds:
            out.append(
                Problem(
                    f"{at}.timeout_seconds",
                    f"{wf.timeout_seconds}s is shorter than every step's timeout: raise it (steps in sequence with "
                    f"their retries take up to {longest}s)",
                )
            )
    return out


def _reference_problems(
    text: str, path: str, inputs: dict[str, WorkflowInput], steps: dict[str, WorkflowStep], reachable: set[str]
) -> list[Problem]:
    out = []
    for kind, name, output in _references(text):
        if kind == "input":
            if output is not None:
                out.append(Problem(path, f"'.input.{name}' has no outputs: write {{{{ .input.{name} }}}}"))
            elif name not in inputs:
                out.append(Problem(path, unknown_ref("input", name, inputs, "the workflow's input")))
            continue
        if name not in steps:
            out.append(Problem(path, unknown_ref("step", name, steps, "the workflow's steps")))
        elif output is None:
            out.append(Problem(path, f"name the output: {{{{ .steps.{name}.output.<name> }}}}"))
        elif output not in {o.name for o in steps[name].output}:
            out.append(
                Problem(path, unknown_ref("output", output, [o.name for o in steps[name].output], f"step {name}"))
            )
        elif name not in reachable:
            out.append(
                Problem(
                    path,
                    f"step '{name}' does not run before this one: add it to dependsOn (directly or through "
                    "another step) to use its output",
                )
            )
    return out
