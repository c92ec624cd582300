"""The reviewer's page (issue #14 point 5): index.html rendered by a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from agentic.plan.render import write_plan

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def chromium(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (make deps installs it)")
        pytest.skip("chromium is not installed")
    return subprocess.run(
        [
            CHROMIUM,
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
    assert dom.count("<details") == len(plan.run.kubernetes_objects()) + len(
        plan.run.of_type("kubernetes:helm.sh/v3:Release")
    )


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
    # the header's count is the tiles' Kubernetes objects plus Helm releases
    objects = sum(1 for _ in plan.run.kubernetes_objects())
    whole = chromium("--dump-dom", html.as_uri()).stdout
    assert f"of {objects} + " in whole


def test_screenshot(page, tmp_path):
    html, _ = page
    shot = tmp_path / "report.png"
    chromium("--window-size=1400,1800", f"--screenshot={shot}", html.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
