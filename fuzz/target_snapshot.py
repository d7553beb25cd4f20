"""The bbolt reader and the MVCC index over a small in-memory snapshot.

The input is a whole (small) database file: meta pages, branch and leaf pages, the key bucket's
revision records. It is mapped anonymously in memory, never written to disk, and read the way
``info``, ``get`` and ``scan`` read a snapshot: metas and damage, buckets, the index with history,
point reads, the freelist check, and salvage when the metas are gone.
"""

from __future__ import annotations

import itertools
import mmap

from harness import instrumented, run, utf8_clean

with instrumented():
    from analyzer.errors import KforensicError
    from analyzer.evidence.bbolt import _MAGIC_BYTES, LITTLE_ENDIAN, META_CHECKSUMMED, META_OFFSET, fnv1a64
    from analyzer.evidence.bbolt import Mapped
    from analyzer.evidence import etcd_index
    from analyzer.evidence.etcd import Snapshot
    from analyzer.evidence.store import IndexQuery

SOURCE = "fuzz.db"


def _mapped(data: bytes) -> Mapped:
    mapping = mmap.mmap(-1, len(data))
    mapping.write(data)
    return Mapped(SOURCE, mapping, len(data), 0)


def with_meta0_checksum(data: bytes) -> bytes:
    """The input with meta page 0's checksum made right for whatever its fields now say.

    Almost every mutation of a meta field breaks its FNV checksum, and a meta with a bad checksum
    is ignored, so without this the fields themselves (page size, root, high-water mark, freelist)
    would hardly ever be read. Meta 1 keeps its checksum as mutated: that path is fuzzed too.
    """
    end = META_OFFSET + META_CHECKSUMMED
    if len(data) < end + 8:
        return data
    layout = _MAGIC_BYTES.get(data[META_OFFSET : META_OFFSET + 4], LITTLE_ENDIAN)
    checksum = fnv1a64(data[META_OFFSET:end]).to_bytes(8, layout.order)
    return data[:end] + checksum + data[end + 8 :]


def read_snapshot(data: bytes, *, salvage: bool) -> None:
    with Snapshot(SOURCE, salvage=salvage, mapped=_mapped(data)) as snapshot:
        snapshot.verify_integrity()
        snapshot.bucket_counts()
        _ = snapshot.consistent_index, snapshot.term, snapshot.storage_version, snapshot.cluster_version, snapshot.compaction
        for member in snapshot.members():
            utf8_clean(str(member))
        index = snapshot.build_index(history=True, workers=1)
        _ = snapshot.revision
        for key in itertools.islice(index.live, 8):
            snapshot.get(key, index)
            for record in snapshot.history(key):
                utf8_clean(record.key_text)
        for _record in itertools.islice(snapshot.iter_events(), 64):
            pass
        if salvage:
            snapshot.salvage_report()
        for problem in snapshot.check_freelist().damage:  # the page accounting, through the one walk
            utf8_clean(str(problem))
        for damage in snapshot.damage:
            utf8_clean(str(damage))


# Every key, screened, with the history of some: what the columnar pass answers (etcd_index_numpy).
COLUMNS_QUERY = IndexQuery(history_prefixes=(b"/registry/s",), screen=(b"/",), needle=b"kubernetes.io/service-account-token")


def index_both_ways(data: bytes) -> None:
    """The columnar pass, forced on this small file, must give what the Python pass gives, damage
    included (it declines anything the Python pass words): a differential check, not only a crash hunt."""
    answers = []
    for columns_from in (1 << 62, 0):
        etcd_index.COLUMNS_FROM = columns_from
        try:
            with Snapshot(SOURCE, mapped=_mapped(data)) as snapshot:
                index = snapshot.index(COLUMNS_QUERY)
                answers.append((list(index.live.items()), list(index.history.items()), index.screened, index.events,
                                index.tombstones, index.last_revision, index.out_of_order, index.skipped, snapshot.damage.entries))
        except KforensicError as err:
            answers.append(str(err))
        finally:
            etcd_index.COLUMNS_FROM = etcd_index.DEFAULT_COLUMNS_FROM
    assert answers[0] == answers[1], "the columnar pass and the Python pass disagree"


def test_one(data: bytes) -> None:
    if not data:
        return
    data = with_meta0_checksum(data)
    try:
        read_snapshot(data, salvage=False)
    except KforensicError:
        # What `--salvage` is for: the same bytes read page by page.
        read_snapshot(data, salvage=True)
        return
    index_both_ways(data)


if __name__ == "__main__":
    run(test_one)
