"""The reviewer's page (issue #14 point 5): index.html rendered by a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from html import escape

import pytest

from agentic.plan.render import write_plan

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def chromium(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make deps installs it)")
        pytest.skip("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:  # one profile per run: no shared-profile lock
        return subprocess.run(
            [
                CHROMIUM,
                f"--user-data-dir={profile}",
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--virtual-time-budget=3000",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def page(plans, tmp_path_factory):
    out = write_plan(plans("prod"), tmp_path_factory.mktemp("report") / "plan").out_dir
    return out / "index.html", plans("prod")


def test_is_one_self_contained_file(page):
    html, _ = page
    text = html.read_text()
    assert "<svg" in text and "<style>" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from anywhere


def test_summary_renders_in_chromium(page):
    html, plan = page
    dom = chromium("--dump-dom", html.as_uri()).stdout
    assert "agentic-platform plan: stack prod" in dom
    assert f"<b>{len(plan.run.registrations)}</b>resources" in dom
    assert f"<b>{plan.total_ceiling:,.2f}</b>GPU ceiling $/h" in dom
    assert plan.cel.line in dom and "All policies pass." in dom
    aws = [r for r in plan.run.registrations if r.custom and r.type.startswith("aws:")]
    assert dom.count("<details") == len(plan.run.kubernetes_objects()) + len(
        plan.run.of_type("kubernetes:helm.sh/v3:Release")
    ) + len(aws)
    assert f"<b>{len(aws)}</b>AWS resources" in dom


def test_object_filter_runs_in_the_browser(page):
    html, plan = page
    expected = sum(
        1
        for r in plan.run.kubernetes_objects()
        if r.inputs["kind"] == "NetworkPolicy" and r.inputs["metadata"].get("namespace") == "ai-inference"
    )
    # words in any order, and extra spaces, find the same objects
    for query in ("networkpolicy ai-inference", "ai-inference%20%20networkpolicy"):
        dom = chromium("--dump-dom", html.as_uri() + "#q=" + query.replace(" ", "%20")).stdout
        assert expected and f'<span id="shown">{expected}</span>' in dom, query
    # the header's count is the tiles' Kubernetes objects, Helm releases and AWS resources
    objects = sum(1 for _ in plan.run.kubernetes_objects())
    whole = chromium("--dump-dom", html.as_uri()).stdout
    tiles = dict(re.findall(r'<div class="card"><b>([^<]+)</b>([^<]+)</div>', whole))
    tiles = {label: value for value, label in tiles.items()}
    assert tiles["Kubernetes objects"] == str(objects)
    header = re.search(r"of (\d+) Kubernetes objects \+ (\d+) Helm releases \+ (\d+) AWS resources", whole)
    assert header and header.groups() == (tiles["Kubernetes objects"], tiles["Helm releases"], tiles["AWS resources"])


def test_the_page_has_the_sections_the_terminal_prints(page):
    from agentic.plan.tables import agent_rows, credential_rows, model_capacity

    html, plan = page
    dom = chromium("--dump-dom", html.as_uri()).stdout
    for section in ("notes", "models", "agents", "credentials", "policies", "diagram", "browser"):
        assert f'<section id="{section}"' in dom and f'href="#{section}"' in dom, section
    notes = dom.split('<section id="notes"', 1)[1].split("</section>", 1)[0]
    for note in plan.run.outputs["plan_notes"]:
        assert f"<li>{escape(note, quote=False)}</li>" in notes
    models = dom.split('<section id="models"', 1)[1].split("</section>", 1)[0]
    for row in model_capacity(plan.config):
        assert f"<td>{row['model']}</td><td>{row['engine']}</td><td>{row['pool']}</td>" in models
    agents = dom.split('<section id="agents"', 1)[1].split("</section>", 1)[0]
    for row in agent_rows(plan):
        assert f"<td>{row['agent']}</td><td>{row['namespace']}</td>" in agents
    creds = dom.split('<section id="credentials"', 1)[1].split("</section>", 1)[0]
    rows = credential_rows(plan)
    assert rows and all(f"<td>{r['secret']}</td><td>{r['source']}</td>" in creds for r in rows)


def test_aws_policy_documents_are_in_the_object_browser(page):
    """IAM roles' trust policies, role policies, bucket and key policies are shown as documents (parsed YAML, not a
    JSON string), and the filter finds them by words."""
    html, plan = page
    dom = chromium("--dump-dom", html.as_uri() + "#q=iam%20policy").stdout
    iam = [
        r
        for r in plan.run.registrations
        if r.type.startswith("aws:iam/")
        and ("assumeRolePolicy" in r.inputs or "policy" in r.inputs or "Policy" in r.type.rsplit(":", 1)[-1])
    ]  # roles (trust policy), role policies, policy attachments
    assert iam and f'<span id="shown">{len(iam)}</span>' in dom
    karpenter = dom.split("RolePolicy <b>agentic-prod-karpenter-controller</b>", 1)[1].split("</details>", 1)[0]
    assert "policy document" in karpenter
    assert "Statement:\n  - Sid: AllowScopedEC2InstanceAccessActions" in karpenter  # parsed, not a JSON string
    bucket = dom.split("BucketPolicy <b>", 1)[1].split("</details>", 1)[0]
    assert "aws:SecureTransport" in bucket and "Effect: Deny" in bucket
    key = next(r for r in plan.run.of_type("aws:kms/key:Key") if "policy" in r.inputs)
    assert key.inputs["description"] in dom


def test_config_text_is_escaped_by_the_template(plans, tmp_path):
    """Everything the page shows from the config or the plan goes through the template's auto-escaping."""
    import copy

    plan = copy.copy(plans("dev"))
    plan.run = copy.copy(plan.run)
    payload = "<img src=x onerror=\"document.title='owned'\"></section><script>document.title='owned'</script>"
    plan.run.outputs = {**plan.run.outputs, "plan_notes": [payload]}
    html = write_plan(plan, tmp_path / "plan").out_dir / "index.html"
    dom = chromium("--dump-dom", html.as_uri()).stdout
    assert "owned" not in dom.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<img src" not in dom and escape(payload, quote=False) in dom


def test_diagram_at_reviewer_widths(page, tmp_path):
    """The page in a 1400 px and an 800 px wide window, measured in Chromium: the page never scrolls sideways, the
    diagram fits its section (grouped by domain, with the legend), and a click shows it at full size."""
    html, plan = page
    probe = tmp_path / "probe.html"
    probe.write_text(
        f"""<!doctype html><body><iframe id=f src="{html.as_uri()}" style="border:0"></iframe><pre id=out></pre><script>
const f=document.getElementById('f');
f.onload=()=>{{const out={{}};for(const w of [1400,800]){{f.style.width=w+'px';f.style.height='900px';
const d=f.contentDocument,s=d.querySelector('#diagram'),svg=s.querySelector('svg');
out[w]={{page:d.documentElement.scrollWidth,svg:svg.getBoundingClientRect().width,
section:s.clientWidth,clusters:svg.querySelectorAll('g.cluster').length}};
svg.dispatchEvent(new MouseEvent('click',{{bubbles:true}}));out[w].full=svg.getBoundingClientRect().width;
svg.dispatchEvent(new MouseEvent('click',{{bubbles:true}}));}}
document.getElementById('out').textContent=JSON.stringify(out);}};
</script>"""
    )
    dom = chromium("--allow-file-access-from-files", "--dump-dom", probe.as_uri()).stdout
    import json

    sizes = json.loads(dom.split('<pre id="out">', 1)[1].split("</pre>", 1)[0])
    domains = len({d for d in (_domains(plan)).values()})
    for width in ("1400", "800"):
        m = sizes[width]
        assert m["page"] <= int(width), m  # no sideways scroll of the page
        assert m["svg"] <= m["section"], m  # the diagram fits its section
        assert m["clusters"] == domains, m  # one box per domain
    assert sizes["800"]["full"] > sizes["800"]["svg"]  # a click shows it at full size
    assert sizes["1400"]["svg"] > 0.8 * sizes["1400"]["full"]  # at 1400 px it is shown at nearly full size


def _domains(plan):
    from agentic.plan.graph import component_domains

    stack = f"pulumi:pulumi:Stack::{plan.run.project}-{plan.run.stack}"
    tops = [r for r in plan.run.registrations if r.parent.endswith(stack)]  # providers, references: "other"
    return {r.name: "other" if r.custom else component_domains()[r.type.rsplit(":", 1)[-1]] for r in tops}
