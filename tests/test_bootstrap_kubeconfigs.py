"""The kubelet's bootstrap kubeconfig (issue 13): its CA data checked against the certificate
kube-apiserver serves for its server, with the severity of a fallback credential (checks/severity.py):
an error when the kubelet needs it now (its own client certificate expired), else a warning."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import yaml

from tests.fixtures import scenarios
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.openshift_case import OpenShiftCluster
from tests.fixtures.pki import DAY, REFERENCE_UTC, make_ca, make_leaf

REFERENCE = REFERENCE_UTC.strftime("%Y-%m-%dT%H:%M:%SZ")


def bootstrap_kubeconfig(server: str, ca_pem: bytes) -> bytes:
    """A token-based bootstrap kubeconfig, as kubeadm's TLS bootstrap and OpenShift's installer write one."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "kubelet", "user": {"token": "abcdef.0123456789abcdef"}}],
        "contexts": [{"name": "kubelet", "context": {"cluster": "local", "user": "kubelet"}}],
        "current-context": "kubelet",
    }).encode()


def _scan(tmp_path, files) -> dict:
    return scenarios.scan_json([scenarios._tree(tmp_path, "master-0", files)], tmp_path / "r.json")[1]


def _bootstrap_findings(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["role"] == "kubelet-bootstrap-kubeconfig"]


def _openshift(expired_kubelet: bool, stale: bool) -> dict:
    cluster = OpenShiftCluster()
    if expired_kubelet:
        cluster.kubelet_client = make_leaf(cluster.signers["csr-signer"], f"system:node:{cluster.node}", orgs=("system:nodes",),
                                           client=True, not_before=REFERENCE_UTC - 40 * DAY, lifetime=timedelta(days=30))
    ca = make_ca("kube-apiserver-lb-signer-from-install", not_before=REFERENCE_UTC - 400 * DAY).cert_pem if stale else cluster.server_ca_bundle()
    files = cluster.files()
    files["/etc/kubernetes/kubeconfig"] = bootstrap_kubeconfig(f"https://{cluster.lb_names()[1]}:6443", ca)
    return files


@pytest.mark.parametrize(("expired_kubelet", "severity"), [(False, "warning"), (True, "error")])
def test_openshift_bootstrap_kubeconfig_with_a_stale_ca(tmp_path, expired_kubelet, severity):
    report = _scan(tmp_path, _openshift(expired_kubelet, stale=True))
    (stale,) = [f for f in _bootstrap_findings(report) if f["id"] == "kubeconfig.ca-does-not-trust-server"]
    assert stale["severity"] == severity
    assert "api-int" in stale["title"]
    assert ("uses this bootstrap kubeconfig now" in stale["detail"]) == expired_kubelet
    kubelet = next(c for c in report["components"] if c["component"] == "kubelet")
    assert any(load["role"] == "kubelet-bootstrap-kubeconfig" and load["flag"] == "--bootstrap-kubeconfig" for load in kubelet["loads"])


def test_openshift_bootstrap_kubeconfig_with_the_right_ca_is_quiet(tmp_path):
    report = _scan(tmp_path, _openshift(False, stale=False))
    assert not [f for f in _bootstrap_findings(report) if f["severity"] in ("critical", "error", "warning")]


def test_kubeadm_bootstrap_kubelet_conf_is_checked_only_when_present(tmp_path):
    cluster = KubeadmCluster()
    files = cluster.files()
    report = _scan(tmp_path / "absent", files)  # kubeadm join deletes it after the TLS bootstrap: no load, no finding
    kubelet = next(c for c in report["components"] if c["component"] == "kubelet")
    assert not [load for load in kubelet["loads"] if load["role"] == "kubelet-bootstrap-kubeconfig"]
    files["/etc/kubernetes/bootstrap-kubelet.conf"] = bootstrap_kubeconfig(
        f"https://{cluster.control_plane_endpoint}:6443", make_ca("kubernetes", not_before=REFERENCE_UTC - 800 * DAY).cert_pem)
    report = _scan(tmp_path / "present", files)
    (stale,) = [f for f in _bootstrap_findings(report) if f["id"] == "kubeconfig.ca-does-not-trust-server"]
    assert stale["severity"] == "warning" and "/etc/kubernetes/bootstrap-kubelet.conf" in json.dumps(stale)
    assert "only when its own client certificate is gone or expired" in stale["detail"]
