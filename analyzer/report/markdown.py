"""A short Markdown summary, sized to paste into a support case comment."""

from __future__ import annotations

from analyzer.model.findings import Finding, Severity
from analyzer.analysis.result import InputRecord, ScanResult
from analyzer.reftime import format_utc

MAX_FINDINGS = 8


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: ScanResult) -> str:
    verdict = result.verdict
    lines = [
        f"**kforensic verdict ({verdict.status})**: {verdict.headline}",
        "",
        f"Reference time {format_utc(result.reference_utc)}, kforensic {result.tool_version}"
        + (" — **partial evidence**" if result.partial else "") + ".",
        "",
        *([f"- {line}" for line in result.deadlines.sentences(result.reference_utc)] + [""] if result.deadlines else []),
        "| component | node | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {c.component} | {c.node or ''} | {_cell(c.summary)} |" for c in verdict.components]
    important = [f for f in result.findings if f.severity in (Severity.CRITICAL, Severity.ERROR, Severity.WARNING)]
    if important:
        lines += ["", "| severity | finding | Go error | recovery |", "|---|---|---|---|"]
        for f in important[:MAX_FINDINGS]:
            lines.append(f"| {f.severity.value} | {_cell(f.title)} | {_go_error_cell(f)} | {f.recovery or ''} |")
        if len(important) > MAX_FINDINGS:
            lines.append(f"| | … and {len(important) - MAX_FINDINGS} more in the full report | | |")
    top = verdict.lead
    if top is not None and top.remediation:
        lines += ["", f"**Fix ({top.label})**:", ""]
        lines += [f"{i}. {' '.join(step.split())}" for i, step in enumerate(top.remediation, start=1)]
    lines += ["", "Evidence: " + ", ".join(f"`{r.path}`" + _provenance(r) for r in result.inputs)]
    return "\n".join(lines) + "\n"


def _provenance(record: InputRecord) -> str:
    if record.etcd is not None:
        return f" (live etcd, revision {record.revision}, cluster {record.etcd['cluster_id']})"
    return f" (sha256 {record.sha256[:12]}…)" if record.sha256 else ""


def _go_error_cell(f: Finding) -> str:
    """Go's text, the Go release it is worded for, and an older release's words where the evidence names one."""
    if not f.go_error:
        return ""
    cell = f"`{_cell(f.go_error)}`" + (f" (Go {f.go_version})" if f.go_version else "")
    for release, go, text in f.go_error_older:
        cell += f"<br>{_cell(release)}, Go {go}: `{_cell(text)}`"
    return cell
