"""``kforensic certs``: every certificate of a real kubeadm case (snapshot from a real etcd, node
tree as tar.gz), like ``kubeadm certs check-expiration``, evaluated at --at."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.fixtures import scenarios
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.pki import REFERENCE_UTC, YEAR

REPO = Path(__file__).resolve().parents[1]


def certs(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "KFORENSIC_DEBUG"}
    return subprocess.run([sys.executable, "-m", "analyzer", "certs", *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={**env, "PYTHONPATH": str(REPO)})


def fingerprints_in(files: dict) -> set[str]:
    """Every certificate the node's files hold: PEM files and kubeconfig-embedded data."""
    found: set[str] = set()
    for value in files.values():
        if not isinstance(value, bytes):
            continue
        blobs = [value]
        if b"kind: Config" in value:
            config = yaml.safe_load(value)
            blobs = [base64.b64decode(entry[kind][field]) for kind, field in (("cluster", "certificate-authority-data"), ("user", "client-certificate-data"))
                     for entry in config.get(kind + "s", []) if field in entry.get(kind, {})]
        for blob in blobs:
            if b"BEGIN CERTIFICATE" in blob:
                found.update(c.fingerprint(hashes.SHA256()).hex() for c in x509.load_pem_x509_certificates(blob))
    return found


@pytest.fixture(scope="module")
def kubeadm_case(real_etcd, tmp_path_factory):
    cluster = KubeadmCluster()
    root = tmp_path_factory.mktemp("certs")
    return cluster, [str(scenarios._save(root, "kubeadm", [cluster.etcd_objects()])), str(scenarios._tree(root, "kubeadm", cluster.files()))]


def test_every_certificate_of_the_case_is_listed_sorted_by_expiry(kubeadm_case):
    cluster, evidence = kubeadm_case
    result = certs(*evidence, "--at", scenarios.REFERENCE, "-o", "json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    rows = listed["certificates"]
    assert listed["reference_time"] == scenarios.REFERENCE
    # Leafs, CAs, the kubelet's client and serving certificates, the kubeconfigs' embedded ones.
    expected = fingerprints_in(cluster.files())
    assert expected and expected <= {row["fingerprint_sha256"] for row in rows}
    assert [row["not_after"] for row in rows] == sorted(row["not_after"] for row in rows)
    kubelet_client = next(row for row in rows if row["subject"].startswith("CN=system:node:master-0"))
    assert any("kubelet" in load for load in kubelet_client["loaded_by"])
    assert any("kubelet/pki" in place for place in kubelet_client["where"])
    ca = next(row for row in rows if row["subject"] == "CN=kubernetes")
    assert ca["is_ca"] and ca["issuer"] == "CN=kubernetes"
    assert len(ca["where"]) > 1  # ca.crt, and every kubeconfig that embeds it
    for row in rows:
        assert row["status"] in ("valid", "expiring") and row["residual_seconds"] > 0


def test_residual_time_is_counted_from_at(kubeadm_case):
    _, evidence = kubeadm_case
    later = (REFERENCE_UTC + YEAR + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    now_rows = json.loads(certs(*evidence, "--at", scenarios.REFERENCE, "-o", "json").stdout)["certificates"]
    later_result = certs(*evidence, "--at", later, "-o", "json")
    later_rows = json.loads(later_result.stdout)["certificates"]
    by_print = {row["fingerprint_sha256"]: row for row in now_rows}
    shift = int((YEAR + timedelta(days=30)).total_seconds())
    for row in later_rows:
        assert by_print[row["fingerprint_sha256"]]["residual_seconds"] - row["residual_seconds"] == shift
    # A year and a month on, kubeadm's yearly leafs have expired: exit 1, and the table says so.
    expired = [row for row in later_rows if row["status"] == "expired"]
    assert expired and all(row["residual"].startswith("expired ") and row["residual"].endswith(" ago") for row in expired)
    assert later_result.returncode == 1
    table = certs(*evidence, "--at", later)
    assert table.returncode == 1
    header = table.stdout.splitlines()[0]
    for column in ("CERTIFICATE", "ISSUER", "NOT BEFORE", "NOT AFTER", "RESIDUAL", "STATUS", "WHERE", "LOADED BY"):
        assert column in header, column
    assert "expired" in table.stdout


def test_wide_and_yaml(kubeadm_case):
    _, evidence = kubeadm_case
    wide = certs(*evidence, "--at", scenarios.REFERENCE, "-o", "wide")
    assert wide.returncode == 0 and "SHA-256" in wide.stdout.splitlines()[0] and "(+" not in wide.stdout
    as_yaml = yaml.safe_load(certs(*evidence, "--at", scenarios.REFERENCE, "-o", "yaml").stdout)
    as_json = json.loads(certs(*evidence, "--at", scenarios.REFERENCE, "-o", "json").stdout)
    assert as_yaml == as_json


def test_short_duration_follows_kubernetes():
    from analyzer.report.certificates import residual_text, short_duration

    # k8s.io/apimachinery/pkg/util/duration ShortHumanDuration: s, m, h, d, then y.
    cases = {timedelta(seconds=59): "59s", timedelta(minutes=59): "59m", timedelta(hours=23): "23h", timedelta(days=364): "364d",
             timedelta(days=365): "1y", timedelta(days=3650): "10y"}
    for delta, text in cases.items():
        assert short_duration(delta) == text
    assert residual_text(-timedelta(days=3)) == "expired 3d ago"
