"""SHA-256 of the inputs, so that a report says exactly which evidence it was made from.

A file hashes its bytes. A directory hashes a sorted listing of its members: each line is the
relative path, its kind, and the SHA-256 of a file's bytes or a link's target, so the same tree
gives the same digest wherever it was copied.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from analyzer.errors import os_problem

CHUNK = 4 << 20


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(root: str | Path, known: Mapping[str, str] | None = None) -> str:
    """``known``: digests already computed, by resolved path (a snapshot in a backup directory,
    hashed while its trailer was checked), so no file is read twice. A file that cannot be read
    is listed with the reason, so the digest still names the tree as it was found."""
    known = known or {}
    lines = []
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(directory, d))]):
            full = os.path.join(directory, name)
            relative = os.path.relpath(full, root)
            try:
                info = os.lstat(full)
                if stat.S_ISLNK(info.st_mode):
                    lines.append(f"{relative}\0link\0{os.readlink(full)}")
                elif stat.S_ISREG(info.st_mode):
                    digest = known.get(os.path.realpath(full)) or file_sha256(full)
                    lines.append(f"{relative}\0file\0{digest}")
            except OSError as err:
                lines.append(f"{relative}\0unreadable\0{os_problem(err)}")
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def input_sha256(path: str | Path, known: Mapping[str, str] | None = None) -> str | None:
    """The digest of an input as given: a file's or a directory tree's; None for anything else,
    or for a file that cannot be read."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            return tree_sha256(path, known)
        if stat.S_ISREG(info.st_mode):
            return (known or {}).get(os.path.realpath(path)) or file_sha256(path)
    except OSError:
        return None
    return None
