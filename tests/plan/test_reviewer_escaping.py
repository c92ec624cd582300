"""Untrusted text in reviewer output (issue #21 point 6): config values reach the PR comment (`agentic diff
--markdown`), the terminal and the reviewer page. Each is rendered by the real thing — a CommonMark + GFM-tables
renderer (markdown-it-py) for the comment, rich for the terminal, headless Chromium for the page — with payloads
that inject an image (a tracking pixel), close the <details> block, open a fence, split a table cell or carry rich
markup, and each must come out as the literal text it was."""

from __future__ import annotations

import base64
import io
import json

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from agentic.plan.diff import Change, PlanDiff, code, markdown, print_terminal
from agentic.plan.report import script_json
from tests.plan.test_report import chromium

PIXEL = "x` ![pixel](https://tracker.example/p.png) `y"
PAYLOADS = [
    PIXEL,
    "line one\n</details>\n\n# taken over",
    "```\nthe rest of the comment is code",
    "a | b | c",
    "``double`` and `single`",
    "<img src=https://tracker.example/q.png>",
    "[link](javascript:alert(1))",
    "\r\n",
    "`",
]


def _diff() -> PlanDiff:
    paths = [(f"spec.env[{i}].value", "old", p) for i, p in enumerate(PAYLOADS)] + [("spec.gone", "x", None)]
    yaml_diff = "".join(f"+  value: {p}\n" for p in PAYLOADS)
    change = Change(
        "update", "urn:x", "kubernetes:kagent.dev/v1alpha2:Agent", "agent `x` | y", paths, [], [], yaml_diff
    )
    return PlanDiff("old", "new", [change], None, None)


@pytest.fixture(scope="module")
def rendered() -> str:
    md = MarkdownIt("commonmark").enable("table")
    return md.render(markdown(_diff(), max_yaml_lines=200))


def test_no_payload_becomes_markup_in_the_pr_comment(rendered):
    assert "<img" not in rendered and "<h1" not in rendered and 'href="javascript' not in rendered
    assert rendered.count("<details>") == 1 and rendered.count("</details>") == 1
    assert rendered.index("</details>") > rendered.index("taken over")  # the block closes after every value
    # exactly one table, of one header and one row, with the name kept whole in its cell
    assert rendered.count("<table>") == 1 and rendered.count("<tr>") == 2
    assert "<code>agent `x` | y</code>" in rendered


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_renders_as_its_own_text(payload):
    html = MarkdownIt("commonmark").render(f"- {code(payload)}")
    shown = payload.replace("\r\n", "⏎").replace("\n", "⏎").strip(" ") or payload
    from html import escape

    assert f"<code>{escape(shown, quote=False)}" in html.replace("&quot;", '"') or escape(shown) in html


def test_an_absent_value_is_said_in_words_not_an_empty_code_span():
    text = markdown(_diff())
    assert "`spec.gone`: `x` -> *(absent)*" in text and "``" not in text.split("spec.gone")[1].split("\n")[0]


def test_rich_markup_in_values_is_printed_literally():
    change = Change("update", "u", "t", "[bold red]name[/]", [("p", "[link=https://x.example]a[/link]", "b")])
    out = io.StringIO()
    print_terminal(PlanDiff("o", "n", [change], None, None), Console(file=out, width=400, color_system=None))
    text = out.getvalue()
    assert "[bold red]name[/]" in text and "[link=https://x.example]a[/link]" in text


def test_the_pages_plan_data_stays_valid_json_in_chromium(tmp_path):
    """Chromium parses the page's plan-data block and compares it with what was written, for values that would close
    the <script> element or carry entities."""
    value = {"stack": "</script><img src=x onerror=document.title='pwned'>&quot;&amp;", "n": PAYLOADS}
    expected = base64.b64encode(json.dumps(value).encode()).decode()  # base64: nothing to escape in a JS string
    page = tmp_path / "page.html"
    page.write_text(
        "<!doctype html><html><head><meta charset=utf-8><title>t</title></head><body><p id=out>pending</p>"
        f"<script type=application/json id=plan-data>{script_json(value)}</script>"
        "<script>const got = JSON.parse(document.getElementById('plan-data').textContent);"
        f"const bytes = Uint8Array.from(atob('{expected}'), c => c.charCodeAt(0));"
        "const want = JSON.parse(new TextDecoder().decode(bytes));"
        "document.getElementById('out').textContent = JSON.stringify(got) === JSON.stringify(want)"
        " ? 'same' : 'different';</script></body></html>"
    )
    dom = chromium("--dump-dom", page.as_uri()).stdout
    assert '<p id="out">same</p>' in dom and "pwned" not in dom.split("<title>")[1].split("</title>")[0]
