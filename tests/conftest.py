"""Shared fixtures: real-etcd snapshots built once per session, and the public corpus."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
import subprocess
import sys
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


# A cluster's certificates and files, minted per test module (cryptography is slow to mint keys;
# a module may change what it is handed, so no module shares another's). A module that needs another
# shape of cluster defines its own fixture of the same name.
@pytest.fixture(scope="module")
def kubeadm():
    from tests.fixtures.kubeadm_case import KubeadmCluster
    return KubeadmCluster()


@pytest.fixture(scope="module")
def openshift():
    from tests.fixtures.openshift_case import OpenShiftCluster
    return OpenShiftCluster()


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


def _scenarios():  # imported late: the scenario builders need etcd3 and the test extras
    from tests.fixtures import scenarios

    return scenarios


# name -> (builder in tests/fixtures/scenarios.py, its arguments)
SCENARIOS = {
    "openshift_user_key": ("openshift_user_key", ()),
    "openshift_healthy": ("openshift_healthy", ()),
    "openshift_offline_expired": ("openshift_offline_expired", ()),
    "openshift_annotation_drift": ("openshift_annotation_drift", ()),
    "kubeadm_healthy": ("kubeadm_healthy", ()),
    "kubeadm_expired": ("kubeadm_expired", ()),
    "kubeadm_kubelet_client_expired": ("kubeadm_kubelet_client_expired", ()),
    "kubeadm_new_ca": ("kubeadm_new_ca", ()),
    "missing_san": ("kubeadm_serving_defects", ("missing-san",)),
    "no_server_auth": ("kubeadm_serving_defects", ("no-server-auth",)),
    "not_yet_valid": ("kubeadm_serving_defects", ("not-yet-valid",)),
    "self_hosted_tectonic": ("self_hosted_tectonic", ()),
    "self_hosted_tectonic_etcd": ("self_hosted_tectonic_etcd", ()),
}


@pytest.fixture(scope="session")
def scenario_reports(real_etcd, tmp_path_factory):
    """Each scenario built once and scanned once through the CLI: name -> (exit code, report, stdout)."""
    root = tmp_path_factory.mktemp("scenarios")
    cache: dict[str, tuple[int, dict, str]] = {}
    secrets: dict[str, set[bytes]] = {}
    cases: dict[str, object] = {}

    def get(name: str) -> tuple[int, dict, str]:
        if name not in cache:
            builder, args = SCENARIOS[name]
            scenarios = _scenarios()
            case = getattr(scenarios, builder)(root, *args)
            secrets[name] = case.secrets
            cases[name] = case
            report_path = root / f"{name}.json"
            result = subprocess.run(
                [sys.executable, "-m", "analyzer", "scan", *case.evidence(), "--at", scenarios.REFERENCE, "--json", str(report_path),
                 "--html", str(root / f"{name}.html"), "--markdown", str(root / f"{name}.md")],
                capture_output=True, text=True, timeout=300,
            )
            assert "Traceback" not in result.stderr, result.stderr
            # 0 clean, 1 error-level finding, 4 nothing error-level but partial or undecided.
            assert result.returncode in (0, 1, 4), result.stderr
            cache[name] = (result.returncode, json.loads(report_path.read_text()), result.stdout)
        return cache[name]

    get.secrets = secrets  # type: ignore[attr-defined]  # attributes hung on the fixture function for the tests that use it
    get.root = root  # type: ignore[attr-defined]  # attributes hung on the fixture function for the tests that use it
    get.cases = cases  # type: ignore[attr-defined]  # attributes hung on the fixture function for the tests that use it
    return get


# --------------------------------------------------------------------------------------------
# Real Go as an oracle (tests/gooracle/main.go; see tests/fixtures/gooracle.py)
# --------------------------------------------------------------------------------------------

@dataclass
class OracleTotals:
    """Generated cases compared with Go in this process (an xdist worker sends its own to the controller)."""

    cases: int = 0
    matched: int = 0
    go: str | None = None
    mismatches: list[str] = field(default_factory=list)

    def add(self, cases: int, matched: int, go: str | None, mismatches: list[str]) -> None:
        self.cases += cases
        self.matched += matched
        self.go = self.go or go
        self.mismatches += mismatches


ORACLE_TOTALS = OracleTotals()


@pytest.fixture(scope="session")
def go_oracle():
    from tests.fixtures.gooracle import OracleUnavailable, start_oracle

    try:
        oracle = start_oracle()
    except OracleUnavailable as error:
        pytest.skip(f"needs the Go oracle: {error}")
    yield oracle
    oracle.close()
    ORACLE_TOTALS.add(oracle.cases, oracle.matched, oracle.go_version, oracle.mismatches)


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker hands its counts to the controller
        workeroutput["gooracle"] = json.dumps(asdict(ORACLE_TOTALS))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    counts = json.loads(getattr(node, "workeroutput", {}).get("gooracle", "null") or "null")
    if counts:
        ORACLE_TOTALS.add(counts["cases"], counts["matched"], counts["go"], counts["mismatches"])


def pytest_terminal_summary(terminalreporter):
    totals = ORACLE_TOTALS
    if not totals.cases:
        return
    terminalreporter.write_sep("-", "Go oracle")
    terminalreporter.write_line(
        f"{totals.cases} generated cases ran against real Go ({totals.go}); {totals.matched} matched kforensic's Go model"
        + ("" if totals.matched == totals.cases else f"; {totals.cases - totals.matched} DID NOT MATCH")
    )
    for description in totals.mismatches[:10]:
        terminalreporter.write_line(f"  mismatch: {description}")
