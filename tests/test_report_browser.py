"""The HTML report as a person sees it: rendered in headless Chromium from a file:// URL, offline.

Debian's chromium is driven through Playwright (no browser download); the tests skip, saying why,
where either is missing. Every request the page makes is recorded: the only one allowed is the
report file itself. The layout is checked at 768, 1024 and 1400 px and printed to A4; full-page
screenshots and the PDF are written into the test's tmp directory for a person to review (the
path is printed: ``pytest -s`` shows it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WIDTHS = (768, 1024, 1400)
MAX_PRINTED_PAGES = 12
# A4 with the print stylesheet's margins (11 mm top and bottom, 10 mm left and right), in CSS px.
A4_CONTENT = (round((210 - 20) / 25.4 * 96), round((297 - 22) / 25.4 * 96))


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    demo = subprocess.run([sys.executable, "-m", "analyzer", "demo", "--out", str(out)], capture_output=True, timeout=300)
    assert demo.returncode == 1, demo.stderr  # the demo case has an error-level finding
    return out / "report.html"


def render(browser, html: Path, screenshot: Path, width: int = 1280) -> tuple[list[str], dict]:
    """Open the report offline; return every URL requested and facts about what is on screen."""
    page = browser.new_page(viewport={"width": width, "height": 900})
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


# Facts about the laid-out page, measured in the browser.
LAYOUT = r"""() => {
  const overlaps = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const figures = [...document.querySelectorAll('svg')].map(svg => {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map(t => ({text: t.textContent, title: (t.querySelector('title') || {}).textContent || '',
                                                             rect: t.getBoundingClientRect()}));
    const clipped = texts.filter(t => t.rect.left < box.left - 0.5 || t.rect.right > box.right + 0.5).map(t => t.text);
    const overlapping = [];
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++)
      if (overlaps(texts[i].rect, texts[j].rect)) overlapping.push([texts[i].text, texts[j].text]);
    return {label: svg.getAttribute('aria-label'), clipped, overlapping, texts: texts.map(t => t.text), titles: texts.map(t => t.title)};
  });
  // A command never breaks inside a word: each word of it lies on one line.
  const broken = [];
  for (const pre of document.querySelectorAll('pre.cmd')) {
    const node = pre.querySelector('code');
    const re = /\S+/g; let m;
    const text = node.textContent;
    while ((m = re.exec(text))) {
      // The text node and offset where the word starts and ends, across the word spans.
      const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
      let seen = 0, start = null, end = null, current;
      while ((current = walker.nextNode())) {
        const length = current.textContent.length;
        if (start === null && m.index < seen + length) start = [current, m.index - seen];
        if (m.index + m[0].length <= seen + length) { end = [current, m.index + m[0].length - seen]; break; }
        seen += length;
      }
      const range = document.createRange(); range.setStart(...start); range.setEnd(...end);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (lines.size > 1) broken.push(m[0]);
    }
  }
  const sections = [...document.querySelectorAll('nav.toc a')].map(a => a.getAttribute('href').slice(1));
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, height: document.documentElement.scrollHeight,
    figures, broken, sections, targets: sections.filter(id => document.getElementById(id)),
    order: [...document.querySelectorAll('body > section')].map(s => s.id),
    fixBottom: document.getElementById('fix').getBoundingClientRect().bottom + window.scrollY,
    commands: [...document.querySelectorAll('#fix pre.cmd')].map(p => p.textContent),
  };
}"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots of the demo report: {where}")
    return where


@pytest.mark.parametrize("width", WIDTHS)
def test_the_demo_report_reads_well_at(browser, demo_html, shots, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(demo_html.as_uri())
    page.screenshot(path=str(shots / f"demo-{width}.png"), full_page=True)
    facts = page.evaluate(LAYOUT)
    page.close()
    assert facts["scrollWidth"] <= facts["innerWidth"], "the page scrolls sideways"
    assert facts["sections"] == ["verdict", "fix", "components", "findings", "certificates", "trust", "timeline", "history", "evidence", "load-order"]
    assert facts["targets"] == facts["sections"]  # every entry of the contents leads somewhere
    assert facts["order"] == ["verdict-section", "fix", "components", "findings", "certificates", "trust", "timeline", "history",
                              "evidence", "load-order"]
    assert facts["broken"] == [], "a command wraps inside a word"
    assert any(command.startswith("kforensic recover ") for command in facts["commands"])
    assert not any("<" in command for command in facts["commands"]), "a placeholder is left in a command of the fix"
    figures = {figure["label"]: figure for figure in facts["figures"]}
    assert set(figures) == {"certificate validity timeline", "trust graph"}
    for figure in figures.values():
        assert figure["clipped"] == [], f"{figure['label']}: labels run out of the figure"
        assert figure["overlapping"] == [], f"{figure['label']}: labels overlap"
    # Whole labels or abbreviations with the full text on hover; never two that read the same.
    trust = figures["trust graph"]
    assert all(title for title in trust["titles"][3:])  # every node (past the three column headings) has its <title>
    nodes = trust["texts"][3:]
    assert len(nodes) == len(set(nodes))
    if width == 768:
        assert facts["fixBottom"] < 2600  # the fix is reached within three screens on a tablet


def test_the_demo_report_prints_to_a_few_a4_pages_with_the_fix_on_the_first(browser, demo_html, shots):
    page = browser.new_page(viewport={"width": A4_CONTENT[0], "height": A4_CONTENT[1]})
    page.goto(demo_html.as_uri())
    pdf = page.pdf(format="A4", print_background=True, path=str(shots / "demo.pdf"))
    page.emulate_media(media="print")
    facts = page.evaluate(LAYOUT)
    page.screenshot(path=str(shots / "demo-print-first-page.png"), clip={"x": 0, "y": 0, "width": A4_CONTENT[0], "height": A4_CONTENT[1]})
    page.close()
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    print(f"\nthe demo report prints to {pages} A4 pages")
    assert 1 <= pages <= MAX_PRINTED_PAGES
    assert facts["scrollWidth"] <= A4_CONTENT[0], "printed, something is wider than the page"
    assert facts["fixBottom"] <= A4_CONTENT[1], "the fix does not end on the first printed page"
    assert facts["broken"] == []


def test_fixture_case_reports_render_without_sideways_scroll(browser, scenario_reports, tmp_path):
    for name in ("kubeadm_expired", "kubeadm_healthy", "kubeadm_new_ca"):
        scenario_reports(name)  # builds the case and writes its reports
        html = scenario_reports.root / f"{name}.html"
        requested, facts = render(browser, html, tmp_path / f"{name}.png", width=768)
        assert requested == [html.as_uri()]
        assert facts["visible"]
        assert facts["text"].split()[0] in ("BROKEN", "DEGRADED", "HEALTHY", "AT-RISK", "UNKNOWN")
        page = browser.new_page(viewport={"width": 768, "height": 900})
        page.goto(html.as_uri())
        layout = page.evaluate(LAYOUT)
        page.close()
        assert layout["scrollWidth"] <= 768, name
        assert all(figure["clipped"] == [] and figure["overlapping"] == [] for figure in layout["figures"]), name


def test_demo_report_renders_offline_with_the_verdict_on_screen(browser, demo_html, tmp_path):
    requested, facts = render(browser, demo_html, tmp_path / "demo.png")
    assert requested == [demo_html.as_uri()], requested
    assert facts["visible"] and facts["box"]["y"] + facts["box"]["height"] <= 900  # above the fold
    assert "SNI pair 6 of 6, user-serving-cert-000" in facts["text"]
    assert facts["svg"] == 2 and facts["scripts"] == 0
    assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_the_request_check_would_catch_a_fetch(browser, tmp_path):
    # A report that pulled a stylesheet from the network must fail the assertion above.
    page = tmp_path / "leaky.html"
    page.write_text('<html><head><link rel="stylesheet" href="https://cdn.example.invalid/x.css"></head>'
                    '<body><div id="verdict">x</div></body></html>')
    requested, _ = render(browser, page, tmp_path / "leaky.png")
    assert any(url.startswith("https://cdn.example.invalid/") for url in requested)
