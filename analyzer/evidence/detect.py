"""What did the customer send? Every path given is classified by its content; names are hints.

One ordered list of recognisers, catch-alls last (the shape of dissect.target's loaders):

1. an **etcd snapshot**: a valid bbolt meta page (magic ``ed da 0c ed`` at offset 16, either byte
   order, version 2, a power-of-two page size); only the first 64 bytes are read;
2. a **directory or archive** (tar, tar.gz/xz/bz2, zip): ``node.find_nodes`` finds each node's host
   files in it (kubeadm, OpenShift, Kubespray, RKE trees and sosreports); snapshots, nested
   archives, EncryptionConfigurations and logs are looked for beside them. The tree is then
   * a **sosreport** (its only node is a sos root),
   * a **static_kuberesources** tarball (only ``static-pod-resources/<component>-pod-<N>``),
   * a **cluster-backup** directory (a snapshot beside a static_kuberesources tarball, layouts §2.6;
     ``snapshot_<DATE>[__POSSIBLY_DIRTY__].db`` gives the date and the dirty flag),
   * a **node tree** (one node, nothing else), or
   * a **case** (several masters' evidence, snapshots and logs side by side), split per node;
3. an **EncryptionConfiguration** (YAML of that kind);
4. a **kube-apiserver log**: klog lines (``I0501 12:00:00.000000 1 file.go:12] msg``, structured or
   not), klog's JSON lines, either behind a CRI (``/var/log/pods``) or journal prefix, or a
   ``journalctl -o export`` stream.

Anything else raises ``UnsupportedEvidence`` in one line that says what was seen and what was
expected.

Snapshots inside archives are never extracted to a named file. In an uncompressed tar a member's
data is one contiguous run of the archive, so ``SnapshotSource`` gives the archive's ``path`` with
the member's ``offset`` and ``size`` and ``Snapshot`` maps that window in place. A snapshot inside a
compressed tar is decompressed into an anonymous file while the tar streams past (``spill``); one
inside a zip or a nested archive, or compressed on its own (``snapshot.db.gz``, ``.xz``, ``.bz2``,
``.zst``), when it is opened (``SnapshotSource.open``). Either way nothing is left behind on disk
(see ``spill.py``) and the archive limits bound it.

Compressed tars are read in one pass, keeping only members whose path could matter (anything named
like Kubernetes, etcd, kubelet, pki or ssl, logs, YAML, PEM and small top-level files: see
``_worth_holding``), so a sosreport's bulk is listed but not held.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
from collections.abc import Callable, Sequence
from io import BytesIO
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO
from typing import Literal

from analyzer.decode.manifest import find_host_path, load_static_pod
from analyzer.gomodel.klog import LogFormat, sniff_log
from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.errors import CorruptEvidence, DecodeError, EvidenceError, UnsupportedEvidence, os_problem
from analyzer.evidence.tree import (
    COMPRESSED,
    DECOMPRESSION_DAMAGE,
    DEFAULT_LIMITS,
    SNIFF_BYTES,
    Container,
    Entry,
    EntryKind,
    EvidenceTree,
    Limits,
    Spill,
    open_decompressed,
    open_member_tree,
    open_tree,
    peek_decompressed,
    sniff_container,
)
from analyzer.evidence.etcd import Snapshot
from analyzer.evidence.spill import SpilledFile, SpillProgress
from analyzer.evidence.mustgather import MustGatherRoot, find_must_gathers, inside_must_gather
from analyzer.evidence.node import (
    ETC_KUBERNETES,
    STATIC_KUBERESOURCES_NOTE,
    NodeEvidence,
    find_nodes,
    input_stem,
    path_inside,
    tree_location,
)

BOLT_MAGICS = (b"\xed\xda\x0c\xed", b"\xed\x0c\xda\xed")  # bbolt MAGIC in LE and BE, at offset 16
BOLT_SNIFF_BYTES = 64
LOG_SNIFF_BYTES = 64 << 10
MAX_CONFIG_BYTES = LOG_SNIFF_BYTES  # an EncryptionConfiguration is a few hundred bytes
MAX_LOOSE_DEPTH = 3  # loose files (logs, configs, archives) are looked for this deep in a case
EXPECTED = (
    "expected an etcd snapshot, a node tree (a directory or archive holding /etc/kubernetes or "
    "/var/lib/kubelet/pki), a sosreport, a cluster-backup directory, an EncryptionConfiguration or "
    "a kube-apiserver log"
)

_BACKUP_NAME = re.compile(
    r"^(snapshot|static_kuberesources)_(?P<stamp>\d{4}-\d\d-\d\d_\d{6})(?P<dirty>__POSSIBLY_DIRTY__)?\.(db|tar\.gz)$"
)
_REVISION_DIR = re.compile(r"^kube-apiserver-pod-(\d+)$")
_HOLD_HINTS = ("kube", "etcd", "kubelet", "openshift", "static-pod", "pki", "ssl", "apiserver", "manifests",
               "hostname", "encryption", "backup", "snapshot")  # fmt: skip
_HOLD_SUFFIXES = (".yaml", ".yml", ".json", ".conf", ".pem", ".crt", ".key", ".pub", ".log", ".db", ".txt",
                  ".env", ".kubeconfig", ".tar", ".gz", ".tgz", ".xz", ".zip")  # fmt: skip


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


@dataclass(frozen=True)
class DetectedInput:
    """One input (or an archive found inside one), as ``ls`` and the report's inputs list show it."""

    source: str
    kind: InputKind
    format: str  # "file", "directory", "tar", "tar.gz", "tar.xz", "tar.bz2" or "zip"
    size: int | None  # bytes of the file or member; None for a directory
    parent: str | None = None  # the input it was found in
    notes: tuple[str, ...] = ()


# What decompressing a snapshot compressed on its own can raise besides OSError.
_DECOMPRESSED_DAMAGE: tuple[type[BaseException], ...] = (EOFError, ValueError, *DECOMPRESSION_DAMAGE)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class EncryptionConfigSource:
    source: str
    data: bytes = field(repr=False)
    node: str | None = None
    host_path: str | None = None


LOG_READ_LIMIT = 256 << 20  # a log this long is read from its end: the failure is at the end


@dataclass(frozen=True)
class LogSource:
    """A log file: a path of its own, or a member of an open tree."""

    source: str
    format: LogFormat
    size: int
    node: str | None
    path: Path | None = None
    tree: EvidenceTree | None = field(default=None, repr=False, compare=False)
    tree_path: str | None = None

    def read_bytes(self, limit: int | None = None) -> bytes:
        if self.tree is not None and self.tree_path is not None:
            return self.tree.read_bytes(self.tree_path, limit)
        assert self.path is not None
        return _read_head(self.path, limit if limit is not None else self.size)

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


@dataclass(frozen=True)
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


# --------------------------------------------------------------------------- sniffing


def is_bolt_head(head: bytes) -> bool:
    """A valid-looking bbolt meta page 0: magic, version 2 and a power-of-two page size."""
    if len(head) < 28 or head[16:20] not in BOLT_MAGICS:
        return False
    order: Literal["little", "big"] = "little" if head[16:20] == BOLT_MAGICS[0] else "big"
    version = int.from_bytes(head[20:24], order)
    page_size = int.from_bytes(head[24:28], order)
    return version == 2 and page_size >= 512 and page_size & (page_size - 1) == 0


def _plausible_bolt_size(size: int) -> bool:
    # Whole pages, plus the 32-byte SHA-256 trailer `snapshot save` appends (etcdutl hasChecksum).
    return size >= 1024 and size % 512 in (0, 32)


def _named_like_snapshot(path: str) -> bool:
    name = path.rpartition("/")[2].lower()
    return name == "db" or name.endswith(".db") or name.startswith("snapshot")


def is_encryption_config(data: bytes) -> bool:
    if len(data) > MAX_CONFIG_BYTES or b"\x00" in data:
        return False
    try:
        document = load_yaml_mapping(data, "EncryptionConfiguration")
    except DecodeError:
        return False
    return document.get("kind") in ("EncryptionConfiguration", "EncryptionConfig")


def _describe_text(data: bytes) -> str:
    try:
        data.decode("utf-8")
        binary = b"\x00" in data[:SNIFF_BYTES]
    except UnicodeDecodeError as exc:
        binary = exc.start < len(data) - 4  # a character cut by the sniff limit is still text
    if binary:
        return f"a binary file (first bytes {data[:8].hex(' ')})"
    try:
        document = load_yaml_mapping(data, "file")
    except DecodeError:
        return "a text file that is neither YAML kforensic reads nor a kube-apiserver log"
    kind = document.get("kind")
    return f"YAML of kind {kind}" if kind else "a YAML file without a kind"


def _read_head(path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise EvidenceError(str(path), os_problem(exc)) from None


def _worth_holding(path: str) -> bool:
    """Which members of a compressed tar are held in memory (a listing of the rest is kept)."""
    lowered = path.lower()
    if "/" not in path or any(hint in lowered for hint in _HOLD_HINTS):
        return True
    return lowered.endswith(_HOLD_SUFFIXES) and path.count("/") <= MAX_LOOSE_DEPTH


def _backup_name(path: str) -> tuple[str | None, bool]:
    match = _BACKUP_NAME.match(path.rpartition("/")[2])
    if match is None:
        return None, "__POSSIBLY_DIRTY__" in path
    return match["stamp"], match["dirty"] is not None


def _stamp_utc(stamp: str | None) -> datetime | None:
    if stamp is None:
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%d_%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _tar_member_span(archive: Path, member: str, limits: Limits) -> tuple[int, int] | None:
    """Where a regular member's data lies in an uncompressed tar: (offset, size)."""
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for count, info in enumerate(tar):
                if count > limits.max_members:
                    return None
                name = "/".join(p for p in info.name.split("/") if p not in ("", "."))
                if name == member:
                    return (info.offset_data, info.size) if info.isreg() and not info.issparse() else None
    except (tarfile.TarError, OSError, EOFError, ValueError, RecursionError):  # RecursionError: chained pax headers
        return None
    return None


# --------------------------------------------------------------------------- collecting


@dataclass
class _Found:
    """What one tree (or one file) turned out to hold."""

    kind: InputKind | None = None
    nodes: list[NodeEvidence] = field(default_factory=list)
    snapshots: list[SnapshotSource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    must_gathers: list[MustGatherRoot] = field(default_factory=list)


def _spill_wanted(path: str, size: int, head: bytes) -> bool:
    """A member of a compressed tar worth decompressing to an anonymous file: an etcd snapshot."""
    return _plausible_bolt_size(size) and is_bolt_head(head)


_COMPRESSION_SUFFIX = re.compile(r"\.(gz|xz|bz2|zst)$")


class _Collector:
    def __init__(self, limits: Limits, progress: SpillProgress | None = None) -> None:
        self.limits = limits
        self.progress = progress
        self.spill = Spill(_spill_wanted, BOLT_SNIFF_BYTES, progress)
        self.inputs: list[DetectedInput] = []
        self.snapshots: list[SnapshotSource] = []
        self.nodes: list[NodeEvidence] = []
        self.configs: list[EncryptionConfigSource] = []
        self.logs: list[LogSource] = []
        self.problems: list[str] = []
        self.trees: list[EvidenceTree] = []
        self.must_gathers: list[MustGatherRoot] = []

    def result(self) -> Evidence:
        return Evidence(
            tuple(self.inputs),
            tuple(self.snapshots),
            tuple(self.nodes),
            tuple(self.configs),
            tuple(self.logs),
            tuple(dict.fromkeys(self.problems)),
            tuple(self.trees),
            tuple(self.must_gathers),
        )

    def close(self) -> None:
        for tree in reversed(self.trees):
            tree.close()

    # ---- a path the user gave

    def add_path(self, path: str | os.PathLike[str]) -> None:
        source = os.fspath(path)
        try:
            info = os.stat(path)
        except OSError as exc:
            raise EvidenceError(source, os_problem(exc)) from None
        if stat.S_ISDIR(info.st_mode):
            tree = self._open(lambda: open_tree(path, limits=self.limits))
            self._add_tree(tree, Path(path), parent=None, size=None, required=True)
            return
        if not stat.S_ISREG(info.st_mode):
            raise UnsupportedEvidence(source, f"not a file or directory; {EXPECTED}")
        head = _read_head(Path(path), LOG_SNIFF_BYTES)
        if is_bolt_head(head):
            stamp, dirty = _backup_name(source)
            self.snapshots.append(
                SnapshotSource(source, Path(path), 0, info.st_size, dirty, stamp, _stamp_utc(stamp), "bbolt meta page")
            )
            self.inputs.append(DetectedInput(source, InputKind.SNAPSHOT, "file", info.st_size))
            return
        container = sniff_container(BytesIO(head))
        if container in COMPRESSED and self._compressed_snapshot(source, Path(path), info.st_size, container):
            return
        if container is not None:
            tree = self._open(lambda: open_tree(path, limits=self.limits, want=_worth_holding, spill=self.spill))
            self._add_tree(tree, Path(path), parent=None, size=info.st_size, required=True)
            return
        if not self._add_text(source, head, info.st_size, node=None, path=Path(path), parent=None):
            if _plausible_bolt_size(info.st_size) and _named_like_snapshot(source) and b"\x00" in head:
                raise UnsupportedEvidence(
                    source, "named like an etcd snapshot but its first bbolt meta page is not valid; "
                    "try `kforensic info --salvage`"
                )  # fmt: skip
            raise UnsupportedEvidence(source, f"{_describe_text(head)}; {EXPECTED}{self._so_far()}")

    def _compressed_snapshot(self, source: str, path: Path | None, size: int, container: Container, *,
                             tree: EvidenceTree | None = None, tree_path: str | None = None, parent: str | None = None) -> bool:
        """A snapshot compressed on its own (``snapshot.db.gz``): recorded to be decompressed when read."""
        raw: IO[bytes]
        try:
            if path is not None:
                raw = open(path, "rb")  # noqa: SIM115 - closed below
            else:
                assert tree is not None and tree_path is not None
                raw = tree.open_member(tree_path)
            with raw:
                head = peek_decompressed(source, raw, container, BOLT_SNIFF_BYTES)
        except OSError as exc:
            raise EvidenceError(source, os_problem(exc)) from None
        if head is None or not is_bolt_head(head):
            return False
        stamp, dirty = _backup_name(_COMPRESSION_SUFFIX.sub("", source))
        self.snapshots.append(SnapshotSource(source, path, 0, size, dirty, stamp, _stamp_utc(stamp),
                                             f"bbolt meta page ({container.value}-compressed)",
                                             tree=tree, tree_path=tree_path, compressed=container))
        self.inputs.append(DetectedInput(source, InputKind.SNAPSHOT, container.value, size, parent,
                                         ("decompressed into an anonymous file when read",)))
        return True

    def _so_far(self) -> str:
        if not self.inputs:
            return ""
        kinds = ", ".join(f"{item.kind.value} {item.source}" for item in self.inputs if item.parent is None)
        return f" (recognised so far: {kinds})"

    def _open(self, opener: Callable[[], EvidenceTree]) -> EvidenceTree:
        tree = opener()
        self.trees.append(tree)
        return tree

    def _add_text(self, source: str, head: bytes, size: int, *, node: str | None, path: Path | None,
                  parent: str | None, tree: EvidenceTree | None = None, tree_path: str | None = None) -> bool:
        """Record a loose file that is an EncryptionConfiguration or a log; False when it is neither."""
        if size <= MAX_CONFIG_BYTES and is_encryption_config(head):
            self.configs.append(EncryptionConfigSource(source, head, node))
            self.inputs.append(DetectedInput(source, InputKind.ENCRYPTION_CONFIG, "file", size, parent))
            return True
        log_format = sniff_log(head)
        if log_format is None:
            return False
        self.logs.append(LogSource(source, log_format, size, node, path, tree, tree_path))
        self.inputs.append(DetectedInput(source, InputKind.LOG, "file", size, parent, (log_format.value,)))
        return True

    # ---- trees

    def _add_tree(self, tree: EvidenceTree, fs_path: Path | None, *, parent: str | None, size: int | None,
                  required: bool, fallback_name: str | None = None) -> InputKind | None:
        """Survey one tree; record it as an input. Unrecognised: raise when ``required``, else None."""
        position = len(self.inputs)  # the tree is listed before what was found inside it
        problems_before = len(self.problems)
        found = self._survey(tree, fs_path, fallback_name)
        if found.kind is None:
            if required:
                entries = [e.path for e in tree.iter_entries() if e.kind is EntryKind.FILE]
                shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
                seen = f"{len(entries)} files ({shown}), none of them evidence" if entries else "no files"
                # Why nothing was found matters more than what was expected: a nested archive past
                # the nesting limit, a stream cut off by a limit, a member that could not be read.
                why = [f"{p.path}: {p.problem}" for p in tree.problems] + self.problems[problems_before:]
                because = f" ({'; '.join(why[:3])})" if why else ""
                raise UnsupportedEvidence(tree.source, f"{tree.format} with {seen}{because}; {EXPECTED}{self._so_far()}")
            return None
        self.nodes.extend(found.nodes)
        self.snapshots.extend(found.snapshots)
        self.must_gathers.extend(found.must_gathers)
        notes = list(found.notes)
        for gathered in found.must_gathers:
            notes.append(f"must-gather/inspect root {gathered.root or '.'}: {len(gathered.resource_files)} resource files, "
                         f"{len(gathered.logs)} kube-apiserver logs")
        for node in found.nodes:
            label = f"node {node.name} ({node.distribution.value})"
            notes.append(f"{label}, scrubbed by sos" if node.scrubbed else label)
            notes.extend(node.notes)
        if tree.partial:
            notes.append("partial: the archive is damaged or cut off; files may be missing")
        for problem in tree.problems:
            self.problems.append(f"{tree.source}: member {problem.path}: {problem.problem}")
        self.inputs.insert(position, DetectedInput(tree.source, found.kind, tree.format, size, parent, tuple(notes)))
        return found.kind

    def _survey(self, tree: EvidenceTree, fs_path: Path | None, fallback: str | None) -> _Found:
        found = _Found(nodes=find_nodes(tree, fallback_name=fallback), must_gathers=find_must_gathers(tree))
        mounts = [m.tree_path for node in found.nodes for m in node.mounts]
        host_roots = [node.host_root for node in found.nodes if node.host_root is not None]
        sos_roots = [node.host_root for node in found.nodes if node.scrubbed and node.host_root is not None]
        kinds: list[InputKind] = []
        ignored: list[str] = []
        for entry in list(tree.iter_entries()):
            if entry.kind is not EntryKind.FILE:
                continue
            in_mount = any(path_inside(entry.path, m) for m in mounts)
            if not in_mount and _plausible_bolt_size(entry.size) and self._snapshot_member(tree, fs_path, entry, found):
                continue
            deep_in_host = any(entry.path.rpartition("/")[0] != root and path_inside(entry.path, root) for root in host_roots)
            in_sos = any(path_inside(entry.path, root) for root in sos_roots)
            if in_mount or deep_in_host or in_sos or entry.path.count("/") > MAX_LOOSE_DEPTH:
                continue
            if inside_must_gather(entry.path, found.must_gathers):
                continue
            kind = self._loose_member(tree, fs_path, entry, found)
            if kind is None:
                ignored.append(entry.path)
            else:
                kinds.append(kind)
        for node in found.nodes:
            self._node_configs(node)
            self._node_logs(node)
        for gathered in found.must_gathers:
            for path in gathered.logs:
                head = self._head(tree, path, LOG_SNIFF_BYTES)
                log_format = sniff_log(head) if head else None
                member = tree.stat(path)
                if log_format is not None and member is not None:
                    self.logs.append(LogSource(f"{tree.source}:{path}", log_format, member.size, None, None, tree, path))
        if ignored:
            shown = ", ".join(ignored[:3]) + (", ..." if len(ignored) > 3 else "")
            found.notes.append(f"not recognised ({len(ignored)} files): {shown}")
        found.kind = self._tree_kind(found, kinds)
        return found

    @staticmethod
    def _tree_kind(found: _Found, kinds: list[InputKind]) -> InputKind | None:
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

    def _head(self, tree: EvidenceTree, path: str, limit: int) -> bytes | None:
        try:
            return tree.read_bytes(path, limit)
        except EvidenceError:
            return None

    def _snapshot_member(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry, found: _Found) -> bool:
        head = self._head(tree, entry.path, BOLT_SNIFF_BYTES)
        if head is not None and not is_bolt_head(head):
            return False
        if head is None and not _named_like_snapshot(entry.path):
            return False
        recognised = "bbolt meta page" if head is not None else "name only (its contents were not read)"
        source = tree_location(tree, entry.path)
        stamp, dirty = _backup_name(entry.path)
        path, offset = self._snapshot_place(tree, fs_path, entry)
        found.snapshots.append(
            SnapshotSource(source, path, offset, entry.size, dirty, stamp, _stamp_utc(stamp), recognised,
                           tree=None if path is not None else tree, tree_path=None if path is not None else entry.path)
        )
        return True

    def _snapshot_place(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry) -> tuple[Path | None, int]:
        """Where a snapshot member can be mapped in place: (file, offset), or (None, 0) to read it
        through its tree (decompressed into an anonymous file, already or when opened)."""
        if tree.format == "directory" and fs_path is not None:
            return fs_path / entry.path, 0
        if tree.format == "tar" and fs_path is not None:
            span = _tar_member_span(fs_path, entry.path, self.limits)
            if span is not None:
                return fs_path, span[0]
        return None, 0

    def _loose_member(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry, found: _Found) -> InputKind | None:
        head = self._head(tree, entry.path, SNIFF_BYTES)
        if head is None:
            return None
        source = tree_location(tree, entry.path)
        container = sniff_container(BytesIO(head))
        if container in COMPRESSED:
            disk_path = fs_path / entry.path if tree.format == "directory" and fs_path is not None else None
            if self._compressed_snapshot(source, disk_path, entry.size, container, tree=None if disk_path else tree,
                                         tree_path=None if disk_path else entry.path, parent=tree.source):
                found.snapshots.append(self.snapshots.pop())
                return InputKind.SNAPSHOT
        if container is not None:
            return self._nested(tree, fs_path, entry, source)
        text = self._head(tree, entry.path, LOG_SNIFF_BYTES) or b""
        owner = next((n.name for n in sorted(found.nodes, key=lambda n: -len(n.base)) if path_inside(entry.path, n.base)), None)
        # A file of a directory is read by its own path later; an archive member through its tree.
        on_disk = tree.format == "directory" and fs_path is not None
        if self._add_text(source, text, entry.size, node=owner, parent=tree.source,
                          path=fs_path / entry.path if on_disk and fs_path else None,
                          tree=None if on_disk else tree, tree_path=None if on_disk else entry.path):
            return InputKind.LOG if self.inputs[-1].kind is InputKind.LOG else InputKind.ENCRYPTION_CONFIG
        return None

    def _nested(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry, source: str) -> InputKind | None:
        # A static_kuberesources tarball names no node; its backup directory is the best name left.
        backup = _BACKUP_NAME.match(entry.path.rpartition("/")[2])
        fallback = input_stem(tree.source) if backup else None
        try:
            if tree.format == "directory" and fs_path is not None:
                nested = self._open(lambda: open_tree(fs_path / entry.path, limits=self.limits, want=_worth_holding, spill=self.spill))
                nested_fs: Path | None = fs_path / entry.path
            else:
                nested = self._open(lambda: open_member_tree(tree, entry.path, want=_worth_holding, spill=self.spill))
                nested_fs = None
        except EvidenceError as exc:
            self.problems.append(f"{source}: {exc.problem}")
            return None
        return self._add_tree(nested, nested_fs, parent=tree.source, size=entry.size, required=False, fallback_name=fallback)

    # ---- what a node holds beyond its certificates

    def _node_configs(self, node: NodeEvidence) -> None:
        paths: list[str] = []
        manifest = node.read_host_file(f"{ETC_KUBERNETES}/manifests/kube-apiserver.yaml")
        if manifest.data is not None:
            try:
                pod = load_static_pod(manifest.data, "kube-apiserver")
                configured = pod.flags.find("encryption-provider-config")
                if configured:
                    paths.append(find_host_path(pod, configured) or configured)
            except DecodeError:
                pass
        # OpenShift: every revision keeps its own copy of the encryption-config secret (§2.2).
        for directory in node.list_host_dir(f"{ETC_KUBERNETES}/static-pod-resources"):
            if _REVISION_DIR.match(directory.rpartition("/")[2]):
                paths.append(f"{directory}/secrets/encryption-config/encryption-config")
        for path in paths:
            found = node.read_host_file(path)
            if found.data is not None and found.tree_path is not None and is_encryption_config(found.data):
                self.configs.append(EncryptionConfigSource(node.where(found.tree_path), found.data, node.name, path))
            elif found.tree_path is not None:
                self.problems.append(f"{node.where(found.tree_path)}: not a readable EncryptionConfiguration")

    def _node_logs(self, node: NodeEvidence) -> None:
        candidates = [
            path for path in node.list_host_dir("/var/log/kube-apiserver")
            if not path.rpartition("/")[2].startswith("audit")
        ]  # fmt: skip
        for pod_dir in node.list_host_dir("/var/log/pods"):
            name = pod_dir.rpartition("/")[2]
            if "_kube-apiserver-" in name:  # <namespace>_kube-apiserver-<node>_<uid>
                candidates.extend(node.list_host_dir(f"{pod_dir}/kube-apiserver"))
        for path in candidates:
            head = node.read_host_file(path, LOG_SNIFF_BYTES)
            if head.data is None or head.tree_path is None:
                continue
            log_format = sniff_log(head.data)
            if log_format is not None:
                entry = node.tree.stat(head.tree_path)
                size = entry.size if entry is not None else len(head.data)
                self.logs.append(LogSource(node.where(head.tree_path), log_format, size, node.name, None, node.tree, head.tree_path))


def detect_evidence(
    paths: Sequence[str | os.PathLike[str]], *, limits: Limits = DEFAULT_LIMITS, progress: SpillProgress | None = None
) -> Evidence:
    """Classify every path by content and collect nodes, snapshots, configs and logs from them.

    ``progress`` hears about snapshots decompressed while a compressed tar is read.

    Raises ``UnsupportedEvidence`` for a path that holds nothing kforensic reads, and
    ``EvidenceError`` for one that cannot be read; non-fatal trouble is in ``problems``.
    """
    collector = _Collector(limits, progress)
    try:
        for path in paths:
            collector.add_path(path)
    except BaseException:
        collector.close()
        raise
    return collector.result()


def open_snapshot_input(
    path: str | os.PathLike[str], *, salvage: bool = False, progress: SpillProgress | None = None, limits: Limits = DEFAULT_LIMITS
) -> Snapshot:
    """One snapshot named on the command line (``info``, ``get``): a file, or the one snapshot inside
    an archive or compressed file, or ``ARCHIVE!member`` as reports name it."""
    source = os.fspath(path)
    named = None
    if "!" in source and not os.path.exists(source):
        source, _, named = source.partition("!")
    try:
        regular = stat.S_ISREG(os.stat(source).st_mode)
    except OSError:
        regular = False
    if not regular:  # missing, a directory, a fifo (never opened: it would block): Snapshot says which
        return Snapshot(os.fspath(path), salvage=salvage)
    head = _read_head(Path(source), SNIFF_BYTES)
    if named is None and (is_bolt_head(head) or sniff_container(BytesIO(head)) is None):
        return Snapshot(os.fspath(path), salvage=salvage)
    with detect_evidence([source], limits=limits) as evidence:
        found = list(evidence.snapshots)
        if named is not None:
            found = [s for s in found if s.source == os.fspath(path)]
        if len(found) != 1:
            listed = ", ".join(s.source for s in evidence.snapshots) or "none"
            what = f"holds no etcd snapshot named {named}" if named is not None else (
                "holds no etcd snapshot" if not found else "holds several etcd snapshots; name one as ARCHIVE!member")
            raise UnsupportedEvidence(source, f"{what} (snapshots found: {listed})")
        # The Snapshot keeps its own handle (a window of the file, or an anonymous copy): the trees may close.
        return found[0].open(salvage=salvage, limits=limits, progress=progress)
