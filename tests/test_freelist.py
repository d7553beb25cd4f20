"""The freelist is checked the way bbolt's Tx.Check does, with etcdutl (bbolt itself) as the oracle."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.evidence.bbolt import open_bolt
from analyzer.evidence.freelist import MAX_REPORTED, check_freelist
from tests.conftest import corpus_path
from tests.fixtures.freelists import (
    META,
    META_AT,
    bbolt_check,
    truly_free,
    with_freelist,
)


def kforensic(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, timeout=300, check=False)


def problems(path: Path) -> list[str]:
    with open_bolt(path) as db:
        return [str(d) for d in check_freelist(db).damage]


@pytest.fixture(scope="module")
def real(small_snapshot, tmp_path_factory):
    """(snapshot, pages bbolt counts free, the root page) of a snapshot saved by etcdctl."""
    snapshot, _ledger = small_snapshot
    scratch = tmp_path_factory.mktemp("freelist")
    free = truly_free(snapshot, scratch / "empty-list.db")
    assert len(free) >= 2, "the fixture snapshot needs free pages for these cases"
    data = snapshot.read_bytes()
    page_size = META.unpack_from(data, META_AT)[2]
    root = max((META.unpack_from(data, p * page_size + META_AT) for p in (0, 1)), key=lambda m: m[8])[4]
    return snapshot, free, root


def test_a_real_snapshot_stores_no_freelist(real):
    snapshot, _free, _root = real
    with open_bolt(snapshot, data_size=snapshot.stat().st_size - 32) as db:
        result = check_freelist(db)
    assert not result.synced and result.consistent


def test_the_right_freelist_is_consistent(real, tmp_path):
    snapshot, free, _root = real
    path = with_freelist(snapshot, tmp_path / "db", free)
    assert bbolt_check(path) == []
    with open_bolt(path) as db:
        result = check_freelist(db)
    assert result.synced and result.consistent and result.free_pages == len(free)


@pytest.mark.parametrize("case", ["duplicate", "dropped", "reachable", "dropped-and-duplicate"])
def test_corrupted_freelists_say_what_bbolt_says(real, tmp_path, case):
    snapshot, free, root = real
    ids = {
        "duplicate": [*free, free[-1]],
        "dropped": free[1:],
        "reachable": sorted([*free, root]),
        "dropped-and-duplicate": [free[1], *free[1:]],
    }[case]
    path = with_freelist(snapshot, tmp_path / "db", ids)
    expected = bbolt_check(path)
    assert expected, "etcdutl must see this corruption too"
    assert sorted(problems(path)) == sorted(expected)


def test_an_id_past_the_high_water_mark(real, tmp_path):
    """bbolt's check is silent here (it loops only below the mark); a later allocation would be lost."""
    snapshot, free, _root = real
    path = with_freelist(snapshot, tmp_path / "db", [*free, 10_000])
    found = problems(path)
    assert len(found) == 1 and found[0].startswith("page 10000: freed but at or past the high-water mark")


@pytest.mark.parametrize("where", ["root", "past-end"])
def test_a_freelist_pointer_that_is_no_freelist(real, tmp_path, where):
    snapshot, _free, root = real
    page = root if where == "root" else 1_000_000
    path = with_freelist(snapshot, tmp_path / "db", [], freelist_page=page)
    (found,) = problems(path)
    assert found.startswith(f"page {page}: the meta (txid ")
    assert "refuse it as is" in found
    if where == "root":
        assert bbolt_check(path) == [f"panic: invalid freelist page: {root}, page type is leaf"]
        assert "the tree uses that page and reads whole" in found


def test_many_problems_are_summed_up(real, tmp_path):
    snapshot, free, _root = real
    path = with_freelist(snapshot, tmp_path / "db", [*free, *[free[0]] * (MAX_REPORTED + 5)])
    found = problems(path)
    assert found[:MAX_REPORTED] == [f"page {free[0]}: already freed"] * MAX_REPORTED
    assert found[-1] == f"file: 5 more pages already freed (pages {free[0]}..{free[0]})"


def test_info_names_the_damage_and_exits_4(real, tmp_path):
    """A freelist that fails bbolt's check is damaged evidence: exit 4 (README's exit codes)."""
    snapshot, free, _root = real
    path = with_freelist(snapshot, tmp_path / "db", free[1:])
    result = kforensic("info", str(path))
    assert result.returncode == 4
    assert f"freelist: page {free[0]}: unreachable unfreed" in result.stdout
    as_json = json.loads(kforensic("info", str(path), "-o", "json").stdout)
    assert as_json["freelist"]["consistent"] is False and as_json["partial"] is False
    assert as_json["freelist"]["problems"] == [{"page": free[0], "problem": "unreachable unfreed"}]
    clean = kforensic("info", str(with_freelist(snapshot, tmp_path / "clean.db", free)), "-o", "json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["freelist"]["free_pages"] == len(free)


def test_scan_reports_it(real, tmp_path):
    snapshot, free, root = real
    path = with_freelist(snapshot, tmp_path / "db", sorted([*free, root]))
    result = kforensic("scan", str(path), "--at", "2025-06-01T12:00:00Z", "--json", "-")
    report = json.loads(result.stdout)
    notes = [f for f in report["findings"] if f["id"] == "evidence.snapshot-freelist"]
    assert len(notes) == 1 and f"page {root}: reachable freed" in notes[0]["detail"]


def test_the_auger_corpus_file_has_a_stale_freelist_pointer(tmp_path):
    """Both metas name page 2, the freelist bbolt init wrote, which is now a leaf of the tree."""
    db = corpus_path("etcd-auger", "db")
    (found,) = problems(db)
    assert found.startswith("page 2: the meta (txid 3) names page 2 as the freelist, but it is a leaf page")
    assert "the pointer is stale" in found and "the data is complete" in found
    assert bbolt_check(db) == ["panic: invalid freelist page: 2, page type is leaf"]
    result = json.loads(kforensic("info", str(db), "-o", "json").stdout)
    assert result["live_keys"] == 4 and result["partial"] is False and result["freelist"]["consistent"] is False


def test_writer_built_files_stay_consistent(tmp_path):
    """The unit-test writer stores an empty freelist at page 2 and uses every other page."""
    from tests.fixtures.boltwriter import write_bolt

    path = tmp_path / "db"
    write_bolt(path, {b"key": {bytes([i]) * 17: b"v" * 300 for i in range(200)}, b"meta": {b"x": b"y"}}, leaf_capacity=8, branch_capacity=4)
    with open_bolt(path) as db:
        result = check_freelist(db)
    assert result.synced and result.consistent and result.free_pages == 0
    # A page the writer used, listed as free, is caught.
    shutil.copy(path, tmp_path / "bad")
    with open(tmp_path / "bad", "r+b") as handle:
        handle.seek(2 * 4096 + 10)
        handle.write(struct.pack("<H", 1))
        handle.seek(2 * 4096 + 16)
        handle.write(struct.pack("<Q", 3))
    assert problems(tmp_path / "bad") == ["page 3: reachable freed"]


def test_a_freelist_page_claiming_four_billion_overflow_pages_costs_only_the_file(tmp_path):
    """Found by fuzzing (target_snapshot): the freelist's span was marked page by page up to its claim."""
    from tests.fixtures.boltwriter import write_bolt

    path = tmp_path / "db"
    write_bolt(path, {b"key": {bytes([i]) * 17: b"v" * 300 for i in range(50)}}, leaf_capacity=8, branch_capacity=4)
    with open(path, "r+b") as handle:
        handle.seek(2 * 4096 + 12)  # the freelist page's overflow (u32)
        handle.write(struct.pack("<I", 0xFFFF_FFFF))
    with open_bolt(path) as db:
        result = check_freelist(db)
    assert result.synced and result.free_pages == 0
