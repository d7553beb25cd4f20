"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched), from
the JSON report rendered with the jinja2 template in ``reports/templates`` (``analyzer/templates``
once installed). Autoescaping is on: text from the evidence is never markup. It prints to A4 with
the verdict and the fix on the first page and the inventory as a compact appendix.

The template is compiled once per process. Compiling costs more than rendering (about 0.1 s), so
jinja2's bytecode cache can keep the compiled form between runs, but only in a directory the user
names with ``KFORENSIC_CACHE_DIR``: kforensic writes nothing but the outputs asked for, and a
support engineer's home directory is not one of them. The cache is keyed by the template's source
and jinja2's version; where the directory cannot be made, the template is compiled in memory.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from jinja2 import BytecodeCache, Environment, FileSystemBytecodeCache, FunctionLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup

from analyzer.analysis.result import ScanResult
from analyzer.report.history import changed_history
from analyzer.report.json_report import build_report
from analyzer.report.steps import group_steps
from analyzer.report.timeline import legend, validity_timeline
from analyzer.report.trust import trust_graph
from analyzer.resources import read_resource

TEMPLATE = "report.html.j2"
# The table of contents, in the order a person on a case reads the page.
SECTIONS = (
    ("verdict", "Verdict"), ("fix", "Fix"), ("components", "Components"), ("findings", "Findings"), ("certificates", "Certificates"),
    ("trust", "Trust graph"), ("timeline", "Timeline"), ("history", "History"), ("evidence", "Evidence"), ("load-order", "Load order"),
)


def _template_source(name: str) -> str:
    return read_resource("templates", name)


def _bytecode_cache() -> BytecodeCache | None:
    named = os.environ.get("KFORENSIC_CACHE_DIR")
    if not named:
        return None
    directory = Path(named) / "templates"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(directory))


def inline_code(text: str) -> Markup:
    """Text whose `backticked` parts are code (the headline quotes Go's error so), escaped."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: all of it is text
        return Markup.escape(text)
    return Markup("").join(Markup("<code>%s</code>") % piece if index % 2 else Markup.escape(piece) for index, piece in enumerate(pieces))


def environment(cache: BytecodeCache | None = None) -> Environment:
    env = Environment(
        loader=FunctionLoader(_template_source),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=cache,
    )
    env.filters["inline_code"] = inline_code
    return env


@functools.cache
def template() -> Template:
    return environment(_bytecode_cache()).get_template(TEMPLATE)


def _finding_view(finding: dict[str, Any], is_fix: bool) -> dict[str, Any]:
    return {**finding, "steps": group_steps(finding["remediation"]), "is_fix": is_fix}


def render_html(result: ScanResult) -> str:
    report = build_report(result)
    lead = result.verdict.lead
    fix_index = result.findings.index(lead) if lead is not None and lead.remediation else None
    first_fix = report["findings"][fix_index] if fix_index is not None else None
    important = [_finding_view(f, index == fix_index) for index, f in enumerate(report["findings"]) if f["severity"] in ("critical", "error", "warning")]
    broken = {f.fingerprint for f in result.findings if f.severity.failing and f.fingerprint}
    # The figures are built from escaped text in timeline.py and trust.py; Markup keeps jinja2 from escaping them twice.
    timeline = validity_timeline(report["certificates"], report["reference_time"], report["verdict"])
    trust = trust_graph(report["certificates"], broken)
    unverified = [f for f in report["findings"] if f["id"].startswith("evidence.") and f["component"] != "evidence"]
    deadlines = result.deadlines.sentences(result.reference_utc) if result.deadlines is not None else ()
    notice = result.evidence_time.notice(result.reference_utc) if result.evidence_time is not None else None
    return template().render(
        report=report, fix=first_fix, fix_steps=group_steps(first_fix["remediation"]) if first_fix else [], important=important,
        timeline=Markup(timeline), trust=Markup(trust), legend=legend(result.warn_days), unverified=unverified, deadlines=deadlines,
        time_notice=notice, history=changed_history(report["history"], result.last_good), sections=SECTIONS,
    )
