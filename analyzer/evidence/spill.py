"""Decompressed snapshots in anonymous files that leave nothing behind.

A snapshot inside a zip, a compressed tar, or gzipped on its own cannot be mapped where it lies.
Rather than ask the engineer to unpack it (and leave a multi-GiB copy of a cluster's secrets on a
support laptop), it is decompressed into a file that never has a name: ``tempfile.TemporaryFile``
uses ``O_TMPFILE`` on Linux, and elsewhere creates and unlinks the file at once. It is made in a
private directory (mode 0700, from ``mkdtemp``) that is removed right after, so no other user
sees even a name in passing. The data lives on until the file is closed or the process ends, on
any exit path, a kill included. It is read by path through ``/proc/self/fd/N``, which index
workers forked later inherit.

Bounded like every archive read (``Limits.max_stream_bytes``), and reported while it runs through a
``progress`` callback (the CLI draws it on a terminal).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from analyzer.errors import EvidenceError

CHUNK = 1 << 20

class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# (what is being decompressed, bytes written so far, bytes expected or None)
SpillProgress = Callable[[str, int, int | None], None]


class SpilledFile:
    """An anonymous file holding decompressed bytes; ``dup`` gives another owner its own handle."""

    def __init__(self, source: str, fd: int | None = None, size: int = 0) -> None:
        self.source = source
        self.size = size
        if fd is not None:
            self._fd = fd
            return
        directory = tempfile.mkdtemp(prefix="kforensic-")
        try:
            with tempfile.TemporaryFile(dir=directory) as handle:  # O_TMPFILE on Linux: it never has a name
                self._fd = os.dup(handle.fileno())
        except OSError as err:
            raise EvidenceError(source, f"cannot create a temporary file to decompress it into ({err.strerror or err}); "
                                        "set TMPDIR to a writable place") from None
        finally:
            os.rmdir(directory)

    @property
    def path(self) -> Path:
        """A path that opens this file again, in this process and in forked workers."""
        proc = Path(f"/proc/self/fd/{self._fd}")
        return proc if proc.exists() else Path(f"/dev/fd/{self._fd}")

    def dup(self) -> SpilledFile:
        return SpilledFile(self.source, os.dup(self._fd), self.size)

    def read(self, limit: int) -> bytes:
        return os.pread(self._fd, min(limit, self.size), 0)

    def fill(self, stream: Readable, *, head: bytes = b"", limit: int, expected: int | None = None,
             progress: SpillProgress | None = None) -> SpilledFile:
        """Copy ``head`` and then ``stream`` in, at most ``limit`` bytes; damage is the caller's to name."""
        self._write(head, limit)
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            self._write(chunk, limit)
            if progress is not None:
                progress(self.source, self.size, expected)
        if progress is not None:
            progress(self.source, self.size, self.size)  # done: whoever draws it may clear the line
        return self

    def _write(self, data: bytes, limit: int) -> None:
        if self.size + len(data) > limit:
            raise EvidenceError(self.source, f"decompresses to more than {limit} bytes; not read (the limit for one archive)")
        view = memoryview(data)
        try:
            while view:
                written = os.pwrite(self._fd, view, self.size)
                self.size += written
                view = view[written:]
        except OSError as err:
            raise EvidenceError(self.source, f"cannot decompress it into a temporary file in {tempfile.gettempdir()} "
                                             f"({(err.strerror or str(err)).lower()}); set TMPDIR to a place with room") from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
