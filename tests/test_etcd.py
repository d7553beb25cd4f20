"""The MVCC layer against what was written into a real etcd, and against etcdutl's own answers."""

from __future__ import annotations

from collections import Counter
import hashlib
import os
import shutil
import struct
from pathlib import Path

import pytest

from analyzer.pb import etcd_mvcc_pb2
from analyzer.errors import CorruptEvidence
from analyzer.evidence.etcd import (
    Integrity,
    Revision,
    Snapshot,
    load_revision,
    pack_revision,
    unpack_revision,
    user_key,
)
from analyzer.views.snapshot_summary import count_resources, resource_prefix, summarize_snapshot
from tests.fixtures.boltwriter import patch
from tests.fixtures.etcd_server import etcdutl_status

# -- revision keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (struct.pack(">QcQ", 4, b"_", 0), Revision(4, 0)),
        (struct.pack(">QcQ", 82702, b"_", 3) + b"t", Revision(82702, 3, True)),
        (struct.pack(">QcQ", 4, b"-", 0), None),  # separator must be '_'
        (struct.pack(">QcQ", 4, b"_", 0) + b"x", None),  # only 't' marks a tombstone
        (struct.pack(">QcQ", 1 << 63, b"_", 0), None),  # negative main in Go's int64
        (b"consistent_index", None),
    ],
)
def test_load_revision(raw, expected):
    assert load_revision(raw) == expected


def test_revision_packing_roundtrips_and_orders():
    revisions = [Revision(1, 0), Revision(1, 5), Revision(2, 0, True), Revision(10**12, 4_000_000)]
    assert [unpack_revision(r.packed) for r in revisions] == revisions
    assert sorted(r.packed for r in revisions) == [r.packed for r in sorted(revisions)]
    assert pack_revision(3, 1, True) == Revision(3, 1, True).packed
    assert load_revision(Revision(7, 2, True).key()) == Revision(7, 2, True)


def test_user_key_fast_path():
    assert user_key(memoryview(b"\x0a\x03abc\x10\x01")) == b"abc"
    long_key = b"k" * 300
    assert user_key(memoryview(b"\x0a\xac\x02" + long_key)) == long_key
    assert user_key(memoryview(b"\x10\x01")) is None
    assert user_key(memoryview(b"\x0a\x09abc")) is None  # length past the end


# -- a real snapshot, compared with the writer's ledger -----------------------------------------


def test_latest_state_equals_what_was_written(mvcc_snapshot):
    path, ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        index = snapshot.build_index()
        assert set(index.live) == set(ledger.live())
        sample = sorted(ledger.live())[:: max(1, len(ledger.live()) // 300)]
        for key in sample + [b"/registry/configmaps/big/cm-300000", b"/registry/secrets/default/reborn"]:
            record = snapshot.read(index.live[key])
            assert record.value == ledger.live()[key]
            assert record.mod_revision == record.revision.main
        assert b"/registry/secrets/default/gone" not in index.live


def test_history_survives_compaction_as_etcd_keeps_it(mvcc_snapshot):
    path, ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        assert snapshot.compaction.finished == ledger.compacted_at
        for key in (b"/registry/configmaps/default/rewritten", b"/registry/secrets/default/reborn", b"/registry/secrets/default/gone"):
            got = [(r.mod_revision if not r.deleted else r.revision.main, None if r.deleted else r.value) for r in snapshot.history(key)]
            assert got == ledger.history(key), key
        rewritten = snapshot.history(b"/registry/configmaps/default/rewritten")
        assert [r.version for r in rewritten] == list(range(5, 9))  # versions 1-4 went to compaction


def test_versions_and_create_revisions(mvcc_snapshot):
    path, ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        reborn = snapshot.get(b"/registry/secrets/default/reborn")
        second_life = [rev for key, rev, value in ledger.events if key == b"/registry/secrets/default/reborn" and value == b"second life"]
        assert reborn.create_revision == second_life[0]  # a delete starts a new generation
        assert reborn.version == 1


@pytest.mark.parametrize("fixture_name", ["mvcc_snapshot", "small_snapshot"])
def test_summary_agrees_with_etcdutl_snapshot_status(request, fixture_name):
    path, ledger = request.getfixturevalue(fixture_name)
    status = etcdutl_status(path)
    with Snapshot(path) as snapshot:
        summary = summarize_snapshot(snapshot)
    assert summary.revision == status["revision"] == ledger.last_revision
    assert summary.total_keys == status["totalKey"]
    assert summary.size == status["totalSize"]
    assert summary.live_keys == len(ledger.live())
    assert summary.integrity.status is Integrity.OK
    assert not summary.partial
    assert len(summary.members) == 1 and summary.members[0].name == "kforensic-fixture"
    assert summary.cluster_version and summary.cluster_version.startswith("3.5")


def test_resource_counts(mvcc_snapshot):
    path, ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        summary = summarize_snapshot(snapshot)
    expected: dict[str, int] = {}
    for key in ledger.live():
        expected[resource_prefix(key)] = expected.get(resource_prefix(key), 0) + 1
    assert summary.resources == expected
    assert summary.resources["/registry/events"] == 8000


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        (b"/registry/secrets/ns/name", "/registry/secrets"),
        (b"/registry/namespaces/default", "/registry/namespaces"),
        (b"/kubernetes.io/config.openshift.io/apiservers/cluster", "/kubernetes.io/config.openshift.io/apiservers"),
        (b"/registry/services/specs/default/kubernetes", "/registry/services/specs"),
        (b"/registry/apiextensions.k8s.io/customresourcedefinitions/x.y.z", "/registry/apiextensions.k8s.io/customresourcedefinitions"),
        (b"compact_rev_key", "compact_rev_key"),
    ],
)
def test_resource_prefix(key, prefix):
    assert resource_prefix(key) == prefix


def test_resources_counted_by_directory_as_key_by_key():
    keys = [
        b"/registry/secrets/ns/name", b"/registry/secrets/ns/other", b"/registry/secrets/ns2/name", b"/registry/namespaces/default",
        b"/registry/services/specs/default/kubernetes", b"/registry/services/endpoints", b"/registry/services/specs/x",
        b"/kubernetes.io/config.openshift.io/apiservers/cluster", b"/kubernetes.io/config.openshift.io/x",
        b"/registry/apiextensions.k8s.io/customresourcedefinitions/x.y.z", b"compact_rev_key", b"/a", b"/a/b", b"/a/b/c",
        b"/registry/\xff\xfe/ns/x", b"/registry/\xe2\x82/n\xe2/x\xe2", b"", b"//", b"///", b"////",
        b"a/b/c/d", b"flannel/net/x/y", b"a/b/c/e",
    ]
    assert count_resources(keys) == Counter(resource_prefix(key) for key in keys)


# -- integrity trailer ---------------------------------------------------------------------------


def test_integrity_mismatch_and_absent(mvcc_snapshot, tmp_path):
    path, _ledger = mvcc_snapshot
    altered = tmp_path / "altered.db"
    shutil.copy(path, altered)
    patch(altered, 3 * 4096 + 2000, b"\x42")  # one byte, inside the data the digest covers
    with Snapshot(altered) as snapshot:
        result = snapshot.verify_integrity()
        assert result.status is Integrity.MISMATCH and result.expected_sha256 != result.actual_sha256
    stripped = tmp_path / "member-snap-db"
    stripped.write_bytes(path.read_bytes()[:-32])
    with Snapshot(stripped) as snapshot:
        assert snapshot.verify_integrity().status is Integrity.ABSENT
        assert snapshot._hashing is None  # no trailer, nothing to compare: the file was not read for it
        assert snapshot.file_sha256() == hashlib.sha256(stripped.read_bytes()).hexdigest()
        assert snapshot.revision == etcdutl_status(path)["revision"]


# -- the auger corpus: a real etcd 3.2 file ------------------------------------------------------


def test_auger_corpus_latest_state(auger_db, auger_keys):
    with Snapshot(auger_db) as snapshot:
        index = snapshot.build_index()
        assert sorted(k.decode() for k in index.live) == sorted(auger_keys)
        assert snapshot.verify_integrity().status is Integrity.ABSENT  # a copied member db has no trailer
        compaction = snapshot.compaction
        assert compaction.finished == 241828  # documented quirk: later than the last key's revision
        assert snapshot.consistent_index == 0xAA87D
        pod = snapshot.get(b"/registry/pods/default/pi-dqtsw")
        assert pod.value.startswith(b"k8s\x00") and pod.version == 5 and pod.mod_revision == 82702
        summary = summarize_snapshot(snapshot)
        assert summary.store_revision == 241828 and summary.revision == 232274


# -- salvage -------------------------------------------------------------------------------------


def _a_branch_below_the_root(snapshot: Snapshot) -> int:
    db = snapshot.db
    root = db.bucket(b"key").root_page
    _flags, _count, _overflow, span = db.page(root)
    return db.layout.BRANCH_ELEMENT.unpack_from(span, 16)[2]


def _scribbled_branch(path: Path, tmp_path: Path) -> tuple[Path, int]:
    """A copy of the snapshot with a branch below the root scribbled over (header and elements)."""
    damaged = tmp_path / "damaged.db"
    shutil.copy(path, damaged)
    with Snapshot(path) as snapshot:
        victim = _a_branch_below_the_root(snapshot)
    patch(damaged, victim * 4096, b"\xee" * 64)
    return damaged, victim


def test_damaged_branch_partial_then_salvaged(mvcc_snapshot, tmp_path):
    path, ledger = mvcc_snapshot
    damaged, victim = _scribbled_branch(path, tmp_path)

    with Snapshot(damaged) as snapshot:
        index = snapshot.build_index()
        assert snapshot.partial
        assert any(d.page == victim for d in snapshot.damage)
        lost = set(ledger.live()) - set(index.live)
        assert lost, "a whole subtree of revisions hangs below the scribbled branch"
        with pytest.raises(CorruptEvidence):
            list(Snapshot(damaged).db.bucket(b"key").iter_items())

    with Snapshot(damaged, salvage=True) as snapshot:
        index = snapshot.build_index()
        report = snapshot.salvage_report()
        assert report.recovered > 0 and report.pages
        assert victim not in report.pages  # records come from the leaves, the branch is garbage
        assert set(index.live) == set(ledger.live())
        recovered = snapshot.get(sorted(lost)[0], index)
        assert recovered.salvaged and recovered.value == ledger.live()[sorted(lost)[0]]


def test_an_ordered_read_over_a_damaged_branch_reads_the_rest(mvcc_snapshot, tmp_path):
    """The ordered descent stops at the damaged page; the reads one by one take over and name each loss."""
    path, ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        everything = sorted(snapshot.build_index().live.values())
        intact = {r.key: r.value for r in snapshot.iter_read(everything)}
    assert intact == ledger.live()
    damaged, _victim = _scribbled_branch(path, tmp_path)
    with Snapshot(damaged) as snapshot:
        read = {r.key: r.value for r in snapshot.iter_read(everything)}
        lost = set(intact) - set(read)
        assert lost and all(read[k] == intact[k] for k in read)
        # One entry per revision lost, besides the branch itself (found by the survey of the tree).
        assert len([d for d in snapshot.damage if d.bucket == "key" and d.page is None]) == len(lost)
        assert any(d.page == _victim for d in snapshot.damage)


# -- the parallel pass gives exactly the serial answer --------------------------------------------


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_pass_equals_serial(mvcc_snapshot, workers):
    path, ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        serial = snapshot.build_index(workers=1, keys=[b"/registry/configmaps/default/rewritten"])
        parallel = snapshot.build_index(workers=workers, keys=[b"/registry/configmaps/default/rewritten"])
    assert parallel.live == serial.live and set(parallel.live) == set(ledger.live())
    assert parallel.history == serial.history
    assert (parallel.events, parallel.tombstones, parallel.last_revision) == (serial.events, serial.tombstones, serial.last_revision)


def test_parallel_pass_reports_the_same_damage(mvcc_snapshot, tmp_path):
    path, _ledger = mvcc_snapshot
    damaged = tmp_path / "damaged.db"
    shutil.copy(path, damaged)
    with Snapshot(path) as snapshot:
        leaves = [leaf for leaf, _parent in snapshot.db.bucket(b"key").iter_leaf_ids()]
    patch(damaged, leaves[len(leaves) // 2] * 4096 + 8, struct.pack("<H", 0x40))  # a leaf's flags
    with Snapshot(damaged) as serial_snapshot, Snapshot(damaged) as parallel_snapshot:
        serial = serial_snapshot.build_index(workers=1)
        parallel = parallel_snapshot.build_index(workers=2)
        assert parallel.live == serial.live
        assert {d.page for d in parallel_snapshot.damage} == {d.page for d in serial_snapshot.damage} == {leaves[len(leaves) // 2]}


def test_parallel_pass_over_a_damaged_root_is_damage_not_a_crash(mvcc_snapshot, tmp_path):
    path, _ledger = mvcc_snapshot
    damaged = tmp_path / "damaged.db"
    shutil.copy(path, damaged)
    with Snapshot(path) as snapshot:
        root = snapshot.db.bucket(b"key").root_page
    patch(damaged, root * 4096 + 10, struct.pack("<H", 0xFFFF))  # the root's element count
    with Snapshot(damaged) as snapshot:
        index = snapshot.build_index(workers=2)
        assert index.live == {} and snapshot.partial
        assert [d.page for d in snapshot.damage if d.bucket == "key"] == [root]


# -- the index pass: leaves named twice, what a query keeps ---------------------------------------


def _a_branch_over_leaves(snapshot: Snapshot) -> int:
    """A branch page of the key bucket whose children are leaves."""
    db = snapshot.db
    stack = [db.bucket(b"key").root_page]
    while stack:
        pgid = stack.pop()
        _flags, count, _overflow, span = db.page(pgid)
        children = [db.layout.BRANCH_ELEMENT.unpack_from(span, 16 + 16 * i)[2] for i in range(count)]
        if db.page(children[0])[0] == 0x02 and count >= 2:
            return pgid
        stack.extend(children)
    raise AssertionError("no branch over leaves")


def test_a_leaf_named_twice_is_damage_and_indexed_once(mvcc_snapshot, tmp_path):
    path, _ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        branch = _a_branch_over_leaves(snapshot)
        layout = snapshot.db.layout
        _flags, _count, _overflow, span = snapshot.db.page(branch)
        first, second = (layout.BRANCH_ELEMENT.unpack_from(span, 16 + 16 * i)[2] for i in (0, 1))
        lost_records = snapshot.db.page(second)[1]
        whole = snapshot.build_index()
    damaged = tmp_path / "damaged.db"
    shutil.copy(path, damaged)
    patch(damaged, branch * 4096 + 16 + 16 + 8, struct.pack("<Q", first))  # element 1 now names element 0's leaf
    for workers in (1, 2):
        with Snapshot(damaged) as snapshot:
            index = snapshot.build_index(workers=workers)
            twice = [d for d in snapshot.damage if "page reached twice" in d.problem]
            assert [d.page for d in twice] == [first] and f"referenced from page {branch}" in twice[0].problem
            # The leaf is read once (its records are not counted twice); the one no longer named is lost.
            assert index.events + index.skipped == whole.events + whole.skipped - lost_records


KIND_NAMES = [b"/r/s/ns/a", b"/r/s/ns/ab", b"/r/s/kube/a", b"/r/s/a", b"/r/c/ns/a", b"/r/c/ns/b/x", b"/x", b"x", b"/r/s/ns/"]
KIND_PREFIXES = [b"/r/", b"/r/s/", b"/r/s/ns/", b"/r/s/ns/a", b"/r/s/k", b"/r/c", b"/x", b"x", b"/r/s/ns/ab/", b""]


@pytest.mark.parametrize("seed", range(40))
def test_a_directory_kind_agrees_with_every_key_in_it(seed):
    """The pass decides per directory what it keeps; where it decides, each key's own test agrees."""
    import random

    from analyzer.evidence.store import IndexQuery

    rng = random.Random(seed)
    pick = lambda: tuple(rng.sample(KIND_PREFIXES, rng.randint(0, 3)))  # noqa: E731
    query = IndexQuery(
        None if rng.random() < 0.2 else pick(),
        history=rng.random() < 0.2,
        keys=frozenset(rng.sample(KIND_NAMES, rng.randint(0, 2))),
        history_prefixes=pick(),
    )
    for name in KIND_NAMES:
        directory = name[: name.rfind(b"/") + 1]
        kind = query.kind_of_directory(directory)
        assert kind is None or kind == query.kind_of(name), (query, name, kind)


def test_info_splits_the_pass_only_when_no_hash_takes_the_other_core(mvcc_snapshot, monkeypatch):
    from analyzer.evidence import etcd_index

    path, _ledger = mvcc_snapshot
    monkeypatch.setattr(etcd_index, "_WORTH_SPLITTING", 0)  # the fixture is small; the rule is what is tested
    cores = len(os.sched_getaffinity(0))
    assert etcd_index.spare_workers(1 << 40, hashing=True) == 1
    assert etcd_index.spare_workers(1 << 40, hashing=False) == min(2, cores)
    asked: list[int | None] = []
    real = Snapshot.index

    def recording(self, query, progress=None, workers=None):
        asked.append(workers)
        return real(self, query, progress, workers)

    monkeypatch.setattr(Snapshot, "index", recording)
    with Snapshot(path) as snapshot:
        hashed = summarize_snapshot(snapshot, check_hash=True)
    with Snapshot(path) as snapshot:
        split = summarize_snapshot(snapshot, check_hash=False)
    assert asked == [1, min(2, cores)]
    assert (split.live_keys, split.resources, split.events, split.tombstones, split.bucket_counts) == (
        hashed.live_keys, hashed.resources, hashed.events, hashed.tombstones, hashed.bucket_counts)


def _kv(key: bytes, revision: int, value: bytes) -> bytes:
    """An mvccpb.KeyValue as etcd writes it, by the generated message."""
    return etcd_mvcc_pb2.KeyValue(key=key, create_revision=revision, mod_revision=revision, version=1, value=value).SerializeToString()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_branch_pointer_naming_a_sibling_branch_loses_only_the_leaf_it_replaced(tmp_path, workers):
    """Hand-built corruption: one child pointer of a branch over leaves names another such branch.
    The pass reads what the walk reads (the event stream is the reference): the sibling's leaves
    are still reached through their real parent, only the leaf no longer named is lost."""
    from tests.fixtures.boltwriter import write_bolt

    path = tmp_path / "db"
    records = {struct.pack(">Q", r) + b"_" + struct.pack(">Q", 0): _kv(f"/registry/secrets/ns/s{r:03d}".encode(), r, b"k8s\x00x")
               for r in range(1, 61)}
    layout = write_bolt(path, {b"key": records, b"meta": {b"consistent_index": bytes(8)}}, leaf_capacity=4, branch_capacity=3)
    branches = layout.branches[b"key"]
    patch(path, branches[0] * 4096 + 16 + 16 + 8, struct.pack("<Q", branches[2]))
    with Snapshot(path) as snapshot:
        walked = {event.key for event in snapshot.iter_events()}
        index = snapshot.build_index(workers=workers)
        assert 40 < len(walked) < 60 and set(index.live) == walked
        assert snapshot.partial and {d.page for d in snapshot.damage} == {branches[2]}
