"""analyzer.checks.usage: the leaf's extended key usage against what its role needs, as Go's
verifier decides it (no extension or anyExtendedKeyUsage allows everything)."""

from __future__ import annotations

import pytest

from analyzer.wiring.model import STORAGE_ROLES
from cryptography.x509.oid import ExtendedKeyUsageOID

from analyzer.checks.usage import check_usage
from analyzer.model.findings import Severity
from analyzer.wiring.model import Loader
from tests.fixtures.models import CTX, kubeconfig_load, leaf_with_usages, pair_load, peer_trusting
from tests.fixtures.pki import make_ca

SERVER, CLIENT, ANY = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
CODE_SIGNING = ExtendedKeyUsageOID.CODE_SIGNING
CA = make_ca("kubernetes")

ROLES = {  # role: (pair_load options, the usages it needs)
    "serving": (dict(), ("serverAuth",)),
    "sni": (dict(role="sni", purpose="sni-serving-cert"), ("serverAuth",)),
    "etcd-server": (dict(role="etcd-server", component="etcd", loader=Loader.TLS_PAIR, purpose=None), ("serverAuth",)),
    "etcd-peer": (dict(role="etcd-peer", component="etcd", loader=Loader.TLS_PAIR, purpose=None), ("serverAuth", "clientAuth")),
    "etcd-client": (dict(role="etcd-client", loader=Loader.TLS_PAIR, purpose=None), ("clientAuth",)),
    "kubelet-client": (dict(role="kubelet-client", loader=Loader.TLS_PAIR, purpose=None, fatal=False), ("clientAuth",)),
    "proxy-client": (dict(role="proxy-client", purpose="aggregator-proxy-cert"), ("clientAuth",)),
}
_OIDS = {"serverAuth": SERVER, "clientAuth": CLIENT}


def load_for(role: str, usages):
    options, _ = ROLES[role]
    pair = leaf_with_usages(CA, "subject", usages)
    return pair_load(pair.cert_pem, pair.key_pem, **options)


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("usages", [None, [ANY], [ANY, CODE_SIGNING], [SERVER, CLIENT]], ids=["no-eku", "any", "any-among-others", "both"])
def test_an_unrestricted_or_complete_certificate_is_allowed(role, usages):
    assert check_usage(load_for(role, usages), CTX) == []


@pytest.mark.parametrize("role", sorted(ROLES))
def test_exactly_the_needed_usages_are_enough(role):
    assert check_usage(load_for(role, [_OIDS[name] for name in ROLES[role][1]]), CTX) == []


@pytest.mark.parametrize(("role", "usages", "lacks"), [
    ("serving", [CLIENT], "serverAuth"),
    ("sni", [CLIENT], "serverAuth"),
    ("etcd-server", [CLIENT], "serverAuth"),
    ("etcd-peer", [SERVER], "clientAuth"),
    ("etcd-peer", [CLIENT], "serverAuth"),
    ("etcd-peer", [CODE_SIGNING], "serverAuth and clientAuth"),
    ("etcd-client", [SERVER], "clientAuth"),
    ("kubelet-client", [SERVER], "clientAuth"),
    ("proxy-client", [SERVER], "clientAuth"),
])
def test_a_missing_usage_is_gos_incompatible_key_usage(role, usages, lacks):
    [found] = check_usage(load_for(role, usages), CTX)
    assert found.id == "usage.incompatible"
    # Severity by consequence (checks/severity.py): refused storage connections take the control plane down.
    assert found.severity is (Severity.CRITICAL if role in STORAGE_ROLES else Severity.ERROR) and not found.blocks_start
    assert found.go_error == "x509: certificate specifies an incompatible key usage"
    assert found.title.endswith(f"certificate lacks {lacks}")


def test_client_auth_only_on_a_serving_role_names_what_it_carries_and_who_refuses():
    pair = leaf_with_usages(CA, "kube-apiserver", [CLIENT])
    load = pair_load(pair.cert_pem, pair.key_pem, peer=peer_trusting(CA.cert_pem, name="clients of kube-apiserver", usage="server"))
    [found] = check_usage(load, CTX)
    assert "carries extended key usages clientAuth but its role needs serverAuth" in found.detail
    assert found.peer == "clients of kube-apiserver"


def test_a_kubeconfig_client_needs_client_auth():
    assert check_usage(kubeconfig_load(leaf_with_usages(CA, "system:kube-scheduler", [CLIENT]), CA.cert_pem, "https://10.0.0.1:6443"), CTX) == []
    [found] = check_usage(kubeconfig_load(leaf_with_usages(CA, "system:kube-scheduler", [SERVER]), CA.cert_pem, "https://10.0.0.1:6443"), CTX)
    assert found.title.endswith("lacks clientAuth")


def test_a_role_without_a_usage_rule_is_not_judged():
    pair = leaf_with_usages(CA, "signer", [CODE_SIGNING])
    assert check_usage(pair_load(pair.cert_pem, pair.key_pem, role="cluster-signing", loader=Loader.TLS_PAIR, purpose=None), CTX) == []


def test_a_pair_that_does_not_load_is_not_judged_on_usage():
    pair = leaf_with_usages(CA, "kube-apiserver", [CLIENT])
    assert check_usage(pair_load(pair.cert_pem, b""), CTX) == []
