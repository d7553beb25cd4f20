"""analyzer.analysis.recovery: which mechanism keeps each certificate current, what a restart does
with it once it has expired, and the safe-shutdown deadline and next outage it adds up to."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from analyzer.analysis.deadlines import deadlines
from analyzer.analysis.recovery import Recovery, forecast, mechanism, with_recovery
from analyzer.checks.annotations import NOT_AFTER, NOT_BEFORE
from analyzer.checks.context import CheckContext
from analyzer.checks.registry import run_checks
from analyzer.wiring.model import BundlePayload, Copy, KubeconfigPayload, Load
from tests.fixtures.models import NODE, component, in_etcd, on_node, pair_load, synced, wiring, with_pair
from tests.fixtures.pki import DAY, REFERENCE_UTC, YEAR, make_ca, make_leaf

CA = make_ca("kubernetes", not_before=REFERENCE_UTC - 2 * YEAR, lifetime=10 * YEAR)
MONTH = timedelta(days=30)
EXPIRED = make_leaf(CA, "leaf", server=True, not_before=REFERENCE_UTC - 2 * MONTH, lifetime=MONTH)
FRESH = make_leaf(CA, "leaf", server=True, not_before=REFERENCE_UTC - 5 * DAY, lifetime=MONTH)
TARGET = "openshift-kube-apiserver"


def stamp(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def operator_pair(name: str, pair, *, annotations: dict[str, str] | None = None, role: str = "sni", component_name: str = "kube-apiserver"):
    """A kube-apiserver pair synced from an operator's secret, with that secret's rotation annotations."""
    cert = pair.cert
    if annotations is None:
        annotations = {NOT_BEFORE: stamp(cert.not_valid_before_utc), NOT_AFTER: stamp(cert.not_valid_after_utc)}
    secret_cert = replace(in_etcd(TARGET, name, "tls.crt", pair.cert_pem), annotations=tuple(sorted(annotations.items())))
    base = "/etc/kubernetes/static-pod-certs/secrets"
    return pair_load(pair.cert_pem, pair.key_pem, role=role, component=component_name, cert_path=f"{base}/{name}/tls.crt",
                     key_path=f"{base}/{name}/tls.key", label=f"{name} pair", object=f"{TARGET}/{name}",
                     copies=(synced(Copy.SYNCED_FROM, secret_cert, in_etcd(TARGET, name, "tls.key", pair.key_pem)),))


def kubelet_client(pair, *, host_path: str = "/var/lib/kubelet/pki/kubelet-client-current.pem"):
    kubeconfig = KubeconfigPayload(host_path, on_node(host_path, pair.cert_pem), on_node(host_path, pair.key_pem), None, key_file=host_path)
    return Load(component="kubelet", node=NODE, role="kubelet-kubeconfig", order=1, fatal=True, label="kubelet client pair",
                payload=kubeconfig, flag="--kubeconfig")


def findings_of(load, distribution: str):
    wired = wiring(component(load.component, load), distribution=distribution)
    ctx = CheckContext(REFERENCE_UTC, distribution=distribution)
    return with_recovery(wired, run_checks(wired, ctx), REFERENCE_UTC)


def only(findings, id_: str):
    (found,) = [f for f in findings if f.id == id_]
    return found


def test_expired_operator_pair_heals_on_restart_through_the_regeneration_controller():
    found = only(findings_of(operator_pair("localhost-serving-cert-certkey", EXPIRED), "openshift"), "validity.expired")
    assert found.recovery == "heals-on-restart"
    assert "cert-regeneration controller" in found.recovery_detail and "certrotation" in found.recovery_detail


def test_expired_operator_pair_whose_annotation_claims_later_is_not_regenerated():
    later = {NOT_BEFORE: stamp(EXPIRED.cert.not_valid_before_utc), NOT_AFTER: stamp(REFERENCE_UTC + 60 * DAY)}
    findings = findings_of(operator_pair("localhost-serving-cert-certkey", EXPIRED, annotations=later), "openshift")
    expired = only(findings, "validity.expired")
    assert expired.recovery == "needs-reissue" and stamp(REFERENCE_UTC + 60 * DAY) in expired.recovery_detail
    drift = only(findings, "annotations.drift")
    assert drift.severity.value == "warning" and drift.recovery == "needs-reissue"


def test_expired_operator_pair_without_annotations_is_regenerated():
    found = only(findings_of(operator_pair("kubelet-client", EXPIRED, annotations={}, role="kubelet-client"), "openshift"), "validity.expired")
    assert found.recovery == "heals-on-restart"


def test_broken_operator_pair_is_never_replaced_by_the_operator():
    load = operator_pair("localhost-serving-cert-certkey", FRESH)
    key = load.payload.key
    load = with_pair(load, key=replace(key, data=b"", state=type(key.state).EMPTY))  # emptied key file, annotations still sound
    findings = [f for f in findings_of(load, "openshift") if f.id.startswith("pair.")]
    assert findings and {f.recovery for f in findings} == {"needs-reissue"}
    assert "needNewTargetCertKeyPair" in findings[0].recovery_detail


@pytest.mark.parametrize(("distribution", "expected"), [("openshift", "needs-csr-approval"), ("kubeadm", "needs-reissue")])
def test_expired_kubelet_client(distribution, expected):
    found = only(findings_of(kubelet_client(EXPIRED), distribution), "validity.expired")
    assert found.recovery == expected


def test_expiring_kubelet_client_on_kubeadm_heals_while_rotating_but_not_when_embedded():
    soon = make_leaf(CA, "system:node:master-0", client=True, not_before=REFERENCE_UTC - 360 * DAY, lifetime=YEAR)
    rotating = only(findings_of(kubelet_client(soon), "kubeadm"), "validity.expiring")
    assert rotating.recovery == "heals-on-restart"
    embedded = only(findings_of(kubelet_client(soon, host_path="/etc/kubernetes/kubelet.conf"), "kubeadm"), "validity.expiring")
    assert embedded.recovery == "needs-reissue" and "kubeadm renews nothing" in embedded.recovery_detail


def test_kubeadm_leaf_needs_reissue_and_k3s_leaf_heals_but_its_ca_does_not():
    load = pair_load(EXPIRED.cert_pem, EXPIRED.key_pem)
    assert only(findings_of(load, "kubeadm"), "validity.expired").recovery == "needs-reissue"
    finding = only(findings_of(load, "kubeadm"), "validity.expired")
    k3s, detail = forecast(finding, load, "k3s", REFERENCE_UTC)
    assert k3s is Recovery.HEALS and "CertificateRenewDays" in detail
    ca_load = replace(load, payload=BundlePayload(load.payload.cert_path, load.payload.cert), role="client-ca")
    assert mechanism(ca_load, "rke2").after_expiry is Recovery.REISSUE


def test_unknown_distribution_says_unknown():
    found = only(findings_of(pair_load(EXPIRED.cert_pem, EXPIRED.key_pem), "self-hosted"), "validity.expired")
    assert found.recovery == "unknown"


def test_deadlines_openshift_kubelet_client_bounds_the_shutdown_and_user_cert_the_outage():
    kubelet = make_leaf(CA, "system:node:master-0", client=True, not_before=REFERENCE_UTC - 10 * DAY, lifetime=MONTH)
    user = make_leaf(CA, "api.example.com", server=True, not_before=REFERENCE_UTC - 10 * DAY, lifetime=YEAR)
    operator = make_leaf(CA, "localhost", server=True, not_before=REFERENCE_UTC - 25 * DAY, lifetime=MONTH)
    user_load = replace(pair_load(user.cert_pem, user.key_pem, role="sni", order=3, label="user pair"), source_object="openshift-config/api-cert")
    wired = wiring(component("kube-apiserver", operator_pair("localhost-serving-cert-certkey", operator), user_load),
                   component("kubelet", kubelet_client(kubelet)), distribution="openshift")
    result = deadlines(wired, REFERENCE_UTC)
    assert result.safe_shutdown.when_utc == kubelet.cert.not_valid_after_utc and "kubelet client pair" in result.safe_shutdown.label
    # The operator's pair ends first, but the operator renews it: the next outage is the user's certificate.
    assert result.next_outage.when_utc == user.cert.not_valid_after_utc
    as_json = result.to_json(REFERENCE_UTC)
    assert as_json["safe_shutdown"]["passed"] is False and as_json["safe_shutdown"]["days_left"] == 20


def test_deadline_passed_when_a_certificate_that_does_not_heal_already_expired():
    wired = wiring(component("kubelet", kubelet_client(EXPIRED)), distribution="kubeadm")
    result = deadlines(wired, REFERENCE_UTC)
    assert result.safe_shutdown.when_utc < REFERENCE_UTC and result.to_json(REFERENCE_UTC)["safe_shutdown"]["passed"] is True
    assert result.next_outage is None


def test_an_expired_rke2_serving_pair_heals_on_restart_and_its_ca_bounds_the_shutdown(tmp_path):
    from analyzer.scan import ScanOptions, run_scan
    from tests.fixtures.node_trees import build_node_tree
    from tests.fixtures.other_planes import rke2_files, with_serial_zero

    ca = with_serial_zero(make_ca("rke2-server-ca@1"))
    expired = make_leaf(ca, "kube-apiserver", dns=("kubernetes.default.svc",), ips=("10.43.0.1", "127.0.0.1"), server=True,
                        not_before=REFERENCE_UTC - 2 * YEAR)
    tree = build_node_tree(tmp_path, rke2_files(serving=expired), "host-root", "tar.gz", name="node")
    result = run_scan(ScanOptions(evidence=[tree], reference_utc=REFERENCE_UTC))
    assert result.wiring.distribution == "rke2"
    found = [f for f in result.findings if f.component == "kube-apiserver" and f.id == "validity.expired"]
    assert found and found[0].recovery == "heals-on-restart" and "CertificateRenewDays" in found[0].recovery_detail
    # Leaves renew at start; what does not is a CA, and nothing renews anything while RKE2 runs.
    assert result.deadlines is not None and result.deadlines.safe_shutdown is not None
    assert "CA" in result.deadlines.safe_shutdown.why or "rotate-ca" in result.deadlines.safe_shutdown.why
