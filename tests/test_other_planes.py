"""Kubespray and RKE2 trees are wired from their own files and flags, and their broken pairs named (issue 13)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from analyzer.decode.etcd_config import flags_from_config_file, flags_from_env, flags_from_environment
from analyzer.decode.flags import parse_flags
from analyzer.errors import DecodeError
from analyzer.scan import ScanOptions, run_scan
from analyzer.wiring.model import PairPayload
from tests.fixtures.node_trees import build_node_tree
from tests.fixtures.other_planes import ETCD_SSL, RKE2, TLS, kubespray_files, rke2_files, with_serial_zero
from tests.fixtures.pki import REFERENCE_UTC, YEAR, make_ca, make_leaf


def scan(tmp_path, files, name="node"):
    tree = build_node_tree(tmp_path, files, "host-root", "tar.gz", name=name)
    return run_scan(ScanOptions(evidence=[tree], reference_utc=REFERENCE_UTC))


def failing(result):
    return [f for f in result.findings if f.severity.failing]


# -- etcd configured without a command line -------------------------------------------------------


def test_etcd_env_file_becomes_flags():
    flags = flags_from_env(b'# comment\nETCD_CERT_FILE="/etc/ssl/etcd/ssl/member-n.pem"\nETCDCTL_CERT=/x\n'
                           b"ETCD_PEER_CLIENT_CERT_AUTH=true\n\nexport ETCD_NAME=etcd1\n")
    assert flags.find("cert-file") == "/etc/ssl/etcd/ssl/member-n.pem"
    assert flags.find("peer-client-cert-auth") == "true" and flags.find("name") == "etcd1"
    assert "ctl-cert" not in flags.names() and "cert" not in flags.names()


def test_etcd_environment_gives_only_flags_the_command_line_did_not_set():
    command_line = parse_flags(["--cert-file=/cli.crt", "--name", "etcd0"])
    flags = flags_from_environment([("ETCD_CERT_FILE", "/env.crt"), ("ETCD_TRUSTED_CA_FILE", "/ca.crt"), ("ETCDCTL_CACERT", "/x"),
                                    ("ETCD_PEER_CERT_FILE", "/p.crt")], command_line=command_line)
    assert [(f.name, f.value) for f in flags] == [("trusted-ca-file", "/ca.crt"), ("peer-cert-file", "/p.crt")]
    assert flags_from_environment([("ETCD_CERT_FILE", "/env.crt")]).find("cert-file") == "/env.crt"


def test_etcd_config_file_becomes_flags():
    flags = flags_from_config_file(b"name: a\nclient-transport-security:\n  cert-file: /s.crt\n  client-cert-auth: true\n"
                                   b"peer-transport-security:\n  trusted-ca-file: /p.crt\n", "config")
    assert (flags.find("cert-file"), flags.find("client-cert-auth"), flags.find("peer-trusted-ca-file")) == ("/s.crt", "true", "/p.crt")


@pytest.mark.parametrize("data", [b"a: [", b"- just a list"])
def test_a_broken_etcd_config_file_is_a_decode_error(data):
    with pytest.raises(DecodeError, match="config"):
        flags_from_config_file(data, "config")


# -- Kubespray ----------------------------------------------------------------------------------------


def test_a_healthy_kubespray_master_is_wired_from_its_own_paths(tmp_path):
    result = scan(tmp_path, kubespray_files())
    assert result.wiring.distribution == "kubespray"
    names = {c.name for c in result.wiring.components}
    assert {"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kubelet", "admin kubeconfigs"} <= names
    etcd = next(c for c in result.wiring.components if c.name == "etcd")
    assert etcd.configured_by.startswith("/etc/etcd.env on node1")
    assert {l.payload.cert_path for l in etcd.loads if isinstance(l.payload, PairPayload)} == {f"{ETCD_SSL}/member-node1.pem"}
    client = next(l for c in result.wiring.components if c.name == "kube-apiserver" for l in c.loads if l.role == "etcd-client")
    assert client.payload.cert_path == f"{ETCD_SSL}/node-node1.pem" and client.payload.cert.state.value == "present"
    assert failing(result) == [], [f.title for f in failing(result)]
    assert result.verdict.status == "healthy"


def test_an_expired_kubespray_etcd_member_pair_is_named(tmp_path):
    etcd_ca = make_ca("etcd-ca", lifetime=100 * YEAR)
    expired = make_leaf(etcd_ca, "etcd-member-node1", dns=("localhost", "node1"), ips=("10.0.0.10", "127.0.0.1"),
                        server=True, client=True, not_before=REFERENCE_UTC - 2 * YEAR, lifetime=YEAR)
    result = scan(tmp_path, kubespray_files(member=expired, etcd_ca=etcd_ca))
    found = [f for f in failing(result) if f.component == "etcd" and f.id == "validity.expired"]
    assert found and found[0].subject.cert == f"{ETCD_SSL}/member-node1.pem"
    assert found[0].severity.value == "critical"  # kube-apiserver's storage (checks/severity.py rule 1)


# -- RKE2 -------------------------------------------------------------------------------------------------


def test_an_rke2_server_is_recognised_and_named_by_its_kubelet(tmp_path):
    result = scan(tmp_path, rke2_files())
    assert result.wiring.distribution == "rke2"
    apiserver = next(c for c in result.wiring.components if c.name == "kube-apiserver")
    assert apiserver.node == "rke2-server-1"
    assert apiserver.configured_by.startswith(f"{RKE2}/agent/pod-manifests/kube-apiserver.yaml")
    serving = next(l for l in apiserver.loads if l.role == "serving")
    assert serving.payload.cert_path == f"{TLS}/serving-kube-apiserver.crt" and serving.payload.cert.state.value == "present"
    etcd = next(c for c in result.wiring.components if c.name == "etcd")
    assert "--config-file" in etcd.configured_by
    assert {l.payload.cert_path for l in etcd.loads if isinstance(l.payload, PairPayload)} == {f"{TLS}/etcd/server-client.crt", f"{TLS}/etcd/peer-server-client.crt"}
    kubelet = next(c for c in result.wiring.components if c.name == "kubelet")
    assert any(l.role == "kubelet-serving" and l.payload.cert_path == f"{RKE2}/agent/serving-kubelet.crt" for l in kubelet.loads)


def test_a_healthy_rke2_server_with_a_zero_serial_ca_has_no_error(tmp_path):
    """RKE2's server CA has serial 0: Go reads it, and so must kforensic (no warning, no finding)."""
    files = rke2_files()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography import x509

        assert x509.load_pem_x509_certificate(files[f"{TLS}/server-ca.crt"]).serial_number == 0
    result = scan(tmp_path, files)
    assert failing(result) == [], [f.title for f in failing(result)]
    # Through the CLI as a person runs it: no deprecation warning from cryptography on stderr.
    tree = next(tmp_path.glob("*.tar.gz"))
    run = subprocess.run([sys.executable, "-m", "analyzer", "scan", str(tree), "--at", "2025-06-01T12:00:00Z"],
                         capture_output=True, text=True, timeout=300)
    # Nothing error-level: 0, or 4 while this evidence cannot show every component starting.
    assert run.returncode in (0, 4), run.stdout + run.stderr
    assert run.returncode == (4 if result.outcome.value == "incomplete" else 0)
    assert "serial number" not in run.stderr and "Warning" not in run.stderr


def test_an_expired_rke2_serving_pair_is_named(tmp_path):
    ca = with_serial_zero(make_ca("rke2-server-ca@1"))
    expired = make_leaf(ca, "kube-apiserver", dns=("kubernetes.default.svc",), ips=("10.43.0.1", "127.0.0.1"), server=True,
                        not_before=REFERENCE_UTC - 2 * YEAR)
    result = scan(tmp_path, rke2_files(serving=expired))
    found = [f for f in failing(result) if f.component == "kube-apiserver" and f.id == "validity.expired"]
    assert found and found[0].subject.cert == f"{TLS}/serving-kube-apiserver.crt"
    assert any("rke2 certificate rotate" in step for step in found[0].remediation)


def test_rke2_yaml_trusting_another_ca_is_an_error(tmp_path):
    result = scan(tmp_path, rke2_files(admin_ca=make_ca("some-other-ca")))
    found = [f for f in failing(result) if f.component == "admin kubeconfigs"]
    assert found and all(f.severity.value == "error" for f in found)
    assert any(f.subject.cert == "/etc/rancher/rke2/rke2.yaml" for f in found)


def test_kubespray_remediation_uses_its_own_paths(tmp_path):
    ca = make_ca("kubernetes")
    files = kubespray_files()
    expired = make_leaf(ca, "kube-apiserver", dns=("kubernetes.default.svc",), ips=("10.96.0.1",), server=True,
                        not_before=REFERENCE_UTC - 2 * YEAR)
    files["/etc/kubernetes/ssl/apiserver.crt"], files["/etc/kubernetes/ssl/apiserver.key"] = expired.cert_pem, expired.key_pem
    result = scan(tmp_path, files)
    found = next(f for f in failing(result) if f.component == "kube-apiserver" and f.role == "serving")
    assert any("kubeadm certs renew --config /etc/kubernetes/kubeadm-config.yaml apiserver" in step for step in found.remediation)
    assert not any("/etc/kubernetes/pki" in step for step in found.remediation)
