"""The same analysis from a snapshot alone, a node tree alone, both, or a scrubbed sosreport."""

from __future__ import annotations

import json
import subprocess
import sys
from html import escape as html_escape

import pytest

from tests.fixtures import scenarios


def scan(*evidence: str, tmp_path, html: bool = False) -> tuple[int, dict]:
    target = tmp_path / "report.json"
    extra = ["--html", str(tmp_path / "report.html")] if html else []
    result = subprocess.run([sys.executable, "-m", "analyzer", "scan", *evidence, "--at", scenarios.REFERENCE, "--json", str(target), *extra],
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(target.read_text())


@pytest.fixture(scope="module")
def broken_openshift(real_etcd, tmp_path_factory):
    return scenarios.openshift_user_key(tmp_path_factory.mktemp("modes"), with_log=False)


@pytest.mark.parametrize("mode", ["snapshot", "node", "both"])
def test_openshift_failing_pair_named_from_any_evidence(broken_openshift, mode, tmp_path):
    evidence = {"snapshot": [broken_openshift.snapshot], "node": [broken_openshift.node_tree],
                "both": [broken_openshift.snapshot, broken_openshift.node_tree]}[mode]
    code, report = scan(*map(str, evidence), tmp_path=tmp_path)
    assert code == 1
    assert report["verdict"]["headline"].startswith("kube-apiserver on master-0 cannot start: SNI pair 6 of 6, user-serving-cert-000")
    errors = [f for f in report["findings"] if f["severity"] in ("critical", "error")]
    assert [f["label"] for f in errors] == ["SNI pair 6 of 6, user-serving-cert-000"]
    source = errors[0]["subject"]["source"]
    if mode == "snapshot":
        # Read from the etcd object the file is written from, and traced to the user's secret.
        assert "openshift-kube-apiserver/user-serving-cert-000" in source and "etcd" in source
        assert "openshift-config/api-cert tls.key was changed" in report["verdict"]["headline"]
    else:
        assert source.startswith("/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/user-serving-cert-000/tls.key")
    apiserver = next(c for c in report["components"] if c["component"] == "kube-apiserver")
    assert [l["label"] for l in apiserver["loads"] if l["role"] == "sni"][-1] == "SNI pair 6 of 6, user-serving-cert-000"


def test_both_sources_compare_the_copies(broken_openshift, tmp_path):
    _code, report = scan(str(broken_openshift.snapshot), str(broken_openshift.node_tree), tmp_path=tmp_path)
    loads = next(c for c in report["components"] if c["component"] == "kube-apiserver")["loads"]
    # The file on the node and its etcd source agree here: no drift is claimed.
    assert not [f for f in report["findings"] if f["id"] == "drift.copies-differ"]
    assert loads[6]["source_object"] == "openshift-config/api-cert"


def test_sosreport_is_unverifiable_not_broken_and_the_log_names_the_pair(real_etcd, tmp_path):
    case = scenarios.openshift_sosreport(tmp_path)
    code, report = scan(*case.evidence(), tmp_path=tmp_path)
    pair_findings = [f for f in report["findings"] if f["id"].startswith("pair.")]
    assert pair_findings == []  # scrubbed keys are never called broken
    assert any(f["id"].startswith("evidence.scrubbed") for f in report["findings"])
    log = next(f for f in report["findings"] if f["id"] == "logs.sni-failure")
    assert log["severity"] == "critical" and log["blocks_start"] and log["label"] == "SNI pair 6 of 6, user-serving-cert-000"
    assert report["verdict"]["headline"].startswith("kube-apiserver on master-0 cannot start: SNI pair 6 of 6, user-serving-cert-000")
    assert code == 1


def test_kubeadm_snapshot_alone_cannot_verify_files(real_etcd, tmp_path):
    case = scenarios.kubeadm_snapshot_only(tmp_path)
    code, report = scan(*case.evidence(), tmp_path=tmp_path, html=True)
    assert code == 4  # nothing error-level, but no verdict either: never the 0 of a healthy cluster
    assert [f for f in report["findings"] if f["severity"] in ("critical", "error")] == []
    page = (tmp_path / "report.html").read_text()
    assert report["notes"] and all(page.count(html_escape(note)) == 1 for note in report["notes"])  # said once
    apiserver = next(c for c in report["components"] if c["component"] == "kube-apiserver")
    assert "mirror pod kube-system/kube-apiserver-master-0" in apiserver["configured_by"]
    assert {l["status"] for l in apiserver["loads"]} == {"unverifiable"}
    assert any("send a copy of /etc/kubernetes" in note for note in report["notes"])
    starts = {c["component"]: c["starts"] for c in report["verdict"]["components"]}
    assert starts["kube-apiserver"] is None  # unknown, not "fine"
    assert report["verdict"]["status"] == "unknown"
    assert "cannot show whether" in report["verdict"]["headline"]


def test_damage_met_while_wiring_marks_the_scan_partial(broken_openshift, tmp_path):
    """The index pass reads only each record's key; a value that does not parse is met when the wiring reads it."""
    from analyzer.evidence.etcd import KEY_BUCKET, Snapshot, unpack_revision

    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(broken_openshift.snapshot.read_bytes())
    wanted = b"/kubernetes.io/secrets/openshift-kube-apiserver/user-serving-cert-000"
    with Snapshot(damaged) as snapshot:
        revision_key = unpack_revision(snapshot.build_index([wanted]).live[wanted]).key()
        [value_start] = [vstart for _pgid, data, elements in snapshot.db.bucket(KEY_BUCKET).iter_leaf_blocks()
                         for _flags, kstart, vstart, _vend in elements if data[kstart:vstart] == revision_key]
    with open(damaged, "r+b") as handle:  # the byte after KeyValue.key: a field with wire type 7, which no parser accepts
        handle.seek(value_start + 2 + len(wanted))
        handle.write(b"\x0f")
    code, report = scan(str(damaged), tmp_path=tmp_path)
    [record] = report["inputs"]
    assert record["partial"] and report["partial"]
    failing = [f for f in report["findings"] if f["severity"] in ("critical", "error")]
    assert code == (1 if failing else 4)  # damaged evidence is never exit 0
    [note] = [f for f in report["findings"] if f["id"] == "evidence.snapshot-damaged"]
    assert "is not an mvccpb.KeyValue" in note["detail"]


def test_an_objects_history_is_decoded_once_for_all_its_data_keys(broken_openshift, monkeypatch):
    from analyzer.evidence.etcd import Snapshot
    from analyzer.wiring.sources import etcd_objects

    calls = []
    decode = etcd_objects.decode_value
    monkeypatch.setattr(etcd_objects, "decode_value", lambda value, **kw: calls.append(kw["etcd_key"]) or decode(value, **kw))
    with Snapshot(broken_openshift.snapshot) as snapshot:
        objects = etcd_objects.EtcdObjects(snapshot)
        cert = objects.data("secrets", "openshift-config", "api-cert", "tls.crt")
        key = objects.data("secrets", "openshift-config", "api-cert", "tls.key")
    assert [c.revision for c in cert.history] == [c.revision for c in key.history] and len(key.history) == 2
    assert key.history[0].value_size != key.history[1].value_size  # only the key was emptied
    assert cert.history[0].value_sha256 == cert.history[1].value_sha256
    assert key.history[1].manager == "kubectl-edit"
    # One decode of the live object, one per surviving revision; the second data key reads none again.
    assert len(calls) == 1 + len(key.history)
