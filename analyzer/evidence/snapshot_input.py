"""One snapshot named on the command line (``info``, ``get``): a file, the one snapshot inside an
archive or compressed file, or ``ARCHIVE!member`` as reports name it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from analyzer.errors import UnsupportedEvidence
from analyzer.evidence.detect import detect_evidence
from analyzer.evidence.etcd import Snapshot
from analyzer.evidence.inputs import read_head
from analyzer.evidence.sniff import SNIFF_BYTES, container_of, is_bolt_head
from analyzer.evidence.spill import SpillProgress
from analyzer.evidence.tree import DEFAULT_LIMITS, Limits


def open_snapshot_input(
    path: str | os.PathLike[str], *, salvage: bool = False, progress: SpillProgress | None = None, limits: Limits = DEFAULT_LIMITS
) -> Snapshot:
    """One snapshot named on the command line (``info``, ``get``): a file, or the one snapshot inside
    an archive or compressed file, or ``ARCHIVE!member`` as reports name it."""
    source = os.fspath(path)
    named = None
    if "!" in source and not os.path.exists(source):
        source, _, named = source.partition("!")
    try:
        regular = stat.S_ISREG(os.stat(source).st_mode)
    except OSError:
        regular = False
    if not regular:  # missing, a directory, a fifo (never opened: it would block): Snapshot says which
        return Snapshot(os.fspath(path), salvage=salvage)
    head = read_head(Path(source), SNIFF_BYTES)
    if named is None and (is_bolt_head(head) or container_of(head) is None):
        return Snapshot(os.fspath(path), salvage=salvage)
    with detect_evidence([source], limits=limits) as evidence:
        found = list(evidence.snapshots)
        if named is not None:
            found = [s for s in found if s.source == os.fspath(path)]
        if len(found) != 1:
            listed = ", ".join(s.source for s in evidence.snapshots) or "none"
            what = f"holds no etcd snapshot named {named}" if named is not None else (
                "holds no etcd snapshot" if not found else "holds several etcd snapshots; name one as ARCHIVE!member")
            raise UnsupportedEvidence(source, f"{what} (snapshots found: {listed})")
        # The Snapshot keeps its own handle (a window of the file, or an anonymous copy): the trees may close.
        return found[0].open(salvage=salvage, limits=limits, progress=progress)
