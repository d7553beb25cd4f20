"""analyzer.checks.names: required names are errors, advised names warnings, in Go's words; the
front proxy's CN against --requestheader-allowed-names."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from analyzer.checks.names import check_allowed_client_names, check_names
from analyzer.gomodel.clientgo import bundle
from analyzer.model.findings import Severity
from analyzer.wiring.model import Peer, State
from tests.fixtures.models import CTX, on_node, pair_load
from tests.fixtures.pki import make_ca, make_leaf

CA = make_ca("kubernetes")
SERVING = make_leaf(CA, "kube-apiserver", server=True, dns=("kubernetes", "kubernetes.default", "kubernetes.default.svc", "*.apps.example.com"),
                    ips=("10.96.0.1", "192.0.2.10"))
NO_IPS = make_leaf(CA, "kube-apiserver", server=True, dns=("kubernetes", "kubernetes.default"))
NO_SANS = make_leaf(CA, "kube-apiserver", server=True)


def serving(pair, expected=(), advised=()):
    return pair_load(pair.cert_pem, pair.key_pem, expected=expected, advised=advised)


@pytest.mark.parametrize("name", ["kubernetes.default.svc", "10.96.0.1", "KUBERNETES.default", "console.apps.example.com", "kubernetes."])
def test_a_covered_name_gives_no_finding(name):
    assert check_names(serving(SERVING, expected=(name,), advised=(name,)), CTX) == []


@pytest.mark.parametrize(("pair", "name", "error"), [
    (NO_IPS, "kubernetes.default.svc", "x509: certificate is valid for kubernetes, kubernetes.default, not kubernetes.default.svc"),
    (NO_IPS, "10.96.0.1", "x509: cannot validate certificate for 10.96.0.1 because it doesn't contain any IP SANs"),
    (SERVING, "10.96.0.2", "x509: certificate is valid for 10.96.0.1, 192.0.2.10, not 10.96.0.2"),
    (SERVING, "a.b.apps.example.com", "x509: certificate is valid for kubernetes, kubernetes.default, kubernetes.default.svc, *.apps.example.com, not a.b.apps.example.com"),
    (NO_SANS, "api.example.com", "x509: certificate is not valid for any names, but wanted to match api.example.com"),
    (make_leaf(CA, "api.example.com", server=True), "api.example.com", "x509: certificate relies on legacy Common Name field, use SANs instead"),
])
def test_a_missing_required_name_is_an_error_in_gos_words(pair, name, error):
    [found] = check_names(serving(pair, expected=(name,)), CTX)
    assert (found.id, found.severity) == ("names.missing", Severity.ERROR)
    assert found.go_error == error
    assert found.title.endswith(f"does not cover {name}")


def test_a_missing_advised_name_is_a_warning():
    [found] = check_names(serving(NO_IPS, expected=("kubernetes",), advised=("kubernetes.default.svc.cluster.local", "master-0")), CTX)
    assert (found.id, found.severity) == ("names.advised-missing", Severity.WARNING)
    assert found.title.endswith("does not cover kubernetes.default.svc.cluster.local, master-0")
    assert found.go_error == "x509: certificate is valid for kubernetes, kubernetes.default, not kubernetes.default.svc.cluster.local"


def test_required_and_advised_are_reported_separately():
    found = check_names(serving(NO_IPS, expected=("10.96.0.1",), advised=("master-0",)), CTX)
    assert [(f.id, f.severity) for f in found] == [("names.missing", Severity.ERROR), ("names.advised-missing", Severity.WARNING)]


def test_without_names_to_check_nothing_is_said():
    assert check_names(serving(NO_SANS), CTX) == []


def test_a_pair_that_does_not_load_is_not_judged_on_names():
    assert check_names(pair_load(NO_SANS.cert_pem, None, expected=("kubernetes",)), CTX) == []


# -- the front proxy's CN against --requestheader-allowed-names ------------------------------------

FRONT_PROXY_CA = make_ca("front-proxy-ca")


def proxy_client(cn: str, allowed: tuple[str, ...]):
    pair = make_leaf(FRONT_PROXY_CA, cn, client=True)
    load = pair_load(pair.cert_pem, pair.key_pem, role="proxy-client")
    return replace(load, peer=Peer("aggregated API servers", "client", None, None, allowed_names=allowed))


def test_the_proxy_client_must_be_an_allowed_name():
    [found] = check_allowed_client_names(proxy_client("front-proxy-client-2", ("front-proxy-client",)), CTX)
    assert (found.id, found.severity) == ("names.not-allowed", Severity.ERROR)
    assert found.go_error == "x509: subject with cn=front-proxy-client-2 is not in the allowed list"
    assert any("--requestheader-allowed-names" in step for step in found.remediation)
    assert not any("certSANs" in step for step in found.remediation)  # a CN problem, not a SAN one


@pytest.mark.parametrize("allowed", [("front-proxy-client",), ()])  # an empty list allows any name
def test_an_allowed_or_unrestricted_proxy_client_passes(allowed):
    assert check_allowed_client_names(proxy_client("front-proxy-client", allowed), CTX) == []


def test_a_certificate_whose_names_do_not_parse_is_not_a_crash():
    """cryptography parses extensions lazily, Go eagerly: Go refuses such a certificate, there is no name to compare."""
    der = make_leaf(CA, "x", dns=("aaaa.example",), server=True).cert.public_bytes(Encoding.DER)
    malformed = der.replace(b"aaaa.example", b"a\xffaa.example")  # a dNSName that is not IA5
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(malformed) + b"-----END CERTIFICATE-----\n"
    assert bundle(pem) == ((), "x509: SAN dNSName is malformed")  # Go 1.27.3's ParseCertificate
    scrubbed = on_node("/etc/kubernetes/pki/apiserver.key", b"", state=State.SCRUBBED)
    assert check_names(pair_load(pem, scrubbed, expected=("aaaa.example",)), CTX) == []
