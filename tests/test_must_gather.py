"""must-gather / oc adm inspect output as evidence (issue 12 item 6): recognised as a directory and
as a .tar.gz, its certificates checked, its elided keys "cannot be verified" (never broken, never
empty), and kube-apiserver's current.log read like --log."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.fixtures.must_gather import build_must_gather
from tests.fixtures.openshift_case import OpenShiftCluster
from tests.fixtures.pki import DAY, REFERENCE_UTC, make_leaf
from tests.fixtures.scenarios import SEED_SNI_LOADED

REFERENCE = REFERENCE_UTC.strftime("%Y-%m-%dT%H:%M:%SZ")
GO_ERROR = "failed to load SNI cert and key: tls: failed to parse private key"


def _scan(path, tmp_path) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "analyzer", "scan", str(path), "--at", REFERENCE, "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.returncode, json.loads(out.read_text())


def _running_cluster() -> OpenShiftCluster:
    """A running cluster whose named certificate ends in 14 days: the one thing to warn about."""
    cluster = OpenShiftCluster()
    user = cluster.user_certs[0]
    names = user.names
    pair = make_leaf(cluster.customer_ca, names[0], dns=names, server=True, not_before=datetime(2025, 3, 1, tzinfo=UTC),
                     lifetime=(REFERENCE_UTC + 14 * DAY) - datetime(2025, 3, 1, tzinfo=UTC))
    cluster.user_certs = [replace(user, pair=pair)]
    return cluster


@pytest.mark.parametrize("fmt", ["directory", "tar.gz"])
def test_running_cluster_must_gather_warns_and_never_calls_elided_keys_broken(tmp_path, fmt):
    path = build_must_gather(tmp_path, _running_cluster(), fmt)
    code, report = _scan(path, tmp_path)
    assert code in (0, 4), code
    assert [i["kind"] for i in report["inputs"]] == ["must-gather"]
    assert not [f for f in report["findings"] if f["severity"] in ("critical", "error")]
    expiring = [f for f in report["findings"] if f["id"] == "validity.expiring"]
    assert any("user-serving-cert-000" in f["label"] for f in expiring), [f["label"] for f in expiring]
    elided = [f for f in report["findings"] if f["id"] == "evidence.elided"]
    assert elided and all("cannot be verified" in f["title"] for f in elided)
    statuses = {l["status"] for c in report["components"] for l in c["loads"]}
    assert "fails" not in statuses
    states = {m["state"] for c in report["components"] for l in c["loads"] for m in l["materials"]}
    assert "empty" not in states and "elided" in states
    # Certificates are kept: the serving pairs' certificates are read, only their keys are elided.
    apiserver = next(c for c in report["components"] if c["component"] == "kube-apiserver")
    sni = [l for l in apiserver["loads"] if l["role"] == "sni"]
    assert [m["state"] for m in sni[0]["materials"]] == ["present", "elided"]
    # etcd's certificates come from the per-node secrets (the aggregate's values are elided).
    etcd = next(c for c in report["components"] if c["component"] == "etcd")
    peer = next(l for l in etcd["loads"] if l["role"] == "etcd-peer")
    assert peer["materials"][0]["state"] == "present" and peer["object"] == "openshift-etcd/etcd-peer-master-0"


def test_must_gather_log_names_the_pair_its_elided_key_hides(tmp_path):
    cluster = OpenShiftCluster()
    entries = cluster.named_certificates()
    log = [f'2025-06-01T11:58:0{i}.200000000Z I0601 11:58:0{i}.200000       1 dynamic_serving_content.go:111] '
           f'Loaded a new cert/key pair for "sni-serving-cert::{e["certFile"]}::{e["keyFile"]}"'
           for i, e in enumerate(entries[:SEED_SNI_LOADED], start=2)]
    log.append(f"2025-06-01T11:58:09.300000000Z Error: {GO_ERROR}")
    path = build_must_gather(tmp_path, cluster, "tar.gz", log_lines=log)
    _, report = _scan(path, tmp_path)
    finding = next(f for f in report["findings"] if f["id"] == "logs.sni-failure")
    assert finding["label"] == "SNI pair 6 of 6, user-serving-cert-000"
    assert finding["go_error"] == GO_ERROR and finding["severity"] == "critical"
    assert "current.log line 6 at 2025-06-01T11:58:09Z" in finding["detail"]
    assert "user-serving-cert-000" in report["verdict"]["headline"]


def test_a_namespace_not_collected_is_not_in_the_evidence_not_missing(tmp_path):
    cluster = OpenShiftCluster()
    path = build_must_gather(tmp_path, cluster, "directory",
                             namespaces=("openshift-kube-apiserver", "openshift-kube-apiserver-operator", "openshift-config"))
    code, report = _scan(path, tmp_path)
    assert code in (0, 4)
    etcd = [c for c in report["components"] if c["component"] == "etcd"]
    assert not [f for f in report["findings"] if f["severity"] in ("critical", "error")]
    states = {m["state"] for c in etcd for l in c["loads"] for m in l["materials"]}
    assert "missing" not in states


def test_elision_markers_say_what_the_value_was():
    from analyzer.wiring.model import State
    from analyzer.wiring.sources import CollectedObjects

    secret = {"apiVersion": "v1", "kind": "SecretList", "items": [{
        "metadata": {"name": "pair", "namespace": "ns"},
        "data": {"tls.key": "MTY3NSBieXRlcyBsb25n", "token": "MCBieXRlcyBsb25n"}}]}  # "1675 bytes long", "0 bytes long"
    import yaml

    objects = CollectedObjects("mg", iter([("namespaces/ns/core/secrets.yaml", "ns", "core", "secrets", yaml.safe_dump(secret).encode())]))
    assert objects.data("secrets", "ns", "pair", "tls.key").state is State.ELIDED
    assert objects.data("secrets", "ns", "pair", "token").state is State.EMPTY
    assert objects.data("secrets", "ns", "gone", "tls.key").state is State.MISSING  # the namespace's list was collected
    assert objects.data("secrets", "other", "pair", "tls.key").state is State.NOT_IN_EVIDENCE


def test_ls_lists_a_must_gather(tmp_path):
    path = build_must_gather(tmp_path, OpenShiftCluster(), "tar.gz")
    result = subprocess.run([sys.executable, "-m", "analyzer", "ls", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "must-gather / oc adm inspect" in result.stdout
