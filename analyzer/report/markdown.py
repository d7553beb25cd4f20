"""A short Markdown summary, sized to paste into a support case comment.

It renders as intended in CommonMark and GitHub-flavoured Markdown: every command is in a fenced
code block, Go's errors and paths in code spans, and every other text from the evidence is
escaped, so that nothing in it (a ``<placeholder>``, an ``*``, a ``|``) becomes markup or a raw
HTML tag. It is cut to ``MAX_CHARS`` characters at a whole block, never inside a command, and then
says that the rest is in the attached report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from analyzer.analysis.result import InputRecord, ScanResult
from analyzer.model.findings import Finding, Severity
from analyzer.reftime import format_utc
from analyzer.report.steps import Step, group_steps

# Support portals cut comments at about 32,000 characters (GitHub at 65,536); a summary should be
# read in a minute: the full detail is in the attached HTML/JSON report.
MAX_CHARS = 8000
MAX_FINDINGS = 8
MORE = "_More in the attached report (the HTML or JSON report written by the same scan)._"
# Every ASCII punctuation character CommonMark may read as syntax (spec §2.4: any of them may be
# backslash-escaped); "&" too, so that no entity is decoded.
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


def escape(text: str) -> str:
    """Text from the evidence as literal Markdown: one line, every syntax character escaped."""
    escaped = _SPECIAL.sub(r"\\\1", " ".join(text.split()))
    # A line starting with "-", "1." or "=" could open a list or a heading underline.
    return re.sub(r"^([-+=]|\d+[.)])", r"\\\1", escaped)


def inline(text: str) -> str:
    """Text whose `backticked` parts are code (the headline quotes Go's error so): those become
    code spans, the rest is escaped."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: all of it is text
        return escape(text)
    return "".join(code_span(piece) if index % 2 else _spaced(piece) for index, piece in enumerate(pieces) if piece)


def _spaced(text: str) -> str:
    # escape() trims; the spaces around a code span separate it from the words beside it.
    return (" " if text[:1].isspace() else "") + escape(text) + (" " if text[-1:].isspace() else "")


def code_span(text: str) -> str:
    """Text as a code span that holds any backticks it contains (CommonMark §6.1)."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    # Inside a GFM table a pipe ends the cell even in a code span: escaped, it does not.
    return text.replace("|", "\\|")


def fenced(command: str, indent: str) -> list[str]:
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", command)), default=0) + 1)
    return [f"{indent}{fence}sh", f"{indent}{command}", f"{indent}{fence}"]


def _step_lines(step: Step, indent: str) -> list[str]:
    """A step's prose as a paragraph and each command as a fenced block, at ``indent``."""
    lines: list[str] = []
    prose: list[str] = []
    for part in step.parts:
        if part.command:
            if prose:
                lines += [indent + escape(" ".join(prose)), ""]
                prose = []
            lines += [*fenced(part.text, indent), ""]
        else:
            prose.append(part.text)
    if prose and " ".join(prose).strip(" ,.;:()"):
        lines += [indent + escape(" ".join(prose)), ""]
    return lines


def steps_markdown(remediation: Iterable[str]) -> list[str]:
    lines: list[str] = []
    for group in group_steps(remediation):
        marker = f"{group.number}. "
        indent = " " * len(marker)
        body = _step_lines(group.step, indent)
        lines += [marker + body[0][len(indent):], *body[1:]] if body else [marker.rstrip(), ""]
        for alternative in group.alternatives:
            lines += [f"{indent}*Alternative to step {group.number}:*", ""]
            lines += _step_lines(alternative, indent)
    return lines


def _findings(findings: list[Finding]) -> list[str]:
    lines = ["**Findings**", "", "| severity | finding | Go error | on restart |", "|---|---|---|---|"]
    for f in findings[:MAX_FINDINGS]:
        go = _cell(code_span(f.go_error)) if f.go_error else ""
        if go and f.go_version:  # the Go release these words are, and older releases' words the evidence names
            # "; " and not <br> between the wordings: no raw HTML in the summary (it is pasted where HTML is not rendered).
            go += f" (Go {f.go_version})" + "".join(f"; {_cell(escape(release))}, Go {version}: {_cell(code_span(text))}"
                                                    for release, version, text in f.go_error_older)
        lines.append(f"| {f.severity.value} | {_cell(escape(f.title))} | {go} | {escape(f.recovery or '')} |")
    if len(findings) > MAX_FINDINGS:
        lines += ["", f"{len(findings) - MAX_FINDINGS} more findings in the attached report."]
    return lines


def _provenance(record: InputRecord) -> str:
    if record.etcd is not None:
        return f" (live etcd, revision {record.revision}, cluster {escape(str(record.etcd['cluster_id']))})"
    return f" (sha256 {record.sha256[:12]}…)" if record.sha256 else ""


def render_markdown(result: ScanResult, max_chars: int = MAX_CHARS) -> str:
    verdict = result.verdict
    blocks: list[list[str]] = [[f"**kforensic verdict: {verdict.status}**. {inline(verdict.headline)}"]]
    meta = f"Reference time {format_utc(result.reference_utc)}, kforensic {result.tool_version}" + (", **partial evidence**" if result.partial else "") + "."
    blocks.append([meta])
    notice = result.evidence_time.notice(result.reference_utc) if result.evidence_time is not None else None
    if notice:
        blocks.append(["> " + escape(notice)])
    if result.deadlines is not None:
        blocks.append([f"- {escape(line)}" for line in result.deadlines.sentences(result.reference_utc)])
    top = verdict.lead
    if top is not None and top.remediation:
        blocks.append([f"**Fix first: {escape(top.label)}**", "", *steps_markdown(top.remediation)])
    if verdict.components:
        blocks.append(["| component | node | verdict |", "|---|---|---|",
                       *(f"| {escape(c.component)} | {escape(c.node or '')} | {_cell(escape(c.summary))} |" for c in verdict.components)])
    important = [f for f in result.findings if f.severity in (Severity.CRITICAL, Severity.ERROR, Severity.WARNING)]
    if important:
        blocks.append(_findings(important))
    blocks.append(["Evidence: " + ", ".join(code_span(r.path) + _provenance(r) for r in result.inputs)])
    out: list[str] = []
    for index, block in enumerate(blocks):
        text = "\n".join(block).rstrip("\n")
        # Room for this block and, should anything after it be cut, the closing line.
        room = max_chars - len(MORE) - 2 if index < len(blocks) - 1 else max_chars
        if out and len("\n\n".join([*out, text])) > room:
            out.append(MORE)
            break
        out.append(text)
    return "\n\n".join(out) + "\n"
