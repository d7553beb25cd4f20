"""Evidence files mapped read-only, whole or a window of one (a tar member read in place)."""

from __future__ import annotations

import mmap
import os
import stat
from pathlib import Path
from typing import NamedTuple

from analyzer.errors import EvidenceError, TruncatedEvidence, UnsupportedEvidence, os_problem


class Mapped(NamedTuple):
    """A read-only mapping of a file, or of a window of one: the data starts ``base`` bytes in."""

    source: str
    mapping: mmap.mmap | None
    size: int  # bytes of the window
    base: int = 0


def map_file(path: str | Path, *, offset: int = 0, length: int | None = None, source: str | None = None) -> Mapped:
    """Open a path read-only and map it (or ``length`` bytes from ``offset``: a member of a tar,
    read in place), turning every OS-level problem into one clear line."""
    source = source or str(path)
    try:
        st = os.stat(path)
    except OSError as err:
        raise EvidenceError(source, os_problem(err)) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnsupportedEvidence(source, "is a directory, not an etcd snapshot")
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedEvidence(source, "is not a regular file")
    size = st.st_size - offset if length is None else length
    if offset + size > st.st_size:
        raise TruncatedEvidence(source, f"the archive holding it ends at byte {st.st_size}, inside it (it should end at {offset + size})")
    if size <= 0:
        raise UnsupportedEvidence(source, "is empty (0 bytes)")
    aligned = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        with open(path, "rb") as handle:
            mapping = mmap.mmap(handle.fileno(), size + offset - aligned, access=mmap.ACCESS_READ, offset=aligned)
    except OSError as err:
        raise EvidenceError(source, os_problem(err)) from None
    if hasattr(mapping, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
        mapping.madvise(mmap.MADV_SEQUENTIAL)  # one forward pass is the common case
    return Mapped(source, mapping, size, offset - aligned)

