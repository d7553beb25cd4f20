"""Degraded OpenShift evidence (issue 12): a snapshot without kube-apiserver-pod-N plus the seed's
log still names the failing pair, and every fallback the wiring took is said in the report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures.pki import REFERENCE_UTC

REFERENCE = REFERENCE_UTC.strftime("%Y-%m-%dT%H:%M:%SZ")
GO_ERROR = "failed to load SNI cert and key: tls: failed to parse private key"


@pytest.fixture(scope="module")
def degraded(real_etcd, tmp_path_factory):
    from tests.fixtures import scenarios

    root = tmp_path_factory.mktemp("degraded")
    cache: dict[str, tuple[int, dict, object]] = {}

    def get(variant: str) -> tuple[int, dict, object]:
        if variant not in cache:
            case = scenarios.openshift_degraded(root, variant)
            out = root / f"{variant}.json"
            result = subprocess.run([sys.executable, "-m", "analyzer", "scan", *case.evidence(), "--at", REFERENCE, "--json", str(out)],
                                    capture_output=True, text=True, timeout=300)
            assert "Traceback" not in result.stderr, result.stderr
            cache[variant] = (result.returncode, json.loads(out.read_text()), case)
        return cache[variant]

    return get


def _notes(report: dict) -> str:
    return " | ".join(report["wiring"]["notes"]) if "wiring" in report else json.dumps(report)


def test_no_pod_configmap_names_the_user_pair_from_config_and_log(degraded):
    code, report, _ = degraded("no-pod")
    headline = report["verdict"]["headline"]
    assert "user-serving-cert-000" in headline, headline
    assert "/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key" in headline
    # The headline is the prediction, in Go 1.27's words (the PKCS#8 parser's error added); the log
    # below keeps what the older kube-apiserver printed.
    assert f"`{GO_ERROR}: asn1: " in headline
    log = next(f for f in report["findings"] if f["id"] == "logs.sni-failure")
    assert log["label"] == "SNI pair 6 of 6, user-serving-cert-000"
    assert log["subject"]["object"] == "openshift-kube-apiserver/user-serving-cert-000"
    assert log["go_error"] == GO_ERROR
    assert "line 6" in log["detail"]
    notes = " | ".join(f["detail"] for f in report["findings"] if f["id"] == "wiring.note")
    assert "revision 7 from the operator's status" in notes
    assert "no kube-apiserver-pod-7 in the evidence: wired with the operator's standard mounts" in notes
    assert "bindata/assets/kube-apiserver/pod.yaml" in notes
    # Nothing asks for the snapshot that was given.
    everything = json.dumps(report)
    assert "send the etcd snapshot" not in everything.lower() and "or the etcd snapshot" not in everything.lower()
    assert code == 1


def test_no_operator_status_takes_the_highest_complete_config(degraded):
    _, report, _ = degraded("no-status")
    notes = " | ".join(f["detail"] for f in report["findings"] if f["id"] == "wiring.note")
    assert "revision 7: the highest complete config-7 in etcd" in notes
    assert "user-serving-cert-000" in report["verdict"]["headline"]


def test_missing_secret_still_named_from_load_order(degraded):
    _, report, _ = degraded("no-secret")
    log = next(f for f in report["findings"] if f["id"] == "logs.sni-failure")
    assert log["label"] == "SNI pair 6 of 6, user-serving-cert-000"
    assert log["subject"]["object"] == "openshift-kube-apiserver/user-serving-cert-000"
    assert "user-serving-cert-000" in report["verdict"]["headline"]


def test_the_seed_log_alone_names_the_pair(degraded, tmp_path):
    _, _, case = degraded("no-pod")
    out = tmp_path / "log.json"
    result = subprocess.run([sys.executable, "-m", "analyzer", "scan", str(case.logs[0]), "--at", REFERENCE, "--json", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(out.read_text())
    log = next(f for f in report["findings"] if f["id"] == "logs.sni-failure")
    assert log["subject"]["object"] == "openshift-kube-apiserver/user-serving-cert-000"
    assert log["subject"]["key"] == "/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key"
    assert log["go_error"] == GO_ERROR and "line 6" in log["detail"]
    assert "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/user-serving-cert-000/" in log["detail"]
    assert "observe_apiserver.go" in log["detail"]
    assert log["blocks_start"]
    assert "user-serving-cert-000" in report["verdict"]["headline"]


def _scan(paths: list[str], out) -> dict:
    result = subprocess.run([sys.executable, "-m", "analyzer", "scan", *paths, "--at", REFERENCE, "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def etcd_snapshots(real_etcd, tmp_path_factory):
    """A snapshot-only OpenShift cluster, healthy and with etcd's peer key replaced by another key."""
    from tests.fixtures import scenarios
    from tests.fixtures.openshift_case import ETCD_NS, OpenShiftCluster
    from tests.fixtures.pki import new_key

    root = tmp_path_factory.mktemp("etcd")
    healthy = OpenShiftCluster()
    broken = OpenShiftCluster()
    peer = broken.etcd_pairs["etcd-peer-master-0"]
    from cryptography.hazmat.primitives import serialization
    other = new_key("rsa").private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption())
    broken.secret_overrides[(ETCD_NS, "etcd-peer-master-0")] = {"tls.crt": peer.cert_pem, "tls.key": other}
    return {
        "healthy": _scan([str(scenarios._save(root, "healthy", [healthy.etcd_objects()]))], root / "healthy.json"),
        "broken": _scan([str(scenarios._save(root, "broken", [broken.etcd_objects()]))], root / "broken.json"),
    }


def test_openshift_etcd_is_wired_from_its_objects(etcd_snapshots):
    report = etcd_snapshots["healthy"]
    etcd = next(c for c in report["components"] if c["component"] == "etcd")
    roles = {load["role"]: load for load in etcd["loads"]}
    assert {"etcd-server", "etcd-peer", "etcd-trusted-ca", "etcd-peer-trusted-ca"} <= set(roles)
    assert all(load["status"] == "ok" for load in etcd["loads"]), [(l["role"], l["status"]) for l in etcd["loads"]]
    assert roles["etcd-peer"]["cert"] == "/etc/kubernetes/static-pod-certs/secrets/etcd-all-certs/etcd-peer-master-0.crt"
    assert roles["etcd-peer"]["object"] == "openshift-etcd/etcd-all-certs"
    assert "key etcd-peer-master-0.key" in roles["etcd-peer"]["materials"][1]["location"]
    assert "etcd-pod" in etcd["configured_by"]


def test_openshift_etcd_peer_key_mismatch_is_found(etcd_snapshots):
    report = etcd_snapshots["broken"]
    failing = [f for f in report["findings"] if f["component"] == "etcd" and f["severity"] in ("critical", "error")]
    assert failing and failing[0]["role"] == "etcd-peer", [(f["role"], f["id"]) for f in failing]
    assert "does not match public key" in (failing[0]["go_error"] or "")
    assert not [f for f in report["findings"] if f["component"] == "etcd" and f["severity"] in ("critical", "error") and f["role"] != "etcd-peer"]
