"""Small inputs named on the command line (an EncryptionConfiguration, a raw value, a log).

A file inside an archive is named the way every report names it, ``ARCHIVE!member`` (and
``ARCHIVE!inner.tar.gz!member`` for nested ones), so a path copied from a report works as an input.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from analyzer.errors import EvidenceError, UnsupportedEvidence, os_problem

SMALL_INPUT_LIMIT = 256 << 20


def read_input_file(path: str | Path, *, limit: int = SMALL_INPUT_LIMIT) -> bytes:
    """The bytes of a regular file ('-' is stdin), with every OS problem as one clear line."""
    source = str(path)
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
    elif "!" in source and not Path(path).exists():
        data = _read_archive_member(source, limit)
    else:
        try:
            info = Path(path).stat()
            if stat.S_ISDIR(info.st_mode):
                raise UnsupportedEvidence(source, "is a directory, not a file")
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except IsADirectoryError:
            raise UnsupportedEvidence(source, "is a directory, not a file") from None
        except OSError as err:
            raise EvidenceError(source, os_problem(err)) from None
    if len(data) > limit:
        raise UnsupportedEvidence(source, f"is larger than {limit >> 20} MiB; this input is expected to be small")
    return data


def _read_archive_member(source: str, limit: int) -> bytes:
    """``ARCHIVE!member[!member...]``: the archive is the longest prefix that exists on disk."""
    from analyzer.evidence.tree import (
        DEFAULT_LIMITS,
        EvidenceTree,
        open_member_tree,
        open_tree,
    )

    parts = source.split("!")
    for split in range(len(parts) - 1, 0, -1):
        archive = "!".join(parts[:split])
        if Path(archive).exists():
            break
    else:
        raise EvidenceError(source, "no such file (nor an archive named before a '!')")
    members = parts[split:]
    trees: list[EvidenceTree] = [open_tree(archive, limits=DEFAULT_LIMITS)]
    try:
        for member in members[:-1]:
            trees.append(open_member_tree(trees[-1], member))
        entry = trees[-1].stat(members[-1])
        if entry is not None and entry.size > limit:
            raise UnsupportedEvidence(source, f"is larger than {limit >> 20} MiB; this input is expected to be small")
        return trees[-1].read_bytes(members[-1])
    finally:
        for tree in reversed(trees):
            tree.close()
