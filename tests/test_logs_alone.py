"""The log as evidence on its own: the SNI pair after the last loaded one, from the FLAG dump or
OpenShift's default order, else an explicit "cannot tell" (issue 12 item 2)."""

from __future__ import annotations

from analyzer.analysis.logs import correlate_logs, sni_after
from analyzer.checks.context import CheckContext
from analyzer.gomodel.klog import iter_log_events
from analyzer.wiring.model import Wiring
from tests.fixtures.pki import REFERENCE_UTC

CERTS = "/etc/kubernetes/static-pod-certs/secrets"
RESOURCES = "/etc/kubernetes/static-pod-resources/secrets"


def _loaded(*dirs: str) -> list[str]:
    return [f"sni-serving-cert::{d}/tls.crt::{d}/tls.key" for d in dirs]


def _events(text: str):
    return list(iter_log_events(text.encode(), "kube-apiserver.log", REFERENCE_UTC))


def test_after_the_recovery_pair_comes_the_first_user_pair():
    loaded = _loaded(f"{CERTS}/localhost-serving-cert-certkey", f"{CERTS}/service-network-serving-certkey",
                     f"{CERTS}/external-loadbalancer-serving-certkey", f"{CERTS}/internal-loadbalancer-serving-certkey",
                     f"{RESOURCES}/localhost-recovery-serving-certkey")
    cert, key, how = sni_after(loaded, None)
    assert (cert, key) == (f"{CERTS}/user-serving-cert-000/tls.crt", f"{CERTS}/user-serving-cert-000/tls.key")
    assert "observe_apiserver.go" in how


def test_after_a_user_pair_comes_the_next_user_pair():
    loaded = _loaded(f"{RESOURCES}/localhost-recovery-serving-certkey", f"{CERTS}/user-serving-cert-000")
    assert sni_after(loaded, None)[0] == f"{CERTS}/user-serving-cert-001/tls.crt"


def test_the_flag_dump_wins_over_the_default_order():
    events = _events(
        'I0601 11:58:01.000000       1 flags.go:64] FLAG: --tls-sni-cert-key="[/a.crt,/a.key;/b.crt,/b.key:b.example.com]"\n'
        'I0601 11:58:02.000000       1 dynamic_serving_content.go:111] Loaded a new cert/key pair for "sni-serving-cert::/a.crt::/a.key"\n'
        "Error: failed to load SNI cert and key: tls: failed to parse private key\n")
    flag = next(e for e in events if e.flag)
    cert, key, how = sni_after([e.loaded_pair for e in events if e.loaded_pair], flag)
    assert (cert, key) == ("/b.crt", "/b.key") and "line 1" in how


def test_unknown_layout_without_flag_dump_cannot_tell():
    events = _events(
        'I0601 11:58:02.000000       1 dynamic_serving_content.go:111] Loaded a new cert/key pair for "sni-serving-cert::/srv/a.crt::/srv/a.key"\n'
        "Error: failed to load SNI cert and key: tls: failed to parse private key\n")
    assert sni_after([e.loaded_pair for e in events if e.loaded_pair], None) is None
    wiring = Wiring("kubeadm", given=())
    [finding] = correlate_logs(events, wiring, [], CheckContext(REFERENCE_UTC, 30, "kubeadm"))
    assert "Cannot tell which pair" in finding.detail
    assert finding.subject.object is None and finding.go_error == "failed to load SNI cert and key: tls: failed to parse private key"
    # Nothing was given, so both kinds of evidence are asked for.
    assert "/etc/kubernetes" in finding.remediation[0] and "etcd snapshot" in finding.remediation[0]


def test_a_named_pair_error_is_tied_to_its_files_and_secret_without_config():
    events = _events(
        'E0601 11:58:02.000000       1 run.go:74] "command failed" err="unable to load configmap based request-header-client-ca-file: '
        'open /etc/kubernetes/static-pod-certs/configmaps/aggregator-client-ca/ca-bundle.crt: no such file or directory"\n')
    [finding] = correlate_logs(events, Wiring("kubeadm"), [], CheckContext(REFERENCE_UTC, 30, "kubeadm"))
    assert finding.subject.key == "/etc/kubernetes/static-pod-certs/configmaps/aggregator-client-ca/ca-bundle.crt"
    assert finding.subject.object == "openshift-kube-apiserver/aggregator-client-ca" and finding.component == "logs"
    assert "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/configmaps/aggregator-client-ca/" in finding.detail
    assert "line 1" in finding.detail


def test_a_dynamic_pair_name_in_the_error_names_the_pair():
    error = ('tls: private key does not match public key" name="aggregator-proxy-cert::/etc/kubernetes/static-pod-certs/secrets/aggregator-client/tls.crt'
             '::/etc/kubernetes/static-pod-certs/secrets/aggregator-client/tls.key')
    events = _events(f'E0601 11:58:02.000000       1 run.go:74] "command failed" err="{error.split(chr(34))[0]}"\n')
    [plain] = correlate_logs(events, Wiring("kubeadm"), [], CheckContext(REFERENCE_UTC, 30, "kubeadm"))
    # A bare X509KeyPair error before any pair was loaded is the default serving pair's.
    assert plain.label.startswith("the default serving pair") and plain.go_error == "tls: private key does not match public key"
    events = _events('Error: unable to load "aggregator-proxy-cert::/etc/kubernetes/static-pod-certs/secrets/aggregator-client/tls.crt'
                     '::/etc/kubernetes/static-pod-certs/secrets/aggregator-client/tls.key": tls: private key does not match public key\n')
    [named] = correlate_logs(events, Wiring("kubeadm"), [], CheckContext(REFERENCE_UTC, 30, "kubeadm"))
    assert named.label == "aggregator proxy client pair (from the log)"
    assert named.subject.cert.endswith("aggregator-client/tls.crt") and named.subject.object == "openshift-kube-apiserver/aggregator-client"
