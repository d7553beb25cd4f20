"""The etcd client pair found on a master, judged by a running etcd (issue 15 item 3): accepted or
refused, as a finding on the load that uses it; a refusal is evidence, not the end of the run, when
there is other evidence; without any, the run still ends with one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures import scenarios
from tests.fixtures.kubeadm_case import PKI, KubeadmCluster
from tests.fixtures.live_etcd import LivePKI, live_etcd, make_live_pki

REFERENCE = "2025-06-01T12:00:00Z"


@pytest.fixture(scope="module")
def pki(real_etcd, tmp_path_factory) -> LivePKI:
    return make_live_pki(tmp_path_factory.mktemp("live-pki"))


def _master_with_etcd_client(tmp_path, pki: LivePKI, name: str):
    """A kubeadm master whose kube-apiserver etcd client pair is the live PKI's ``name`` pair (the pair the
    user then copies off the master and passes with --etcd-cert/--etcd-key)."""
    files = KubeadmCluster().files()
    pair = pki.pairs[name]
    files[f"{PKI}/apiserver-etcd-client.crt"], files[f"{PKI}/apiserver-etcd-client.key"] = pair.cert_pem, pair.key_pem
    return scenarios._tree(tmp_path, "master-0", files)


def _scan(*args: str, out) -> tuple[subprocess.CompletedProcess[str], dict | None]:
    result = subprocess.run([sys.executable, "-m", "analyzer", "scan", *args, "--at", REFERENCE, "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result, json.loads(out.read_text()) if out.exists() else None


def _etcd(etcd, pki: LivePKI, pair) -> list[str]:
    return ["--etcd", etcd.url, "--etcd-cacert", str(pki.ca), "--etcd-cert", str(pair.cert), "--etcd-key", str(pair.key)]


def test_a_refused_master_pair_is_a_finding_on_kube_apiservers_etcd_client_load(pki, tmp_path):
    tree = _master_with_etcd_client(tmp_path, pki, "foreign")  # issued by a CA etcd does not trust
    with live_etcd(None, pki) as etcd:
        result, report = _scan(*_etcd(etcd, pki, pki.foreign), str(tree), out=tmp_path / "r.json")
    assert result.returncode == 1, result.stderr
    (refused,) = [f for f in report["findings"] if f["id"] == "etcd-client.refused"]
    assert (refused["component"], refused["role"], refused["severity"]) == ("kube-apiserver", "etcd-client", "critical")
    assert refused["subject"]["cert"] == f"{PKI}/apiserver-etcd-client.crt"
    assert refused["go_error"] == "remote error: tls: bad certificate"
    assert "x509: certificate signed by unknown authority" in refused["title"]
    assert etcd.url in refused["detail"] and "cannot reach its storage" in refused["detail"]
    # The rest of the evidence was analysed: the master's other loads are there.
    assert any(c["component"] == "kube-apiserver" and len(c["loads"]) > 5 for c in report["components"])


def test_an_accepted_master_pair_is_said_on_its_load(pki, tmp_path):
    tree = _master_with_etcd_client(tmp_path, pki, "root")
    with live_etcd(None, pki) as etcd:
        result, report = _scan(*_etcd(etcd, pki, pki.root), str(tree), out=tmp_path / "r.json")
    assert result.returncode in (0, 1, 4), result.stderr
    (accepted,) = [f for f in report["findings"] if f["id"] == "etcd-client.accepted"]
    assert (accepted["component"], accepted["role"], accepted["severity"]) == ("kube-apiserver", "etcd-client", "info")
    assert accepted["subject"]["cert"] == f"{PKI}/apiserver-etcd-client.crt"
    assert not [f for f in report["findings"] if f["id"] == "etcd-client.refused"]


def test_a_refused_pair_no_master_uses_is_said_as_such(pki, tmp_path):
    tree = _master_with_etcd_client(tmp_path, pki, "root")  # the master uses another pair than the one passed
    with live_etcd(None, pki) as etcd:
        result, report = _scan(*_etcd(etcd, pki, pki.expired), str(tree), out=tmp_path / "r.json")
    assert result.returncode in (0, 1, 4), result.stderr
    (refused,) = [f for f in report["findings"] if f["id"] == "etcd-client.refused"]
    assert refused["component"] == "evidence" and refused["severity"] == "warning"
    assert "No component in the evidence loads this certificate" in refused["detail"]
    assert "x509: certificate has expired or is not yet valid" in refused["title"]


def test_a_refused_pair_without_other_evidence_still_ends_the_run(pki, tmp_path):
    with live_etcd(None, pki) as etcd:
        result, _ = _scan(*_etcd(etcd, pki, pki.foreign), out=tmp_path / "r.json")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"etcd refused the client certificate --etcd-cert {pki.foreign.cert}" in lines[0]
