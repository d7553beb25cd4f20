"""``kforensic ls`` in the terminal: the listing as tables, nothing decoded here."""

from __future__ import annotations

from analyzer.evidence.inputs import InputKind
from analyzer.report.console import Group, Renderable, Table, Text
from analyzer.views.listing import EvidenceListing, ListedFile, NodeListing
from analyzer.report.terminal import format_bytes

INPUT_KINDS = {
    InputKind.SNAPSHOT: "etcd snapshot",
    InputKind.NODE_TREE: "node tree",
    InputKind.SOSREPORT: "sosreport",
    InputKind.STATIC_KUBERESOURCES: "static_kuberesources tarball",
    InputKind.CLUSTER_BACKUP: "cluster-backup",
    InputKind.CASE: "case (several inputs)",
    InputKind.ENCRYPTION_CONFIG: "EncryptionConfiguration",
    InputKind.LOG: "kube-apiserver log",
    InputKind.MUST_GATHER: "must-gather / oc adm inspect",
}

_STATE_STYLE = {"present": "", "scrubbed": "yellow", "elided": "yellow", "empty": "red", "malformed": "red"}


def _size(size: int | None) -> str:
    return "" if size is None else format_bytes(size)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column)
    return table


def _inputs_table(listing: EvidenceListing) -> Table:
    table = _table("Inputs", "input", "kind", "format", "size", "notes")
    for item in listing.inputs:
        indent = "  " if item.parent else ""
        table.add_row(indent + item.source, INPUT_KINDS[item.kind], item.format, _size(item.size), "; ".join(item.notes))
    return table


def _file_row(listed: ListedFile) -> tuple[str | Text, ...]:
    facts = listed.facts
    if facts is None:
        kind = Text("unreadable", style="red")
    else:
        state = "" if facts.state == "present" else f" ({facts.state})"
        kind = Text(facts.kind.value + state, style=_STATE_STYLE.get(facts.state, ""))
    detail = facts.summary if facts else ""
    if listed.problem:
        detail = f"{detail}; {listed.problem}" if detail else listed.problem
    path = listed.host_path if listed.link_target is None else f"{listed.host_path} →\n{listed.link_target}"
    return path, kind, detail, _size(listed.size), listed.tree_path or ""


def _node_view(node: NodeListing) -> Group:
    flags = [node.distribution]
    if node.scrubbed:
        flags.append("scrubbed by sos: keys and *-data fields cannot be verified")
    if node.partial:
        flags.append("partial: files may be missing")
    header = Text.assemble(("node ", "bold"), (node.name, "bold cyan"), f"  ({node.name_source})\n",
                           f"  {'; '.join(flags)}\n  from {node.input}")
    mounts = "\n".join(f"  {m.target} is at {m.source or '(the root)'} ({m.reason})" for m in node.mounts)
    table = _table("", "host path", "kind", "detail", "size", "in the evidence")
    for listed in node.files:
        table.add_row(*_file_row(listed))
    parts: list[Renderable] = [header, Text(mounts)]
    parts.extend(Text(f"  note: {note}", style="yellow") for note in node.notes)
    parts.append(table)
    return Group(*parts)


def listing_view(listing: EvidenceListing) -> Group:
    parts: list[Renderable] = [_inputs_table(listing), Text()]
    for node in listing.nodes:
        parts += [_node_view(node), Text()]
    if listing.snapshots:
        table = _table("etcd snapshots", "snapshot", "size", "backup", "dirty", "readable")
        for snapshot in listing.snapshots:
            where = snapshot.access
            table.add_row(snapshot.source, _size(snapshot.size), snapshot.backup_stamp or "",
                          Text("POSSIBLY_DIRTY", style="yellow") if snapshot.possibly_dirty else "", where)
        parts += [table, Text()]
    if listing.encryption_configs:
        table = _table("EncryptionConfigurations", "source", "node", "providers", "size")
        for config in listing.encryption_configs:
            table.add_row(config.source, config.node or "", config.summary, _size(config.size))
        parts += [table, Text()]
    if listing.logs:
        table = _table("Logs", "log", "format", "node", "size")
        for log in listing.logs:
            table.add_row(log.source, log.format, log.node or "", _size(log.size))
        parts += [table, Text()]
    if listing.problems:
        parts.append(Text("Problems", style="bold"))
        parts.extend(Text(f"  {problem}", style="yellow") for problem in listing.problems)
    return Group(*parts)
