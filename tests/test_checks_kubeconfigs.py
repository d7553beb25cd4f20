"""analyzer.checks.kubeconfigs: which certificate kube-apiserver serves for a host (SNI selection as
dynamiccertificates and crypto/tls do it), and whether each kubeconfig's CA trusts it."""

from __future__ import annotations

import pytest

from analyzer.checks.kubeconfigs import check_kubeconfig_servers, served_load
from analyzer.model.findings import Severity
from tests.fixtures.models import CTX, component, kubeconfig_load, pair_load, sni_load, wiring
from tests.fixtures.pki import make_ca, make_leaf

CA = make_ca("kubernetes")
USER_CA = make_ca("corporate-ca")
DEFAULT = make_leaf(CA, "kube-apiserver", server=True, dns=("kubernetes", "api-int.example.com"), ips=("10.0.0.1",))


def sni_cert(*dns: str, cn: str = "sni", ips: tuple[str, ...] = ()):
    return make_leaf(USER_CA, cn, server=True, dns=dns, ips=ips)


def apiserver(*snis):
    """kube-apiserver with the default pair and SNI entries given as (pair, explicit names)."""
    loads = [pair_load(DEFAULT.cert_pem, DEFAULT.key_pem)]
    loads += [sni_load(pair, number, of=len(snis), names=names) for number, (pair, names) in enumerate(snis, start=1)]
    return component("kube-apiserver", *loads)


SELECTION = {
    # case: (SNI entries, host, expected: "default" or the SNI number)
    "no sni entries": ((), "api.example.com", "default"),
    "nothing matches": (((sni_cert("api.example.com"), ()),), "other.example.com", "default"),
    "extracted exact name": (((sni_cert("api.example.com"), ()),), "api.example.com", 1),
    "host case is folded": (((sni_cert("api.example.com"), ()),), "API.Example.com", 1),
    "explicit beats extracted": (((sni_cert("api.example.com"), ()), (sni_cert(), ("api.example.com",))), "api.example.com", 2),
    "exact beats wildcard": (((sni_cert("*.example.com"), ()), (sni_cert("api.example.com"), ())), "api.example.com", 2),
    "extracted exact beats explicit wildcard": (((sni_cert(), ("*.example.com",)), (sni_cert("api.example.com"), ())), "api.example.com", 2),
    "wildcard when nothing is exact": (((sni_cert("api.example.com"), ()), (sni_cert("*.example.com"), ())), "console.example.com", 2),
    "wildcard covers one label only": (((sni_cert("*.example.com"), ()),), "a.b.example.com", "default"),
    "earlier entry wins": (((sni_cert("api.example.com"), ()), (sni_cert("api.example.com"), ())), "api.example.com", 1),
    "earlier explicit entry wins": (((sni_cert(), ("api.example.com",)), (sni_cert(), ("api.example.com",))), "api.example.com", 1),
    "explicit names hide the certificate's": (((sni_cert("api.example.com"), ("other.example.com",)),), "api.example.com", "default"),
    "the common name counts": (((sni_cert(cn="api.example.com"), ()),), "api.example.com", 1),
    "a common name that is no DNS name does not": (((sni_cert(cn="API.Example.com"), ()),), "api.example.com", "default"),
    "ip sans never count": (((sni_cert("api.example.com", ips=("10.0.0.1",)), ()),), "10.0.0.1", "default"),
    "a common name that is an ip does not count": (((sni_cert(cn="10.0.0.5"), ()),), "10.0.0.5", "default"),
    "an explicit ip name counts": (((sni_cert(), ("10.0.0.1",)),), "10.0.0.1", 1),
    "an ip never matches a wildcard": (((sni_cert("*.0.0.1"), ()),), "10.0.0.1", "default"),
}


@pytest.mark.parametrize("case", sorted(SELECTION))
def test_sni_selection(case):
    entries, host, expected = SELECTION[case]
    server = apiserver(*entries)
    chosen = served_load(server, host)
    assert chosen is not None
    assert chosen.label == ("default serving pair" if expected == "default" else f"SNI pair {expected} of {len(entries)}, sni-{expected}")


def test_without_a_default_pair_nothing_is_served_for_an_unknown_name():
    assert served_load(component("kube-apiserver", sni_load(sni_cert("api.example.com"), 1, of=1)), "other.example.com") is None


# -- the check ----------------------------------------------------------------------------------


def case(kubeconfig_ca: bytes, server: str, *, owner: str = "kube-controller-manager", snis=(), tls_server_name=None):
    client = make_leaf(CA, f"system:{owner}", client=True)
    kubeconfig = kubeconfig_load(client, kubeconfig_ca, server, component=owner, tls_server_name=tls_server_name)
    return wiring(apiserver(*snis), component(owner, kubeconfig))


@pytest.mark.parametrize("server", ["https://10.0.0.1:6443", "https://api-int.example.com:6443", "https://kubernetes"])
def test_a_kubeconfig_that_trusts_and_names_the_served_certificate_gives_no_finding(server):
    assert check_kubeconfig_servers(case(CA.cert_pem, server), CTX) == []


def test_a_kubeconfig_with_a_regenerated_ca_does_not_trust_kube_apiserver():
    regenerated = make_ca("kubernetes")
    [found] = check_kubeconfig_servers(case(regenerated.cert_pem, "https://10.0.0.1:6443"), CTX)
    assert (found.id, found.severity) == ("kubeconfig.ca-does-not-trust-server", Severity.ERROR)
    assert found.go_error == (
        'tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of '
        '"x509: ECDSA verification failure" while trying to verify candidate authority certificate "kubernetes")'
    )
    assert found.component == "kube-controller-manager" and found.peer == "kube-apiserver"
    assert "default serving pair" in found.detail


def test_a_host_the_served_certificate_does_not_cover():
    [found] = check_kubeconfig_servers(case(CA.cert_pem, "https://10.0.0.2:6443"), CTX)
    assert found.id == "kubeconfig.server-name-mismatch"
    assert found.go_error == "tls: failed to verify certificate: x509: certificate is valid for 10.0.0.1, not 10.0.0.2"


def test_tls_server_name_is_the_name_verified():
    assert check_kubeconfig_servers(case(CA.cert_pem, "https://10.0.0.2:6443", tls_server_name="kubernetes"), CTX) == []


def test_the_certificate_chosen_by_sni_is_the_one_verified():
    snis = ((sni_cert("api.example.com"), ()),)
    [found] = check_kubeconfig_servers(case(CA.cert_pem, "https://api.example.com:6443", snis=snis), CTX)
    assert found.id == "kubeconfig.ca-does-not-trust-server"
    assert "SNI pair 1 of 1, sni-1" in found.detail and "CN=corporate-ca" in found.detail
    assert found.go_error == "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    assert check_kubeconfig_servers(case(USER_CA.cert_pem, "https://api.example.com:6443", snis=snis), CTX) == []


def test_a_kubeconfig_people_use_fails_like_any_other():
    """Severity by consequence: an administrator's kubectl that will certainly fail is error-level (issue 13)."""
    [found] = check_kubeconfig_servers(case(make_ca("kubernetes").cert_pem, "https://10.0.0.1:6443", owner="admin kubeconfigs"), CTX)
    assert found.severity is Severity.ERROR


def test_a_kubeconfig_on_a_node_without_kube_apiserver_is_checked_against_another_master():
    kubeconfig = kubeconfig_load(make_leaf(CA, "system:node:worker-1", client=True), make_ca("kubernetes").cert_pem,
                                 "https://10.0.0.1:6443", component="kubelet", node="worker-1")
    [found] = check_kubeconfig_servers(wiring(apiserver(), component("kubelet", kubeconfig, node="worker-1")), CTX)
    assert found.id == "kubeconfig.ca-does-not-trust-server"
