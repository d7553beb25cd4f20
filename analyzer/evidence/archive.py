"""One read-only virtual tree over a directory or an archive.

Whatever the customer sent — a copied ``/etc/kubernetes``, a tarball of it, a sosreport, the
output of OpenShift's ``cluster-backup.sh`` — becomes an ``EvidenceTree``: a listing of entries
(file, directory, symbolic link) under POSIX paths relative to the evidence root, plus bounded,
read-only access to file contents. Everything downstream reads that one kind of tree (the idea of
dissect.target's tar loader and virtual filesystem).

Rules every tree keeps:

* **Nothing is extracted and nothing is written.** Directories are walked with ``os.scandir``
  without following links; files are opened read-only beneath the root, one component at a time,
  refusing symlinks. Uncompressed tar and zip are read in place; compressed tars are read in one
  streaming pass and the contents that fit the limits are held in memory.
* **Links stay inside the evidence.** A link target is interpreted inside the tree: an absolute
  target such as ``/var/lib/kubelet/pki/kubelet-client-2024-05-01-10-00-00.pem`` is relative to the
  *evidence's* root, never the analysing machine's. A link that climbs above the root is listed
  (it is evidence too) and reported, but never followed.
* **Hostile members are reported, not obeyed.** Absolute names, ``..`` components, devices and
  fifos, members under a non-directory, and duplicate names are skipped and named in
  ``problems``; a damaged archive yields the members read before the damage with ``partial=True``.
* **Everything is bounded** by ``Limits``: bytes per member and in total held, members per tree,
  link hops, uncompressed bytes streamed, and archive nesting depth.

``partial`` means "the listing may be incomplete, so a missing file proves nothing": the archive
was cut off or damaged part-way, a subdirectory could not be listed, or the member limit was hit.
A member that is merely too big, filtered out by ``want``, or hostile is still reported in
``problems`` but does not make the tree partial, because the listing itself is complete.

Errors: a path that cannot be opened raises ``EvidenceError``; a file that is no supported kind
raises ``UnsupportedEvidence`` describing its first bytes; an archive damaged before its first
member raises ``CorruptEvidence``/``TruncatedEvidence``. Reading a member that cannot be read
raises one of these naming the member, never an ``OSError`` or a library exception.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import IO, Self

from analyzer.errors import (
    CorruptEvidence,
    EvidenceError,
    TruncatedEvidence,
    UnsupportedEvidence,
    os_problem,
)
from analyzer.evidence.spill import SpilledFile, SpillProgress

import zstandard  # python-zstandard: Python 3.11 has no compression.zstd

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

# Magic bytes, all at offset 0 except ustar's.
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"  # followed by the block size digit '1'..'9'
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878 section 3.1.1
ZIP_LOCAL_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"  # an empty zip is only its end-of-central-directory record
USTAR_MAGIC = b"ustar"  # POSIX writes "ustar\x0000", GNU "ustar  \x00"; both start so
USTAR_MAGIC_OFFSET = 257
SNIFF_BYTES = 512  # one tar header block holds every magic above

# Recognised only so that an unsupported file can be named in the error.
_OTHER_MAGICS = (
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x04\x22\x4d\x18", "lz4-compressed data"),
)

# pax and GNU long-name headers are read into memory whole by tarfile; real ones are a few hundred
# bytes, so a header declaring more is hostile (a gzip bomb aimed at tarfile's buffer).
MAX_TAR_METADATA_BYTES = 1 * MiB
_TAR_METADATA_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
_TAR_SPECIAL_TYPES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
}

MAX_LINK_TARGET_BYTES = 4 * KiB  # PATH_MAX; zip keeps a symlink's target as the member's data

# zip structures (APPNOTE.TXT 4.5 and info-zip's "extended timestamp" extra field).
ZIP_EXTRA_FIELD = struct.Struct("<HH")  # header id, data size
ZIP_EXTENDED_TIMESTAMP = struct.Struct("<Bi")  # flags, mtime in Unix seconds (UTC)
ZIP_EXTENDED_TIMESTAMP_ID = 0x5455
ZIP_EXTENDED_TIMESTAMP_HAS_MTIME = 0x01
ZIP_UNIX_SYSTEM = 3  # create_system of a member made on Unix: external_attr >> 16 is st_mode
ZIP_FLAG_ENCRYPTED = 0x01


@dataclass(frozen=True)
class Limits:
    """How much of an input a tree reads, holds and follows."""

    max_member_bytes: int = 64 * MiB  # one member read in full (certs, kubeconfigs, manifests)
    max_total_bytes: int = 1 * GiB  # contents held in memory for one compressed tar
    max_members: int = 200_000  # members listed per tree; a large sosreport has ~50 000
    max_link_hops: int = 40  # Linux's MAXSYMLINKS
    max_stream_bytes: int = 64 * GiB  # uncompressed bytes one compressed tar may stream through
    max_nesting: int = 3  # archives inside archives (case tarball > sosreport > backup tarball)


DEFAULT_LIMITS = Limits()


class EntryKind(Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"


class Container(Enum):
    """What the first bytes of a file say it is."""

    TAR = "tar"
    GZIP = "gzip"
    XZ = "xz"
    BZIP2 = "bzip2"
    ZSTD = "zstd"
    ZIP = "zip"


COMPRESSED = frozenset({Container.GZIP, Container.XZ, Container.BZIP2, Container.ZSTD})


@dataclass(frozen=True)
class Entry:
    """One member of a tree. ``path`` is POSIX, relative to the root, without a leading ``./``.

    ``size`` is the byte count of a file's contents (0 for directories and links); a hard link
    in a tar is listed as the file it links to. ``mode`` holds the permission bits, or None where
    the input does not record them (implicit directories, zips not made on Unix).
    """

    path: str
    kind: EntryKind
    size: int
    link_target: str | None  # a symlink's target exactly as stored
    mode: int | None
    mtime_utc: datetime | None


@dataclass(frozen=True)
class TreeProblem:
    """A member that was skipped, damaged or not read; ``path`` is escaped to one printable line."""

    path: str
    problem: str


_ROOT = Entry("", EntryKind.DIR, 0, None, None, None)

WantFilter = Callable[[str], bool]


@dataclass(frozen=True)
class Spill:
    """Which members of a compressed tar to decompress into anonymous files as the stream passes
    (an etcd snapshot: too big to hold, and a compressed stream cannot be read again later)."""

    wanted: Callable[[str, int, bytes], bool]  # (member path, size, its first head_bytes) -> spill it?
    head_bytes: int = 64
    progress: SpillProgress | None = None
_Decompressed = gzip.GzipFile | lzma.LZMAFile | bz2.BZ2File
_Unavailable = tuple[type[EvidenceError], str]


# --------------------------------------------------------------------------- small helpers


def _printable(name: str) -> str:
    """A name safe inside a one-line message: control characters and stray bytes are escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def _member(path: str) -> str:
    return f"member {_printable(path)}"


def _reason(exc: BaseException) -> str:
    """A library exception as a short phrase, without its class name or a traceback."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def _too_big(size: int, limits: Limits) -> str:
    return f"{size} bytes, more than the {limits.max_member_bytes} bytes read from one member"


def _utc(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # a hostile or garbled timestamp
        return None


def _member_path(name: str) -> tuple[str, str | None]:
    """The tree path for an archive member name, or why the name is refused."""
    if "\x00" in name:
        return "", "member name contains a NUL byte"
    if name.startswith("/"):
        return "", "absolute member name"
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        return "", "member name contains '..'"
    return "/".join(parts), None


def path_parts(path: str) -> list[str]:
    """The components of a path given to a tree; a leading "/" means the evidence root."""
    return [part for part in path.split("/") if part not in ("", ".")]


def _link_leaves_root(link_path: str, target: str) -> bool:
    """Whether a link's target, read lexically, climbs above the evidence root."""
    depth = 0 if target.startswith("/") else link_path.count("/")
    for part in path_parts(target):
        if part != "..":
            depth += 1
        elif depth == 0:
            return True
        else:
            depth -= 1
    return False


def _special_kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return f"unknown file type {stat.S_IFMT(mode):#o}"


# --------------------------------------------------------------------------- detection


def _container_of(head: bytes) -> Container | None:
    if head.startswith(GZIP_MAGIC):
        return Container.GZIP
    if head.startswith(XZ_MAGIC):
        return Container.XZ
    if head.startswith(BZIP2_MAGIC) and head[3:4].isdigit():
        return Container.BZIP2
    if head.startswith(ZSTD_MAGIC):
        return Container.ZSTD
    if head.startswith((ZIP_LOCAL_MAGIC, ZIP_EMPTY_MAGIC)):
        return Container.ZIP
    if head[USTAR_MAGIC_OFFSET : USTAR_MAGIC_OFFSET + len(USTAR_MAGIC)] == USTAR_MAGIC:
        return Container.TAR
    return None


def _peek(fileobj: IO[bytes]) -> bytes:
    position = fileobj.tell()
    try:
        return fileobj.read(SNIFF_BYTES)
    finally:
        fileobj.seek(position)


def sniff_container(fileobj: IO[bytes]) -> Container | None:
    """What a seekable binary file is, by its magic bytes; the file position is left unchanged."""
    return _container_of(_peek(fileobj))


def _describe_head(head: bytes) -> str:
    if not head:
        return "empty file; not an archive"
    for magic, name in _OTHER_MAGICS:
        if head.startswith(magic):
            return f"looks like {name}, which is not supported"
    shown = " ".join(f"{byte:02x}" for byte in head[:8])
    return (
        f"not a directory or a tar, tar.gz, tar.xz, tar.bz2 or zip archive (first bytes: {shown})"
    )


# --------------------------------------------------------------------------- the index


class _Index:
    """The entries of one tree, collected while its input is read, and what was wrong with them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.entries: dict[str, Entry] = {}
        self.problems: list[TreeProblem] = []
        self.partial = False
        self._implicit: set[str] = set()  # directories known only from the paths beneath them
        self._members = 0

    def admit_member(self) -> bool:
        """Count one more member read; False once over the limit (the tree is then partial)."""
        self._members += 1
        if self._members <= self.limits.max_members:
            return True
        self.stop("", f"more than {self.limits.max_members} members; the rest were not read")
        return False

    def refuse(self, name: str, problem: str) -> None:
        self.problems.append(TreeProblem(_printable(name), problem))

    def stop(self, name: str, problem: str) -> None:
        """Record why reading ended early; members after this point are missing."""
        self.refuse(name, problem)
        self.partial = True

    def add(
        self,
        name: str,
        kind: EntryKind,
        *,
        size: int = 0,
        link_target: str | None = None,
        mode: int | None = None,
        mtime_utc: datetime | None = None,
    ) -> str | None:
        """Add one member by its stored name; its tree path, or None when it was refused."""
        path, refusal = _member_path(name)
        if refusal is not None:
            self.refuse(name, f"{refusal}; skipped")
            return None
        if not path:  # "./": the archive's own root
            return None
        blocker = self._add_parents(path)
        if blocker is not None:
            # Extracting this would write through a link or over a file (the classic tar attack).
            self.refuse(name, f"parent {blocker.path} is a {blocker.kind.value}; skipped")
            return None
        existing = self.entries.get(path)
        entry = Entry(
            path, kind, size if kind is EntryKind.FILE else 0, link_target, mode, mtime_utc
        )
        if existing is not None:
            if kind is EntryKind.DIR and existing.kind is EntryKind.DIR:
                if path in self._implicit:
                    self._implicit.discard(path)
                    self.entries[path] = entry
                return path
            self.refuse(name, "duplicate member name; the first one is kept")
            return None
        self.entries[path] = entry
        if kind is EntryKind.FILE and size > self.limits.max_member_bytes:
            self.refuse(path, f"{_too_big(size, self.limits)}; contents not read")
        if kind is EntryKind.SYMLINK and _link_leaves_root(path, link_target or ""):
            self.refuse(
                path,
                f"symbolic link to {_printable(link_target or '')} leaves the evidence; "
                "not followed",
            )
        return path

    def _add_parents(self, path: str) -> Entry | None:
        """Create the implicit directories above path; the first non-directory in the way."""
        parent = self.entries.get(path.rpartition("/")[0])
        if parent is not None:  # the common case: its own ancestors were made when it was added
            return None if parent.kind is EntryKind.DIR else parent
        parts = path.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            existing = self.entries.get(ancestor)
            if existing is None:
                self.entries[ancestor] = Entry(ancestor, EntryKind.DIR, 0, None, None, None)
                self._implicit.add(ancestor)
            elif existing.kind is not EntryKind.DIR:
                return existing
        return None


# --------------------------------------------------------------------------- the tree


class EvidenceTree(ABC):
    """A read-only tree of entries. Subclasses read their input, then call ``_adopt``."""

    format: str  # "directory", "tar", "tar.gz", "tar.xz", "tar.bz2" or "zip"

    def __init__(self, source: str, limits: Limits, depth: int) -> None:
        self.source = source  # the input as the user named it
        self.limits = limits
        self.depth = depth  # 0 for an input the user named, +1 per archive it is nested in
        self.problems: tuple[TreeProblem, ...] = ()
        self.partial = False
        # Files that are listed but whose contents cannot be read, and why.
        self._unavailable: dict[str, _Unavailable] = {}
        self._entries: dict[str, Entry] = {}
        self._paths: list[str] = []
        self._children: dict[str, list[str]] = {}
        # Members decompressed into anonymous files while a compressed stream was read.
        self._spilled: dict[str, SpilledFile] = {}
        self._spilled_paths: frozenset[str] = frozenset()

    def _adopt(self, index: _Index) -> None:
        self.problems = tuple(index.problems)
        self.partial = index.partial
        self._entries = index.entries
        self._paths = sorted(index.entries)
        for path in self._paths:
            self._children.setdefault(path.rpartition("/")[0], []).append(path)

    # ---- listing

    def iter_entries(self, under: str = "") -> Iterator[Entry]:
        """Every entry below the tree path ``under`` (no links followed), sorted by path."""
        parts = path_parts(under)
        if ".." in parts:
            raise ValueError(f"iter_entries: {under!r} must not contain '..'")
        if not parts:
            yield from (self._entries[path] for path in self._paths)
            return
        prefix = "/".join(parts) + "/"
        for path in self._paths[bisect_left(self._paths, prefix) :]:
            if not path.startswith(prefix):
                return
            yield self._entries[path]

    def iter_dir(self, path: str = "") -> Iterator[Entry]:
        """The entries directly in a directory (following links to it); none when it is not one."""
        directory = self.resolve(path)
        if directory is None or self._entry(directory).kind is not EntryKind.DIR:
            return
        for child in self._children.get(directory, ()):
            yield self._entries[child]

    def stat(self, path: str) -> Entry | None:
        """The entry at path, like lstat: links in the parents are followed, the last one is not."""
        found = self._walk(path, follow_last=False)
        return None if found is None else self._entry(found)

    def resolve(self, path: str) -> str | None:
        """The path with every link followed inside the evidence; None when nothing is there
        (also for a path that itself climbs above the root with "..").

        Raises ``CorruptEvidence`` for a link loop (more than ``max_link_hops``) or a link that
        leads above the evidence root: such a link is never followed.
        """
        return self._walk(path, follow_last=True)

    # ---- reading

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        """A file's contents (following links inside the evidence), or its first ``limit`` bytes."""
        if limit is not None and limit < 0:
            raise ValueError("read_bytes: limit must not be negative")
        found, entry = self._file(path)
        size = entry.size if limit is None else min(limit, entry.size)
        if size > self.limits.max_member_bytes:
            raise EvidenceError(self.source, _too_big(entry.size, self.limits), _member(found))
        if found in self._spilled:
            return self._spilled[found].read(size)
        return self._read_file(found, size)

    @property
    def spilled(self) -> frozenset[str]:
        """Members decompressed into anonymous files while the archive was read (known after close too)."""
        return self._spilled_paths | frozenset(self._spilled)

    def open_member(self, path: str) -> IO[bytes]:
        """A stream over a file member (seekable where the archive allows), for the caller to close."""
        found, _entry = self._file(path)
        return self._open_member(found)

    def spill_member(self, path: str, progress: SpillProgress | None = None) -> SpilledFile:
        """A file member decompressed into an anonymous file of the caller's own (close it).

        Bounded by ``max_stream_bytes``, not by ``max_member_bytes``: this is how a multi-GiB
        snapshot inside a zip or a nested archive is read without holding it in memory.
        """
        found, entry = self._file(path)
        if found in self._spilled:
            return self._spilled[found].dup()
        spilled = SpilledFile(f"{self.source}!{found}")
        try:
            with self._open_member(found) as stream:
                spilled.fill(stream, limit=self.limits.max_stream_bytes, expected=entry.size, progress=progress)
        except (*_ZIP_DAMAGE, *_TAR_DAMAGE) as exc:
            spilled.close()
            raise CorruptEvidence(self.source, f"cannot be decompressed: {_reason(exc)}", _member(found)) from None
        except BaseException:
            spilled.close()
            raise
        if spilled.size != entry.size:
            spilled.close()
            raise TruncatedEvidence(self.source, f"holds {spilled.size} of its {entry.size} bytes", _member(found))
        return spilled

    def close(self) -> None:
        """Release the open input, if any. Close nested trees before their parent."""
        self._spilled_paths = self.spilled
        for spilled in self._spilled.values():
            spilled.close()
        self._spilled.clear()

    def __enter__(self) -> EvidenceTree:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.source!r} entries={len(self._paths)} "
            f"problems={len(self.problems)} partial={self.partial}>"
        )

    # ---- for subclasses and open_member_tree

    @abstractmethod
    def _read_file(self, path: str, size: int) -> bytes:
        """Exactly the first ``size`` bytes of the FILE entry at canonical ``path``, or raise."""

    def _open_member(self, path: str) -> IO[bytes]:
        """A seekable stream over the FILE entry at canonical ``path``, for a nested archive."""
        return io.BytesIO(self.read_bytes(path))

    def _entry(self, path: str) -> Entry:
        return self._entries[path] if path else _ROOT

    def _file(self, path: str) -> tuple[str, Entry]:
        """The canonical path and entry of a readable file, or the EvidenceError saying why not."""
        found = self.resolve(path)
        if found is None:
            raise EvidenceError(self.source, "no such file in the evidence", _member(path))
        entry = self._entry(found)
        if entry.kind is not EntryKind.FILE:
            raise EvidenceError(self.source, "is a directory, not a file", _member(found))
        unavailable = self._unavailable.get(found)
        if unavailable is not None:
            error, problem = unavailable
            raise error(self.source, problem, _member(found))
        return found, entry

    def _walk(self, path: str, *, follow_last: bool) -> str | None:
        # Iterative, component by component, like the kernel's path walk: a link's target is
        # pushed back onto the pending components, so ".." after a link is taken from where the
        # link led (POSIX), and a loop is cut by the hop count rather than by recursion.
        pending = list(reversed(path_parts(path)))
        done: list[str] = []
        hops = 0
        via: str | None = None  # the last link followed, to name it if it leaves the root
        while pending:
            name = pending.pop()
            if name == "..":
                if not done:
                    if via is None:  # the caller's own path climbs out: nothing is there
                        return None
                    raise CorruptEvidence(
                        self.source, "symbolic link leads out of the evidence", _member(via)
                    )
                done.pop()
                continue
            candidate = "/".join([*done, name])
            entry = self._entries.get(candidate)
            if entry is None:
                return None
            if entry.kind is EntryKind.SYMLINK and (pending or follow_last):
                hops += 1
                if hops > self.limits.max_link_hops:
                    raise CorruptEvidence(
                        self.source, "too many levels of symbolic links", _member(path)
                    )
                target = entry.link_target or ""
                if not target:
                    return None  # an empty target names nothing (ENOENT on Linux)
                if target.startswith("/"):
                    done = []  # absolute: from the evidence's own root
                pending.extend(reversed(path_parts(target)))
                via = candidate
                continue
            if pending and entry.kind is not EntryKind.DIR:
                return None
            done.append(name)
        return "/".join(done)


# --------------------------------------------------------------------------- directories


class DirectoryTree(EvidenceTree):
    """A directory on disk, listed up front and read lazily, never following links on disk."""

    format = "directory"

    def __init__(self, source: str, root: Path, limits: Limits) -> None:
        super().__init__(source, limits, depth=0)
        self._root = root
        index = _Index(limits)
        self._scan(index)
        self._adopt(index)

    def _scan(self, index: _Index) -> None:
        pending = [("", os.fspath(self._root))]
        while pending:
            relative, real = pending.pop()
            try:
                with os.scandir(real) as listing:
                    children = sorted(listing, key=lambda child: child.name)
            except OSError as exc:
                if not relative:
                    raise EvidenceError(self.source, os_problem(exc)) from None
                index.stop(
                    relative,
                    f"cannot list this directory ({os_problem(exc)}); its contents are missing",
                )
                continue
            for child in children:
                if not index.admit_member():
                    return
                path = f"{relative}/{child.name}" if relative else child.name
                if self._add(index, path, child) is EntryKind.DIR:
                    pending.append((path, child.path))

    @staticmethod
    def _add(index: _Index, path: str, child: os.DirEntry[str]) -> EntryKind | None:
        try:
            info = child.stat(follow_symlinks=False)
            target = os.readlink(child.path) if stat.S_ISLNK(info.st_mode) else None
        except OSError as exc:
            index.stop(path, f"{os_problem(exc)}; skipped")
            return None
        if target is not None:
            kind = EntryKind.SYMLINK
        elif stat.S_ISDIR(info.st_mode):
            kind = EntryKind.DIR
        elif stat.S_ISREG(info.st_mode):
            kind = EntryKind.FILE
        else:
            index.refuse(path, f"{_special_kind(info.st_mode)}; skipped")
            return None
        added = index.add(
            path,
            kind,
            size=info.st_size,
            link_target=target,
            mode=stat.S_IMODE(info.st_mode),
            mtime_utc=_utc(info.st_mtime),
        )
        return kind if added is not None else None

    def _open_beneath(self, path: str) -> IO[bytes]:
        # One component at a time with O_NOFOLLOW: if the tree changed since it was listed, a
        # link swapped in for a directory or file fails to open instead of leading elsewhere.
        # O_NONBLOCK keeps a fifo swapped in for a file from hanging the open.
        where = _member(path)
        *parents, name = path.split("/")
        directory = None
        try:
            directory = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY)
            for parent in parents:
                inner = os.open(
                    parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory
                )
                os.close(directory)
                directory = inner
            descriptor = os.open(
                name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory
            )
        except OSError as exc:
            raise EvidenceError(self.source, os_problem(exc), where) from None
        finally:
            if directory is not None:
                os.close(directory)
        stream = os.fdopen(descriptor, "rb")
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            stream.close()
            raise CorruptEvidence(
                self.source, "changed since it was listed: not a regular file now", where
            )
        return stream

    def _read_file(self, path: str, size: int) -> bytes:
        with self._open_beneath(path) as stream:
            now = os.fstat(stream.fileno()).st_size
            listed = self._entries[path].size
            if now != listed:
                raise CorruptEvidence(
                    self.source,
                    f"changed since it was listed ({listed} bytes then, {now} now)",
                    _member(path),
                )
            try:
                data = stream.read(size)
            except OSError as exc:
                raise EvidenceError(self.source, os_problem(exc), _member(path)) from None
        return data

    def _open_member(self, path: str) -> IO[bytes]:
        return self._open_beneath(path)


# --------------------------------------------------------------------------- tar


# tarfile's kinds of header error: undocumented, but stable since Python 3.2 (typeshed omits them).
_TAR_END_OF_ARCHIVE: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]  # typeshed does not declare tarfile's header errors
_TAR_NO_HEADER: type[Exception] = tarfile.EmptyHeaderError  # type: ignore[attr-defined]  # typeshed does not declare tarfile's header errors
_TAR_CUT_HEADER: type[Exception] = tarfile.TruncatedHeaderError  # type: ignore[attr-defined]  # typeshed does not declare tarfile's header errors


class _DamagedHeader(Exception):
    """A tar header that is neither a member nor the end-of-archive marker."""


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile's TarInfo with two guards an evidence reader needs and tarfile lacks.

    tarfile silently treats an unreadable header after the first as the end of the archive; for
    evidence that hides lost members, so it is raised instead. And tarfile reads a pax or GNU
    long-name header into memory whole, whatever size it declares; that size is capped.
    """

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _TAR_METADATA_TYPES and info.size > MAX_TAR_METADATA_BYTES:
            raise _DamagedHeader(
                f"an extended header declares {info.size} bytes "
                f"(at most {MAX_TAR_METADATA_BYTES} are read)"
            )
        return info

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except _TAR_END_OF_ARCHIVE:
            raise  # a zero block: the archive's normal end
        except _TAR_NO_HEADER:
            raise _DamagedHeader("the archive ends without its end-of-archive marker") from None
        except _TAR_CUT_HEADER:
            raise _DamagedHeader("the archive ends inside a header") from None
        except tarfile.HeaderError as exc:
            raise _DamagedHeader(f"damaged header ({_reason(exc)})") from None


# What tarfile and the decompressors (and a zip member they read from) raise on damaged or cut-off
# input. RecursionError: tarfile recurses once per chained pax header.
# What the decompressors raise on damaged data (gzip's is an OSError: catch these first).
DECOMPRESSION_DAMAGE: tuple[type[BaseException], ...] = (
    gzip.BadGzipFile,
    lzma.LZMAError,
    zlib.error,
    zstandard.ZstdError,
)

_TAR_DAMAGE = (
    tarfile.TarError,
    zipfile.BadZipFile,  # a tar streamed out of a zip member fails its CRC at the end
    _DamagedHeader,
    EOFError,
    OSError,
    lzma.LZMAError,
    zlib.error,
    ValueError,
    RecursionError,
    zstandard.ZstdError,
)


def _open_tarfile(
    source: str, fileobj: IO[bytes] | _Decompressed, container: Container
) -> tarfile.TarFile:
    """tarfile over a plain tar (random access) or a decompressed stream (one pass)."""
    try:
        if container is Container.TAR:
            return tarfile.open(fileobj=fileobj, mode="r:", tarinfo=_BoundedTarInfo)
        return tarfile.open(fileobj=fileobj, mode="r|", tarinfo=_BoundedTarInfo)
    except EOFError as exc:
        raise TruncatedEvidence(
            source, f"{container.value} data ends before the first tar header ({_reason(exc)})"
        ) from None
    except (_DamagedHeader, tarfile.TarError) as exc:
        if container is Container.TAR:
            raise CorruptEvidence(source, f"first tar header: {_reason(exc)}") from None
        raise UnsupportedEvidence(
            source, f"{container.value}-compressed data that is not a tar archive ({_reason(exc)})"
        ) from None
    except _TAR_DAMAGE as exc:
        raise CorruptEvidence(
            source, f"{container.value} data is damaged: {_reason(exc)}"
        ) from None


@dataclass(frozen=True)
class _TarFile:
    """A regular-file member whose contents a tar tree may keep (or a hard link to one)."""

    path: str
    info: tarfile.TarInfo
    same_as: str | None = None  # for a hard link: the earlier member whose contents it shares


def _iter_tar_files(
    tar: tarfile.TarFile, index: _Index, stream_limit: int | None
) -> Iterator[_TarFile]:
    """Index every member; yield the regular files (and hard links to them) for their contents.

    Damage ends the walk with a problem naming the offset and the last member read.
    """
    last = ""
    while True:
        offset = tar.offset
        try:
            info = tar.next()
        except _TAR_DAMAGE as exc:
            after = f"after {_member(last)}" if last else "before any member"
            index.stop(
                last,
                f"archive is damaged or cut off at offset {offset}, {after}: {_reason(exc)}; "
                "later members are missing",
            )
            return
        if info is None:
            return
        if not index.admit_member():
            return
        if stream_limit is not None and info.offset_data + info.size > stream_limit:
            # Checked before tarfile skips the data, so a bomb is never decompressed.
            index.stop(
                info.name,
                f"reading stopped: the archive holds more than {stream_limit} uncompressed bytes",
            )
            return
        last = info.name
        yield from _admit_tar_member(index, info)


def _admit_tar_member(index: _Index, info: tarfile.TarInfo) -> Iterator[_TarFile]:
    mode, mtime_utc = stat.S_IMODE(info.mode), _utc(info.mtime)
    if info.isreg():
        path = index.add(info.name, EntryKind.FILE, size=info.size, mode=mode, mtime_utc=mtime_utc)
        if path is not None:
            yield _TarFile(path, info)
    elif info.isdir():
        index.add(info.name, EntryKind.DIR, mode=mode, mtime_utc=mtime_utc)
    elif info.issym():
        index.add(
            info.name, EntryKind.SYMLINK, link_target=info.linkname, mode=mode, mtime_utc=mtime_utc
        )
    elif info.islnk():
        # A hard link names an earlier member; it is listed as that member's twin.
        target_path, refusal = _member_path(info.linkname)
        target = index.entries.get(target_path) if refusal is None and target_path else None
        if target is None or target.kind is EntryKind.DIR:
            index.refuse(
                info.name,
                f"hard link to {_printable(info.linkname)}, which is not an earlier file member; "
                "skipped",
            )
            return
        path = index.add(
            info.name,
            target.kind,
            size=target.size,
            link_target=target.link_target,
            mode=mode,
            mtime_utc=mtime_utc,
        )
        if path is not None and target.kind is EntryKind.FILE:
            yield _TarFile(path, info, same_as=target_path)
    else:
        kind = _TAR_SPECIAL_TYPES.get(info.type, f"unsupported type {info.type!r}")
        index.refuse(info.name, f"{kind} member; skipped")


class TarTree(EvidenceTree):
    """An uncompressed tar, indexed once and read in place (tarfile knows each member's offset)."""

    format = "tar"

    def __init__(self, source: str, fileobj: IO[bytes], limits: Limits, depth: int) -> None:
        super().__init__(source, limits, depth)
        self._input = fileobj
        self._archive_size = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(0)
        self._tar = _open_tarfile(source, fileobj, Container.TAR)
        self._members: dict[str, tarfile.TarInfo] = {}
        index = _Index(limits)
        for member in _iter_tar_files(self._tar, index, stream_limit=None):
            if member.same_as is not None:
                self._members[member.path] = self._members[member.same_as]
            elif not self._keep(index, member):
                break
        self._adopt(index)

    def _keep(self, index: _Index, member: _TarFile) -> bool:
        info = member.info
        end = info.offset_data + info.size
        # Sparse members store less than their size, so the end check would be wrong for them.
        if not info.issparse() and end > self._archive_size:
            index.stop(
                member.path,
                f"archive is cut off inside this member (its data ends at offset {end}, the "
                f"archive at {self._archive_size}); later members are missing",
            )
            self._unavailable[member.path] = (
                TruncatedEvidence,
                "the archive ends inside this member",
            )
            return False
        self._members[member.path] = info
        return True

    def _read_file(self, path: str, size: int) -> bytes:
        try:
            stream = self._tar.extractfile(self._members[path])
            assert stream is not None  # only regular members are kept
            with stream:
                data = stream.read(size)
        except _TAR_DAMAGE as exc:
            raise CorruptEvidence(
                self.source, f"cannot read: {_reason(exc)}", _member(path)
            ) from None
        if len(data) != size:
            raise TruncatedEvidence(
                self.source,
                f"the archive ends inside this member ({len(data)} of {size} bytes)",
                _member(path),
            )
        return data

    def _open_member(self, path: str) -> IO[bytes]:
        stream = self._tar.extractfile(self._members[path])
        assert stream is not None
        return stream  # a seekable view into this archive's file

    def close(self) -> None:
        super().close()
        self._tar.close()
        self._input.close()


def _zstd_reader(raw: IO[bytes]) -> io.BufferedReader:
    # Buffered for peek(); read_across_frames: zstd -T writes several frames, like pigz's gzip members.
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)
    return io.BufferedReader(reader)


_DECOMPRESSORS: dict[Container, Callable[[IO[bytes]], _Decompressed]] = {
    Container.GZIP: lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    Container.XZ: lambda raw: lzma.LZMAFile(raw, "rb"),  # noqa: SIM115 - closed by its caller
    Container.BZIP2: lambda raw: bz2.BZ2File(raw, "rb"),
    Container.ZSTD: _zstd_reader,  # type: ignore[dict-item]  # a BufferedReader reads like the others; typeshed names each class
}
_TAR_FORMATS = {Container.GZIP: "tar.gz", Container.XZ: "tar.xz", Container.BZIP2: "tar.bz2", Container.ZSTD: "tar.zst"}


def open_decompressed(fileobj: IO[bytes], container: Container) -> _Decompressed:
    """A one-pass stream of what a gzip, xz, bzip2 or zstd file holds (a ``snapshot.db.gz``)."""
    return _DECOMPRESSORS[container](fileobj)


def peek_decompressed(source: str, fileobj: IO[bytes], container: Container, size: int) -> bytes | None:
    """The first ``size`` decompressed bytes, or None when the stream is damaged; fileobj is rewound."""
    position = fileobj.tell()
    try:
        with open_decompressed(fileobj, container) as stream:
            return stream.read(size)
    except (EOFError, *_TAR_DAMAGE):
        return None
    finally:
        fileobj.seek(position)


def _check_stream_start(source: str, stream: _Decompressed, container: Container) -> None:
    # Decompress the first block before tarfile sees it: tarfile reports a decompression error
    # in its first header as "not a tar", but a damaged gzip is corrupt, not unsupported.
    try:
        stream.peek(tarfile.BLOCKSIZE)
    except EOFError as exc:
        raise TruncatedEvidence(
            source, f"{container.value} data is cut off ({_reason(exc)})"
        ) from None
    except _TAR_DAMAGE as exc:
        raise CorruptEvidence(
            source, f"{container.value} data is damaged: {_reason(exc)}"
        ) from None


class StreamedTarTree(EvidenceTree):
    """A compressed tar, read in one pass; the contents that fit the limits are held in memory.

    ``want(path)`` chooses which files' contents to hold (all when None); the rest are still
    listed. A compressed stream cannot be re-read cheaply, so nothing else can be read later.
    """

    def __init__(
        self,
        source: str,
        fileobj: IO[bytes],
        container: Container,
        limits: Limits,
        want: WantFilter | None,
        depth: int,
        spill: Spill | None = None,
    ) -> None:
        super().__init__(source, limits, depth)
        self.format = _TAR_FORMATS[container]
        self._want = want
        self._spill = spill
        self._held: dict[str, bytes] = {}
        self._held_bytes = 0
        index = _Index(limits)
        with _DECOMPRESSORS[container](fileobj) as stream:
            _check_stream_start(source, stream, container)
            tar = _open_tarfile(source, stream, container)
            for member in _iter_tar_files(tar, index, stream_limit=limits.max_stream_bytes):
                if member.same_as is not None:
                    self._share(member.path, member.same_as)
                elif not self._hold(tar, index, member):
                    break
            tar.close()
        self._adopt(index)

    def _hold(self, tar: tarfile.TarFile, index: _Index, member: _TarFile) -> bool:
        if self._spill is not None and member.info.size >= self._spill.head_bytes:
            return self._hold_or_spill(tar, index, member, self._spill)
        return self._hold_in_memory(tar, index, member)

    def _hold_or_spill(self, tar: tarfile.TarFile, index: _Index, member: _TarFile, spill: Spill) -> bool:
        """Read a member's first bytes; spill it whole when ``spill`` wants it, else hold it as usual."""
        path, size = member.path, member.info.size
        try:
            stream = tar.extractfile(member.info)
            assert stream is not None
            head = stream.read(spill.head_bytes)
        except _TAR_DAMAGE as exc:
            return self._cut_off(index, member, exc)
        if not spill.wanted(path, size, head):
            return self._hold_in_memory(tar, index, member, head=head, stream=stream)
        spilled = SpilledFile(f"{self.source}!{path}")
        try:
            spilled.fill(stream, head=head, limit=self.limits.max_stream_bytes, expected=size, progress=spill.progress)
            if spilled.size != size:
                raise EOFError(f"{spilled.size} of {size} bytes")
        except _TAR_DAMAGE as exc:
            spilled.close()
            return self._cut_off(index, member, exc)
        except BaseException:
            spilled.close()
            raise
        self._spilled[path] = spilled
        return True

    def _cut_off(self, index: _Index, member: _TarFile, exc: BaseException) -> bool:
        index.stop(
            member.path,
            f"archive is damaged or cut off inside this member (data at offset "
            f"{member.info.offset_data}): {_reason(exc)}; later members are missing",
        )
        self._unavailable[member.path] = (TruncatedEvidence, "the archive is damaged or cut off inside this member")
        return False

    def _hold_in_memory(self, tar: tarfile.TarFile, index: _Index, member: _TarFile, *,
                        head: bytes = b"", stream: IO[bytes] | None = None) -> bool:
        path, size = member.path, member.info.size
        if self._want is not None and not self._want(path):
            self._unavailable[path] = (
                EvidenceError,
                "contents were not kept when the archive was read",
            )
            return True
        if size > self.limits.max_member_bytes:  # the index has reported it
            self._unavailable[path] = (EvidenceError, _too_big(size, self.limits))
            return True
        if self._held_bytes + size > self.limits.max_total_bytes:
            problem = (
                f"contents not kept: the {self.limits.max_total_bytes} bytes held per archive "
                "are used up"
            )
            index.refuse(path, problem)
            self._unavailable[path] = (EvidenceError, problem)
            return True
        try:
            if stream is None:
                stream = tar.extractfile(member.info)
            assert stream is not None
            with stream:
                data = head + stream.read(size - len(head))
            if len(data) != size:
                raise EOFError(f"{len(data)} of {size} bytes")
        except _TAR_DAMAGE as exc:
            return self._cut_off(index, member, exc)
        self._held[path] = data
        self._held_bytes += size
        return True

    def _share(self, path: str, same_as: str) -> None:
        if same_as in self._spilled:
            self._spilled[path] = self._spilled[same_as].dup()
        elif same_as in self._held:
            self._held[path] = self._held[same_as]  # the same bytes object: no extra memory
        elif same_as in self._unavailable:
            self._unavailable[path] = self._unavailable[same_as]

    def _read_file(self, path: str, size: int) -> bytes:
        return self._held[path][:size]


# --------------------------------------------------------------------------- zip


def _zip_mtime(extra: bytes) -> datetime | None:
    """The mtime of info-zip's extended-timestamp field. A zip's DOS date has no time zone, so
    without that field the time is unknown rather than guessed."""
    offset = 0
    while offset + ZIP_EXTRA_FIELD.size <= len(extra):
        field_id, size = ZIP_EXTRA_FIELD.unpack_from(extra, offset)
        offset += ZIP_EXTRA_FIELD.size
        if field_id == ZIP_EXTENDED_TIMESTAMP_ID and size >= ZIP_EXTENDED_TIMESTAMP.size:
            flags, mtime = ZIP_EXTENDED_TIMESTAMP.unpack_from(extra, offset)
            return _utc(mtime) if flags & ZIP_EXTENDED_TIMESTAMP_HAS_MTIME else None
        offset += size
    return None


# What zipfile and its decompressors raise on damaged member data.
_ZIP_DAMAGE = (zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError, struct.error)


class ZipTree(EvidenceTree):
    """A zip, listed from its central directory and read member by member.

    A zip bomb is answered by never trusting the declared size alone: a member is read only when
    its declared size is within the limit, decompression stops at that size, and the bytes that
    came out must match both the declared size and the CRC.
    """

    format = "zip"

    def __init__(self, source: str, fileobj: IO[bytes], limits: Limits, depth: int) -> None:
        super().__init__(source, limits, depth)
        self._input = fileobj
        try:
            self._zip = zipfile.ZipFile(fileobj)
        except NotImplementedError as exc:
            # zipfile refuses the whole archive when any member needs a newer "version needed to
            # extract" than it implements (zip file version 9.9), as unzip refuses that member.
            raise UnsupportedEvidence(source, f"zip archive needs a newer reader ({_reason(exc)})") from None
        except _ZIP_DAMAGE as exc:
            raise CorruptEvidence(
                source,
                f"zip central directory cannot be read ({_reason(exc)}); the file may be cut off",
            ) from None
        self._members: dict[str, zipfile.ZipInfo] = {}
        index = _Index(limits)
        for info in self._zip.infolist():
            if not index.admit_member():
                break
            self._admit(index, info)
        self._adopt(index)

    def _admit(self, index: _Index, info: zipfile.ZipInfo) -> None:
        if not info.filename:
            # zipfile's own is_dir() fails on it (found by fuzz/target_archives.py: IndexError).
            index.refuse(info.filename, "member with an empty name; skipped")
            return
        unix = info.create_system == ZIP_UNIX_SYSTEM
        st_mode = info.external_attr >> 16 if unix else 0
        mode = stat.S_IMODE(st_mode) if unix else None
        mtime_utc = _zip_mtime(info.extra)
        file_type = stat.S_IFMT(st_mode)
        if info.is_dir() or file_type == stat.S_IFDIR:
            index.add(info.filename, EntryKind.DIR, mode=mode, mtime_utc=mtime_utc)
        elif file_type == stat.S_IFLNK:
            target = self._link_target(index, info)
            if target is not None:
                index.add(
                    info.filename,
                    EntryKind.SYMLINK,
                    link_target=target,
                    mode=mode,
                    mtime_utc=mtime_utc,
                )
        elif file_type in (0, stat.S_IFREG):
            path = index.add(
                info.filename, EntryKind.FILE, size=info.file_size, mode=mode, mtime_utc=mtime_utc
            )
            if path is not None:
                self._members[path] = info
                if info.flag_bits & ZIP_FLAG_ENCRYPTED:
                    self._unavailable[path] = (UnsupportedEvidence, "member is encrypted")
        else:
            index.refuse(info.filename, f"{_special_kind(st_mode)} member; skipped")

    def _link_target(self, index: _Index, info: zipfile.ZipInfo) -> str | None:
        # zip -y stores a symlink as a member with S_IFLNK in its mode and the target as data.
        if info.file_size > MAX_LINK_TARGET_BYTES:
            index.refuse(info.filename, f"symbolic link target of {info.file_size} bytes; skipped")
            return None
        try:
            data = self._read_member(info, info.file_size)
        except EvidenceError as exc:
            index.refuse(
                info.filename, f"symbolic link target cannot be read ({exc.problem}); skipped"
            )
            return None
        return data.decode("utf-8", "surrogateescape")

    def _read_member(self, info: zipfile.ZipInfo, size: int) -> bytes:
        where = _member(info.filename)
        try:
            with self._zip.open(info) as stream:
                # Reading exactly the declared size makes zipfile check the CRC.
                data = stream.read(size)
        except NotImplementedError as exc:  # a compression method zipfile lacks
            raise UnsupportedEvidence(self.source, _reason(exc), where) from None
        except _ZIP_DAMAGE as exc:
            raise CorruptEvidence(
                self.source, f"member data does not match its header ({_reason(exc)})", where
            ) from None
        if len(data) != size:
            raise CorruptEvidence(
                self.source,
                f"member holds {len(data)} bytes but its header declares {info.file_size}",
                where,
            )
        return data

    def _read_file(self, path: str, size: int) -> bytes:
        return self._read_member(self._members[path], size)

    def _open_member(self, path: str) -> IO[bytes]:
        info = self._members[path]
        if info.file_size <= self.limits.max_member_bytes:
            return io.BytesIO(self._read_member(info, info.file_size))
        # Too big to hold: stream it (a zip member seeks backwards only by re-reading).
        try:
            return self._zip.open(info)
        except NotImplementedError as exc:
            raise UnsupportedEvidence(self.source, _reason(exc), _member(info.filename)) from None
        except _ZIP_DAMAGE as exc:
            raise CorruptEvidence(self.source, f"member header is damaged ({_reason(exc)})", _member(info.filename)) from None

    def close(self) -> None:
        super().close()
        self._zip.close()
        self._input.close()


# --------------------------------------------------------------------------- opening


def _open_archive(
    source: str, fileobj: IO[bytes], limits: Limits, want: WantFilter | None, depth: int, spill: Spill | None = None
) -> EvidenceTree:
    """Sniff fileobj and open the matching tree. Takes ownership of fileobj (closed on failure,
    after a one-pass read, or by the tree's close())."""
    try:
        try:
            head = _peek(fileobj)
        except OSError as exc:
            raise EvidenceError(source, os_problem(exc)) from None
        container = _container_of(head)
        if container is None:
            raise UnsupportedEvidence(source, _describe_head(head))
        if container is Container.ZIP:
            return ZipTree(source, fileobj, limits, depth)
        if container is Container.TAR:
            return TarTree(source, fileobj, limits, depth)
        tree = StreamedTarTree(source, fileobj, container, limits, want, depth, spill)
    except BaseException:
        fileobj.close()
        raise
    fileobj.close()  # everything that will ever be read is held
    return tree


def open_tree(
    path: str | os.PathLike[str],
    *,
    limits: Limits = DEFAULT_LIMITS,
    want: WantFilter | None = None,
    spill: Spill | None = None,
) -> EvidenceTree:
    """A tree over a directory, tar, tar.gz/xz/bz2/zst or zip, recognised by content, not by name.

    ``want`` and ``spill`` matter only for compressed tars: which files' contents are held, and
    which are decompressed into anonymous files (see ``Spill``).
    """
    source = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            return DirectoryTree(source, Path(path), limits)
        if not stat.S_ISREG(mode):
            raise UnsupportedEvidence(source, f"{_special_kind(mode)}, not a file or directory")
        fileobj = open(path, "rb")  # noqa: SIM115 - the tree owns it and closes it
    except OSError as exc:
        raise EvidenceError(source, os_problem(exc)) from None
    return _open_archive(source, fileobj, limits, want, depth=0, spill=spill)


def open_member_tree(
    parent: EvidenceTree, path: str, *, want: WantFilter | None = None, spill: Spill | None = None
) -> EvidenceTree:
    """A tree over an archive inside another tree (static_kuberesources_*.tar.gz in a backup).

    Its source is ``"<parent source>!<member path>"``; it shares the parent's limits, one level
    deeper. Close it before its parent.
    """
    found, _ = parent._file(path)
    if parent.depth >= parent.limits.max_nesting:
        raise UnsupportedEvidence(
            parent.source,
            f"archives nested more than {parent.limits.max_nesting} deep are not opened",
            _member(found),
        )
    return _open_archive(
        f"{parent.source}!{found}",
        parent._open_member(found),
        parent.limits,
        want,
        parent.depth + 1,
        spill,
    )
