"""analyzer.checks.key_size: RSA keys under 2048 bits are a policy warning, never an error."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from analyzer.checks.context import CheckContext
from analyzer.checks.key_size import check_rsa_key_size
from analyzer.model.findings import Severity
from tests.fixtures.models import CTX, pair_load
from tests.fixtures.pki import REFERENCE_UTC, make_ca, make_leaf

CA = make_ca("kubernetes", key_kind="rsa")


@pytest.fixture(scope="module")
def weak_pair():
    """kube-apiserver's serving pair with a 1024-bit RSA key (cryptography's smallest)."""
    return make_leaf(CA, "kube-apiserver", server=True, key=rsa.generate_private_key(public_exponent=65537, key_size=1024))


def test_a_1024_bit_rsa_key_is_a_policy_warning_with_its_fix(weak_pair):
    [found] = check_rsa_key_size(pair_load(weak_pair.cert_pem, weak_pair.key_pem), CTX)
    assert (found.id, found.severity) == ("policy.rsa-key-size", Severity.WARNING)
    assert "1024-bit RSA key" in found.title and "at least 2048" in found.detail
    # kubeadm certs renew makes a new key (renewal/filerenewer.go -> pkiutil.NewCertAndKey): renewal replaces it.
    assert "kubeadm certs renew apiserver" in found.remediation
    openshift = check_rsa_key_size(pair_load(weak_pair.cert_pem, weak_pair.key_pem), CheckContext(REFERENCE_UTC, 30, "openshift"))
    assert "oc adm ocp-certificates regenerate-leaf" in openshift[0].remediation[0]


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_2048_bit_rsa_and_ec_keys_pass(kind):
    pair = make_leaf(CA, "kube-apiserver", server=True, key_kind=kind)
    assert check_rsa_key_size(pair_load(pair.cert_pem, pair.key_pem), CTX) == []


def test_a_pair_that_does_not_load_is_left_to_the_pair_check(weak_pair):
    other = make_leaf(CA, "kube-apiserver", server=True)
    assert check_rsa_key_size(pair_load(weak_pair.cert_pem, other.key_pem), CTX) == []
