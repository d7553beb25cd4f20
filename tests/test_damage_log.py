"""The damage log: one entry per problem, a stable order, and a verdict that no order of reads changes."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from analyzer.evidence.bbolt import open_bolt
from analyzer.evidence.damage_log import Damage, DamageLog
from analyzer.evidence.etcd import KEY_BUCKET, Snapshot
from analyzer.evidence.mvcc import Revision
from analyzer.evidence.freelist import check_freelist
from tests.fixtures.boltwriter import patch, write_bolt

# -- the log itself --------------------------------------------------------------------------------


def test_an_entry_is_recorded_once_and_the_order_is_not_the_order_met():
    met = [Damage(None, "member 1 is not valid JSON", "members"), Damage(12, "page header carries id 9, expected 12", "key"),
           Damage(3, "element 4 points past the end of the page (4096 bytes)", "meta"), Damage(12, "page header carries id 9, expected 12", "key")]
    forwards, backwards = DamageLog(met), DamageLog()
    for damage in reversed(met):
        backwards.record(damage.page, damage.problem, damage.bucket)
    assert forwards.entries == backwards.entries and len(forwards) == 3
    assert [d.page for d in forwards] == [3, 12, None]  # pages in file order, then what has no page
    assert forwards.partial and not DamageLog().partial


# -- a damaged real snapshot, read in two orders -----------------------------------------------------


def _damaged_three_ways(path: Path, tmp_path: Path) -> tuple[Path, int, bytes]:
    """A copy of a real snapshot with a branch of the key bucket scribbled over (the tree), one live
    record's value made undecodable (a value), and a member's JSON broken; returns the branch's page
    and the key whose value was broken."""
    damaged = tmp_path / "damaged.db"
    shutil.copy(path, damaged)
    with Snapshot(path) as snapshot:
        root = snapshot.db.bucket(KEY_BUCKET).root_page
        _flags, _count, _overflow, span = snapshot.db.page(root)
        branch = snapshot.db.layout.BRANCH_ELEMENT.unpack_from(span, 16)[2]  # the first child of the root
    patch(damaged, branch * 4096, b"\xee" * 64)
    with Snapshot(damaged) as snapshot:
        # A key still reached through the damaged tree, short enough for a one-byte length.
        index = snapshot.build_index()
        key = next(k for k in sorted(index.live) if len(k) < 0x80)
        wanted = snapshot.read(index.live[key]).revision.key()
        [value_start] = [vstart for _pgid, data, elements in snapshot.db.bucket(KEY_BUCKET).iter_leaf_blocks(DamageLog())
                         for _flags, kstart, vstart, _vend in elements if data[kstart:vstart] == wanted]
    # The byte after KeyValue.key: a field of wire type 7, which no protobuf parser accepts.
    patch(damaged, value_start + 2 + len(key), b"\x0f")
    data = damaged.read_bytes()
    members = [at for at in range(len(data)) if data.startswith(b'{"id":', at)]
    assert members, "etcd stores each member as JSON"
    for at in members:
        patch(damaged, at, b"!")
    return damaged, branch, key


def _order_a(snapshot: Snapshot) -> None:
    index = snapshot.build_index(history=True)
    snapshot.members()
    _ = snapshot.compaction, snapshot.cluster_version, snapshot.consistent_index, snapshot.revision
    snapshot.bucket_counts()
    list(snapshot.iter_read(sorted(index.live.values())))  # one ordered descent


def _order_b(snapshot: Snapshot) -> None:
    _ = snapshot.revision, snapshot.cluster_version
    snapshot.bucket_counts()
    index = snapshot.build_index([b"/"], workers=2)  # another query, in worker processes
    for handle in sorted(index.live.values(), reverse=True):  # one lookup each, backwards
        list(snapshot.iter_read([handle]))
    _ = snapshot.consistent_index, snapshot.compaction
    snapshot.members()


def test_the_same_reads_in_two_orders_give_the_same_verdict(mvcc_snapshot, tmp_path):
    path, _ledger = mvcc_snapshot
    damaged, branch, key = _damaged_three_ways(path, tmp_path)
    verdicts = []
    for order in (_order_a, _order_b):
        with Snapshot(damaged) as snapshot:
            # Asked before any read, the verdict already holds the tree's damage: the survey runs first.
            before = snapshot.damage.entries
            order(snapshot)
            verdicts.append((snapshot.partial, snapshot.damage.entries, before))
    (partial_a, after_a, before_a), (partial_b, after_b, before_b) = verdicts
    assert partial_a and partial_b
    assert after_a == after_b and before_a == before_b
    assert any(d.page == branch for d in before_a)  # the scribbled branch, met by the survey
    assert any(d.bucket == "members" for d in before_a)  # the member's JSON too
    # What the reads added is the one value that does not decode: no order of reads finds more tree.
    [value] = set(after_a) - set(before_a)
    assert value.bucket == "key" and "is not an mvccpb.KeyValue" in value.problem


# -- one damage, met by several readers, is one entry -------------------------------------------------
# The log keeps an entry once by its words: two readers that worded one damage apart would count it
# twice. Each reader is run alone on a fresh snapshot, then all together; every run gives one entry.


def _damaged_key_leaf(path: Path, tmp_path: Path, damage: str) -> tuple[Path, int]:
    """A copy of a real snapshot whose first key-bucket leaf has element 0 broken: its offset points
    past the page ("element"), or its key is not a revision ("key"); returns the copy and the leaf."""
    damaged = tmp_path / "damaged.db"
    shutil.copy(path, damaged)
    with Snapshot(path) as snapshot:
        db = snapshot.db
        leaf, _parent = next(iter(db.bucket(KEY_BUCKET).iter_leaf_ids()))
        element = db.base + leaf * db.page_size + 16
        _flags, pos, _ksize, _vsize = db.layout.LEAF_ELEMENT.unpack_from(db.data, element)
        if damage == "element":
            patch(damaged, element + 4, db.layout.U32.pack(0x7FFF_0000))
        else:
            assert db.data[element + pos + 8 : element + pos + 9] == b"_"
            patch(damaged, element + pos + 8, b"x")  # main, '_', sub: the separator
    return damaged, leaf


def _one_entry_by_every_reader(path: Path, readers: list) -> tuple:
    """The entries of ``snapshot.damage`` after each reader alone, and after all of them."""
    runs = []
    for chosen in [[reader] for reader in readers] + [readers]:
        with Snapshot(path) as snapshot:
            for reader in chosen:
                reader(snapshot)
            runs.append(snapshot.damage.entries)
    assert len(runs[0]) == 1 and all(run == runs[0] for run in runs), runs
    return runs[0]


@pytest.mark.parametrize("damage", ["element", "key"])
def test_a_damaged_leaf_is_one_entry_whichever_reader_meets_it(mvcc_snapshot, tmp_path, damage):
    """The index pass (etcd_index), the tree walk under the event stream (bbolt_tree, etcd) and a leaf
    read by id (bbolt) meet the same element; the survey adds the index pass to every run."""
    path, _ledger = mvcc_snapshot
    damaged, leaf = _damaged_key_leaf(path, tmp_path, damage)
    readers = [lambda s: s.build_index(), lambda s: list(s.iter_events()), lambda s: s.db.read_leaf(leaf, s.damage, "key")]
    [entry] = _one_entry_by_every_reader(damaged, readers)
    assert entry.page == leaf and entry.bucket == "key"
    assert entry.problem.endswith("points past the end of the page (4096 bytes)" if damage == "element" else "is not a revision")
    # Without the index pass beside them, the walk and the read by id word it the same on their own.
    with Snapshot(damaged) as snapshot:
        walked, by_id = DamageLog(), DamageLog()
        list(snapshot.db.bucket(KEY_BUCKET).iter_leaf_blocks(walked))
        snapshot.db.read_leaf(leaf, by_id, "key")
    expected = (entry,) if damage == "element" else ()  # the bbolt readers do not judge etcd's keys
    assert walked.entries == by_id.entries == expected


def test_a_revision_not_found_is_one_entry_by_either_read(mvcc_snapshot):
    """A value read in one ordered descent and one read by itself record a missing revision alike."""
    path, _ledger = mvcc_snapshot
    with Snapshot(path) as snapshot:
        last = max(snapshot.build_index().live.values())
        missing = Revision(snapshot.revision + 1).packed
    readers = [lambda s: list(s.iter_read([last, missing])), lambda s: list(s.iter_read([missing]))]
    [entry] = _one_entry_by_every_reader(path, readers)
    assert (entry.page, entry.bucket, entry.problem) == (None, "key", f"revision {snapshot.revision + 1}_0 is not in the key bucket")


# -- the freelist check walks the one walk -----------------------------------------------------------


def _writer_file(tmp_path: Path):
    path = tmp_path / "db"
    buckets = {b"key": {bytes([i]) * 17: b"v" * 300 for i in range(200)}, b"meta": {b"x": b"y"}}
    return path, write_bolt(path, buckets, leaf_capacity=8, branch_capacity=4)


@pytest.mark.parametrize("links", [1, 2])
def test_a_tree_that_points_back_up_is_accounted_once(tmp_path, links):
    """Children that point back at the bucket's root: bbolt's own check would recurse forever; with two
    such links a walk without a visited set doubles its work at every level."""
    path, layout = _writer_file(tmp_path)
    root = layout.bucket_roots[b"key"]
    branch = layout.branches[b"key"][0]
    if branch == root:
        branch = layout.branches[b"key"][1]
    for child in range(links):
        patch(path, branch * 4096 + 16 + child * 16 + 8, struct.pack("<Q", root))  # branch element pgid
    with open_bolt(path) as db:
        found = [str(d) for d in check_freelist(db).damage]
        walked = DamageLog()
        list(db.bucket(b"key").iter_items(walked))
    assert found.count(f"page {root}: multiple references") == links
    # The subtrees the links replaced are no longer reachable, and not free: bbolt's words for them.
    assert any(line.endswith(": unreachable unfreed") for line in found)
    assert [d.page for d in walked if "reached twice" in d.problem] == [root]


# -- a whole scan: damage in an old revision is judged before the verdict ---------------------------


def test_damage_in_the_last_working_revision_is_in_the_scan_verdict(tmp_path, monkeypatch):
    """The demo's broken SNI pair has its last working revision in the snapshot; scribble that old
    value. The evidence is judged after the wiring, before the search for the last working pair, so
    this holds only while the wiring reads every old revision the search will read."""
    from analyzer.demo import REFERENCE_TIME, evidence_paths
    from analyzer.reftime import parse_reference_time
    from analyzer.scan import ScanOptions, run_scan

    name = b"/kubernetes.io/secrets/openshift-kube-apiserver/user-serving-cert-000"
    evidence = [Path(shutil.copy(path, tmp_path / path.name)) for path in evidence_paths()]
    [snapshot_path] = [path for path in evidence if path.suffix == ".db"]
    with Snapshot(snapshot_path) as snapshot:
        oldest = min(snapshot.build_index(history=True).history[name])
        wanted = snapshot.read(oldest).revision
        [value_start] = [vstart for _pgid, data, elements in snapshot.db.bucket(KEY_BUCKET).iter_leaf_blocks(DamageLog())
                         for _flags, kstart, vstart, _vend in elements if data[kstart:vstart] == wanted.key()]
    patch(snapshot_path, value_start + 2 + len(name), b"\x0f")  # wire type 7 right after KeyValue.key
    monkeypatch.chdir(tmp_path)
    result = run_scan(ScanOptions([path.name for path in evidence], parse_reference_time(REFERENCE_TIME)))
    [damaged] = [f for f in result.findings if f.id == "evidence.snapshot-damaged"]
    assert f"revision {wanted.main}_" in damaged.detail and "not an mvccpb.KeyValue" in damaged.detail
    assert result.partial and next(r for r in result.inputs if r.path == snapshot_path.name).partial
    # The last working pair is gone with that value: no recover step names it.
    assert not any("kforensic recover" in step for f in result.findings for step in f.remediation)


@pytest.mark.parametrize("which", ["first", "last"])
def test_a_leaf_with_no_tree_flags_is_one_entry_for_the_pass_and_the_walk(mvcc_snapshot, tmp_path, which):
    """The index pass reads leaves by id and the walk (the event stream, the last key behind
    ``revision``) reaches them from their branch: both name the page that referenced it."""
    path, _ledger = mvcc_snapshot
    damaged = tmp_path / "damaged.db"
    shutil.copy(path, damaged)
    with Snapshot(path) as snapshot:
        leaves = list(snapshot.db.bucket(KEY_BUCKET).iter_leaf_ids())
        leaf, parent = leaves[0] if which == "first" else leaves[-1]
        patch(damaged, snapshot.db.base + leaf * snapshot.db.page_size + 8, snapshot.db.layout.PAGE_HEADER.pack(0, 0x40, 0, 0)[8:10])
    readers = [lambda s: s.build_index(), lambda s: list(s.iter_events())]
    if which == "last":
        readers.append(lambda s: s.revision)
    [entry] = _one_entry_by_every_reader(damaged, readers)
    assert (entry.page, entry.problem) == (leaf, f"page flags 0x40 where a branch or leaf page was expected (referenced from page {parent})")
