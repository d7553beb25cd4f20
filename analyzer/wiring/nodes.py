"""The nodes the wiring reads: each one named (``node_identity``), the inputs describing one node joined.

A ``Node`` is who a node is plus the files of every input that describes it. One node may reach us
through several inputs (a copy of /etc/kubernetes and a copy of /var/lib/kubelet/pki, or the same
tarball sent twice): they are merged when they agree on every file both hold, and kept apart under
distinct names, reported as a conflict, when they do not, so that neither silently wins.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from analyzer.evidence.facts import NodeConflict
from analyzer.evidence.node import NOT_IN_EVIDENCE, HostFile, Mount, NodeEvidence
from analyzer.evidence.tree import Entry, EntryKind
from analyzer.model.nodes import NodeIdentity
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.node_identity import identify_node

# Files compared when two inputs describe one node; a bigger one is compared by size alone.
COMPARE_LIMIT = 4 << 20


class Node:
    """One node: who it is, and the host files of the inputs that describe it.

    Reads go to the members in the order of their input names, so the answer never depends on the
    order of the command line; as merged members agree, only provenance could differ, and the node
    names every input.
    """

    def __init__(self, members: Sequence[NodeEvidence], identity: NodeIdentity) -> None:
        self.members = tuple(sorted(members, key=lambda n: n.input))
        self.identity = identity
        self.input = " + ".join(m.input for m in self.members)
        self.scrubbed = any(m.scrubbed for m in self.members)
        self.notes = tuple(dict.fromkeys(note for m in self.members for note in m.notes))
        self.mounts: tuple[Mount, ...] = tuple(dict.fromkeys(mount for m in self.members for mount in m.mounts))

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def name_source(self) -> str:
        return self.identity.name_source

    @property
    def distribution(self) -> Distribution:
        return self.identity.distribution

    @property
    def partial(self) -> bool:
        return any(m.partial for m in self.members)

    def __repr__(self) -> str:
        return f"<Node {self.name!r} {self.distribution.value} input={self.input!r}>"

    def read_host_file(self, host_path: str, limit: int | None = None) -> HostFile:
        # Merged members agree on what they share: the first that holds the file answers, and only
        # when none does are the others' reasons compared (a real problem before "not in evidence").
        answers = []
        for member in self.members:
            answer = member.read_host_file(host_path, limit)
            if answer.data is not None:
                return answer
            answers.append(answer)
        return next((a for a in answers if a.problem not in (None, NOT_IN_EVIDENCE)), answers[0])

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


def identify_nodes(nodes: Iterable[NodeEvidence]) -> dict[NodeEvidence, NodeIdentity]:
    """Who each node of the evidence is, decided once."""
    return {node: identify_node(node) for node in nodes}


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


def join_nodes(identities: dict[NodeEvidence, NodeIdentity]) -> tuple[list[Node], list[NodeConflict]]:
    """Nodes by name, whatever the order of the inputs: inputs naming the same node are merged
    when they agree on every file both hold, and kept apart under distinct names (reported as a
    conflict) when they do not."""
    by_name: dict[str, list[NodeEvidence]] = {}
    for node, identity in identities.items():
        by_name.setdefault(identity.name, []).append(node)
    joined: list[Node] = []
    conflicts: list[NodeConflict] = []
    for name in sorted(by_name):
        members = sorted(by_name[name], key=lambda n: n.input)
        if len(members) == 1:
            joined.append(Node(members, identities[members[0]]))
            continue
        contents = [_contents(m) for m in members]
        differing = sorted({path for i, mine in enumerate(contents) for other in contents[i + 1:]
                            for path in mine.keys() & other.keys() if mine[path] != other[path]})
        kinds = {identities[m].distribution for m in members} - {Distribution.UNKNOWN}
        if not differing and len(kinds) <= 1:
            # Named after the first input; its distribution is the one a member knows.
            first = identities[members[0]]
            joined.append(Node(members, replace(first, distribution=next(iter(kinds), Distribution.UNKNOWN))))
            continue
        labels = [posixpath.basename(m.input.rstrip("/")) or m.input for m in members]
        if len(set(labels)) < len(labels):
            labels = [m.input for m in members]
        apart = [Node([member], replace(identities[member], name=f"{name} ({label})"))
                 for member, label in zip(members, labels, strict=True)]
        conflicts.append(NodeConflict(name, tuple(m.input for m in members), tuple(differing) or ("the distribution",),
                                      tuple(node.name for node in apart)))
        joined.extend(apart)
    return joined, conflicts
