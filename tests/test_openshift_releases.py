"""OpenShift releases that differ (issue 12 item 5): 4.7 (kubelet-client revisioned, etcd's three
aggregates, etcd's CA config maps), 4.14 (kubelet-client cert-synced, etcd-all-certs), 4.18
(etcd-all-bundles). Each is wired from a real snapshot and node files, every pair loads, and the
files come from the objects the release table says."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from analyzer.wiring.openshift_paths import origins
from analyzer.wiring.openshift_releases import RELEASE_FACTS, release_fact
from tests.fixtures.pki import REFERENCE_UTC

REFERENCE = REFERENCE_UTC.strftime("%Y-%m-%dT%H:%M:%SZ")
RELEASES = ("4.7", "4.14", "4.18")


def test_every_fact_names_its_source_and_the_rows_do_not_overlap():
    for row in RELEASE_FACTS:
        assert row.source.startswith(("openshift/", "kubernetes/")) and ":" in row.source
    for fact in {row.fact for row in RELEASE_FACTS}:
        for minor in range(6, 30):
            assert sum(1 for row in RELEASE_FACTS if row.fact == fact and row.first <= (4, minor)
                       and (row.last is None or (4, minor) <= row.last)) == 1, (fact, minor)
    assert release_fact("kube-apiserver.kubelet-client", "4.8.12").value == "revisioned"
    assert release_fact("kube-apiserver.kubelet-client", "4.9").value == "cert-synced"
    assert release_fact("kube-apiserver.kubelet-client", "3.11") is None


@pytest.fixture(scope="module")
def reports(real_etcd, tmp_path_factory):
    from tests.fixtures import scenarios
    from tests.fixtures.openshift_case import OpenShiftCluster

    root = tmp_path_factory.mktemp("releases")
    found = {}
    for release in RELEASES:
        cluster = OpenShiftCluster(release=release)
        name = f"openshift-{release}"
        snapshot = scenarios._save(root, name, [cluster.etcd_objects()])
        tree = scenarios._tree(root, name, cluster.files())
        out = root / f"{name}.json"
        result = subprocess.run([sys.executable, "-m", "analyzer", "scan", str(snapshot), str(tree), "--at", REFERENCE,
                                 "--json", str(out)], capture_output=True, text=True, timeout=300)
        assert "Traceback" not in result.stderr, result.stderr
        found[release] = json.loads(out.read_text())
    return found


def _load(report: dict, component: str, role: str) -> dict:
    owner = next(c for c in report["components"] if c["component"] == component)
    return next(l for l in owner["loads"] if l["role"] == role)


@pytest.mark.parametrize("release", RELEASES)
def test_each_release_is_wired_the_way_its_operators_lay_it_out(reports, release):
    report = reports[release]
    assert not [f for f in report["findings"] if f["severity"] in ("critical", "error")], release
    kubelet_client = _load(report, "kube-apiserver", "kubelet-client")
    revisioned = release_fact("kube-apiserver.kubelet-client", release).value == "revisioned"
    assert kubelet_client["object"] == ("openshift-kube-apiserver/kubelet-client-7" if revisioned else "openshift-kube-apiserver/kubelet-client")
    assert kubelet_client["status"] == "ok"
    peer = _load(report, "etcd", "etcd-peer")
    aggregates = release_fact("etcd.cert-aggregates", release).value.split(",")
    assert peer["cert"].split("/")[-2] in aggregates and peer["status"] == "ok"
    trusted = _load(report, "etcd", "etcd-trusted-ca")
    assert trusted["ca"].endswith(release_fact("etcd.ca-bundles", release).value.split(",")[0]) and trusted["status"] == "ok"
    # The node file of the peer pair is written from the per-node secret, whatever the aggregate's name.
    host = peer["materials"][0]["location"].split(" on ")[0]
    assert [o.ref for o in origins(host)][-1] == "openshift-etcd/etcd-peer-master-0", host
