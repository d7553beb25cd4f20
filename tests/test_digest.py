"""analyzer.evidence.digest: the digest an input is listed with in the report."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from analyzer.evidence import digest
from analyzer.evidence.digest import file_sha256, input_sha256, tree_sha256


@pytest.fixture()
def backup(tmp_path: Path) -> Path:
    root = tmp_path / "backup"
    root.mkdir()
    (root / "snapshot_2025-06-01_115500.db").write_bytes(b"bolt" * 1000)
    (root / "static_kuberesources_2025-06-01_115500.tar.gz").write_bytes(b"tar")
    os.symlink("snapshot_2025-06-01_115500.db", root / "latest.db")
    return root


def test_a_file_hashes_its_bytes(backup: Path) -> None:
    path = backup / "snapshot_2025-06-01_115500.db"
    assert input_sha256(path) == file_sha256(path) == hashlib.sha256(b"bolt" * 1000).hexdigest()


def test_a_tree_digest_names_members_links_and_contents(backup: Path, tmp_path: Path) -> None:
    first = tree_sha256(backup)
    copy = tmp_path / "elsewhere"
    os.rename(backup, copy)
    assert tree_sha256(copy) == first  # where it was copied does not matter
    (copy / "static_kuberesources_2025-06-01_115500.tar.gz").write_bytes(b"other")
    assert tree_sha256(copy) != first


def test_a_digest_already_known_is_not_computed_again(backup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = backup / "snapshot_2025-06-01_115500.db"
    expected = tree_sha256(backup)
    known = {os.path.realpath(snapshot): file_sha256(snapshot)}
    read: list[str] = []
    original = digest.file_sha256
    monkeypatch.setattr(digest, "file_sha256", lambda path: read.append(os.path.basename(path)) or original(path))
    assert input_sha256(backup, known) == expected
    assert read == ["static_kuberesources_2025-06-01_115500.tar.gz"]
    assert input_sha256(snapshot, known) == known[os.path.realpath(snapshot)] and read == ["static_kuberesources_2025-06-01_115500.tar.gz"]


def test_an_unreadable_member_is_listed_with_its_reason(backup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    healthy = tree_sha256(backup)

    def refuse(path: str) -> str:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(digest, "file_sha256", refuse)
    assert input_sha256(backup) not in (None, healthy)  # still a digest: of the tree as it could be read
    assert input_sha256(backup / "snapshot_2025-06-01_115500.db") is None


def test_anything_else_has_no_digest(tmp_path: Path) -> None:
    assert input_sha256(tmp_path / "missing") is None
    os.mkfifo(tmp_path / "fifo")
    assert input_sha256(tmp_path / "fifo") is None
