"""Archive trees: tar (plain, gzip, xz, bzip2) and zip, as one read-only virtual tree, then the
node-evidence detection that walks it. The input is written to one scratch file in memory-backed
/dev/shm when there is one (trees open paths); nothing else is ever written.
"""

from __future__ import annotations

import os
import tempfile

from harness import instrumented, run, utf8_clean

with instrumented():
    from analyzer.errors import KforensicError
    from analyzer.evidence.tree import EntryKind, EvidenceTree, Limits, open_member_tree, open_tree

# Small limits keep one execution cheap; the limits themselves are part of what is fuzzed.
LIMITS = Limits(max_member_bytes=1 << 20, max_total_bytes=4 << 20, max_members=2000, max_stream_bytes=16 << 20, max_nesting=2)
_SCRATCH_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
SCRATCH = os.path.join(_SCRATCH_DIR, f"kforensic-fuzz-archive-{os.getpid()}")


def walk(tree: EvidenceTree) -> None:
    for entry in tree.iter_entries():
        utf8_clean(entry.path.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        if entry.kind is EntryKind.SYMLINK:
            tree.resolve(entry.path)
        elif entry.kind is EntryKind.FILE:
            try:
                data = tree.read_bytes(entry.path, 1 << 16)
            except KforensicError:
                continue
            if entry.path.endswith((".tar", ".gz", ".tgz", ".zip", ".xz", ".bz2")) and data:
                try:
                    with open_member_tree(tree, entry.path) as inner:
                        walk(inner)
                except KforensicError:
                    pass
    for problem in tree.problems:
        utf8_clean(str(problem))


def test_one(data: bytes) -> None:
    with open(SCRATCH, "wb") as scratch:
        scratch.write(data)
    try:
        tree = open_tree(SCRATCH, limits=LIMITS)
    finally:
        # Gone before the walk: the tree reads through the descriptor it opened, and libFuzzer
        # ends the process without running Python's cleanup, so nothing may be left behind.
        os.unlink(SCRATCH)
    with tree:
        walk(tree)


if __name__ == "__main__":
    run(test_one)
