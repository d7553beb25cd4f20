"""Shared fixtures: real-etcd snapshots built once per session, and the public corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.etcd_server import etcd_available

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_path(*parts: str) -> Path:
    """A file of ../shared/corpus, or a skip that says why it is missing."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file {path} is absent (the shared corpus is expected beside the repository)")
    return path


@pytest.fixture(scope="session")
def auger_db() -> Path:
    return corpus_path("etcd-auger", "db")


@pytest.fixture(scope="session")
def auger_keys() -> list[str]:
    return corpus_path("etcd-auger", "keys.txt").read_text().split()


@pytest.fixture(scope="session")
def real_etcd() -> None:
    reason = etcd_available()
    if reason:
        pytest.skip(f"needs a real etcd: {reason}")


@pytest.fixture(scope="session")
def mvcc_snapshot(real_etcd, tmp_path_factory):
    """(path, ledger) of a snapshot with history, deletes, compaction, overflow and deep branches."""
    from tests.fixtures.snapshots import build_mvcc_snapshot

    path = tmp_path_factory.mktemp("mvcc") / "snapshot.db"
    return path, build_mvcc_snapshot(path)


@pytest.fixture(scope="session")
def small_snapshot(real_etcd, tmp_path_factory):
    from tests.fixtures.snapshots import build_small_snapshot

    path = tmp_path_factory.mktemp("small") / "snapshot.db"
    return path, build_small_snapshot(path)
