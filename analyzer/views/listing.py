"""What ``kforensic ls`` shows: every recognised input, and per node every file with what it is.

Data only (what each file is: ``file_facts``), no rendering. A file is described by what its bytes are, through the decoders
(``decode.pem``, ``decode.kubeconfig``, ``decode.manifest``, ``decode.openshift_config``,
``decode.encryption``): a static pod manifest, a kubeconfig, certificates (how many, the first
subject CN, the first not-after), a private key (algorithm and public-key fingerprint), a public
key, a CA bundle, a KubeAPIServerConfig, an EncryptionConfiguration (providers and key names), or
other. Nothing here ever holds on to key bytes or secret values: only subjects, dates, sizes,
algorithms and SHA-256 fingerprints of public keys leave this module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from analyzer.evidence.tree import Entry, EntryKind
from analyzer.evidence.inputs import DetectedInput, Evidence, SnapshotSource
from analyzer.evidence.node import Mount, NodeEvidence
from analyzer.model.nodes import NodeIdentity
from analyzer.records import datarecord
from analyzer.views.file_facts import FileFacts, utc_text, describe_encryption_config, describe_file


@datarecord
class ListedFile:
    """One host file (or link) of a node and where it lies in the evidence."""

    host_path: str
    where: str | None  # "<input>!<member>" or "<directory>/<path>"
    tree_path: str | None  # the same, inside the node's evidence tree
    size: int | None
    mtime_utc: datetime | None
    facts: FileFacts | None  # None when the file could not be read
    link_target: str | None = None  # a symlink's target, as stored
    resolves_to: str | None = None  # the evidence location the link leads to
    problem: str | None = None


@datarecord
class NodeListing:
    name: str
    name_source: str
    input: str
    distribution: str
    scrubbed: bool
    partial: bool
    mounts: tuple[Mount, ...]
    files: tuple[ListedFile, ...]
    notes: tuple[str, ...]


@datarecord
class ListedConfig:
    source: str
    node: str | None
    host_path: str | None
    size: int
    summary: str


@datarecord
class ListedLog:
    source: str
    format: str
    size: int
    node: str | None


@datarecord
class EvidenceListing:
    inputs: tuple[DetectedInput, ...]
    nodes: tuple[NodeListing, ...]
    snapshots: tuple[SnapshotSource, ...]
    encryption_configs: tuple[ListedConfig, ...]
    logs: tuple[ListedLog, ...]
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": [_input_json(item) for item in self.inputs],
            "nodes": [_node_json(node) for node in self.nodes],
            "snapshots": [_snapshot_json(snapshot) for snapshot in self.snapshots],
            "encryption_configs": [
                {"source": c.source, "node": c.node, "host_path": c.host_path, "size": c.size, "summary": c.summary}
                for c in self.encryption_configs
            ],
            "logs": [{"source": log.source, "format": log.format, "size": log.size, "node": log.node} for log in self.logs],
            "problems": list(self.problems),
        }


# --------------------------------------------------------------------------- nodes


def _listed_file(node: NodeEvidence, host_path: str, entry: Entry) -> ListedFile:
    """A file, or a link with what it resolves to (links are followed as host paths)."""
    found = node.read_host_file(host_path)
    facts = describe_file(host_path, found.data) if found.data is not None else None
    resolved = node.where(found.tree_path) if found.tree_path is not None else None
    if entry.kind is EntryKind.SYMLINK:
        return ListedFile(host_path, node.where(entry.path), entry.path, found.size, entry.mtime_utc, facts,
                          entry.link_target or "", resolved, found.problem)
    return ListedFile(host_path, resolved, found.tree_path, found.size, found.mtime_utc, facts, None, None,
                      found.problem)


def list_node(node: NodeEvidence, identity: NodeIdentity) -> NodeListing:
    files = tuple(
        _listed_file(node, host_path, entry)
        for host_path, entry in node.iter_host_entries()
        if entry.kind is not EntryKind.DIR
    )
    return NodeListing(
        identity.name, identity.name_source, node.input, identity.distribution.value, node.scrubbed, node.partial,
        node.mounts, files, node.notes,
    )


def list_evidence(evidence: Evidence, identity_of: Callable[[NodeEvidence], NodeIdentity]) -> EvidenceListing:
    """Everything ``ls`` shows, from what ``detect_evidence`` found, each node named by ``identity_of``
    (the wiring decides who a node is: this room only shows it)."""

    def name_of(node: NodeEvidence | None) -> str | None:
        return identity_of(node).name if node is not None else None

    configs = tuple(
        ListedConfig(c.source, name_of(c.node), c.host_path, len(c.data), describe_encryption_config(c.data, c.source))
        for c in evidence.encryption_configs
    )
    logs = tuple(ListedLog(log.source, log.format.value, log.size, name_of(log.node)) for log in evidence.logs)
    return EvidenceListing(
        tuple(item.named(identity_of) for item in evidence.inputs),
        tuple(list_node(node, identity_of(node)) for node in evidence.nodes),
        evidence.snapshots,
        configs,
        logs,
        evidence.problems,
    )


# --------------------------------------------------------------------------- JSON


def _input_json(item: DetectedInput) -> dict[str, Any]:
    return {"source": item.source, "kind": item.kind.value, "format": item.format, "size": item.size,
            "parent": item.parent, "notes": list(item.notes)}


def _facts_json(facts: FileFacts | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    return {
        "kind": facts.kind.value,
        "state": facts.state,
        "scrubbed": facts.scrubbed,
        "summary": facts.summary,
        "certificates": facts.certificates,
        "first_subject_cn": facts.first_subject_cn,
        "not_after": utc_text(facts.not_after_utc),
        "key_algorithm": facts.key_algorithm,
        "public_key_sha256": facts.public_key_sha256,
    }


def _node_json(node: NodeListing) -> dict[str, Any]:
    return {
        "name": node.name,
        "name_source": node.name_source,
        "input": node.input,
        "distribution": node.distribution,
        "scrubbed": node.scrubbed,
        "partial": node.partial,
        "mounts": [{"host_path": m.target, "tree_path": m.source, "reason": m.reason} for m in node.mounts],
        "files": [
            {
                "host_path": f.host_path,
                "where": f.where,
                "tree_path": f.tree_path,
                "size": f.size,
                "mtime": utc_text(f.mtime_utc),
                "link_target": f.link_target,
                "resolves_to": f.resolves_to,
                "problem": f.problem,
                **(_facts_json(f.facts) or {"kind": None}),
            }
            for f in node.files
        ],
        "notes": list(node.notes),
    }


def _snapshot_json(snapshot: SnapshotSource) -> dict[str, Any]:
    return {
        "source": snapshot.source,
        "path": str(snapshot.path) if snapshot.path is not None else None,
        "offset": snapshot.offset,
        "size": snapshot.size,
        "possibly_dirty": snapshot.possibly_dirty,
        "backup_stamp": snapshot.backup_stamp,
        "backup_time": utc_text(snapshot.backup_utc),
        "recognised_by": snapshot.recognised_by,
        "problem": snapshot.problem,
        "access": snapshot.access,
    }
