"""The log as evidence (issue 12): the certificate subject from certDetail lines (GetHumanCertDetail)
matched to the pairs the log shows loaded, and kube-apiserver's etcd client errors named with the
pair or CA behind them."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from analyzer.analysis.logs import correlate_logs, loaded_certificates
from analyzer.checks.context import CheckContext
from analyzer.gomodel.klog import iter_log_events
from analyzer.wiring.model import BundlePayload, Component, Load, Location, Material, State, Wiring
from tests.fixtures.openshift_case import OpenShiftCluster
from tests.fixtures.pki import REFERENCE_UTC
from tests.fixtures.scenarios import SEED_SNI_LOADED

GO_ERROR = "failed to load SNI cert and key: tls: failed to parse private key"


def _go_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def human_cert_detail(cert: x509.Certificate, now: datetime) -> str:
    """k8s.io/apiserver dynamiccertificates/util.go GetHumanCertDetail, written again for the fixture."""
    def cn(name: x509.Name) -> str:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(values[0].value) if values else ""

    subject, issuer = cn(cert.subject), cn(cert.issuer)
    usages = []
    try:
        for usage in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value:
            usages.append({ExtendedKeyUsageOID.CLIENT_AUTH: "client", ExtendedKeyUsageOID.SERVER_AUTH: "serving"}.get(usage, "0"))
    except x509.ExtensionNotFound:
        pass
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] + list(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    orgs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    groups = f" groups=[{','.join(orgs)}]" if orgs else ""
    serving = f" validServingFor=[{','.join(names)}]" if names else ""
    signer = "<self>" if subject == issuer else issuer
    return (f'"{subject}" [{",".join(usages)}]{groups}{serving} issuer="{signer}" '
            f"({_go_time(cert.not_valid_before_utc)} to {_go_time(cert.not_valid_after_utc)} (now={_go_time(now)}))")


def _structured(kind: str, name: str, detail: str, index: int | None = 0) -> str:
    escaped = detail.replace("\\", "\\\\").replace('"', '\\"')
    position = f" index={index}" if index is not None else ""
    return f'I0601 10:00:01.000000       1 tlsconfig.go:200] "Loaded {kind}"{position} certName="{name}" certDetail="{escaped}"'


def _events(lines: list[str]):
    return list(iter_log_events(("\n".join(lines) + "\n").encode(), "kube-apiserver.log", REFERENCE_UTC))


def test_cert_detail_lines_are_read_in_both_klog_forms():
    cluster = OpenShiftCluster()
    user = cluster.user_certs[0].pair.cert
    name = "sni-serving-cert::/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.crt::/x/tls.key"
    detail = human_cert_detail(user, REFERENCE_UTC)
    lines = [_structured("SNI cert", name, detail),
             f'I0601 10:00:02.000000       1 tlsconfig.go:178] loaded SNI cert [0/"{name}"]: {detail}',
             # A real line as a descheduler logged it (the loopback pair; upstream format, certDetail escaped once).
             'I0121 02:37:10.127266       1 named_certificates.go:53] "Loaded SNI cert" index=0 certName="self-signed loopback" '
             'certDetail="\\"apiserver-loopback-client@1642732630\\" [serving] validServingFor=[apiserver-loopback-client] '
             'issuer=\\"apiserver-loopback-client-ca@1642732629\\" (2022-01-21 01:37:09 +0000 UTC to 2023-01-21 01:37:09 +0000 UTC '
             '(now=2022-01-21 02:37:10.127237 +0000 UTC))"']
    found = loaded_certificates(_events(lines))
    assert [c.cert_name for c in found] == [name, name, "self-signed loopback"]
    for loaded in found[:2]:
        assert loaded.common_name == cluster.user_certs[0].names[0] and loaded.issuer == "Example Corp Issuing CA"
        assert loaded.not_after_utc == user.not_valid_after_utc.replace(microsecond=0)
        assert loaded.names == cluster.user_certs[0].names
    assert found[2].common_name == "apiserver-loopback-client@1642732630"
    assert found[2].not_after_utc == datetime(2023, 1, 21, 1, 37, 9, tzinfo=UTC)


def test_the_failing_pair_is_described_from_the_run_that_loaded_it():
    """The seed's log after an earlier good run: the user pair it fails on was served before as CN=api…"""
    cluster = OpenShiftCluster()
    entries = cluster.named_certificates()
    user_entry = entries[SEED_SNI_LOADED]
    name = f"sni-serving-cert::{user_entry['certFile']}::{user_entry['keyFile']}"
    earlier = [_structured("SNI cert", name, human_cert_detail(cluster.user_certs[0].pair.cert, REFERENCE_UTC), index=5)]
    run = [f'I0601 11:58:0{i}.200000       1 dynamic_serving_content.go:111] Loaded a new cert/key pair for '
           f'"sni-serving-cert::{e["certFile"]}::{e["keyFile"]}"' for i, e in enumerate(entries[:SEED_SNI_LOADED], start=2)]
    events = _events(earlier + run + [f"Error: {GO_ERROR}"])
    ctx = CheckContext(REFERENCE_UTC, 30, "openshift")
    found = correlate_logs(events, Wiring("openshift"), [], ctx)
    sni = next(f for f in found if f.id == "logs.sni-failure")
    assert sni.subject.object == "openshift-kube-apiserver/user-serving-cert-000"
    assert f"served this pair's certificate as CN={cluster.user_certs[0].names[0]}, issued by CN=Example Corp Issuing CA" in sni.detail
    assert "kube-apiserver.log line 1" in sni.detail
    # Without the earlier run, nothing is said about the subject.
    alone = next(f for f in correlate_logs(_events(run + [f"Error: {GO_ERROR}"]), Wiring("openshift"), [], ctx) if f.id == "logs.sni-failure")
    assert "served this pair's certificate" not in alone.detail


def test_an_expiry_error_is_matched_to_the_certificate_the_log_shows_loaded():
    cluster = OpenShiftCluster()
    serving = cluster.targets["service-network-serving-certkey"].cert
    name = "serving-cert::/etc/kubernetes/static-pod-certs/secrets/service-network-serving-certkey/tls.crt::/k"
    after = serving.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [_structured("serving cert", name, human_cert_detail(serving, REFERENCE_UTC), index=None),
             f'E0601 11:59:00.000000       1 controller.go:1] "Unhandled Error" err="Get https://172.30.0.1:443: x509: certificate '
             f'has expired or is not yet valid: current time 2026-01-01T00:00:00Z is after {after}"']
    found = correlate_logs(_events(lines), Wiring("openshift"), [], CheckContext(REFERENCE_UTC, 30, "openshift"))
    expired = next(f for f in found if f.id == "logs.x509-expired")
    assert f"serving it as {name}" in expired.detail and f"CN={cluster.service_ip}" in expired.detail


# -- etcd client errors ---------------------------------------------------------------------------

STORAGE_LINE = ('F0601 11:58:30.000000       1 storage_decorator.go:57] Unable to create storage backend: config (&{ /registry '
                '{[https://10.0.0.10:2379 https://localhost:2379] /etc/kubernetes/static-pod-resources/secrets/etcd-client/tls.key '
                '/etc/kubernetes/static-pod-resources/secrets/etcd-client/tls.crt '
                '/etc/kubernetes/static-pod-resources/configmaps/etcd-serving-ca/ca-bundle.crt} true 0xc0007103f0 <nil> 5m0s 1m0s}), '
                'err (context deadline exceeded)')


def _grpc(error: str) -> str:
    return ('W0601 11:58:10.000000       1 logging.go:59] [core] [Channel #1 SubChannel #2] grpc: addrConn.createTransport failed '
            'to connect to {Addr: "10.0.0.10:2379", ServerName: "10.0.0.10", }. Err: connection error: desc = '
            f'"transport: authentication handshake failed: {error}"')


def test_etcd_refusing_the_client_pair_is_named_from_the_log_alone():
    events = _events([_grpc("remote error: tls: bad certificate"), _grpc("remote error: tls: bad certificate"), STORAGE_LINE])
    found = correlate_logs(events, Wiring("openshift"), [], CheckContext(REFERENCE_UTC, 30, "openshift"))
    refused = [f for f in found if f.id == "logs.etcd-client" and f.role == "etcd-client"]
    assert len(refused) == 1, [(f.id, f.role, f.title) for f in found]
    assert refused[0].go_error == "remote error: tls: bad certificate"
    assert refused[0].subject.cert == "/etc/kubernetes/static-pod-resources/secrets/etcd-client/tls.crt"
    assert refused[0].subject.key == "/etc/kubernetes/static-pod-resources/secrets/etcd-client/tls.key"
    assert "2 line(s)" in refused[0].detail and "10.0.0.10:2379" in refused[0].detail
    assert "etcd refused kube-apiserver's client certificate" in refused[0].detail
    # The storage line's own error is the timeout that followed: reported, not blamed on a certificate.
    assert [f.role for f in found if f.id == "logs.etcd-client" and f.go_error == "context deadline exceeded"] == ["etcd"]


def test_kube_apiserver_refusing_etcds_certificate_is_put_on_its_etcd_ca():
    ca_path = "/etc/kubernetes/static-pod-resources/configmaps/etcd-serving-ca/ca-bundle.crt"
    apiserver = Component("kube-apiserver", "master-0", "openshift", "test")
    bundle = BundlePayload(ca_path, Material(State.NOT_IN_EVIDENCE, Location(input="evidence", host_path=ca_path)))
    apiserver.loads = [Load("kube-apiserver", "master-0", "etcd-ca", 1, True, "etcd CA bundle", bundle,
                            flag="--etcd-cafile", object="openshift-kube-apiserver/etcd-serving-ca-7")]
    wiring = Wiring("openshift", components=[apiserver])
    events = _events([_grpc("tls: failed to verify certificate: x509: certificate signed by unknown authority")])
    found = correlate_logs(events, wiring, [], CheckContext(REFERENCE_UTC, 30, "openshift"))
    ca = next(f for f in found if f.id == "logs.etcd-client")
    assert ca.role == "etcd-ca" and ca.label == "etcd CA bundle" and ca.subject.object == "openshift-kube-apiserver/etcd-serving-ca-7"
    assert ca_path in ca.detail and "judged with its --etcd-cafile" in ca.detail


def test_a_pair_served_before_its_file_was_replaced_is_told(tmp_path):
    """The log shows the user's named certificate served as last year's certificate; the node's file holds
    the renewed one: the pairs are matched by their dynamic name and told apart by CN and validity."""
    from analyzer.evidence.detect import detect_evidence
    from analyzer.wiring.build import build_wiring
    from analyzer.wiring.nodes import identify_nodes, join_nodes
    from tests.fixtures import scenarios
    from tests.fixtures.pki import DAY, make_leaf

    cluster = OpenShiftCluster()
    user = cluster.user_certs[0]
    before = make_leaf(cluster.customer_ca, user.names[0], dns=user.names, server=True, not_before=REFERENCE_UTC - 400 * DAY,
                       lifetime=365 * DAY)
    entry = cluster.named_certificates()[SEED_SNI_LOADED]
    name = f"sni-serving-cert::{entry['certFile']}::{entry['keyFile']}"
    tree = scenarios._tree(tmp_path, "node", cluster.files())
    with detect_evidence([tree]) as evidence:
        nodes, _conflicts = join_nodes(identify_nodes(evidence.nodes))
        wiring = build_wiring(nodes, None)
        ctx = CheckContext(REFERENCE_UTC, 30, "openshift")
        stale = correlate_logs(_events([_structured("SNI cert", name, human_cert_detail(before.cert, REFERENCE_UTC), index=5)]),
                               wiring, [], ctx)
        same = correlate_logs(_events([_structured("SNI cert", name, human_cert_detail(user.pair.cert, REFERENCE_UTC), index=5)]),
                              wiring, [], ctx)
    (differs,) = [f for f in stale if f.id == "logs.served-certificate-differs"]
    assert differs.label == "SNI pair 6 of 6, user-serving-cert-000" and differs.severity.value == "info"
    assert f"to {before.cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}" in differs.detail
    assert f"valid until {user.pair.cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}" in differs.detail
    assert not [f for f in same if f.id == "logs.served-certificate-differs"]
