"""What a tree is made of: entries, problems, limits, and the small helpers every reader shares."""

from __future__ import annotations

import bz2
import gzip
import lzma
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum

from analyzer.errors import EvidenceError
from analyzer.evidence.spill import SpillProgress
from analyzer.records import datarecord


KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30


MAX_LINK_TARGET_BYTES = 4 * KiB  # PATH_MAX; zip keeps a symlink's target as the member's data


@datarecord
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


@datarecord
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


@datarecord
class TreeProblem:
    """A member that was skipped, damaged or not read; ``path`` is escaped to one printable line."""

    path: str
    problem: str


ROOT_ENTRY = Entry("", EntryKind.DIR, 0, None, None, None)

WantFilter = Callable[[str], bool]


@datarecord
class Spill:
    """Which members of a compressed tar to decompress into anonymous files as the stream passes
    (an etcd snapshot: too big to hold, and a compressed stream cannot be read again later)."""

    wanted: Callable[[str, int, bytes], bool]  # (member path, size, its first head_bytes) -> spill it?
    head_bytes: int = 64
    progress: SpillProgress | None = None
Decompressed = gzip.GzipFile | lzma.LZMAFile | bz2.BZ2File
Unavailable = tuple[type[EvidenceError], str]


# --------------------------------------------------------------------------- small helpers


def printable(name: str) -> str:
    """A name safe inside a one-line message: control characters and stray bytes are escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def describe_member(path: str) -> str:
    return f"member {printable(path)}"


def reason_of(exc: BaseException) -> str:
    """A library exception as a short phrase, without its class name or a traceback."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def too_big(size: int, limits: Limits) -> str:
    return f"{size} bytes, more than the {limits.max_member_bytes} bytes read from one member"


def utc_from_seconds(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # a hostile or garbled timestamp
        return None


def member_path(name: str) -> tuple[str, str | None]:
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


def link_leaves_root(link_path: str, target: str) -> bool:
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


def special_kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return f"unknown file type {stat.S_IFMT(mode):#o}"
