"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched), from
the JSON report rendered with jinja2 templates in ``reports/templates`` (``analyzer/templates`` once
installed). Autoescaping is on: text from the evidence is never markup. It prints to PDF as it
shows."""

from __future__ import annotations

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from analyzer.report.json_report import build_report
from analyzer.report.svg import trust_graph, validity_timeline
from analyzer.analysis.result import ScanResult
from analyzer.resources import read_resource

TEMPLATE = "report.html.j2"


def _template_source(name: str) -> str:
    return read_resource("templates", name)


def environment() -> Environment:
    return Environment(
        loader=FunctionLoader(_template_source),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(result: ScanResult) -> str:
    report = build_report(result)
    lead = result.verdict.lead
    first_fix = report["findings"][result.findings.index(lead)] if lead is not None and lead.remediation else None
    # The figures are built from escaped text in svg.py; Markup keeps jinja2 from escaping them twice.
    timeline = validity_timeline(report["certificates"], report["reference_time"], report["verdict"]["next_expiry"])
    trust = trust_graph(report["certificates"], result.findings)
    unverified = [f for f in report["findings"] if f["id"].startswith("evidence.") and f["component"] != "evidence"]
    deadlines = result.deadlines.sentences(result.reference_utc) if result.deadlines is not None else ()
    return environment().get_template(TEMPLATE).render(
        report=report, fix=first_fix, timeline=Markup(timeline), trust=Markup(trust), unverified=unverified, deadlines=deadlines
    )
