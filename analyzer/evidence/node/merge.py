"""One node, several inputs: merged when they agree, kept apart and reported as a conflict when not."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Iterator

from analyzer.evidence.facts import NodeConflict
from analyzer.evidence.tree import Entry, EntryKind
from analyzer.model.vocabulary import Distribution
from analyzer.evidence.node.host import NodeEvidence
from analyzer.evidence.node.host_paths import HostFile, NOT_IN_EVIDENCE


# ---------------------------------------------------------------------------- one node, several inputs

# Files compared when two inputs describe one node; a bigger one is compared by size alone.
COMPARE_LIMIT = 4 << 20


class MergedNode:
    """One node described by several inputs that agree wherever they overlap (a copy of
    /etc/kubernetes and a copy of /var/lib/kubelet/pki, or the same tarball sent twice).

    Reads go to the members in the order of their input names, so the answer never depends on the
    order of the command line; as the members agree, only provenance could differ, and the merged
    node names every input.
    """

    def __init__(self, members: list[NodeEvidence]) -> None:
        self.members = sorted(members, key=lambda n: n.input)
        first = self.members[0]
        self.name, self.name_source = first.name, first.name_source
        known = [m.distribution for m in self.members if m.distribution is not Distribution.UNKNOWN]
        self.distribution = known[0] if known else Distribution.UNKNOWN
        self.input = " + ".join(m.input for m in self.members)
        self.scrubbed = any(m.scrubbed for m in self.members)
        self.notes = tuple(dict.fromkeys(note for m in self.members for note in m.notes))
        self.mounts = tuple(dict.fromkeys(mount for m in self.members for mount in m.mounts))

    @property
    def partial(self) -> bool:
        return any(m.partial for m in self.members)

    def __repr__(self) -> str:
        return f"<MergedNode {self.name!r} {self.distribution.value} input={self.input!r}>"

    def read_host_file(self, host_path: str, limit: int | None = None) -> HostFile:
        answers = [m.read_host_file(host_path, limit) for m in self.members]
        return next((a for a in answers if a.data is not None), None) or next(
            (a for a in answers if a.problem not in (None, NOT_IN_EVIDENCE)), answers[0])

    def list_host_dir(self, host_path: str) -> list[str]:
        return sorted({path for m in self.members for path in m.list_host_dir(host_path)})

    def host_exists(self, host_path: str) -> bool:
        return any(m.host_exists(host_path) for m in self.members)

    def lstat_host(self, host_path: str) -> Entry | None:
        return next((entry for m in self.members if (entry := m.lstat_host(host_path)) is not None), None)

    def iter_host_entries(self) -> Iterator[tuple[str, Entry]]:
        seen: set[str] = set()
        for member in self.members:
            for host_path, entry in member.iter_host_entries():
                if host_path not in seen:
                    seen.add(host_path)
                    yield host_path, entry


def _contents(node: NodeEvidence) -> dict[str, str]:
    digests = {}
    for host_path, entry in node.iter_host_entries():
        if entry.kind is EntryKind.SYMLINK:
            digests[host_path] = "link:" + (entry.link_target or "")
        elif entry.kind is EntryKind.FILE:
            if (entry.size or 0) > COMPARE_LIMIT:
                digests[host_path] = f"size:{entry.size}"
                continue
            found = node.read_host_file(host_path, COMPARE_LIMIT)
            digests[host_path] = hashlib.sha256(found.data).hexdigest() if found.data is not None else f"unreadable:{found.problem}"
    return digests


def join_nodes(nodes: Iterable[NodeEvidence]) -> tuple[list[NodeEvidence | MergedNode], list[NodeConflict]]:
    """Nodes by name, whatever the order of the inputs: inputs naming the same node are merged
    when they agree on every file both hold, and kept apart under distinct names (reported as a
    conflict) when they do not, so that neither silently wins."""
    by_name: dict[str, list[NodeEvidence]] = {}
    for node in nodes:
        by_name.setdefault(node.name, []).append(node)
    joined: list[NodeEvidence | MergedNode] = []
    conflicts: list[NodeConflict] = []
    for name in sorted(by_name):
        members = sorted(by_name[name], key=lambda n: n.input)
        if len(members) == 1:
            joined.append(members[0])
            continue
        contents = [_contents(m) for m in members]
        differing = sorted({path for i, mine in enumerate(contents) for other in contents[i + 1:]
                            for path in mine.keys() & other.keys() if mine[path] != other[path]})
        kinds = {m.distribution for m in members} - {Distribution.UNKNOWN}
        if not differing and len(kinds) <= 1:
            joined.append(MergedNode(members))
            continue
        labels = [posixpath.basename(m.input.rstrip("/")) or m.input for m in members]
        if len(set(labels)) < len(labels):
            labels = [m.input for m in members]
        for member, label in zip(members, labels, strict=True):
            member.name = f"{name} ({label})"
        conflicts.append(NodeConflict(name, tuple(m.input for m in members), tuple(differing) or ("the distribution",),
                                      tuple(m.name for m in members)))
        joined.extend(members)
    return joined, conflicts
