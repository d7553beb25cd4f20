"""Which renderer writes which output, and writing them only once everything rendered."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path

from analyzer.errors import UsageError
from analyzer.report.json_report import render_json
from analyzer.report.markdown import render_markdown
from analyzer.analysis.result import ScanResult


class OutputFormat(StrEnum):
    JSON = "json"
    HTML = "html"
    MARKDOWN = "markdown"


def render_html(result: ScanResult) -> str:
    from analyzer.report.html import render_html as render  # jinja2 is imported only when an HTML report is asked for

    return render(result)


RENDERERS: dict[OutputFormat, Callable[[ScanResult], str]] = {
    OutputFormat.JSON: render_json,
    OutputFormat.HTML: render_html,
    OutputFormat.MARKDOWN: render_markdown,
}


def render_outputs(result: ScanResult, requested: Mapping[OutputFormat, Path | None]) -> list[tuple[Path, str]]:
    """Render every requested output before any is written: a failing renderer leaves no half-set."""
    return [(path, RENDERERS[kind](result)) for kind, path in requested.items() if path is not None]


def write_outputs(rendered: list[tuple[Path, str]]) -> None:
    for path, text in rendered:
        if str(path) == "-":
            sys.stdout.write(text)
            continue
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as err:
            raise UsageError(f"{path}: cannot write the report: {err.strerror or err}") from None
