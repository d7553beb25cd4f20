"""What a person sees in the terminal: plain tables (analyzer/report/console.py), no analysis."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from analyzer.analysis.result import ScanResult
from analyzer.evidence.etcd import Integrity
from analyzer.reftime import format_utc
from analyzer.report.console import Group, Renderable, Table, Text
from analyzer.report.steps import Step, group_steps

if TYPE_CHECKING:  # annotations only: the scan's summary must not import grpc (views.live_summary)
    from analyzer.views.live_summary import LiveSummary
    from analyzer.views.records import KeyRecord
    from analyzer.views.snapshot_summary import SnapshotSummary


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _facts_table(rows: Iterable[tuple[str, str | Text]]) -> Table:
    table = Table.grid()
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


def snapshot_summary_view(summary: SnapshotSummary) -> Group:
    integrity_style = {Integrity.OK: "green", Integrity.MISMATCH: "bold red", Integrity.ABSENT: "yellow", Integrity.UNCHECKED: "yellow"}
    compaction = summary.compaction
    rows: list[tuple[str, str | Text]] = [
        ("snapshot", summary.source),
        ("integrity", Text(summary.integrity.describe(), style=integrity_style[summary.integrity.status])),
        ("revision", f"{summary.revision}" + (f" (store revision {summary.store_revision})" if summary.store_revision != summary.revision else "")),
        ("live keys", f"{summary.live_keys}"),
        ("total keys", f"{summary.total_keys} (entries in all buckets, as etcdutl counts)"),
        ("events", f"{summary.events} revisions stored, {summary.tombstones} of them deletes"),
        ("size", f"{format_bytes(summary.size)} in use ({summary.size} bytes), file {format_bytes(summary.file_size)}"),
        ("pages", f"{summary.page_size} bytes, {summary.byte_order}-endian, txid {summary.txid}"),
        ("freelist", _freelist_line(summary)),
        (
            "compaction",
            "none recorded"
            if compaction.finished is None and compaction.scheduled is None
            else f"finished at {compaction.finished}, scheduled at {compaction.scheduled}"
            + (" (interrupted)" if compaction.interrupted else "")
            + "; history before it is gone",
        ),
        ("cluster version", summary.cluster_version or "unknown"),
        ("consistent index", str(summary.consistent_index) if summary.consistent_index is not None else "unknown"),
    ]
    for member in summary.members:
        role = " (learner)" if member.is_learner else ""
        rows.append(("member", f"{member.name or '(unnamed)'} id {member.id}{role} peers {', '.join(member.peer_urls)}"))
    parts: list[Renderable] = [_facts_table(rows)]

    if summary.resources:
        parts.append(_resources_table(summary.resources))

    if summary.salvage is not None:
        salvage = summary.salvage
        pages = ", ".join(str(p) for p in salvage.pages[:20]) + (" …" if len(salvage.pages) > 20 else "")
        parts.append(
            Text(
                f"salvage: {salvage.reachable} records reachable through the tree, {salvage.recovered} more "
                f"recovered by scanning pages" + (f" (from pages {pages})" if salvage.pages else ""),
                style="cyan",
            )
        )
    if summary.freelist.damage:
        parts.append(Text("INCONSISTENT FREELIST: bbolt's check fails on this file (etcd's next write, or its opening "
                          "of the file, depends on it); the tree was read without it", style="bold red"))
        for damage in summary.freelist.damage:
            parts.append(Text(f"  freelist: {damage}", style="red"))
    if summary.damage:
        parts.append(Text("PARTIAL: the snapshot is damaged; everything above is a lower bound", style="bold red"))
        for damage in summary.damage[:50]:
            parts.append(Text(f"  damage: {damage}", style="red"))
        if len(summary.damage) > 50:
            parts.append(Text(f"  … and {len(summary.damage) - 50} more", style="red"))
    return Group(*parts)


def _history_line(compaction_revision: int | None) -> str:
    if compaction_revision is None:
        return "none: history is readable back to revision 1"
    return f"at revision {compaction_revision}; history before it is gone"


def _resources_table(resources: dict[str, int]) -> Table:
    table = Table(title="live keys per resource")
    table.add_column("resource")
    table.add_column("keys", justify="right")
    for prefix, count in sorted(resources.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(prefix, str(count))
    return table


def live_summary_view(summary: LiveSummary) -> Group:
    rows: list[tuple[str, str | Text]] = [
        ("etcd", Text(f"{summary.endpoint} (live, read-only)", style="cyan")),
        ("cluster", f"id {summary.cluster_id}, answered by member {summary.member_id}, etcd {summary.server_version or 'unknown'}"),
        ("revision", f"{summary.revision}" + (f" (current {summary.current_revision})" if summary.current_revision != summary.revision else "")),
        ("live keys", f"{summary.live_keys}"),
        ("size", f"{format_bytes(summary.db_size)} database" if summary.db_size is not None else "unknown"),
        ("compaction", _history_line(summary.compaction.finished)),
    ]
    for member in summary.members:
        rows.append(("member", f"{member.name or '(unnamed)'} id {member.id} peers {', '.join(member.peer_urls)} clients {', '.join(member.client_urls)}"))
    for refused in summary.refused:
        rows.append(("not read", Text(refused, style="yellow")))
    parts: list[Renderable] = [_facts_table(rows)]
    if summary.resources:
        parts.append(_resources_table(summary.resources))
    for damage in summary.damage[:50]:
        parts.append(Text(f"  damage: {damage}", style="red"))
    return Group(*parts)


def _freelist_line(summary: SnapshotSummary) -> Text:
    freelist = summary.freelist
    if not freelist.synced:
        return Text("not stored (NoFreelistSync): bbolt rebuilds it from the tree", style="dim")
    if freelist.damage:
        return Text(f"INCONSISTENT: {len(freelist.damage)} problems (below)", style="bold red")
    checked = "" if freelist.checked_unreachable else "; unreachable pages not checked (the tree is damaged)"
    return Text(f"{freelist.free_pages} free pages, consistent with the tree{checked}", style="green" if not checked else "yellow")


def _key_row(item: KeyRecord, *, history: bool, wide: bool) -> list[str]:
    record = item.record
    row = [str(record.revision), "delete" if record.deleted else "put"] if history else []
    row += [
        str(record.create_revision or ""),
        str(record.mod_revision or ""),
        str(record.version or ""),
        str(len(record.value)) if not record.deleted else "",
        (item.kind.value if item.kind else "") + (" (salvaged)" if record.salvaged else ""),
        item.object_kind or (item.decoded.error or "" if item.decoded else ""),
    ]
    if wide:
        row += [str(record.lease or ""), (item.decoded.encryption or "") if item.decoded else ""]
    return row


def _key_columns(*, history: bool, wide: bool) -> list[str]:
    columns = ["REVISION", "EVENT"] if history else []
    columns += ["CREATE", "MOD", "VER", "SIZE", "KIND", "OBJECT"]
    return columns + ["LEASE", "ENCRYPTION"] if wide else columns


def key_table(records: Sequence[KeyRecord], *, history: bool, wide: bool = False, width: int | None = None) -> Table | Group:
    """Keys with their revisions; a key is never wrapped (it is copied into the next command).

    When the widest key leaves no room for the other columns in ``width``, each key goes on a line
    of its own with its facts on the line below.
    """
    columns = _key_columns(history=history, wide=wide)
    rows = [(item.record.key_text, _key_row(item, history=history, wide=wide)) for item in records]
    longest = max((len(key) for key, _ in rows), default=3)
    others = sum(max([len(column)] + [len(row[i]) for _, row in rows]) + 2 for i, column in enumerate(columns))
    if width is not None and longest + 1 + others > width:
        lines: list[Text] = []
        for key, row in rows:
            lines.append(Text(key, style="bold"))
            lines.append(Text("    " + "  ".join(f"{c.lower()}={v}" for c, v in zip(columns, row, strict=True) if v)))
        return Group(*lines)
    table = Table()
    table.add_column("KEY", no_wrap=True, min_width=longest)
    for column in columns:
        table.add_column(column, justify="right" if column in ("REVISION", "CREATE", "MOD", "VER", "SIZE", "LEASE") else "left")
    for key, row in rows:
        table.add_row(key, *row)
    return table


_SEVERITY_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "dim"}
_STATUS_STYLE = {"broken": "bold white on red", "degraded": "bold black on yellow", "at-risk": "black on yellow", "healthy": "bold white on green", "unknown": "bold"}
TERMINAL_FINDINGS = 10


def one_line(text: str, limit: int = 200) -> str:
    """The first sentence of a finding's detail, for a summary line."""
    text = " ".join(text.split())
    sentence = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0].rstrip(".;")
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def steps_view(remediation: Sequence[str]) -> list[Text]:
    """Numbered steps; each command on a line of its own, indented, never wrapped by rich (the
    terminal folds it, and a copy of it is whole); an alternative under the step it replaces."""
    lines: list[Text] = []

    def step_lines(step: Step, lead: str, indent: str) -> None:
        # In the order the step says them: its prose on the numbered line, then each command and
        # each further sentence on lines of their own.
        first = True
        for part in step.parts:
            words = " ".join(part.text.split()).strip(" ,:;")
            if part.command:
                if first:
                    lines.append(Text(lead + "Run:"))
                lines.append(Text(indent + "$ ", style="dim") + Text(part.text, style="bold cyan"))
            elif words:
                lines.append(Text((lead if first else indent) + words))
            first = False

    for group in group_steps(remediation):
        number = f"{group.number}. "
        step_lines(group.step, "  " + number, "  " + " " * len(number))
        for alternative in group.alternatives:
            step_lines(alternative, "  " + " " * len(number) + f"alternative to step {group.number}: ", "  " + " " * (len(number) + 2))
    return lines


def scan_summary_view(result: ScanResult, *, every_finding: bool = False, reports: Sequence[tuple[str, str]] = ()) -> Group:
    """The verdict, its fix, the components and the findings that matter, each with its reason, and
    where the requested reports were written (``reports``: (format, path)); ``every_finding``
    shows the informational ones too."""
    verdict = result.verdict
    parts: list[Renderable] = [
        Text.assemble((f" {verdict.status.upper()} ", _STATUS_STYLE.get(verdict.status, "bold")), " ", verdict.headline),
        Text(f"reference time {format_utc(result.reference_utc)}, {result.wiring.distribution}"
             + (", PARTIAL evidence" if result.partial else ""), style="dim"),
    ]
    notice = result.evidence_time.notice(result.reference_utc) if result.evidence_time is not None else None
    if notice:
        parts.append(Text("note: " + notice, style="yellow"))
    if result.deadlines is not None:
        parts += [Text(line) for line in result.deadlines.sentences(result.reference_utc)]
    lead = verdict.lead
    if lead is not None and lead.remediation:
        parts.append(Text(f"Fix first: {lead.label}", style="bold"))
        parts += steps_view(lead.remediation)
    if verdict.components:
        components = Table()
        for column in ("component", "node", "verdict"):
            components.add_column(column)
        for c in verdict.components:
            style = "red" if c.starts is False else ("yellow" if c.cannot_reach or c.starts is None else "green")
            components.add_row(c.component, c.node or "", Text(c.summary, style=style))
        parts.append(components)
    important = [f for f in result.findings if f.severity.value != "info"]
    shown = list(result.findings) if every_finding else important[:TERMINAL_FINDINGS]
    if shown:
        findings = Table()
        findings.add_column("severity")
        findings.add_column("finding, and why")
        findings.add_column("on restart")
        for f in shown:
            reason = one_line(f.detail) if f.detail and f.detail != f.title else ""
            findings.add_row(Text(f.severity.value, style=_SEVERITY_STYLE[f.severity.value]),
                             Text(f.title) + (Text("\n" + reason, style="dim") if reason else Text("")), f.recovery or "")
        parts.append(findings)
    hidden = len(important) - len([f for f in shown if f.severity.value != "info"])
    if hidden > 0:
        where = " and ".join(path for kind, path in reports if kind in ("html", "json")) if reports else ""
        parts.append(Text(f"… {hidden} more findings " + (f"in {where}" if where else "(-v shows them; --html FILE or --json FILE writes them)"), style="dim"))
    for kind, path in reports:
        parts.append(Text(f"{kind} report written to {path}"))
    return Group(*parts)
