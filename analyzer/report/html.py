"""The HTML report: one self-contained file (inline CSS, no script, nothing fetched), rendered
with jinja2 from ``reports/templates``. Autoescaping is on: evidence text is never markup."""

from __future__ import annotations

from importlib.resources import files

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape

from analyzer.report.json_report import build_report
from analyzer.scan import ScanResult

TEMPLATE = "report.html.j2"


def _template_source(name: str) -> str:
    return (files("reports") / "templates" / name).read_text(encoding="utf-8")


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
    return environment().get_template(TEMPLATE).render(report=report)
