"""Rewrite analyzer/report/html_compiled.py, jinja2's compiled form of the HTML report's template.

A developer's tool, like tools/generate_pb.py. Run ``python tools/compile_template.py`` after
editing reports/templates/report.html.j2 or the environment in analyzer/report/html.py, and commit
the result; tests/test_report_text.py fails while the committed module is stale, and until then
kforensic compiles the template on every run (analyzer/report/html.py says why and how).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analyzer.report.html import compiled_module_text  # noqa: E402 - after the checkout is on the path

TARGET = REPO / "analyzer" / "report" / "html_compiled.py"

if __name__ == "__main__":
    TARGET.write_text(compiled_module_text(), encoding="utf-8")
    print(TARGET.relative_to(REPO))
