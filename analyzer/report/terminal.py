"""What a person sees in the terminal: plain rich tables, no analysis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from analyzer.analysis.result import ScanResult
from analyzer.views.records import KeyRecord
from analyzer.evidence.etcd import Integrity
from analyzer.views.snapshot_summary import SnapshotSummary
from analyzer.reftime import format_utc


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _facts_table(rows: Iterable[tuple[str, str | Text]]) -> Table:
    table = Table.grid(padding=(0, 2))
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
    parts: list[RenderableType] = [_facts_table(rows)]

    if summary.resources:
        resources = Table(title="live keys per resource", title_justify="left", show_edge=False)
        resources.add_column("resource")
        resources.add_column("keys", justify="right")
        for prefix, count in sorted(summary.resources.items(), key=lambda item: (-item[1], item[0])):
            resources.add_row(prefix, str(count))
        parts.append(resources)

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


def _freelist_line(summary: SnapshotSummary) -> Text:
    freelist = summary.freelist
    if not freelist.synced:
        return Text("not stored (NoFreelistSync): bbolt rebuilds it from the tree", style="dim")
    if freelist.damage:
        return Text(f"INCONSISTENT: {len(freelist.damage)} problems (below)", style="bold red")
    checked = "" if freelist.checked_unreachable else "; unreachable pages not checked (the tree is damaged)"
    return Text(f"{freelist.free_pages} free pages, consistent with the tree{checked}", style="green" if not checked else "yellow")


def key_table(records: Sequence[KeyRecord], *, history: bool) -> Table:
    table = Table(show_edge=False, header_style="bold")
    table.add_column("KEY", overflow="fold")
    if history:
        table.add_column("REVISION")
        table.add_column("EVENT")
    table.add_column("CREATE", justify="right")
    table.add_column("MOD", justify="right")
    table.add_column("VER", justify="right")
    table.add_column("SIZE", justify="right")
    table.add_column("KIND")
    table.add_column("OBJECT")
    for item in records:
        record = item.record
        row = [record.key_text]
        if history:
            row += [str(record.revision), "delete" if record.deleted else "put"]
        row += [
            str(record.create_revision or ""),
            str(record.mod_revision or ""),
            str(record.version or ""),
            str(len(record.value)) if not record.deleted else "",
            (item.kind.value if item.kind else "") + (" (salvaged)" if record.salvaged else ""),
            item.object_kind or (item.decoded.error or "" if item.decoded else ""),
        ]
        table.add_row(*row)
    return table


_SEVERITY_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "dim"}
_STATUS_STYLE = {"broken": "bold white on red", "degraded": "bold black on yellow", "at-risk": "black on yellow", "healthy": "bold white on green", "unknown": "bold"}
TERMINAL_FINDINGS = 10


def scan_summary_view(result: ScanResult) -> Group:
    """The verdict, the components, and the top findings; the reports carry the rest."""
    verdict = result.verdict
    parts: list[RenderableType] = [
        Text.assemble((f" {verdict.status.upper()} ", _STATUS_STYLE.get(verdict.status, "bold")), " ", verdict.headline),
        Text(f"reference time {format_utc(result.reference_utc)}, {result.wiring.distribution}"
             + (", PARTIAL evidence" if result.partial else ""), style="dim"),
    ]
    if result.deadlines is not None:
        parts += [Text(line) for line in result.deadlines.sentences(result.reference_utc)]
    if verdict.components:
        components = Table(show_edge=False, header_style="bold")
        for column in ("component", "node", "verdict"):
            components.add_column(column)
        for c in verdict.components:
            style = "red" if c.starts is False else ("yellow" if c.cannot_reach or c.starts is None else "green")
            components.add_row(c.component, c.node or "", Text(c.summary, style=style))
        parts.append(components)
    shown = [f for f in result.findings if f.severity.value != "info"][:TERMINAL_FINDINGS]
    if shown:
        findings = Table(show_edge=False, header_style="bold")
        findings.add_column("severity")
        findings.add_column("finding", overflow="fold")
        findings.add_column("recovery")
        for f in shown:
            findings.add_row(Text(f.severity.value, style=_SEVERITY_STYLE[f.severity.value]), f.title, f.recovery or "")
        parts.append(findings)
        hidden = len([f for f in result.findings if f.severity.value != "info"]) - len(shown)
        if hidden > 0:
            parts.append(Text(f"… {hidden} more findings in the JSON/HTML report", style="dim"))
    return Group(*parts)
