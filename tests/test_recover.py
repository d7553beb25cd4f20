"""`kforensic recover`: the newest working pair of a secret, written 0600 where the user says and
nowhere else, never over an existing file; and the scan pointing at it (tests/fixtures/scenarios.py)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.gomodel.clientgo import key_pair
from tests.fixtures import scenarios

SECRET = "openshift-kube-apiserver/user-serving-cert-000"


def recover(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", "recover", *args, "--at", scenarios.REFERENCE],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def empty_key_case(scenario_reports):
    scenario_reports("openshift_user_key")
    return scenario_reports.cases["openshift_user_key"]


@pytest.mark.parametrize("target", [SECRET, "user-serving-cert-000", "SNI pair 6 of 6, user-serving-cert-000"])
def test_recover_writes_the_pair_from_before_the_incident(empty_key_case, tmp_path, target):
    out = tmp_path / "out"
    result = recover(str(empty_key_case.snapshot), target, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["tls.crt", "tls.key"]
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cert, key = (out / "tls.crt").read_bytes(), (out / "tls.key").read_bytes()
    assert cert == empty_key_case.originals["tls.crt"] and key == empty_key_case.originals["tls.key"]
    assert key_pair(cert, key).ok
    text = result.stdout
    # Provenance: the revision before the edit, written by kubectl-create's operator copy, and fingerprints.
    assert "cluster-kube-apiserver-operator" in text and "2025-03-01T08:00:20Z" in text
    assert "certificate SHA-256 " in text and "public key SHA-256 " in text
    assert "later revision" in text and "does not load" in text
    assert "install -m 600" in text and "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/user-serving-cert-000" in text
    assert "oc -n openshift-config create secret tls api-cert" in text
    assert "-----BEGIN" not in text + result.stderr
    assert not [f for f in empty_key_case.secrets if f in text.encode()]


def test_recover_refuses_to_overwrite_and_writes_nothing(empty_key_case, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "tls.key").write_bytes(b"keep me")
    result = recover(str(empty_key_case.snapshot), SECRET, "--out", str(out))
    assert result.returncode == 2
    assert "refusing to overwrite" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["tls.key"] and (out / "tls.key").read_bytes() == b"keep me"
    again = recover(str(empty_key_case.snapshot), SECRET, "--out", str(tmp_path / "fresh"))
    assert again.returncode == 0
    assert recover(str(empty_key_case.snapshot), SECRET, "--out", str(tmp_path / "fresh")).returncode == 2


def test_recover_writes_only_into_the_out_directory(empty_key_case, tmp_path):
    before = {p.name for p in Path(empty_key_case.snapshot).parent.iterdir()}
    result = subprocess.run([sys.executable, "-m", "analyzer", "recover", str(empty_key_case.snapshot), SECRET, "--out", "out",
                             "--at", scenarios.REFERENCE], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"out"}
    assert {p.name for p in Path(empty_key_case.snapshot).parent.iterdir()} == before


@pytest.mark.parametrize(("target", "words"), [
    ("openshift-config/nope", "no secret openshift-config/nope"),
    ("nope", "no secret named 'nope'"),
])
def test_recover_unknown_secret_is_one_line(empty_key_case, tmp_path, target, words):
    result = recover(str(empty_key_case.snapshot), target, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_compacted_history_is_said_plainly(real_etcd, tmp_path):
    case = scenarios.openshift_user_key(tmp_path, with_log=False, with_node=False, compacted=True)
    result = recover(str(case.snapshot), SECRET, "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "no surviving revision holds a pair that loads" in result.stderr
    assert "no earlier revision survives compaction at revision" in result.stderr
    assert not (tmp_path / "out").exists()


def test_scan_points_at_recover_when_the_last_good_pair_survives(scenario_reports):
    _, report, _ = scenario_reports("openshift_user_key")
    top = next(f for f in report["findings"] if f["id"].startswith("pair.") and f["severity"] == "critical")
    assert top["remediation"][0].startswith("The last working pair is in the evidence")
    assert "kforensic recover " in top["remediation"][0] and SECRET in top["remediation"][0]
    assert "survives in the snapshot at revision" in top["recovery_detail"]


def test_recover_opens_secrets_encrypted_at_rest_with_the_config(real_etcd, tmp_path):
    import tarfile

    case = scenarios.openshift_user_key(tmp_path, with_log=False, encrypted=True)
    with tarfile.open(case.node_tree) as tree:
        member = next(m for m in tree.getmembers() if m.name.endswith("secrets/encryption-config/encryption-config"))
        config = tmp_path / "encryption-config"
        config.write_bytes(tree.extractfile(member).read())
    refused = recover(str(case.snapshot), SECRET, "--out", str(tmp_path / "none"))
    assert refused.returncode == 2 and "--encryption-config" in refused.stderr and not (tmp_path / "none").exists()
    result = recover(str(case.snapshot), SECRET, "--out", str(tmp_path / "out"), "--encryption-config", str(config))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "tls.key").read_bytes() == case.originals["tls.key"]
