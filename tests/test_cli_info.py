"""``kforensic info`` and ``get`` as a person runs them, including every kind of bad input.

Bad input must give one line naming the file and the problem, exit code 2 (or a result clearly
marked partial, exit code 4), and never a traceback.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.boltwriter import patch
from tests.fixtures.etcd_server import etcdutl_status


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "KFORENSIC_DEBUG": ""},
    )


def assert_one_clean_line(result: subprocess.CompletedProcess[str], path: Path) -> None:
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]


def test_info_json_matches_etcdutl(mvcc_snapshot):
    path, ledger = mvcc_snapshot
    result = run("info", str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    status = etcdutl_status(path)
    assert (report["revision"], report["total_keys"], report["size"]) == (status["revision"], status["totalKey"], status["totalSize"])
    assert report["live_keys"] == len(ledger.live())
    assert report["integrity"] == "ok"
    assert report["partial"] is False


def test_info_table_names_the_facts(mvcc_snapshot):
    path, ledger = mvcc_snapshot
    result = run("info", str(path))
    assert result.returncode == 0
    assert f"{ledger.last_revision}" in result.stdout
    assert "/registry/events" in result.stdout and "ok (SHA-256" in result.stdout


def test_get_prefix_json_and_raw(mvcc_snapshot):
    path, ledger = mvcc_snapshot
    result = run("get", str(path), "--prefix", "/registry/configmaps/big/", "-o", "json")
    listed = json.loads(result.stdout)
    assert [r["key"] for r in listed] == sorted(k.decode() for k in ledger.live() if k.startswith(b"/registry/configmaps/big/"))
    assert all(r["size"] == len(ledger.live()[r["key"].encode()]) for r in listed)
    raw = subprocess.run(
        [sys.executable, "-m", "analyzer", "get", str(path), "/registry/configmaps/big/cm-40000", "--raw"], capture_output=True, timeout=120
    )
    assert raw.stdout == ledger.live()[b"/registry/configmaps/big/cm-40000"]


def test_get_refuses_raw_secret_without_reveal(mvcc_snapshot):
    path, _ = mvcc_snapshot
    result = run("get", str(path), "/registry/secrets/default/reborn", "--raw")
    assert result.returncode == 2 and "--reveal-secrets" in result.stderr
    assert "second life" not in result.stdout + result.stderr


def test_get_history_lists_deletes(small_snapshot):
    path, ledger = small_snapshot
    result = run("get", str(path), "/registry/secrets/kube-system/a", "--history", "-o", "json")
    events = [r["event"] for r in json.loads(result.stdout)]
    assert events == ["put" if value is not None else "delete" for key, _, value in ledger.events if key == b"/registry/secrets/kube-system/a"]


@pytest.mark.parametrize(
    "args",
    [("get", "{p}"), ("get", "{p}", "/k", "--prefix", "/"), ("get", "{p}", "--prefix", "/", "--raw")],
)
def test_get_usage_errors(small_snapshot, args):
    path, _ = small_snapshot
    result = run(*[a.format(p=path) for a in args])
    assert result.returncode == 2 and "Traceback" not in result.stderr


# -- bad input -----------------------------------------------------------------------------------


def test_missing_directory_empty_text_gzip(tmp_path):
    cases = {
        tmp_path / "missing.db": ("no such file", None),
        tmp_path: ("is a directory", None),
        tmp_path / "empty.db": ("empty", b""),
        tmp_path / "notes.txt": ("text file", b"the customer said the cluster died\n" * 100),
        tmp_path / "snap.db.gz": ("gzip", b"\x1f\x8b\x08\x00" + os.urandom(9000)),
    }
    for path, (expected, content) in cases.items():
        if content is not None:
            path.write_bytes(content)
        result = run("info", str(path))
        assert result.returncode == 2, (path, result.stderr)
        assert_one_clean_line(result, path)
        assert expected in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.db"
    path.write_bytes(b"x" * 8192)
    path.chmod(0)
    result = run("info", str(path))
    assert result.returncode == 2 and "permission denied" in result.stderr
    assert_one_clean_line(result, path)


def info_in_process(path: Path, *salvage: str) -> tuple[int, str, dict | None]:
    """What ``kforensic info -o json`` decides, without a process: (exit code, error line, report).

    The same calls as the command (cli.info) and the same one place errors become exit code 2
    (cli.main); anything else raised is a bug and fails the test with its traceback.
    """
    from analyzer.errors import KforensicError
    from analyzer.evidence.snapshot_input import open_snapshot_input
    from analyzer.evidence.etcd import Integrity
    from analyzer.views.snapshot_summary import summarize_snapshot

    try:
        with open_snapshot_input(path, salvage=bool(salvage)) as opened:
            summary = summarize_snapshot(opened)
    except KforensicError as err:
        return 2, f"kforensic: {err}", None
    report = json.loads(json.dumps(summary.to_json()))
    return (4 if summary.damaged or summary.integrity.status is Integrity.MISMATCH else 0), "", report


def truncation_offsets(size: int) -> list[int]:
    rng = random.Random(20241121)
    return sorted({1, 15, 100, 4095, 4096, 4200, 8191, 8192, 9000, size // 2, size - 33, size - 1}
                  | {rng.randrange(1, size) for _ in range(24)})


def test_truncated_at_many_offsets(mvcc_snapshot, tmp_path):
    path, _ = mvcc_snapshot
    data = path.read_bytes()
    target = tmp_path / "cut.db"
    for offset in truncation_offsets(len(data)):
        target.write_bytes(data[:offset])
        code, error, report = info_in_process(target)
        if code == 2:
            assert str(target) in error and "\n" not in error, offset
            continue
        assert code == 4 and report is not None, (offset, code)
        # Whatever survived is reported, and the report says it is not the whole story.
        assert report["partial"] or report["integrity"] == "mismatch", offset
        if offset < len(data) - 32:
            assert report["partial"] and any("truncated" in d["problem"] for d in report["damage"]), offset


def assert_cli_agrees(target: Path, *salvage: str) -> int:
    """The real command decides as ``info_in_process`` does: same exit code, same line, same JSON."""
    code, error, report = info_in_process(target, *salvage)
    result = run("info", str(target), "-o", "json", *salvage)
    assert "Traceback" not in result.stderr
    assert result.returncode == code, result.stderr
    if code == 2:
        assert_one_clean_line(result, target)
        assert result.stderr.strip() == error
    else:
        assert json.loads(result.stdout) == report
    return code


def test_a_truncated_snapshot_through_the_cli(mvcc_snapshot, tmp_path):
    # The real command over cut files, one refused and one read in part: what the in-process test
    # above decides is what a person running kforensic meets.
    path, _ = mvcc_snapshot
    data = path.read_bytes()
    target = tmp_path / "cut.db"
    codes = set()
    for offset in (15, len(data) // 2):
        target.write_bytes(data[:offset])
        codes.add(assert_cli_agrees(target))
    assert codes == {2, 4}


def scribble(path: Path, target: Path, rng: random.Random) -> None:
    size = path.stat().st_size
    shutil.copy(path, target)
    for _ in range(rng.randint(1, 4)):
        page = rng.randrange(0, (size - 32) // 4096)
        offset = page * 4096 + rng.randrange(0, 4096 - 64)
        patch(target, offset, rng.randbytes(rng.randint(1, 64)))


def test_random_page_scribbles(mvcc_snapshot, tmp_path):
    path, _ = mvcc_snapshot
    rng = random.Random(7)
    target = tmp_path / "scribbled.db"
    for round_ in range(30):
        scribble(path, target, rng)
        for salvage in ((), ("--salvage",)):
            code, error, report = info_in_process(target, *salvage)
            assert code in (2, 4), (round_, code)
            if code == 2:
                assert str(target) in error and "\n" not in error, round_
            else:
                # The digest covers every byte, so any scribble is at least an integrity mismatch.
                assert report is not None and report["integrity"] == "mismatch"


def test_a_scribbled_snapshot_through_the_cli(mvcc_snapshot, tmp_path):
    path, _ = mvcc_snapshot
    target = tmp_path / "scribbled.db"
    scribble(path, target, random.Random(7))
    for salvage in ((), ("--salvage",)):
        assert assert_cli_agrees(target, *salvage) in (2, 4)


def test_both_metas_destroyed_needs_salvage(mvcc_snapshot, tmp_path):
    path, ledger = mvcc_snapshot
    target = tmp_path / "nometa.db"
    shutil.copy(path, target)
    patch(target, 0, os.urandom(2 * 4096))
    result = run("info", str(target))
    assert result.returncode == 2 and "--salvage" in result.stderr
    assert_one_clean_line(result, target)
    result = run("info", str(target), "-o", "json", "--salvage")
    assert result.returncode == 4, result.stderr
    report = json.loads(result.stdout)
    assert report["partial"] and report["salvage"]["recovered_records"] > 0
    assert report["live_keys"] == len(ledger.live())


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "snapshot.db"
    os.mkfifo(fifo)  # reading it would block forever; kforensic must look before it reads
    result = run("info", str(fifo))
    assert result.returncode == 2 and "is not a regular file" in result.stderr
    assert_one_clean_line(result, fifo)


def test_permission_refused_is_one_line(tmp_path, monkeypatch):
    # Root reads any file, so the refusal a customer's engineer would meet is injected here.
    from analyzer.errors import EvidenceError
    from analyzer.evidence import mapping

    path = tmp_path / "locked.db"
    path.write_bytes(b"x" * 8192)

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(mapping.os, "stat", refuse)
    with pytest.raises(EvidenceError) as raised:
        mapping.map_file(path)
    assert str(raised.value) == f"{path}: cannot read: permission denied"
