"""EvidenceTree: listing, path resolution inside the evidence (one walker), bounded reads."""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Iterator
from typing import IO

from analyzer.errors import CorruptEvidence, EvidenceError, TruncatedEvidence
from analyzer.evidence.spill import SpilledFile, SpillProgress
from analyzer.evidence.tree.damage import TAR_DAMAGE, ZIP_DAMAGE
from analyzer.evidence.tree.entries import Entry, EntryKind, Limits, TreeProblem, ROOT_ENTRY, Unavailable, describe_member, reason_of, too_big, path_parts
from analyzer.evidence.tree.index import TreeIndex
from analyzer.evidence.tree.walk import Stop, walk_path


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
        self._unavailable: dict[str, Unavailable] = {}
        self._entries: dict[str, Entry] = {}
        self._paths: list[str] = []
        self._children: dict[str, list[str]] = {}
        # Members decompressed into anonymous files while a compressed stream was read.
        self._spilled: dict[str, SpilledFile] = {}
        self._spilled_paths: frozenset[str] = frozenset()

    def _adopt(self, index: TreeIndex) -> None:
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
            raise EvidenceError(self.source, too_big(entry.size, self.limits), describe_member(found))
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
        except (*ZIP_DAMAGE, *TAR_DAMAGE) as exc:
            spilled.close()
            raise CorruptEvidence(self.source, f"cannot be decompressed: {reason_of(exc)}", describe_member(found)) from None
        except BaseException:
            spilled.close()
            raise
        if spilled.size != entry.size:
            spilled.close()
            raise TruncatedEvidence(self.source, f"holds {spilled.size} of its {entry.size} bytes", describe_member(found))
        return spilled

    def member_span(self, path: str) -> tuple[int, int] | None:
        """Where a file's bytes lie, contiguous and uncompressed, in this tree's own input file:
        (offset, size), so that a reader can map them in place; None where they do not."""
        return None

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
        return self._entries[path] if path else ROOT_ENTRY

    def _file(self, path: str) -> tuple[str, Entry]:
        """The canonical path and entry of a readable file, or the EvidenceError saying why not."""
        found = self.resolve(path)
        if found is None:
            raise EvidenceError(self.source, "no such file in the evidence", describe_member(path))
        entry = self._entry(found)
        if entry.kind is not EntryKind.FILE:
            raise EvidenceError(self.source, "is a directory, not a file", describe_member(found))
        unavailable = self._unavailable.get(found)
        if unavailable is not None:
            error, problem = unavailable
            raise error(self.source, problem, describe_member(found))
        return found, entry

    def _walk(self, path: str, *, follow_last: bool) -> str | None:
        walked = walk_path(path, self._entries.get, follow_last=follow_last, max_hops=self.limits.max_link_hops, rooted=False)
        if walked.stop is Stop.ABOVE_ROOT and walked.links:
            raise CorruptEvidence(self.source, "symbolic link leads out of the evidence", describe_member(walked.links[-1]))
        if walked.stop is Stop.LOOP:
            raise CorruptEvidence(self.source, "too many levels of symbolic links", describe_member(path))
        if walked.stop is not None:  # nothing there, or the caller's own path climbs out of the root
            return None
        return "/".join(walked.parts)
