"""The bbolt reader: real files from etcd and the auger corpus, plus hand-built unit cases."""

from __future__ import annotations

import gzip
import io
import lzma
import sqlite3
import struct
import tarfile
import zipfile
from contextlib import closing

import pytest

from analyzer.errors import CorruptEvidence, EvidenceError, TruncatedEvidence, UnsupportedEvidence
from analyzer.evidence import bbolt
from analyzer.evidence.bbolt import BUCKET_LEAF_FLAG, DamageLog, fnv1a64, open_bolt
from tests.fixtures.boltwriter import meta_page, patch, write_bolt


def items_of(db: bbolt.BoltDB, name: bytes) -> dict[bytes, bytes]:
    bucket = db.bucket(name)
    assert bucket is not None, name
    return {bytes(k): bytes(v) for k, v, _ in bucket.iter_items()}


def test_fnv1a64_matches_go_hash_fnv():
    # Published FNV-1a 64 vectors (the empty string is the offset basis).
    assert fnv1a64(b"") == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8


# -- the real etcd 3.2 file from etcd-io/auger ---------------------------------------------------


def test_auger_corpus_buckets_and_keys(auger_db, auger_keys):
    with open_bolt(auger_db) as db:
        assert db.byte_order == "little"
        assert db.page_size == 4096
        assert db.meta is not None and db.meta.txid == 3
        # Its freelist claims page 2, which is really the key bucket's leaf: never trusted.
        assert db.meta.freelist == 2
        names = [b.name for b in db.root().iter_buckets()]
        assert names == sorted(names) and b"key" in names and b"meta" in names
        keys = items_of(db, b"key")
        assert len(keys) == len(auger_keys)
        assert all(len(k) == 17 and k[8:9] == b"_" for k in keys)
        assert db.bucket(b"key").inline is None
        assert db.bucket(b"auth").inline is not None  # small buckets are inline pseudo pages
        assert items_of(db, b"auth") == {b"authRevision": struct.pack(">Q", 1)}  # auth bucket of etcd 3.2
        assert db.file_damage() == []


# -- real snapshots from a real etcd -------------------------------------------------------------


def _walk_depth(db: bbolt.BoltDB, pgid: int) -> int:
    flags, count, _overflow, span = db.page(pgid)
    if flags == bbolt.LEAF_PAGE:
        return 1
    child = db.layout.BRANCH_ELEMENT.unpack_from(span, 16)[2]
    return 1 + _walk_depth(db, child)


def test_real_snapshot_has_multilevel_branches_overflow_and_inline_buckets(mvcc_snapshot):
    path, _ledger = mvcc_snapshot
    with open_bolt(path, data_size=path.stat().st_size - 32) as db:
        key_bucket = db.bucket(b"key")
        assert key_bucket.inline is None
        # root branch -> branch -> leaf: the fixture really exercises nested branch pages
        assert _walk_depth(db, key_bucket.root_page) >= 3
        overflowed = [
            pgid
            for pgid in range(2, db.high_water)
            if db.layout.PAGE_HEADER.unpack_from(db.buf, pgid * db.page_size)[0] == pgid
            and db.layout.PAGE_HEADER.unpack_from(db.buf, pgid * db.page_size)[1] == bbolt.LEAF_PAGE
            and db.layout.PAGE_HEADER.unpack_from(db.buf, pgid * db.page_size)[3] > 0
        ]
        assert overflowed, "the 300 kB value should sit on a leaf with overflow pages"
        inline_with_items = [b for b in db.root().iter_buckets() if b.inline is not None and b.count() > 0]
        assert inline_with_items, "etcd keeps small buckets (cluster, members, meta) inline"
        assert key_bucket.count() == sum(1 for _ in key_bucket.iter_items())


def test_point_lookup_agrees_with_iteration(mvcc_snapshot):
    path, _ledger = mvcc_snapshot
    with open_bolt(path, data_size=path.stat().st_size - 32) as db:
        bucket = db.bucket(b"key")
        items = [(bytes(k), bytes(v)) for k, v, _ in bucket.iter_items()]
        for key, value in items[:: max(1, len(items) // 200)] + items[-3:]:
            assert bytes(bucket.get(key)) == value
        assert bucket.get(b"\xff" * 17) is None
        assert bucket.get(b"\x00" * 17) is None
        assert bucket.last_key() == items[-1][0]


def test_ordered_lookups_agree_with_iteration(mvcc_snapshot):
    """get_many keeps the path's branch pages decoded; absent keys before, between and after still give None."""
    path, _ledger = mvcc_snapshot
    with open_bolt(path, data_size=path.stat().st_size - 32) as db:
        bucket = db.bucket(b"key")
        items = [(bytes(k), bytes(v)) for k, v, _ in bucket.iter_items()]
        wanted = [b"\x00" * 17] + [k for k, _ in items[::3]] + [items[4][0] + b"\x00", b"\xff" * 17]
        wanted.sort()
        expected = {k: v for k, v in items}
        assert [bytes(v) if v is not None else None for v in bucket.get_many(wanted)] == [expected.get(k) for k in wanted]
        assert [bytes(v) for v in bucket.get_many(k for k, _ in items)] == [v for _, v in items]


# -- hand-built files: page sizes, byte orders, branches ------------------------------------------


BUCKETS = {
    b"key": {struct.pack(">Q", n) + b"_" + struct.pack(">Q", 0): f"value {n}".encode() * (n % 7 + 1) for n in range(1, 600)},
    b"meta": {b"consistent_index": struct.pack(">Q", 42)},
    b"cluster": {b"clusterVersion": b"3.5.0"},
}


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("page_size", [1024, 4096, 16384, 65536])
def test_any_page_size_and_byte_order(tmp_path, order, page_size):
    path = tmp_path / "db"
    write_bolt(path, BUCKETS, page_size=page_size, order=order, leaf_capacity=9, branch_capacity=5, inline=frozenset({b"cluster"}))
    with open_bolt(path) as db:
        assert db.page_size == page_size
        assert db.byte_order == ("little" if order == "<" else "big")
        for name, expected in BUCKETS.items():
            assert items_of(db, name) == expected
        assert db.bucket(b"cluster").inline is not None
        assert db.bucket(b"missing") is None


def test_overflowing_value(tmp_path):
    big = bytes(range(256)) * 100
    path = tmp_path / "db"
    write_bolt(path, {b"key": {b"a": big, b"b": b"small"}}, page_size=4096)
    with open_bolt(path) as db:
        assert items_of(db, b"key") == {b"a": big, b"b": b"small"}


def test_nested_bucket_flag_is_reported(tmp_path):
    path = tmp_path / "db"
    write_bolt(path, {b"one": {b"k": b"v"}})
    with open_bolt(path) as db:
        flags = [f for _, _, f in db.root().iter_items()]
        assert flags == [BUCKET_LEAF_FLAG]


# -- meta selection ------------------------------------------------------------------------------


def test_highest_valid_txid_wins_and_damaged_meta_falls_back(tmp_path):
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=50, txid=9)
    with open_bolt(path) as db:
        assert db.meta.page == 0 and db.meta.txid == 9
    patch(path, 16 + 40, b"\xff")  # flip a byte of meta 0's txid: its checksum no longer matches
    with open_bolt(path) as db:
        assert db.meta.page == 1 and db.meta.txid == 8
        assert [d.page for d in db.file_damage()] == [0]
        assert "checksum" in db.file_damage()[0].problem
        assert items_of(db, b"key") == BUCKETS[b"key"]
    assert layout.high_water > 4


def test_page_size_found_from_meta1_when_meta0_is_gone(tmp_path):
    path = tmp_path / "db"
    write_bolt(path, BUCKETS, page_size=16384, leaf_capacity=50)
    patch(path, 0, b"\0" * 4096)
    with open_bolt(path) as db:
        assert db.page_size == 16384 and db.meta.page == 1
        assert items_of(db, b"key") == BUCKETS[b"key"]


def test_both_metas_broken_is_one_clear_error_and_salvage_still_opens(tmp_path):
    path = tmp_path / "db"
    write_bolt(path, BUCKETS, leaf_capacity=50)
    patch(path, 16 + 56, b"\0" * 8)
    patch(path, 4096 + 16 + 56, b"\0" * 8)
    with pytest.raises(CorruptEvidence, match="both bbolt meta pages are damaged.*--salvage"):
        open_bolt(path)
    with open_bolt(path, salvage=True) as db:
        assert db.meta is None and db.page_size == 4096
        found = {bytes(k): bytes(v) for _, k, v, _ in db.iter_items_anywhere()}
        assert set(BUCKETS[b"key"]) <= set(found)


# -- damage inside the tree ----------------------------------------------------------------------


def _first_child_offset(layout, bucket=b"key"):
    return layout.branches[bucket][0] * layout.page_size + 16 + 8  # pgid field of element 0


def test_cycle_is_reported_not_followed(tmp_path):
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=9, branch_capacity=5)
    branch = layout.branches[b"key"][0]
    patch(path, _first_child_offset(layout), struct.pack("<Q", layout.bucket_roots[b"key"]))
    with open_bolt(path) as db:
        with pytest.raises(CorruptEvidence, match=r"page reached twice"):
            list(db.bucket(b"key").iter_items())
        damage = DamageLog()
        partial = list(db.bucket(b"key").iter_items(damage))
        assert 0 < len(partial) < len(BUCKETS[b"key"])
        assert any("page reached twice" in d.problem and f"page {branch}" in d.problem for d in damage)


def test_child_outside_the_file_names_the_page(tmp_path):
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=9, branch_capacity=5)
    patch(path, _first_child_offset(layout), struct.pack("<Q", 10_000))
    with open_bolt(path) as db:
        damage = DamageLog()
        list(db.bucket(b"key").iter_items(damage))
        [lost] = damage
        assert lost.page == 10_000
        assert "outside the database" in lost.problem
        assert f"referenced from page {layout.branches[b'key'][0]}" in lost.problem


def test_garbage_page_flags_and_bad_element_offsets(tmp_path):
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=9, branch_capacity=5)
    first_leaf, second_leaf = layout.leaves[b"key"][:2]
    patch(path, first_leaf * 4096 + 8, struct.pack("<H", 0x40))  # flags
    patch(path, second_leaf * 4096 + 16 + 4, struct.pack("<I", 0x7FFF_0000))  # element 0 pos
    with open_bolt(path) as db:
        damage = DamageLog()
        got = {bytes(k) for k, _, _ in db.bucket(b"key").iter_items(damage)}
        problems = {d.page: d.problem for d in damage}
        assert "page flags 0x40" in problems[first_leaf]
        assert "points past the end of the page" in problems[second_leaf]
        assert len(got) == len(BUCKETS[b"key"]) - 18


@pytest.mark.parametrize("page", ["root", "last-leaf"])
def test_an_element_count_past_the_page_is_damage_on_every_path(tmp_path, page):
    """Walks, point lookups, ordered lookups and the last key all refuse it the same way, never a struct error."""
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=9, branch_capacity=5)
    victim = layout.bucket_roots[b"key"] if page == "root" else layout.leaves[b"key"][-1]
    patch(path, victim * 4096 + 10, struct.pack("<H", 0xFFFF))  # count
    last = max(BUCKETS[b"key"])
    with open_bolt(path) as db:
        bucket = db.bucket(b"key")
        damage = DamageLog()
        assert bucket.last_key(damage) is None
        [found] = damage
        assert found.page == victim and found.problem.startswith("claims 65535 elements, more than fit in 4096 bytes")
        assert ("referenced from page" in found.problem) == (page == "last-leaf")
        for lookup in (lambda: bucket.get(last), lambda: list(bucket.get_many([last]))):
            with pytest.raises(CorruptEvidence, match="claims 65535 elements"):
                lookup()
        walked = DamageLog()
        list(bucket.iter_items(walked))
        assert walked.entries == damage.entries  # worded as the walk words it: one entry in a shared log
        if page == "last-leaf":  # iter_leaf_ids names leaves unread; read_leaf is where they are checked
            read = DamageLog()
            assert db.read_leaf(victim, read, "key") == []
            assert read.entries[0].problem == "claims 65535 elements, more than fit in 4096 bytes"


def test_page_header_with_wrong_id(tmp_path):
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=9, branch_capacity=5)
    leaf = layout.leaves[b"key"][3]
    patch(path, leaf * 4096, struct.pack("<Q", 77))
    with open_bolt(path) as db:
        with pytest.raises(CorruptEvidence) as raised:
            list(db.bucket(b"key").iter_items())
        assert f"page {leaf}" in str(raised.value) and "carries id 77" in str(raised.value)


def test_truncated_file_reports_missing_pages(tmp_path):
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=9, branch_capacity=5)
    data = path.read_bytes()
    cut = (layout.high_water - 3) * 4096 + 100
    path.write_bytes(data[:cut])
    with open_bolt(path) as db:
        assert db.missing_pages == 3
        assert "truncated" in db.file_damage()[-1].problem
        damage = DamageLog()
        list(db.bucket(b"key").iter_items(damage))
        assert damage  # the pages past the cut are named, the rest was read
        with pytest.raises(TruncatedEvidence):
            db.page(layout.high_water - 2)


@pytest.mark.parametrize("claimed", [1 << 40, 1 << 62])
def test_a_meta_claiming_more_pages_than_the_file_costs_only_the_file(tmp_path, claimed):
    """A valid checksum over an absurd high-water mark is a truncated file, not an allocation of it.

    The walk's visited map was sized by the claim: 2**33 pages took seconds and gigabytes, more
    ended in MemoryError. Every page the walk can reach lies inside the file, so the map is too.
    """
    path = tmp_path / "db"
    layout = write_bolt(path, BUCKETS, leaf_capacity=9, branch_capacity=5)
    patch(path, 0, meta_page(4096, "<", 0, 3, claimed, 7))
    patch(path, 4096, meta_page(4096, "<", 1, 3, claimed, 6))
    with open_bolt(path) as db:
        assert db.high_water == claimed and db.file_pages == layout.high_water
        assert db.missing_pages == claimed - layout.high_water
        assert "file is truncated" in db.file_damage()[-1].problem
        damage = DamageLog()
        assert items_of(db, b"key") == BUCKETS[b"key"]
        assert sum(1 for _ in db.bucket(b"key").iter_items(damage)) == len(BUCKETS[b"key"]) and not damage
        assert db.bucket(b"key").count() == len(BUCKETS[b"key"])


# -- files that are not bbolt at all -------------------------------------------------------------


def _archive(kind: str) -> bytes:
    """A real container of 8 KiB of zeros, written by the standard library."""
    payload = bytes(8192)
    if kind == "gzip":
        return gzip.compress(payload, mtime=0)  # no timestamp: the bytes are a test id, the same in every xdist worker
    if kind == "xz":
        return lzma.compress(payload)
    if kind == "sqlite":
        with closing(sqlite3.connect(":memory:")) as db:
            db.execute("CREATE TABLE t (x)")
            return db.serialize()
    out = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("db", payload)
    else:
        with tarfile.open(fileobj=out, mode="w") as archive:
            info = tarfile.TarInfo("db")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x1f\x8b\x08\x00" + bytes(5000), "gzip-compressed"),
        (_archive("gzip"), "gzip-compressed; decompress it first"),
        (_archive("xz"), "xz-compressed; decompress it first"),
        (_archive("zip"), "it is a zip archive"),
        (_archive("tar"), "it is a tar archive"),
        (_archive("sqlite"), "it is an SQLite database"),
        (b"apiVersion: v1\nkind: Config\n" * 200, "text file"),
        (bytes(range(256)) * 40, "no bbolt meta page found"),
        (bytes(8192), "no bbolt meta page found"),
    ],
)
def test_not_bbolt(tmp_path, content, expected):
    path = tmp_path / "x.db"
    path.write_bytes(content)
    with pytest.raises(UnsupportedEvidence, match=expected) as raised:
        open_bolt(path)
    assert str(raised.value).startswith(str(path))
    assert "\n" not in str(raised.value)


def test_missing_empty_and_directory(tmp_path):
    with pytest.raises(EvidenceError, match="no such file"):
        open_bolt(tmp_path / "nope.db")
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(UnsupportedEvidence, match=r"empty \(0 bytes\)"):
        open_bolt(tmp_path / "empty.db")
    with pytest.raises(UnsupportedEvidence, match="is a directory"):
        open_bolt(tmp_path)


def test_meta_page_writer_is_what_the_reader_validates():
    # Guards the test writer itself: a meta it writes must validate, a changed byte must not.
    page = bytearray(meta_page(4096, "<", 0, 3, 10, 5))
    assert bbolt._read_meta(memoryview(bytes(page)), bbolt.LITTLE_ENDIAN, 0, 0).valid
    page[30] ^= 1
    assert not bbolt._read_meta(memoryview(bytes(page)), bbolt.LITTLE_ENDIAN, 0, 0).valid
