"""The reports a person reads: remediation steps split into prose and commands, the Markdown summary
(rendered with two CommonMark libraries), the terminal summary, the HTML page's structure and
figures. The demo case is real evidence (analyzer/demo), scanned once for the module."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from analyzer.report.console import plain_text

from analyzer.analysis.result import EvidenceTime
from analyzer.report.history import changed_history
from analyzer.report.html import SECTIONS, render_html
from analyzer.report.markdown import MORE, code_span, escape, render_markdown
from analyzer.report.steps import group_steps, parse_step
from analyzer.report.terminal import scan_summary_view
from analyzer.report.timeline import _lanes, legend, validity_timeline
from analyzer.report.trust import trust_graph


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from analyzer.scan import scan_demo

    result, _evidence, _reports = scan_demo(tmp_path_factory.mktemp("demo"))
    return result


# -- steps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Restart the static pods: mkdir -p /root/off && mv /etc/kubernetes/manifests/*.yaml /root/off/",
     [("Restart the static pods: ", False), ("mkdir -p /root/off && mv /etc/kubernetes/manifests/*.yaml /root/off/", True)]),
    ("put a pair in /d/ (install -m 600 tls.crt tls.key /d/), or restore both files",
     [("put a pair in /d/ ", False), ("install -m 600 tls.crt tls.key /d/", True), ("Or restore both files", False)]),
    ("Re-issue it (kubeadm certs renew front-proxy-client), or add its CN",
     [("Re-issue it ", False), ("kubeadm certs renew front-proxy-client", True), ("Or add its CN", False)]),
    ("systemctl restart kubelet, and wait for /var/lib/kubelet/pki/kubelet-client-current.pem to appear",
     [("systemctl restart kubelet", True), ("And wait for /var/lib/kubelet/pki/kubelet-client-current.pem to appear", False)]),
    ("Add the SANs: kubectl get cm x -o jsonpath='{.data.a, b}' > kubeadm.yaml (or your saved config), then edit it",
     [("Add the SANs: ", False), ("kubectl get cm x -o jsonpath='{.data.a, b}' > kubeadm.yaml", True), (" (or your saved config), then edit it", False)]),
    ("rke2 certificate rotate   # re-issues every leaf", [("rke2 certificate rotate", True), ("   # re-issues every leaf", False)]),
    ("replace them with `rke2 certificate rotate-ca --path <new CA dir>`",
     [("replace them with ", False), ("rke2 certificate rotate-ca --path <new CA dir>", True)]),
    ("Point kubelet.conf at the pem: replace client-certificate-data with client-certificate: /var/lib/x.pem",
     [("Point kubelet.conf at the pem: replace client-certificate-data with client-certificate: /var/lib/x.pem", False)]),
    ("Remove kubelet.key and install the new pair by hand", [("Remove kubelet.key and install the new pair by hand", False)]),
], ids=["after-colon", "parenthesised", "parenthesised-mid-sentence", "sentence-continues", "quoted-commas", "shell-comment", "backticks", "no-command", "english-verb"])
def test_a_step_splits_into_prose_and_whole_commands(text, expected):
    assert [(part.text, part.command) for part in parse_step(text).parts] == expected


def test_an_alternative_joins_the_step_it_replaces_and_is_not_numbered():
    groups = group_steps(["Put the pair back: install -m 600 a b /d/", "Fix the source: oc replace -f x.yaml",
                          "Or stop serving it: oc patch apiserver cluster --type=json -p '[]'", "Roll out: oc patch kubeapiserver cluster"])
    assert [(g.number, len(g.alternatives)) for g in groups] == [(1, 0), (2, 1), (3, 0)]
    assert groups[1].alternatives[0].commands == ("oc patch apiserver cluster --type=json -p '[]'",)


# -- Markdown ---------------------------------------------------------------------------------------

NASTY_STEPS = (
    "Copy the pair into <that directory>/ with care: install -m 600 tls.crt tls.key /etc/kubernetes/x_y/*_z/",
    "Fix the source: oc create secret tls a|b --cert=`pwd`/tls.crt --dry-run=client -o yaml | oc replace -f -",
    "Or stop serving it: oc patch apiserver cluster --type=json -p '[{\"op\":\"remove\",\"path\":\"/spec/x/0\"}]'",
)


def _nasty(demo):
    lead = demo.verdict.lead
    nasty_lead = replace(lead, label="pair *one* <b>bold</b> | x", remediation=NASTY_STEPS)
    findings = [nasty_lead if f is lead else f for f in demo.findings]
    findings.append(replace(lead, severity=lead.severity.__class__("warning"), title="<script>alert(1)</script> & [link](http://x) `tick`",
                            detail="Its *detail*.", go_error="x509: `a` | b", remediation=(), go_version="1.27",
                            go_error_older=(("OpenShift <4.16>", "1.21", "tls: <failed> | x"),)))
    return replace(demo, findings=findings, verdict=replace(demo.verdict, lead=nasty_lead, headline=demo.verdict.headline + " <img src=x>"))


def _fenced_and_code(tokens) -> list[str]:
    found = []
    for token in tokens:
        if token.type in ("fence", "code_block", "code_inline"):
            found.append(token.content.rstrip("\n"))
        found += _fenced_and_code(token.children or [])
    return found


def _html_tokens(tokens) -> list[str]:
    found = [t.content for t in tokens if t.type in ("html_block", "html_inline")]
    for token in tokens:
        found += _html_tokens(token.children or [])
    return found


@pytest.mark.parametrize("case", ["demo", "nasty"])
def test_the_markdown_renders_with_no_raw_html_and_every_command_intact(demo, case):
    import commonmark
    from markdown_it import MarkdownIt

    result = demo if case == "demo" else _nasty(demo)
    text = render_markdown(result)
    commands = [c for step in group_steps(result.verdict.lead.remediation) for s in (step.step, *step.alternatives) for c in s.commands]
    assert commands
    for parser in (MarkdownIt("commonmark"), MarkdownIt("gfm-like") if _has_linkify() else MarkdownIt("commonmark").enable("table")):
        tokens = parser.parse(text)
        assert _html_tokens(tokens) == [], "raw HTML reaches the rendered page"
        code = _fenced_and_code(tokens)
        assert all(command in code for command in commands), "a command is not one code block"
    rendered = commonmark.commonmark(text)
    # The only tags are the ones Markdown itself makes; the evidence's text arrives escaped.
    tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", rendered))
    assert tags <= {"p", "strong", "em", "code", "pre", "ol", "ul", "li", "blockquote"}, tags
    blocks = [block.rstrip("\n") for block in _commonmark_code(rendered)]
    assert all(command in blocks for command in commands), "commonmark: a command is not one code block"
    if case == "nasty":
        assert "&lt;that directory&gt;" in rendered and "&lt;script&gt;" in rendered and "&lt;img src=x&gt;" in rendered


def _has_linkify() -> bool:
    try:
        import linkify_it  # noqa: F401
    except ImportError:
        return False
    return True


def _commonmark_code(rendered: str) -> list[str]:
    from html import unescape

    return [unescape(block) for block in re.findall(r"<code[^>]*>(.*?)</code>", rendered, re.DOTALL)]


def test_the_markdown_is_cut_at_a_whole_block_and_says_where_the_rest_is(demo):
    full = render_markdown(demo)
    assert MORE not in full
    short = render_markdown(demo, max_chars=900)
    assert len(short) <= 900 + 1 and short.rstrip().endswith(MORE)
    assert short.count("```") % 2 == 0  # never cut inside a command


def test_markdown_escapes_and_code_spans():
    assert escape("<that directory>/*x*|y") == "\\<that directory\\>/\\*x\\*\\|y"
    assert escape("- not a list") == "\\- not a list"
    assert code_span("a `b` c") == "``a `b` c``"
    assert code_span("`x`") == "`` `x` ``"


# -- terminal -------------------------------------------------------------------------------------


def _terminal(result, **options) -> str:
    return plain_text(scan_summary_view(result, **options))


def test_the_terminal_shows_the_fix_each_reason_and_where_reports_went(demo):
    text = _terminal(demo, reports=[("html", "/tmp/case/report.html"), ("json", "/tmp/case/report.json")])
    assert "Fix first: SNI pair 6 of 6, user-serving-cert-000" in text
    # Every command of the fix on a line of its own, whole.
    for group in group_steps(demo.verdict.lead.remediation):
        for step in (group.step, *group.alternatives):
            for command in step.commands:
                assert any(line.strip() == f"$ {command}" for line in text.splitlines()), command
    assert "alternative to step 3:" in text
    assert "html report written to /tmp/case/report.html" in text and "json report written to /tmp/case/report.json" in text
    assert "the PRIVATE KEY block is empty" in text or "tls.key" in text  # the finding's reason, not its title alone


def test_the_terminal_never_points_at_a_report_that_was_not_written(demo):
    many = replace(demo, findings=[*demo.findings, *[replace(demo.findings[0], title=f"warning {n}", severity=demo.findings[0].severity.__class__("warning"))
                                                     for n in range(12)]])
    text = _terminal(many)
    assert "more findings (-v shows them" in text and "report written" not in text and "in the JSON/HTML report" not in text
    assert "more findings in /x/r.html" in _terminal(many, reports=[("html", "/x/r.html")])


def test_the_terminal_says_when_the_reference_time_is_far_from_the_evidence(demo):
    assert demo.evidence_time is not None and "add --at" not in _terminal(demo)  # the demo is looked at two days later
    later = replace(demo, reference_utc=demo.reference_utc + timedelta(days=540))
    text = _terminal(later)
    days = (later.reference_utc - demo.evidence_time.time_utc).days
    assert f"add --at {demo.evidence_time.time_utc:%Y-%m-%dT%H:%M:%SZ}" in text and f"{days} days after the evidence's own time" in text
    assert EvidenceTime(demo.reference_utc, "x").notice(demo.reference_utc - timedelta(days=3)) is not None  # before the evidence


# -- HTML -------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.toc: list[str] = []
        self.sections: list[str] = []
        self.alternatives = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"] or "")
        if tag == "a" and (attributes.get("href") or "").startswith("#"):
            self.toc.append(attributes["href"][1:])
        if tag == "section":
            self.sections.append(attributes.get("id") or "")
        if attributes.get("class") == "alt-tag":
            self.alternatives += 1


def test_the_html_page_has_contents_sections_in_reading_order_and_commands_in_blocks(demo):
    page = render_html(demo)
    parsed = _Page()
    parsed.feed(page)
    assert [anchor for anchor, _ in SECTIONS] == parsed.toc[: len(SECTIONS)]
    assert all(anchor in parsed.ids for anchor in parsed.toc)
    assert parsed.sections == ["verdict-section", "fix", "components", "findings", "certificates", "trust", "timeline", "history", "evidence", "load-order"]
    fix = page[page.index('id="fix"'): page.index('id="components"')]
    blocks = [unescape(re.sub(r"<[^>]+>", "", block)) for block in re.findall(r'<pre class="cmd"><code>(.*?)</code></pre>', fix)]
    assert blocks[0].startswith("kforensic recover snapshot_2025-06-01_115500.db openshift-kube-apiserver/user-serving-cert-000 --out ")
    assert "&lt;that directory&gt;" not in page  # the placeholder became the real directory
    assert "install -m 600 tls.crt tls.key /etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/user-serving-cert-000/" in blocks
    # Each word in a span that does not wrap: the block breaks only at spaces.
    assert '<span class="w">./recovered-user-serving-cert-000</span>' in fix
    assert parsed.alternatives == 1 and "Alternative to step 3" in fix


def test_the_history_lists_only_changed_objects_and_marks_the_last_working_pair(demo):
    from analyzer.report.json_report import build_report

    rows = build_report(demo)["history"]
    history = changed_history(rows, demo.last_good)
    assert [o.name for o in history.changed] == ["openshift-config/api-cert", "openshift-kube-apiserver/user-serving-cert-000"]
    assert history.unchanged == len({r["object"] for r in rows}) - 2
    serving = history.changed[1]
    assert [(r.revision, r.last_good) for r in serving.revisions] == [(2, True), (3, False)]
    assert all(r.manager and r.time for r in serving.revisions)
    assert {(v.key, v.changed) for v in serving.revisions[-1].values} == {("tls.crt", False), ("tls.key", True)}
    page = render_html(demo)
    history_html = page[page.index('id="history"'): page.index('id="evidence"')]
    assert history_html.count("<h3") == 2 and "last working pair" in history_html


def test_the_timeline_legend_states_the_rule_of_the_check(demo):
    words = " ".join(text for _, text in legend(30))
    assert "within 30 days of its end" in words and "shorter than 60 days" in words and "last 1/5 of its life" in words


def test_marker_labels_never_share_a_lane_where_they_overlap():
    assert _lanes([(0, 100), (50, 150), (160, 200), (90, 120)]) == [0, 1, 0, 2]


def test_the_timeline_focus_window_shows_short_lives_and_the_deadlines():
    from analyzer.report.json_report import build_report  # noqa: F401 - the shapes below are the report's

    certificates = [
        {"common_name": "leaf", "subject": "CN=leaf", "not_before": "2025-05-15T00:00:00Z", "not_after": "2025-06-14T00:00:00Z", "state": "valid", "used_by": ["x"], "fingerprint_sha256": "aa"},
        {"common_name": "ca", "subject": "CN=ca", "not_before": "2020-01-01T00:00:00Z", "not_after": "2030-01-01T00:00:00Z", "state": "valid", "used_by": [], "fingerprint_sha256": "bb"},
    ]
    verdict = {"safe_shutdown": {"time": "2025-06-24T00:00:00Z", "passed": False}, "next_outage": {"time": "2025-06-02T00:00:00Z", "passed": False}}
    svg = validity_timeline(certificates, "2025-06-01T12:00:00Z", verdict)
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)" height="\d+" fill="#1a7f37" rx="2">', svg)]  # focus bars
    assert widths and widths[0] > 40  # a 30-day life is a bar, not a sliver
    assert "reference 2025-06-01" in svg and "next outage 2025-06-02" in svg and "safe-shutdown deadline 2025-06-24" in svg
    # A certificate that expired weeks before the reference time is a red bar in the focus window too.
    expired = [{**certificates[0], "not_before": "2025-02-01T00:00:00Z", "not_after": "2025-04-01T00:00:00Z", "state": "expired"}]
    svg = validity_timeline(expired, "2025-06-01T12:00:00Z", {"safe_shutdown": None, "next_outage": None})
    assert re.search(r'<rect x="[\d.]+" y="\d+" width="[\d.]+" height="\d+" fill="#cf222e" rx="2">', svg)  # the focus bar
    assert "focus: 2025-03-17 to" in svg


def test_the_trust_graph_draws_every_certificate_once_with_its_issuer_and_unique_labels():
    def cert(cn, issuer, fingerprint, not_after="2026-01-01T00:00:00Z", is_ca=False, used_by=("kubelet on master-0: client",)):
        return {"common_name": cn, "subject": f"CN={cn}", "issuer": f"CN={issuer}", "fingerprint_sha256": fingerprint, "is_ca": is_ca,
                "not_before": "2025-01-01T00:00:00Z", "not_after": not_after, "state": "valid", "used_by": list(used_by)}

    long_name = "openshift-kube-apiserver-operator_aggregator-client-signer@1717200000"
    certificates = [
        cert(long_name, long_name, "ca1", is_ca=True, used_by=()),
        cert("system:node:master-0", long_name, "a1", "2025-07-01T00:00:00Z"),
        cert("system:node:master-0", long_name, "a2", "2025-08-01T00:00:00Z"),
        cert("api.example.com", "External CA", "b1"),
    ]
    svg = trust_graph(certificates, broken={"b1"})
    labels = re.findall(r"<text [^>]*font-size=\"11\"[^>]*><title>[^<]*</title>(.*?)</text>", svg)
    texts = [re.sub(r"<[^>]+>", "", label) for label in labels]
    assert len(texts) == len(set(texts)) == 6  # two issuers, three certificates, and the one user they share
    assert sum("system:node:master-0" in t for t in texts) == 2 and any("2025-07-01" in t for t in texts)
    assert any("External CA (not in evidence)" in t for t in texts)  # the broken certificate keeps its issuer edge
    assert svg.count('stroke-dasharray="5 3"') == 2  # its issuer edge and its user edge, red
    assert any(long_name[:20] in t for t in texts) and f"<title>CN={long_name}" in svg


def test_the_template_is_compiled_once_and_then_loaded_from_the_cache_the_user_names(tmp_path, monkeypatch):
    from analyzer.report import html

    monkeypatch.delenv("KFORENSIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert html._bytecode_cache() is None  # nothing written unless asked: compiled in memory
    html.environment(html._bytecode_cache()).get_template(html.TEMPLATE)
    assert not (tmp_path / "home").exists() and not (tmp_path / "xdg").exists()

    monkeypatch.setenv("KFORENSIC_CACHE_DIR", str(tmp_path / "cache"))
    first = html.environment(html._bytecode_cache())
    first.get_template(html.TEMPLATE)
    assert [p.name for p in (tmp_path / "cache" / "templates").iterdir()]  # the compiled form, kept
    assert oct((tmp_path / "cache" / "templates").stat().st_mode & 0o777) == "0o700"
    second = html.environment(html._bytecode_cache())

    def compile_again(*args, **kwargs):
        raise AssertionError("compiled a second time")

    monkeypatch.setattr(second, "compile", compile_again)
    assert second.get_template(html.TEMPLATE).render  # loaded from the cache, not compiled


# -- the template compiled once per release (analyzer/report/html_compiled.py) ---------------------


def test_the_committed_compiled_template_is_the_current_template():
    import jinja2

    from analyzer.report import html, html_compiled

    current = html.fingerprint(html.environment(), html._template_source(html.TEMPLATE))
    assert html_compiled.FINGERPRINT == current, "run `python tools/compile_template.py` and commit analyzer/report/html_compiled.py"
    if html_compiled.JINJA2_VERSION != jinja2.__version__:
        pytest.skip(f"compiled by jinja2 {html_compiled.JINJA2_VERSION}, this is {jinja2.__version__}: kforensic compiles in memory here")
    committed = Path(html_compiled.__file__).read_text(encoding="utf-8")
    assert committed == html.compiled_module_text(), "run `python tools/compile_template.py`: the compiled template is stale"


def test_the_compiled_template_is_used_and_renders_what_compiling_renders(demo, monkeypatch):
    import jinja2

    from analyzer.report import html, html_compiled

    if html_compiled.JINJA2_VERSION != jinja2.__version__:
        pytest.skip(f"compiled by jinja2 {html_compiled.JINJA2_VERSION}, this is {jinja2.__version__}")
    monkeypatch.delenv("KFORENSIC_CACHE_DIR", raising=False)
    html.template.cache_clear()
    compiled_at_run_time = []
    real_compile = jinja2.Environment.compile

    def counting_compile(self, *args, **kwargs):
        compiled_at_run_time.append(args)
        return real_compile(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting_compile)
    shipped = render_html(demo)
    assert compiled_at_run_time == []  # no compile on the way to a report
    monkeypatch.setattr(html, "_precompiled", lambda env: None)
    html.template.cache_clear()
    assert render_html(demo) == shipped and len(compiled_at_run_time) == 1
    html.template.cache_clear()


def test_a_stale_compiled_template_is_not_used(demo, monkeypatch):
    from analyzer.report import html

    source = html._template_source(html.TEMPLATE)
    edited = source.replace("</body>", "<!-- edited after compiling -->\n</body>")
    assert edited != source
    monkeypatch.setattr(html, "_template_source", lambda name: edited)
    assert html._precompiled(html.environment()) is None
    html.template.cache_clear()
    try:
        assert "<!-- edited after compiling -->" in render_html(demo)  # the template as it is now, compiled in memory
    finally:
        html.template.cache_clear()


def test_a_compiled_template_naming_a_helper_this_jinja2_lacks_is_not_used(monkeypatch):
    # The shipped module imports jinja2.runtime's helpers of the release that compiled it.
    import jinja2.runtime

    from analyzer.report import html

    monkeypatch.delattr(jinja2.runtime, "str_join")
    assert html._precompiled(html.environment()) is None  # so template() compiles in memory with that jinja2


def test_the_cache_directory_is_not_made_when_the_shipped_compiled_template_fits(tmp_path, monkeypatch):
    import jinja2

    from analyzer.report import html, html_compiled

    if html_compiled.JINJA2_VERSION != jinja2.__version__:
        pytest.skip(f"compiled by jinja2 {html_compiled.JINJA2_VERSION}, this is {jinja2.__version__}")
    monkeypatch.setenv("KFORENSIC_CACHE_DIR", str(tmp_path / "cache"))
    html.template.cache_clear()
    try:
        assert html.template().render
        assert not (tmp_path / "cache").exists()
    finally:
        html.template.cache_clear()
