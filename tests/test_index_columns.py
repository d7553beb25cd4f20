"""The columnar index pass (numpy) gives the Python pass's answer, and hands damage back to it.

The Python pass (``etcd_index.index_leaves``) is the reference: on every real snapshot here, for
every query the commands ask, the columns must give the same live keys in the same order, the same
history, screen, counts and damage; on a file with anything the Python pass words, the columns
must decline and leave the answer to it. Chunks are made tiny so that keys meet across chunks.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
from pathlib import Path

import pytest

pytest.importorskip("numpy", reason="the columnar pass needs numpy (a dependency of kforensic)")

from analyzer.evidence import etcd_index, etcd_index_numpy  # noqa: E402
from analyzer.evidence.etcd import Snapshot  # noqa: E402
from analyzer.evidence.store import IndexQuery  # noqa: E402
from analyzer.pb import etcd_mvcc_pb2  # noqa: E402
from analyzer.wiring.sources.etcd_objects import TOKEN_SECRET_TYPE, wiring_index_query  # noqa: E402
from tests.fixtures import k8s_objects as k8s  # noqa: E402
from tests.fixtures.boltwriter import patch, write_bolt  # noqa: E402

QUERIES = {
    "wiring": wiring_index_query(),
    "every key": IndexQuery(),
    "prefixes": IndexQuery(prefixes=(b"/registry/configmaps", b"/registry/secrets/ns-1/")),
    # A prefix that ends inside a directory's last segment: that directory is decided key by key.
    "undecided directory": IndexQuery(prefixes=(b"/registry/configmaps/long/a",), history_prefixes=(b"/registry/configmaps/long/aa",),
                                      screen=(b"/registry/secrets/",), needle=TOKEN_SECRET_TYPE.encode()),
}


def _story(etcd) -> None:
    """Keys of every length a varint spells in one or two bytes, deletes and rebirths, history where
    the wiring keeps it, Secrets of every encoding the screen tells apart, a value on overflow pages,
    a compaction, and enough records for many leaves."""
    client = etcd.client()
    rng = random.Random(16)
    names = [f"/registry/configmaps/long/{'a' * n}" for n in (1, 6, 7, 8, 9, 15, 16, 60, 101, 102, 103, 150, 230, 400)]
    names += ["compact_rev_key", "x", "/x", "/registry/secrets/", "/registry/pods/ns-0/p"]
    for name in names:
        client.put(name, b"v" * rng.randint(2, 40))
    secrets = {
        "token": k8s.secret("kube-system", "token", {"token": b"t"}, type_=TOKEN_SECRET_TYPE),
        "tls": k8s.secret("kube-system", "tls", {"tls.crt": b"c"}, type_="kubernetes.io/tls"),
        "encrypted": b"k8s:enc:aescbc:v1:key1:" + rng.randbytes(64),
        "json": json.dumps({"kind": "Secret", "type": "kubernetes.io\\/service-account-token"}).encode(),
    }
    for version in range(3):
        for name, value in secrets.items():
            client.put(f"/registry/secrets/kube-system/{name}", value)
            client.put(f"/kubernetes.io/secrets/openshift-config/{name}-{version}", value)
        client.put("/registry/configmaps/kube-system/history", f"v{version}".encode())
    client.delete("/registry/secrets/kube-system/tls")
    client.compact(etcd.revision(), physical=True)
    client.put("/registry/configmaps/big/overflow", rng.randbytes(300_000))
    for round_ in range(4):
        items = [(f"/registry/{resource}/ns-{n % 7}/{resource[:-1]}-{n:04d}", rng.randbytes(rng.randint(20, 700)))
                 for n in range(300) for resource in ("configmaps", "secrets", "events")]
        rng.shuffle(items)
        etcd.put_many(items)
        for n in range(0, 300, 17 + round_):
            client.delete(f"/registry/secrets/ns-{n % 7}/secret-{n:04d}")
    client.put("/registry/secrets/kube-system/tls", secrets["tls"])  # born again after its delete


@pytest.fixture(scope="module")
def varied_snapshot(real_etcd, tmp_path_factory) -> Path:
    from tests.fixtures.etcd_server import EtcdServer

    path = tmp_path_factory.mktemp("columns") / "snapshot.db"
    with EtcdServer() as etcd:
        _story(etcd)
        etcd.snapshot(path)
    return path


def _python_pass(path: Path, query: IndexQuery, monkeypatch) -> tuple:
    monkeypatch.setattr(etcd_index, "COLUMNS_FROM", 1 << 62)
    return _answer(path, query)


def _columns_pass(path: Path, query: IndexQuery, monkeypatch, chunk_pages: int, workers: int = 1) -> tuple:
    monkeypatch.setattr(etcd_index, "COLUMNS_FROM", 0)
    monkeypatch.setattr(etcd_index_numpy, "_CHUNK_PAGES", chunk_pages)
    return _answer(path, query, workers)


def _answer(path: Path, query: IndexQuery, workers: int = 1) -> tuple:
    """Every field of the index a pass gives; ``workers`` 2 lets the columns gather in a thread."""
    with Snapshot(path) as snapshot:
        index = snapshot.index(query, workers=workers)
        return (list(index.live.items()), list(index.history.items()), index.screened, index.screen, index.events,
                index.tombstones, index.last_revision, index.out_of_order, index.skipped, snapshot.damage.entries)


def _took_columns(path: Path, query: IndexQuery) -> bool:
    with Snapshot(path) as snapshot:
        bucket = snapshot.db.bucket(b"key")
        return etcd_index_numpy.index_columns(snapshot.db, bucket, query, etcd_index._kind) is not None


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
@pytest.mark.parametrize("chunk_pages", [1, 3, 1 << 15])
def test_columns_give_the_python_pass_answer(varied_snapshot, query, chunk_pages, monkeypatch):
    python = _python_pass(varied_snapshot, query, monkeypatch)
    monkeypatch.setattr(etcd_index_numpy, "_CHUNK_PAGES", chunk_pages)
    # Answered, not declined, under this chunk size: with small chunks most keys come back in later
    # chunks and are compared with their bytes kept from the first (and the pool of them grows).
    assert _took_columns(varied_snapshot, query)
    assert _columns_pass(varied_snapshot, query, monkeypatch, chunk_pages) == python
    assert _columns_pass(varied_snapshot, query, monkeypatch, chunk_pages, workers=2) == python  # gathered in a thread
    live, history, screened = python[0], python[1], python[2]
    assert len(live) > 800 and any(len(name) > 127 for name, _ in live) or query.prefixes is not None
    if query is QUERIES["wiring"]:
        # What the query is for: history where the wiring keeps it, and the screen's verdicts.
        assert dict(history)[b"/registry/configmaps/kube-system/history"]
        assert {b"/registry/secrets/kube-system/token", b"/registry/secrets/kube-system/encrypted",
                b"/registry/secrets/kube-system/json"} <= screened
        assert b"/registry/secrets/kube-system/tls" not in screened


def test_columns_answer_the_mvcc_story(mvcc_snapshot, monkeypatch):
    """The shared story: compaction, overflow values, a non-Kubernetes key, deep branches."""
    path, ledger = mvcc_snapshot
    for query in QUERIES.values():
        assert _columns_pass(path, query, monkeypatch, 2) == _python_pass(path, query, monkeypatch)
        monkeypatch.setattr(etcd_index_numpy, "_CHUNK_PAGES", 2)
        assert _took_columns(path, query)
    assert set(dict(_columns_pass(path, IndexQuery(), monkeypatch, 5)[0])) == set(ledger.live())


def test_named_keys_and_every_history_are_the_python_pass(varied_snapshot):
    for query in (IndexQuery(history=True), IndexQuery(keys=frozenset({b"x"}))):
        assert not etcd_index_numpy.usable(query)


def test_big_endian_file(tmp_path, monkeypatch):
    """A bbolt file in big-endian order (a hand-built one: no etcd here writes one)."""
    records = {}
    for revision in range(1, 400):
        name = f"/registry/secrets/ns-{revision % 5}/s-{revision % 37}".encode()
        records[struct.pack(">Q", revision) + b"_" + struct.pack(">Q", 0) + (b"t" if revision % 11 == 0 else b"")] = \
            etcd_mvcc_pb2.KeyValue(key=name, create_revision=revision, mod_revision=revision, version=1,
                                   value=b"k8s\x00" + bytes(revision % 50)).SerializeToString()
    path = tmp_path / "big-endian.db"
    write_bolt(path, {b"key": records, b"meta": {b"consistent_index": bytes(8)}}, order=">", leaf_capacity=7, branch_capacity=5)
    query = QUERIES["wiring"]
    assert _took_columns(path, query)
    assert _columns_pass(path, query, monkeypatch, 2) == _python_pass(path, query, monkeypatch)


def _damaged(path: Path, tmp_path: Path, where: str) -> Path:
    """A copy of ``path`` with one thing the Python pass words: in a leaf near the middle."""
    copy = tmp_path / f"{where}.db"
    shutil.copy(path, copy)
    with Snapshot(path) as snapshot:
        leaves = [leaf for leaf, _parent in snapshot.db.bucket(b"key").iter_leaf_ids()]
        leaf = leaves[len(leaves) // 2]
        _flags, count, _overflow, span = snapshot.db.page(leaf)
        _eflags, pos, ksize, _vsize = snapshot.db.layout.LEAF_ELEMENT.unpack_from(span, 16)
        page_size = snapshot.db.page_size
    at = leaf * page_size
    record = at + 16 + pos
    damage = {
        "flags": (at + 8, struct.pack("<H", 0x40)),
        "element past the page": (at + 16 + 4, struct.pack("<I", page_size * 9)),
        "not a revision": (record + 8, b"-"),
        "not a KeyValue": (record + ksize, b"\x12"),
        "out of order": (record, struct.pack(">Q", 1)),
    }[where]
    patch(copy, *damage)
    return copy


@pytest.mark.parametrize("where", ["flags", "element past the page", "not a revision", "not a KeyValue", "out of order"])
def test_damage_is_left_to_the_python_pass(varied_snapshot, tmp_path, where, monkeypatch):
    damaged = _damaged(varied_snapshot, tmp_path, where)
    query = QUERIES["wiring"]
    assert not _took_columns(damaged, query)
    python = _python_pass(damaged, query, monkeypatch)
    assert _columns_pass(damaged, query, monkeypatch, 3) == python
    assert _columns_pass(damaged, query, monkeypatch, 3, workers=2) == python
    assert python[-1] or python[7]  # the Python pass worded it (damage, or revisions out of order)


def test_a_scan_reads_the_same_with_columns(varied_snapshot, monkeypatch):
    """End to end: ``info -o json`` is the same document either way."""
    from typer.testing import CliRunner

    from analyzer.cli import app

    def info() -> dict:
        result = CliRunner().invoke(app, ["info", str(varied_snapshot), "-o", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    monkeypatch.setattr(etcd_index, "COLUMNS_FROM", 1 << 62)
    python = info()
    monkeypatch.setattr(etcd_index, "COLUMNS_FROM", 0)
    assert info() == python


def _hand_built(path: Path, records: list[tuple[bytes, bool]], **layout) -> Path:
    """A key bucket of ``records`` (key, deleted) at revisions 1, 2, ... (hand-built: the crafted keys
    below are not ones a test may ask a real etcd to hold in this order at this size)."""
    items = {}
    for revision, (name, deleted) in enumerate(records, start=1):
        record = etcd_mvcc_pb2.KeyValue(key=name, create_revision=revision, mod_revision=revision, version=1,
                                        value=b"" if deleted else b"k8s\x00" + bytes(revision % 7)).SerializeToString()
        # An empty key spelled out (tag 0x0A, length 0), as hand-made bytes may: etcd's marshaller,
        # like protobuf's, leaves an empty field out.
        items[struct.pack(">Q", revision) + b"_" + struct.pack(">Q", 0) + (b"t" if deleted else b"")] = \
            record if name else b"\x0a\x00" + record
    write_bolt(path, {b"key": items, b"meta": {b"consistent_index": bytes(8)}}, **layout)
    return path


# Two keys whose hash lanes agree, both of them (found by review: the lanes are unkeyed and their
# steps reversible, so such pairs are made in milliseconds). Grouped by hash alone, the second
# key's delete would hide the first.
TWINS = (b"/registry/clusterrolebindings/xxcrb-1000!\xe7\x04\xf6\xe0\x83\xe2$-backdoor",
         b"/registry/clusterrolebindings/xx\xbea\xe0\xf3E\xd0\xe7{\xd6\x18\xfb\t\x1f|\x1d\xdb-backdoor")


def test_keys_that_share_both_lanes_are_told_apart_by_their_bytes(tmp_path, monkeypatch):
    import numpy as np

    first, second = TWINS
    width = 8 * -(-len(first) // 8)
    rows = np.frombuffer(first.ljust(width, b"a") + second.ljust(width, b"b"), np.uint8).reshape(2, width)
    size = np.array([len(first), len(second)])
    lane_a, lane_b = etcd_index_numpy._lanes(etcd_index_numpy._own_words(rows, size), size)
    assert first != second and lane_a[0] == lane_a[1] and lane_b[0] == lane_b[1]  # the test's premise
    story = [(b"/registry/namespaces/default", False), (first, False), (second, False), (second, True)]
    for chunk_pages in (1, 1 << 13):  # the twins in one chunk, and in two
        for records in (story, story[:2] + [(b"/registry/pods/ns/p", False)] * 3 + story[2:]):
            path = _hand_built(tmp_path / f"twins-{chunk_pages}-{len(records)}.db", records, leaf_capacity=2, branch_capacity=2)
            for query in (IndexQuery(), IndexQuery(prefixes=(b"/registry/",))):
                python = _python_pass(path, query, monkeypatch)
                assert first in dict(python[0]) and second not in dict(python[0])
                assert _columns_pass(path, query, monkeypatch, chunk_pages) == python


def test_empty_keys(tmp_path, monkeypatch):
    """A record whose key is empty (0x0A 0x00) is a key like any other to the Python pass; a chunk
    of nothing else has no key columns at all (found by review: it crashed)."""
    # 32 keys fill 8 leaves, so with chunks of one branch's leaves the empty keys open a chunk of
    # their own; 36 puts them beside others.
    for before in (32, 36):
        records = [(f"/registry/secrets/ns/s{n}".encode(), False) for n in range(before)] + [(b"", False)] * 8
        path = _hand_built(tmp_path / f"empty-{before}.db", records, leaf_capacity=4, branch_capacity=2)
        for chunk_pages in (1, 2, 1 << 13):
            for query in (IndexQuery(), QUERIES["wiring"]):
                assert _columns_pass(path, query, monkeypatch, chunk_pages) == _python_pass(path, query, monkeypatch)
                assert _took_columns(path, query)  # under the chunk size just set: not answered by declining


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failure_in_the_columns_leaves_the_mapping_closable(varied_snapshot, monkeypatch, workers):
    """numpy views of the mapping live in the frames of a failed gather; the pass clears them, so
    the snapshot's mapping closes instead of staying exported while the error is handled."""
    def failing(*args, **kwargs):
        raise RuntimeError("a fault while gathering")

    monkeypatch.setattr(etcd_index, "COLUMNS_FROM", 0)
    monkeypatch.setattr(etcd_index_numpy, "_CHUNK_PAGES", 2)
    monkeypatch.setattr(etcd_index_numpy, "_lanes", failing)  # inside _chunk, whose frame holds the mapping's view
    with Snapshot(varied_snapshot) as snapshot:
        mapping = snapshot.db._mmap
        with pytest.raises(RuntimeError) as raised:
            snapshot.index(QUERIES["wiring"], workers=workers)
    assert raised.value is not None and mapping.closed
