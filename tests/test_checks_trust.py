"""analyzer.checks.trust: does the peer's bundle verify the presented chain, and Go's error when not
(with the hint Go adds when a candidate CA has the right name and the wrong key)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.checks.trust import check_trust
from analyzer.gomodel.signature import insecure_algorithm_error
from analyzer.gomodel.verify import verifies
from analyzer.model.findings import Severity
from analyzer.wiring.model import State
from tests.fixtures.models import CTX, leaf_with_usages, on_node, pair_load, peer_trusting, with_pair
from tests.fixtures.pki import bundle, make_ca, make_leaf, resigned_with_openssl

UNKNOWN = "x509: certificate signed by unknown authority"


def hinted(error: str, name: str = "kubernetes") -> str:
    return f'{UNKNOWN} (possibly because of "{error}" while trying to verify candidate authority certificate "{name}")'


@pytest.fixture(scope="module")
def rsa_cas():
    """kubeadm's CA (RSA), and the one `kubeadm init phase certs ca` would make after it was deleted."""
    return make_ca("kubernetes", key_kind="rsa"), make_ca("kubernetes", key_kind="rsa")


ROOT = make_ca("root-ca")
INTERMEDIATE = make_ca("intermediate-ca", issuer=ROOT)
CA = make_ca("kubernetes")


def chain(*pairs):
    return tuple(pair.cert for pair in pairs)


def test_a_leaf_signed_by_a_ca_of_the_bundle_verifies():
    leaf = make_leaf(CA, "kube-apiserver", server=True)
    assert verifies(chain(leaf), chain(make_ca("other"), CA)) == (True, None)


def test_an_intermediate_presented_with_the_leaf_completes_the_chain():
    leaf = make_leaf(INTERMEDIATE, "kube-apiserver", server=True)
    assert verifies(chain(leaf, INTERMEDIATE), chain(ROOT)) == (True, None)


def test_without_its_intermediate_the_leaf_has_no_path():
    leaf = make_leaf(INTERMEDIATE, "kube-apiserver", server=True)
    assert verifies(chain(leaf), chain(ROOT)) == (False, UNKNOWN)


def test_the_intermediate_itself_in_the_bundle_is_an_anchor():
    leaf = make_leaf(INTERMEDIATE, "kube-apiserver", server=True)
    assert verifies(chain(leaf), chain(INTERMEDIATE)) == (True, None)


def test_a_bundle_with_only_an_unrelated_ca_is_plain_unknown_authority():
    leaf = make_leaf(CA, "kube-apiserver", server=True)
    assert verifies(chain(leaf), chain(make_ca("etcd-ca"))) == (False, UNKNOWN)


def test_an_empty_bundle_trusts_nothing():
    assert verifies(chain(make_leaf(CA, "x")), ()) == (False, UNKNOWN)


def test_a_regenerated_rsa_ca_of_the_same_name_gets_gos_hint(rsa_cas):
    old, new = rsa_cas
    leaf = make_leaf(old, "kube-apiserver", server=True, key_kind="rsa")
    assert verifies(chain(leaf), chain(new)) == (False, hinted("crypto/rsa: verification error"))
    assert verifies(chain(leaf), chain(old, new)) == (True, None)  # both CAs in the bundle during a rotation


@pytest.mark.parametrize(("kind", "error"), [
    ("ec", "x509: ECDSA verification failure"),
    ("ed25519", "x509: Ed25519 verification failure"),
])
def test_the_hint_names_the_verification_error_of_the_key_type(kind, error):
    old, new = make_ca("kubernetes", key_kind=kind), make_ca("kubernetes", key_kind=kind)
    leaf = make_leaf(old, "kube-apiserver", server=True)
    assert verifies(chain(leaf), chain(new)) == (False, hinted(error))


@pytest.mark.parametrize(("old_kind", "new_kind", "error"), [
    ("ec", "rsa", "x509: signature algorithm specifies an ECDSA public key, but have public key of type *rsa.PublicKey"),
    ("rsa", "ec", "x509: signature algorithm specifies an RSA public key, but have public key of type *ecdsa.PublicKey"),
    ("rsa", "ed25519", "x509: signature algorithm specifies an RSA public key, but have public key of type ed25519.PublicKey"),
])
def test_a_ca_regenerated_with_another_key_type_gets_the_algorithm_mismatch_hint(old_kind, new_kind, error):
    old, new = make_ca("kubernetes", key_kind=old_kind), make_ca("kubernetes", key_kind=new_kind)
    leaf = make_leaf(old, "kube-apiserver", server=True)
    assert verifies(chain(leaf), chain(new)) == (False, hinted(error))


def test_an_intermediate_with_the_right_name_and_the_wrong_key_is_the_hint():
    impostor = make_ca("intermediate-ca", issuer=ROOT)
    leaf = make_leaf(INTERMEDIATE, "kube-apiserver", server=True)
    assert verifies(chain(leaf, impostor), chain(ROOT)) == (False, hinted("x509: ECDSA verification failure", "intermediate-ca"))


def test_a_candidate_that_is_not_a_ca_cannot_sign_even_with_the_right_key():
    signer = make_leaf(CA, "not-a-ca")  # CA=false
    leaf = leaf_with_usages(signer, "kube-apiserver", None)
    assert verifies(chain(leaf), chain(signer)) == (
        False, hinted("x509: invalid signature: parent certificate cannot sign this kind of certificate", "not-a-ca"))


def test_a_leaf_that_is_itself_in_the_bundle_is_trusted():
    leaf = make_leaf(CA, "kube-apiserver", server=True)
    assert verifies(chain(leaf), chain(leaf)) == (True, None)


@pytest.mark.parametrize("presented", ["by-a", "by-b", "both"])
def test_a_cross_signed_intermediate_verifies_through_either_root(presented):
    """One intermediate (same name and key) signed by two roots; the client trusts only root B."""
    root_a, root_b = make_ca("root-a"), make_ca("root-b")
    by_a = make_ca("shared-intermediate", issuer=root_a)
    by_b = make_ca("shared-intermediate", issuer=root_b, key=by_a.key)
    leaf = make_leaf(by_a, "api.example.com", server=True)
    intermediates = {"by-a": (by_a,), "by-b": (by_b,), "both": (by_a, by_b)}[presented]
    trusted, error = verifies(chain(leaf, *intermediates), chain(root_b))
    assert (trusted, error) == ((False, UNKNOWN) if presented == "by-a" else (True, None))


def test_ed25519_chains_verify():
    ca = make_ca("kubernetes", key_kind="ed25519")
    leaf = make_leaf(ca, "kube-apiserver", server=True, key_kind="ed25519")
    assert verifies(chain(leaf), chain(ca)) == (True, None)


# -- the check ----------------------------------------------------------------------------------


def etcd_client(pair, peer_ca: bytes | None, **options):
    peer = peer_trusting(peer_ca) if peer_ca is not None else None
    return pair_load(pair.cert_pem, pair.key_pem, role="etcd-client", purpose=None, label="etcd client pair", peer=peer, **options)


def test_a_trusted_client_gives_no_finding():
    assert check_trust(etcd_client(make_leaf(CA, "kube-apiserver-etcd-client", client=True), CA.cert_pem), CTX) == []


def test_a_client_whose_issuer_the_peer_does_not_hold_is_refused(rsa_cas):
    old, new = rsa_cas
    pair = make_leaf(old, "kube-apiserver-etcd-client", client=True, key_kind="rsa")
    [found] = check_trust(etcd_client(pair, bundle(new)), CTX)
    assert found.id == "trust.unknown-authority"
    assert found.severity is Severity.CRITICAL  # kube-apiserver without its storage
    assert found.go_error == hinted("crypto/rsa: verification error")
    assert found.peer == "etcd"
    assert "the CA was regenerated" in found.detail
    assert found.evidence == ("trust bundle: /etc/kubernetes/pki/etcd/ca.crt on master-0",)


def test_a_refused_serving_certificate_is_an_error():
    pair = make_leaf(CA, "kube-apiserver", server=True)
    load = pair_load(pair.cert_pem, pair.key_pem, peer=peer_trusting(make_ca("other").cert_pem, name="clients of kube-apiserver", usage="server"))
    [found] = check_trust(load, CTX)
    assert (found.severity, found.go_error) == (Severity.ERROR, UNKNOWN)
    assert "regenerated" not in found.detail


def test_nothing_is_claimed_without_a_readable_peer_bundle():
    pair = make_leaf(CA, "kube-apiserver-etcd-client", client=True)
    assert check_trust(etcd_client(pair, None), CTX) == []
    load = etcd_client(pair, CA.cert_pem)
    scrubbed = replace(load.peer, ca=on_node("/etc/kubernetes/pki/etcd/ca.crt", b"x", state=State.SCRUBBED))
    assert check_trust(replace(load, peer=scrubbed), CTX) == []


def test_a_pair_that_does_not_load_is_not_judged_on_trust():
    pair = make_leaf(make_ca("other"), "kube-apiserver-etcd-client", client=True)
    load = etcd_client(pair, CA.cert_pem)
    assert check_trust(with_pair(load, key=on_node("/k", b"")), CTX) == []


# crypto/x509 checkSignature refuses MD5 and SHA-1 before it tries the key, so Go's hint names the
# algorithm, not a verification error. Real Go 1.27 on a SHA-1 leaf of an RSA CA:
#   CheckSignatureFrom: x509: cannot verify signature: insecure algorithm SHA1-RSA
#   Verify: x509: certificate signed by unknown authority (possibly because of "x509: cannot verify
#   signature: insecure algorithm SHA1-RSA" while trying to verify candidate authority certificate "kubernetes")
@pytest.mark.parametrize(("digest", "go_name"), [("sha1", "SHA1-RSA"), ("md5", "MD5-RSA")])
def test_a_leaf_signed_with_an_insecure_digest_by_its_own_ca(rsa_cas, digest, go_name):
    ca, _ = rsa_cas
    leaf = resigned_with_openssl(make_leaf(ca, "kube-apiserver", server=True, key_kind="rsa"), ca, digest)
    insecure = f"x509: cannot verify signature: insecure algorithm {go_name}"
    assert insecure_algorithm_error(leaf.cert) == insecure
    assert verifies(chain(leaf), chain(ca)) == (False, hinted(insecure))
    [found] = check_trust(pair_load(leaf.cert_pem, leaf.key_pem, peer=peer_trusting(ca.cert_pem)), CTX)
    assert found.go_error == hinted(insecure)
    assert "algorithm Go refuses" in found.detail and "regenerated" not in found.detail


def test_the_same_leaf_signed_with_sha256_verifies(rsa_cas):
    # The control: only the digest differs.
    ca, _ = rsa_cas
    leaf = resigned_with_openssl(make_leaf(ca, "kube-apiserver", server=True, key_kind="rsa"), ca, "sha256")
    assert insecure_algorithm_error(leaf.cert) is None
    assert verifies(chain(leaf), chain(ca)) == (True, None)
