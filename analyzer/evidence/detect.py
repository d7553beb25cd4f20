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
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from analyzer.errors import EvidenceError, UnsupportedEvidence, os_problem
from analyzer.evidence.tree import (
    COMPRESSED,
    DEFAULT_LIMITS,
    SNIFF_BYTES,
    Container,
    Entry,
    EntryKind,
    EvidenceTree,
    Limits,
    Spill,
    open_member_tree,
    open_tree,
    peek_decompressed,
)
from analyzer.evidence.spill import SpillProgress
from analyzer.evidence.mustgather import MustGatherRoot, find_must_gathers, inside_must_gather
from analyzer.evidence.node import (
    NodeEvidence,
    find_nodes,
    input_stem,
    path_inside,
    tree_location,
)
from analyzer.evidence.inputs import TreeFindings, tree_kind, DetectedInput, EncryptionConfigSource, Evidence, InputKind, LogSource, SnapshotSource, read_head
from analyzer.evidence.names import MAX_LOOSE_DEPTH, BACKUP_NAME, COMPRESSION_SUFFIX, backup_name, stamp_utc, worth_holding
from analyzer.evidence.node_files import find_apiserver_logs, find_encryption_configs
from analyzer.evidence.sniff import container_of, sniff_log, BOLT_SNIFF_BYTES, LOG_SNIFF_BYTES, MAX_CONFIG_BYTES, describe_text, named_like_snapshot, plausible_bolt_size, is_bolt_head, is_encryption_config


EXPECTED = (
    "expected an etcd snapshot, a node tree (a directory or archive holding /etc/kubernetes or "
    "/var/lib/kubelet/pki), a sosreport, a cluster-backup directory, an EncryptionConfiguration or "
    "a kube-apiserver log"
)


# --------------------------------------------------------------------------- collecting


def _spill_wanted(path: str, size: int, head: bytes) -> bool:
    """A member of a compressed tar worth decompressing to an anonymous file: an etcd snapshot."""
    return plausible_bolt_size(size) and is_bolt_head(head)


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
        head = read_head(Path(path), LOG_SNIFF_BYTES)
        if is_bolt_head(head):
            stamp, dirty = backup_name(source)
            self.snapshots.append(
                SnapshotSource(source, Path(path), 0, info.st_size, dirty, stamp, stamp_utc(stamp), "bbolt meta page")
            )
            self.inputs.append(DetectedInput(source, InputKind.SNAPSHOT, "file", info.st_size))
            return
        container = container_of(head)
        if container in COMPRESSED and self._compressed_snapshot(source, Path(path), info.st_size, container):
            return
        if container is not None:
            tree = self._open(lambda: open_tree(path, limits=self.limits, want=worth_holding, spill=self.spill))
            self._add_tree(tree, Path(path), parent=None, size=info.st_size, required=True)
            return
        if not self._add_text(source, head, info.st_size, node=None, path=Path(path), parent=None):
            if plausible_bolt_size(info.st_size) and named_like_snapshot(source) and b"\x00" in head:
                raise UnsupportedEvidence(
                    source, "named like an etcd snapshot but its first bbolt meta page is not valid; "
                    "try `kforensic info --salvage`"
                )  # fmt: skip
            raise UnsupportedEvidence(source, f"{describe_text(head)}; {EXPECTED}{self._so_far()}")

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
        stamp, dirty = backup_name(COMPRESSION_SUFFIX.sub("", source))
        self.snapshots.append(SnapshotSource(source, path, 0, size, dirty, stamp, stamp_utc(stamp),
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

    def _add_text(self, source: str, head: bytes, size: int, *, node: NodeEvidence | None, path: Path | None,
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
        after = ("partial: the archive is damaged or cut off; files may be missing",) if tree.partial else ()
        for problem in tree.problems:
            self.problems.append(f"{tree.source}: member {problem.path}: {problem.problem}")
        # Its nodes are named in its notes by the wiring, which decides who each node is (DetectedInput.named).
        self.inputs.insert(position, DetectedInput(tree.source, found.kind, tree.format, size, parent, tuple(notes),
                                                   tuple(found.nodes), after))
        return found.kind

    def _survey(self, tree: EvidenceTree, fs_path: Path | None, fallback: str | None) -> TreeFindings:
        found = TreeFindings(nodes=find_nodes(tree, fallback_name=fallback), must_gathers=find_must_gathers(tree))
        mounts = [m.source for node in found.nodes for m in node.mounts]
        host_roots = [node.host_root for node in found.nodes if node.host_root is not None]
        sos_roots = [node.host_root for node in found.nodes if node.scrubbed and node.host_root is not None]
        kinds: list[InputKind] = []
        ignored: list[str] = []
        for entry in list(tree.iter_entries()):
            if entry.kind is not EntryKind.FILE:
                continue
            in_mount = any(path_inside(entry.path, m) for m in mounts)
            if not in_mount and plausible_bolt_size(entry.size) and self._snapshot_member(tree, fs_path, entry, found):
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
            configs, problems = find_encryption_configs(node)
            self.configs.extend(configs)
            self.problems.extend(problems)
            self.logs.extend(find_apiserver_logs(node))
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
        found.kind = tree_kind(found, kinds)
        return found

    def _head(self, tree: EvidenceTree, path: str, limit: int) -> bytes | None:
        try:
            return tree.read_bytes(path, limit)
        except EvidenceError:
            return None

    def _snapshot_member(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry, found: TreeFindings) -> bool:
        head = self._head(tree, entry.path, BOLT_SNIFF_BYTES)
        if head is not None and not is_bolt_head(head):
            return False
        if head is None and not named_like_snapshot(entry.path):
            return False
        recognised = "bbolt meta page" if head is not None else "name only (its contents were not read)"
        source = tree_location(tree, entry.path)
        stamp, dirty = backup_name(entry.path)
        path, offset = self._snapshot_place(tree, fs_path, entry)
        found.snapshots.append(
            SnapshotSource(source, path, offset, entry.size, dirty, stamp, stamp_utc(stamp), recognised,
                           tree=None if path is not None else tree, tree_path=None if path is not None else entry.path)
        )
        return True

    def _snapshot_place(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry) -> tuple[Path | None, int]:
        """Where a snapshot member can be mapped in place: (file, offset), or (None, 0) to read it
        through its tree (decompressed into an anonymous file, already or when opened)."""
        if tree.format == "directory" and fs_path is not None:
            return fs_path / entry.path, 0
        if tree.format == "tar" and fs_path is not None:
            try:
                span = tree.member_span(entry.path)
            except EvidenceError:
                span = None
            if span is not None:
                return fs_path, span[0]
        return None, 0

    def _loose_member(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry, found: TreeFindings) -> InputKind | None:
        head = self._head(tree, entry.path, SNIFF_BYTES)
        if head is None:
            return None
        source = tree_location(tree, entry.path)
        container = container_of(head)
        if container in COMPRESSED:
            disk_path = fs_path / entry.path if tree.format == "directory" and fs_path is not None else None
            if self._compressed_snapshot(source, disk_path, entry.size, container, tree=None if disk_path else tree,
                                         tree_path=None if disk_path else entry.path, parent=tree.source):
                found.snapshots.append(self.snapshots.pop())
                return InputKind.SNAPSHOT
        if container is not None:
            return self._nested(tree, fs_path, entry, source)
        text = self._head(tree, entry.path, LOG_SNIFF_BYTES) or b""
        owner = next((n for n in sorted(found.nodes, key=lambda n: -len(n.base)) if path_inside(entry.path, n.base)), None)
        # A file of a directory is read by its own path later; an archive member through its tree.
        on_disk = tree.format == "directory" and fs_path is not None
        if self._add_text(source, text, entry.size, node=owner, parent=tree.source,
                          path=fs_path / entry.path if on_disk and fs_path else None,
                          tree=None if on_disk else tree, tree_path=None if on_disk else entry.path):
            return InputKind.LOG if self.inputs[-1].kind is InputKind.LOG else InputKind.ENCRYPTION_CONFIG
        return None

    def _nested(self, tree: EvidenceTree, fs_path: Path | None, entry: Entry, source: str) -> InputKind | None:
        # A static_kuberesources tarball names no node; its backup directory is the best name left.
        backup = BACKUP_NAME.match(entry.path.rpartition("/")[2])
        fallback = input_stem(tree.source) if backup else None
        try:
            if tree.format == "directory" and fs_path is not None:
                nested = self._open(lambda: open_tree(fs_path / entry.path, limits=self.limits, want=worth_holding, spill=self.spill))
                nested_fs: Path | None = fs_path / entry.path
            else:
                nested = self._open(lambda: open_member_tree(tree, entry.path, want=worth_holding, spill=self.spill))
                nested_fs = None
        except EvidenceError as exc:
            self.problems.append(f"{source}: {exc.problem}")
            return None
        return self._add_tree(nested, nested_fs, parent=tree.source, size=entry.size, required=False, fallback_name=fallback)


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
