"""The HTML report as a person sees it: rendered in headless Chromium from a file:// URL, offline.

Debian's chromium is driven through Playwright (no browser download); the tests skip, saying why,
where either is missing. Every request the page makes is recorded: the only one allowed is the
report file itself.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def render(browser, html: Path, screenshot: Path) -> tuple[list[str], dict]:
    """Open the report offline; return every URL requested and facts about what is on screen."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(html.as_uri())
    page.screenshot(path=str(screenshot), full_page=False)
    verdict = page.locator("#verdict")
    facts = {
        "visible": verdict.is_visible(),
        "box": verdict.bounding_box(),
        "text": verdict.inner_text(),
        "svg": page.locator("svg").count(),
        "scripts": page.locator("script").count(),
    }
    page.close()
    return requested, facts


def test_demo_report_renders_offline_with_the_verdict_on_screen(browser, tmp_path):
    out = tmp_path / "demo"
    demo = subprocess.run([sys.executable, "-m", "analyzer", "demo", "--out", str(out)], capture_output=True, timeout=300)
    assert demo.returncode == 1, demo.stderr  # the demo case has an error-level finding
    html = out / "report.html"
    requested, facts = render(browser, html, tmp_path / "demo.png")
    assert requested == [html.as_uri()], requested
    assert facts["visible"] and facts["box"]["y"] + facts["box"]["height"] <= 900  # above the fold
    assert "SNI pair 6 of 6, user-serving-cert-000" in facts["text"]
    assert facts["svg"] == 2 and facts["scripts"] == 0
    assert (tmp_path / "demo.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["kubeadm_expired", "kubeadm_healthy", "kubeadm_new_ca"])
def test_fixture_case_reports_render(browser, scenario_reports, name, tmp_path):
    scenario_reports(name)  # builds the case and writes its reports
    html = scenario_reports.root / f"{name}.html"
    requested, facts = render(browser, html, tmp_path / f"{name}.png")
    assert requested == [html.as_uri()]
    assert facts["visible"]
    assert facts["text"].split()[0] in ("BROKEN", "DEGRADED", "HEALTHY", "AT-RISK")


def test_the_request_check_would_catch_a_fetch(browser, tmp_path):
    # A report that pulled a stylesheet from the network must fail the assertion above.
    page = tmp_path / "leaky.html"
    page.write_text('<html><head><link rel="stylesheet" href="https://cdn.example.invalid/x.css"></head>'
                    '<body><div id="verdict">x</div></body></html>')
    requested, _ = render(browser, page, tmp_path / "leaky.png")
    assert any(url.startswith("https://cdn.example.invalid/") for url in requested)
