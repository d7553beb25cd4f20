"""What detection found: the kinds of input, and the sources it hands on (snapshots, EncryptionConfigurations, logs, the whole Evidence)."""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from analyzer.gomodel.klog import LogFormat
from analyzer.errors import CorruptEvidence, EvidenceError, UnsupportedEvidence, os_problem
from analyzer.evidence.tree import (
    DECOMPRESSION_DAMAGE,
    DEFAULT_LIMITS,
    Container,
    EvidenceTree,
    Limits,
    open_decompressed,
)
from analyzer.evidence.etcd import Snapshot
from analyzer.evidence.spill import SpilledFile, SpillProgress
from analyzer.evidence.mustgather import MustGatherRoot
from analyzer.evidence.node import STATIC_KUBERESOURCES_NOTE, NodeEvidence
from analyzer.model.nodes import NodeIdentity
from analyzer.records import datarecord


class InputKind(StrEnum):
    SNAPSHOT = "etcd-snapshot"
    NODE_TREE = "node-tree"
    SOSREPORT = "sosreport"
    STATIC_KUBERESOURCES = "static-kuberesources"
    CLUSTER_BACKUP = "cluster-backup"
    CASE = "case"
    ENCRYPTION_CONFIG = "encryption-config"
    LOG = "log"
    MUST_GATHER = "must-gather"  # oc adm must-gather / oc adm inspect output


@datarecord
class DetectedInput:
    """One input (or an archive found inside one), as ``ls`` and the report's inputs list show it."""

    source: str
    kind: InputKind
    format: str  # "file", "directory", "tar", "tar.gz", "tar.xz", "tar.bz2" or "zip"
    size: int | None  # bytes of the file or member; None for a directory
    parent: str | None = None  # the input it was found in
    notes: tuple[str, ...] = ()  # what was found in it; its nodes are named after these (``named``)
    nodes: tuple[NodeEvidence, ...] = field(default=(), repr=False, compare=False)  # the nodes found in it
    after: tuple[str, ...] = ()  # notes after its nodes' (damage)

    def named(self, identity_of: Callable[[NodeEvidence], NodeIdentity]) -> DetectedInput:
        """The input as a person reads it: every note, each node named as the wiring names it."""
        notes = list(self.notes)
        for node in self.nodes:
            label = identity_of(node).label
            notes.append(f"{label}, scrubbed by sos" if node.scrubbed else label)
            notes.extend(node.notes)
        return replace(self, notes=(*notes, *self.after), nodes=(), after=())


# What decompressing a snapshot compressed on its own can raise besides OSError.
_DECOMPRESSED_DAMAGE: tuple[type[BaseException], ...] = (EOFError, ValueError, *DECOMPRESSION_DAMAGE)


@datarecord
class SnapshotSource:
    """An etcd snapshot: ``path`` from ``offset`` for ``size`` bytes, unless ``problem`` says why not."""

    source: str
    path: Path | None
    offset: int
    size: int
    possibly_dirty: bool
    backup_stamp: str | None  # "2024-05-01_134501" from snapshot_<DATE>.db
    backup_utc: datetime | None  # that stamp read as UTC (RHCOS runs in UTC)
    recognised_by: str
    problem: str | None = None
    # Read through a tree when it has no place of its own on disk (a zip, a nested archive).
    tree: EvidenceTree | None = field(default=None, repr=False, compare=False)
    tree_path: str | None = None
    compressed: Container | None = None  # compressed on its own: decompressed when opened

    @property
    def opens_in_place(self) -> bool:
        """True when ``Snapshot(path)`` reads it directly (a file of its own)."""
        return self.problem is None and self.path is not None and self.offset == 0 and self.compressed is None

    @property
    def access(self) -> str:
        """How it is read, for listings: in place, at an offset, or decompressed when opened."""
        if self.problem is not None:
            return self.problem
        if self.compressed is not None:
            return f"decompressed ({self.compressed.value}) into an anonymous file when read"
        if self.path is not None:
            return "in place" if self.offset == 0 else f"in place at offset {self.offset} of {self.path}"
        if self.tree is not None and self.tree_path in self.tree.spilled:
            return "decompressed into an anonymous file while the archive was read"
        return "decompressed into an anonymous file when read"

    def open(self, *, salvage: bool = False, limits: Limits = DEFAULT_LIMITS, progress: SpillProgress | None = None) -> Snapshot:
        """The snapshot, read in place or from an anonymous decompressed copy the Snapshot owns."""
        if self.problem is not None:
            raise UnsupportedEvidence(self.source, self.problem)
        if self.path is not None and self.compressed is None:
            if self.offset == 0 and self.tree is None:
                return Snapshot(self.path, salvage=salvage)
            return Snapshot(self.path, offset=self.offset, size=self.size, source=self.source, salvage=salvage)
        spilled = self._decompress(limits, progress)
        try:
            snapshot = Snapshot(spilled.path, size=spilled.size, source=self.source, salvage=salvage)
        except BaseException:
            spilled.close()
            raise
        snapshot.on_close(spilled.close)
        return snapshot

    def _decompress(self, limits: Limits, progress: SpillProgress | None) -> SpilledFile:
        if self.compressed is None:
            assert self.tree is not None and self.tree_path is not None
            return self.tree.spill_member(self.tree_path, progress)
        spilled = SpilledFile(self.source)
        try:
            raw: IO[bytes]
            if self.path is not None:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed below
            else:
                assert self.tree is not None and self.tree_path is not None
                raw = self.tree.open_member(self.tree_path)
            with raw, open_decompressed(raw, self.compressed) as stream:
                spilled.fill(stream, limit=limits.max_stream_bytes, progress=progress)
        except _DECOMPRESSED_DAMAGE as exc:  # before OSError: BadGzipFile is one
            spilled.close()
            raise CorruptEvidence(self.source, f"{self.compressed.value} data is damaged or cut off: {exc}") from None
        except OSError as exc:
            spilled.close()
            raise EvidenceError(self.source, os_problem(exc)) from None
        except BaseException:
            spilled.close()
            raise
        return spilled


@datarecord
class EncryptionConfigSource:
    source: str
    data: bytes = field(repr=False)
    node: NodeEvidence | None = field(default=None, repr=False, compare=False)  # the node it was found on
    host_path: str | None = None


LOG_READ_LIMIT = 256 << 20  # a log this long is read from its end: the failure is at the end


@datarecord
class LogSource:
    """A log file: a path of its own, or a member of an open tree."""

    source: str
    format: LogFormat
    size: int
    node: NodeEvidence | None = field(repr=False, compare=False)  # the node it was found on
    path: Path | None = None
    tree: EvidenceTree | None = field(default=None, repr=False, compare=False)
    tree_path: str | None = None

    def read_bytes(self, limit: int | None = None) -> bytes:
        if self.tree is not None and self.tree_path is not None:
            return self.tree.read_bytes(self.tree_path, limit)
        assert self.path is not None
        return read_head(self.path, limit if limit is not None else self.size)

    def read_tail(self, limit: int) -> bytes:
        """The last ``limit`` bytes from the first whole line: a start-up failure is logged last."""
        if self.size <= limit:
            return self.read_bytes()
        if self.path is None:
            raise EvidenceError(self.source, f"a log of {self.size} bytes inside an archive is not read in place "
                                             f"(over {limit} bytes); extract it and give its end with --log")
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.size - limit)
                data = handle.read(limit)
        except OSError as exc:
            raise EvidenceError(self.source, os_problem(exc)) from None
        return data.split(b"\n", 1)[-1]


@datarecord
class Evidence:
    """Everything recognised in the inputs. Holds open trees: use as a context manager."""

    inputs: tuple[DetectedInput, ...]
    snapshots: tuple[SnapshotSource, ...]
    nodes: tuple[NodeEvidence, ...]
    encryption_configs: tuple[EncryptionConfigSource, ...]
    logs: tuple[LogSource, ...]
    problems: tuple[str, ...]
    trees: tuple[EvidenceTree, ...] = field(default=(), repr=False)
    must_gathers: tuple[MustGatherRoot, ...] = ()

    def close(self) -> None:
        for tree in reversed(self.trees):  # nested trees before their parents
            tree.close()

    def __enter__(self) -> Evidence:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_head(path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise EvidenceError(str(path), os_problem(exc)) from None


@datarecord(frozen=False)
class TreeFindings:
    """What one tree (or one file) turned out to hold."""

    kind: InputKind | None = None
    nodes: list[NodeEvidence] = field(default_factory=list)
    snapshots: list[SnapshotSource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    must_gathers: list[MustGatherRoot] = field(default_factory=list)


def tree_kind(found: TreeFindings, kinds: list[InputKind]) -> InputKind | None:
    """What a tree is, from what it turned out to hold and the kinds of its loose files."""
    nodes = found.nodes
    if len(nodes) == 1 and not found.snapshots and not kinds:
        if nodes[0].scrubbed:
            return InputKind.SOSREPORT
        if nodes[0].exclusions and nodes[0].exclusions[0][1] == STATIC_KUBERESOURCES_NOTE:
            return InputKind.STATIC_KUBERESOURCES
        return InputKind.NODE_TREE
    if found.must_gathers and not nodes and not found.snapshots:
        return InputKind.MUST_GATHER
    # cluster-backup.sh's directory: the snapshot beside the static_kuberesources tarball (§2.6).
    if not nodes and found.snapshots and InputKind.STATIC_KUBERESOURCES in kinds:
        return InputKind.CLUSTER_BACKUP
    if nodes or found.snapshots or kinds:
        return InputKind.CASE
    return None
