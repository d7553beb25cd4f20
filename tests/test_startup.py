"""Start-up: nothing on the way to a scan imports pydantic (issue 16 item 4).

typer 0.29 imports it to coerce every option that is not a flag; pyproject pins the typer below it.
The scan runs for real, in a process of its own, and Python's own import log is read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from analyzer.demo import REFERENCE_TIME, evidence_paths

REPO = Path(__file__).resolve().parent.parent


def test_a_scan_never_imports_pydantic(tmp_path):
    snapshot = next(path for path in evidence_paths() if path.suffix == ".db")
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "analyzer", "scan", str(snapshot), "--at", REFERENCE_TIME,
         "--json", str(tmp_path / "report.json")],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300,
    )
    assert (tmp_path / "report.json").exists(), result.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "typer" in imported  # the log is read: the CLI's own framework is in it
    assert not [name for name in imported if name.split(".")[0] == "pydantic"]
