"""Snapshots wherever customers put them: in a tar (read in place), a compressed tar, a zip, nested
archives, or compressed on their own; read like the plain file, leaving nothing behind."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from analyzer.errors import EvidenceError, UnsupportedEvidence
from analyzer.evidence.tree import Limits
from analyzer.evidence.detect import detect_evidence
from analyzer.evidence.snapshot_input import open_snapshot_input
from analyzer.evidence.files import read_input_file
from tests.fixtures import scenarios
from tests.fixtures.archives import File, build, zip_bytes
from tests.fixtures.node_trees import BACKUP_STAMP, cluster_backup_members
from tests.fixtures.openshift_case import OpenShiftCluster

SNAPSHOT_NAME = f"backup/snapshot_{BACKUP_STAMP}.db"


def tar_bytes(members: list[tuple[str, bytes]], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def zstd_tar(members: list[tuple[str, bytes]]) -> bytes:
    return zstandard.ZstdCompressor().compress(tar_bytes(members))


# Each shape: (file name, bytes from the snapshot's bytes). "readme" ahead of the snapshot puts it
# at an offset that is no multiple of the mmap granularity.
SHAPES = {
    "tar": ("s.tar", lambda db: tar_bytes([("readme", b"x" * 700), (SNAPSHOT_NAME, db)])),
    "tar.gz": ("s.tar.gz", lambda db: tar_bytes([(SNAPSHOT_NAME, db)], "w:gz")),
    "tar.xz": ("s.tar.xz", lambda db: tar_bytes([(SNAPSHOT_NAME, db)], "w:xz")),
    "tar.bz2": ("s.tar.bz2", lambda db: tar_bytes([(SNAPSHOT_NAME, db)], "w:bz2")),
    "tar.zst": ("s.tar.zst", lambda db: zstd_tar([(SNAPSHOT_NAME, db)])),
    "zip": ("s.zip", lambda db: zip_bytes([File(SNAPSHOT_NAME, db)])),
    "gz": ("snapshot.db.gz", gzip.compress),
    "xz": ("snapshot.db.xz", lzma.compress),
    "bz2": ("snapshot.db.bz2", bz2.compress),
    "zst": ("snapshot.db.zst", lambda db: zstandard.ZstdCompressor().compress(db)),
    "zip-in-zip": ("case.zip", lambda db: zip_bytes([File("case/inner.zip", zip_bytes([File(SNAPSHOT_NAME, db)]))])),
    "tar.gz-in-zip": ("case.zip", lambda db: zip_bytes([File("case/backup.tar.gz", tar_bytes([(SNAPSHOT_NAME, db)], "w:gz"))])),
    "gz-in-tar": ("case.tar", lambda db: tar_bytes([("case/snapshot.db.gz", gzip.compress(db))])),
}


@pytest.fixture(scope="module")
def case(real_etcd, tmp_path_factory):
    """A real snapshot (an OpenShift master whose SNI key was emptied) and its `info --json`."""
    scenario = scenarios.openshift_user_key(tmp_path_factory.mktemp("archived"), with_log=False, with_node=False)
    assert scenario.snapshot is not None
    return scenario.snapshot, info_json(scenario.snapshot)


def kforensic(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, **(env or {})})


def info_json(path: Path | str) -> dict:
    result = kforensic("info", str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def pack(snapshot: Path, shape: str, directory: Path) -> Path:
    name, make = SHAPES[shape]
    path = directory / name
    path.write_bytes(make(snapshot.read_bytes()))
    return path


def same_answers(report: dict) -> tuple:
    findings = sorted((f["id"], f["severity"], f["label"]) for f in report["findings"] if not f["id"].startswith("evidence."))
    return report["verdict"]["headline"], findings


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_info_reads_it_like_the_plain_file(case, shape, tmp_path):
    snapshot, plain = case
    packed = info_json(pack(snapshot, shape, tmp_path))
    assert packed.pop("source") != plain["source"]
    assert packed == {k: v for k, v in plain.items() if k != "source"}
    assert packed["integrity"] == "ok"  # the SHA-256 trailer checks out on the decompressed bytes


@pytest.mark.parametrize("shape", ["tar", "tar.gz", "zip", "gz", "zst", "tar.gz-in-zip"])
def test_scan_reads_it_like_the_plain_file(case, shape, tmp_path):
    snapshot, _ = case
    at = ("--at", scenarios.REFERENCE, "--json", "-")
    plain = kforensic("scan", str(snapshot), *at)
    packed = kforensic("scan", str(pack(snapshot, shape, tmp_path)), *at)
    assert packed.returncode == plain.returncode == 1, packed.stderr
    plain_report, packed_report = json.loads(plain.stdout), json.loads(packed.stdout)
    assert same_answers(packed_report) == same_answers(plain_report)
    [record] = [i for i in packed_report["inputs"] if i["kind"] == "etcd-snapshot"]
    [plain_record] = plain_report["inputs"]
    assert (record["sha256"], record["integrity"], record["revision"]) == (plain_record["sha256"], "ok", plain_record["revision"])
    assert not any(f["id"] == "evidence.snapshot-unreadable" for f in packed_report["findings"])


def test_a_tar_member_is_read_in_place(case, tmp_path):
    snapshot, _ = case
    path = pack(snapshot, "tar", tmp_path)
    with detect_evidence([path]) as evidence:
        (found,) = evidence.snapshots
        assert found.path == path and found.offset % 4096 != 0 and found.access.startswith("in place at offset")


@pytest.mark.parametrize("fmt", ["directory", "tar", "tar.gz", "zip"])
def test_the_cluster_backup_shape_scans_like_its_directory(case, fmt, tmp_path):
    """cluster-backup.sh's output (snapshot_<DATE>.db beside static_kuberesources_<DATE>.tar.gz), as customers upload it."""
    snapshot, _ = case
    members = cluster_backup_members(OpenShiftCluster().files(), snapshot.read_bytes(), prefix="backup")
    (tmp_path / "d").mkdir()
    (tmp_path / "p").mkdir()
    directory = build("directory", tmp_path / "d", members, name="backup")
    packed = build(fmt, tmp_path / "p", members, name="backup")
    at = ("--at", scenarios.REFERENCE, "--json", "-")
    plain, other = (json.loads(kforensic("scan", str(p), *at).stdout) for p in (directory, packed))
    assert same_answers(other) == same_answers(plain)
    assert [i["kind"] for i in other["inputs"]][:2] == [i["kind"] for i in plain["inputs"]][:2]
    assert any(i["kind"] == "etcd-snapshot" and i["integrity"] == "ok" for i in other["inputs"])


def test_nothing_is_left_behind(case, tmp_path):
    snapshot, _ = case
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    path = pack(snapshot, "tar.gz", tmp_path)
    assert kforensic("scan", str(path), "--at", scenarios.REFERENCE, env={"TMPDIR": str(scratch)}).returncode == 1
    assert list(scratch.iterdir()) == []
    cut = tmp_path / "cut.db.gz"
    whole = gzip.compress(snapshot.read_bytes())
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    result = kforensic("info", str(cut), env={"TMPDIR": str(scratch)})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "cut off" in result.stderr
    assert list(scratch.iterdir()) == []


def test_decompression_is_bounded(case, tmp_path):
    snapshot, _ = case
    limits = Limits(max_stream_bytes=64 << 10)
    with pytest.raises(EvidenceError, match="decompresses to more than 65536 bytes"):
        open_snapshot_input(pack(snapshot, "gz", tmp_path), limits=limits)
    with pytest.raises(EvidenceError, match="decompresses to more than 65536 bytes"):
        open_snapshot_input(pack(snapshot, "zip", tmp_path), limits=limits)
    with pytest.raises(UnsupportedEvidence, match="reading stopped: the archive holds more than 65536 uncompressed bytes"):
        detect_evidence([pack(snapshot, "tar.gz", tmp_path)], limits=limits)


def test_progress_is_reported(case, tmp_path):
    snapshot, _ = case
    seen: list[tuple[str, int, int | None]] = []
    with open_snapshot_input(pack(snapshot, "zip", tmp_path), progress=lambda *event: seen.append(event)) as opened:
        assert opened.verify_integrity().status.value == "ok"
    assert seen and seen[-1][1] == seen[-1][2] == snapshot.stat().st_size


def test_several_snapshots_are_named_one_at_a_time(case, tmp_path):
    snapshot, _ = case
    data = snapshot.read_bytes()
    path = tmp_path / "two.zip"
    path.write_bytes(zip_bytes([File("a/snapshot.db", data), File("b.tar.gz", tar_bytes([("snapshot.db", data)], "w:gz"))]))
    result = kforensic("info", str(path))
    assert result.returncode == 2 and "name one as ARCHIVE!member" in result.stderr
    assert info_json(f"{path}!b.tar.gz!snapshot.db")["integrity"] == "ok"


@pytest.mark.parametrize("levels", [3, 4])
def test_nesting_is_bounded(case, tmp_path, levels):
    """Case archives are zipped twice or more: three archives inside the input are opened, a fourth is named, not opened."""
    snapshot, _ = case
    data = zip_bytes([File("snapshot.db", snapshot.read_bytes())])
    for level in range(levels):
        data = zip_bytes([File(f"level{level}.zip", data)])
    path = tmp_path / "deep.zip"
    path.write_bytes(data)
    if levels == 3:
        with detect_evidence([path]) as evidence:
            (found,) = evidence.snapshots
            assert found.source.count("!") == 4
        return
    with pytest.raises(UnsupportedEvidence, match="archives nested more than 3 deep are not opened"):
        detect_evidence([path])


def test_an_encryption_config_named_as_the_report_names_it(real_etcd, tmp_path):
    scenario = scenarios.openshift_user_key(tmp_path, with_log=False, encrypted=True)
    assert scenario.node_tree is not None and scenario.snapshot is not None
    tarball = tmp_path / "master-0.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(scenario.node_tree, arcname="master-0")
    report = json.loads(kforensic("scan", str(tarball), "--at", scenarios.REFERENCE, "--json", "-").stdout)
    named = next(source for source in report["encryption_configs"] if "!" in source)
    assert named.startswith(f"{tarball}!")
    assert b"EncryptionConfiguration" in read_input_file(named)
    key = "/kubernetes.io/secrets/openshift-config/api-cert"
    without = json.loads(kforensic("get", str(scenario.snapshot), key, "-o", "json").stdout)
    assert without[0]["object"] is None
    opened = kforensic("get", str(scenario.snapshot), key, "-o", "json", "--encryption-config", named)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)[0]["object"]["metadata"]["name"] == "api-cert"


def test_ls_says_how_each_snapshot_is_read(case, tmp_path):
    snapshot, _ = case
    expected = {
        "tar": "in place at offset",
        "tar.gz": "decompressed into an anonymous file while the archive was read",
        "zip": "decompressed into an anonymous file when read",
        "gz": "decompressed (gzip) into an anonymous file when read",
    }
    for shape, access in expected.items():
        result = kforensic("ls", str(pack(snapshot, shape, tmp_path)), "-o", "json")
        (listed,) = json.loads(result.stdout)["snapshots"]
        assert listed["access"].startswith(access) and listed["problem"] is None, (shape, listed)
