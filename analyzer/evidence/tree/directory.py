"""A directory on disk as an evidence tree, read beneath its root without following links."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from analyzer.errors import CorruptEvidence, EvidenceError, os_problem
from analyzer.evidence.tree.base import EvidenceTree
from analyzer.evidence.tree.entries import EntryKind, Limits, describe_member, special_kind, utc_from_seconds
from analyzer.evidence.tree.index import TreeIndex


# --------------------------------------------------------------------------- directories


class DirectoryTree(EvidenceTree):
    """A directory on disk, listed up front and read lazily, never following links on disk."""

    format = "directory"

    def __init__(self, source: str, root: Path, limits: Limits) -> None:
        super().__init__(source, limits, depth=0)
        self._root = root
        index = TreeIndex(limits)
        self._scan(index)
        self._adopt(index)

    def _scan(self, index: TreeIndex) -> None:
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
    def _add(index: TreeIndex, path: str, child: os.DirEntry[str]) -> EntryKind | None:
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
            index.refuse(path, f"{special_kind(info.st_mode)}; skipped")
            return None
        added = index.add(
            path,
            kind,
            size=info.st_size,
            link_target=target,
            mode=stat.S_IMODE(info.st_mode),
            mtime_utc=utc_from_seconds(info.st_mtime),
        )
        return kind if added is not None else None

    def _open_beneath(self, path: str) -> IO[bytes]:
        # One component at a time with O_NOFOLLOW: if the tree changed since it was listed, a
        # link swapped in for a directory or file fails to open instead of leading elsewhere.
        # O_NONBLOCK keeps a fifo swapped in for a file from hanging the open.
        where = describe_member(path)
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
                    describe_member(path),
                )
            try:
                data = stream.read(size)
            except OSError as exc:
                raise EvidenceError(self.source, os_problem(exc), describe_member(path)) from None
        return data

    def _open_member(self, path: str) -> IO[bytes]:
        return self._open_beneath(path)
