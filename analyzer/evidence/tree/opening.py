"""Opening a tree: a directory or an archive recognised by content, and archives nested in trees."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from analyzer.errors import EvidenceError, UnsupportedEvidence, os_problem
from analyzer.evidence.tree.base import EvidenceTree
from analyzer.evidence.tree.compressed import StreamedTarTree
from analyzer.evidence.tree.directory import DirectoryTree
from analyzer.evidence.tree.entries import DEFAULT_LIMITS, Limits, Spill, WantFilter, describe_member, special_kind
from analyzer.evidence.sniff import Container
from analyzer.evidence.sniff import container_of, describe_head, peek_head
from analyzer.evidence.tree.tar import TarTree
from analyzer.evidence.tree.zip import ZipTree


# --------------------------------------------------------------------------- opening


def _open_archive(
    source: str, fileobj: IO[bytes], limits: Limits, want: WantFilter | None, depth: int, spill: Spill | None = None
) -> EvidenceTree:
    """Sniff fileobj and open the matching tree. Takes ownership of fileobj (closed on failure,
    after a one-pass read, or by the tree's close())."""
    try:
        try:
            head = peek_head(fileobj)
        except OSError as exc:
            raise EvidenceError(source, os_problem(exc)) from None
        container = container_of(head)
        if container is None:
            raise UnsupportedEvidence(source, describe_head(head))
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
            raise UnsupportedEvidence(source, f"{special_kind(mode)}, not a file or directory")
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
            describe_member(found),
        )
    return _open_archive(
        f"{parent.source}!{found}",
        parent._open_member(found),
        parent.limits,
        want,
        parent.depth + 1,
        spill,
    )
