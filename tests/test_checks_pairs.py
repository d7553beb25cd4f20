"""analyzer.checks.pairs: will the pair load, and the exact error the component prints when not.

Three loaders, three wrappings: the default serving pair (dynamiccertificates, raw error), an SNI
pair (dynamiccertificates, ``failed to load SNI cert and key: `` in front, the wiring's
error_format) and a TLS pair (``tls.LoadX509KeyPair``: no missing-content check, so an empty file
is X509KeyPair's own error).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization

from analyzer.checks.pairs import check_pair, predict_load_error
from analyzer.model.findings import Severity
from analyzer.wiring.model import BundlePayload, Loader, PrivateKeyPayload, PublicKeysPayload, State
from tests.fixtures.models import CTX, PKI, kubeconfig_load, on_node, pair_load, peer_trusting
from tests.fixtures.pki import make_ca, make_leaf, new_key

CA = make_ca("kubernetes")
LEAF = make_leaf(CA, "kube-apiserver", dns=("kubernetes",), server=True)
OTHER = make_leaf(CA, "someone-else", client=True)
RSA_PKCS8 = new_key("rsa").private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
BROKEN_KEY = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
# What Go 1.27.3's X509KeyPair returns for BROKEN_KEY (checked with tests/gooracle): the PKCS#8
# parser's asn1 error, wrapped.
BROKEN_KEY_ERROR = (
    "tls: failed to parse private key: asn1: structure error: tags don't match (16 vs {class:0 tag:0 length:0 "
    "isCompound:false}) {optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> "
    "stringType:0 timeType:0 set:false omitEmpty:false} pkcs8 @2"
)

SNI_CERT = "/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.crt"
SNI_KEY = "/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key"

# How each loader is configured: keyword arguments of pair_load, and what it puts before an error.
LOADERS = {
    "serving": (dict(), ""),
    "sni": (dict(role="sni", purpose="sni-serving-cert", cert_path=SNI_CERT, key_path=SNI_KEY, order=7,
                 label="SNI pair 6 of 6, user-serving-cert-000", flag="--tls-sni-cert-key #6"),
            "failed to load SNI cert and key: "),
    "proxy-client": (dict(role="proxy-client", purpose="aggregator-proxy-cert", cert_path=f"{PKI}/front-proxy-client.crt",
                          key_path=f"{PKI}/front-proxy-client.key", label="aggregator proxy client pair"), ""),
    "etcd-client": (dict(role="etcd-client", loader=Loader.TLS_PAIR, purpose=None, cert_path=f"{PKI}/apiserver-etcd-client.crt",
                         key_path=f"{PKI}/apiserver-etcd-client.key", label="etcd client pair"), ""),
}


def make(loader: str, cert: bytes | None, key: bytes | None, **overrides):
    options, wrap = LOADERS[loader]
    return pair_load(cert, key, **{"error_format": wrap + "{}", **options, **overrides})


def prefix(loader: str) -> str:
    return LOADERS[loader][1]


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_healthy_pair_gives_no_finding(loader):
    load = make(loader, LEAF.cert_pem, LEAF.key_pem)
    assert predict_load_error(load) is None
    assert check_pair(load, CTX) == []


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("side", ["cert", "key"])
def test_a_missing_file_fails_its_read_with_the_path(loader, side):
    load = make(loader, None if side == "cert" else LEAF.cert_pem, None if side == "key" else LEAF.key_pem)
    path = load.payload.cert_path if side == "cert" else load.payload.key_path
    [found] = check_pair(load, CTX)
    assert found.id == "pair.file-missing"
    assert found.go_error == f"{prefix(loader)}open {path}: no such file or directory"
    assert found.subject.source == f"{path} on master-0"
    assert found.severity is Severity.CRITICAL and found.blocks_start


@pytest.mark.parametrize("loader", ["serving", "sni", "proxy-client"])
@pytest.mark.parametrize("side", ["cert", "key"])
def test_an_empty_file_under_the_dynamic_loader_is_missing_content(loader, side):
    load = make(loader, b"" if side == "cert" else LEAF.cert_pem, b"" if side == "key" else LEAF.key_pem)
    [found] = check_pair(load, CTX)
    assert found.id == "pair.file-empty"
    assert found.go_error == f'{prefix(loader)}missing content for serving cert "{load.dynamic_name}"'
    assert found.problem.endswith("is empty (0 bytes)")
    assert found.subject.source == f"{load.payload.cert_path if side == 'cert' else load.payload.key_path} on master-0"


def test_the_dynamic_name_is_purpose_cert_and_key():
    load = make("sni", LEAF.cert_pem, b"")
    [found] = check_pair(load, CTX)
    assert found.go_error == (
        'failed to load SNI cert and key: missing content for serving cert '
        f'"sni-serving-cert::{SNI_CERT}::{SNI_KEY}"'
    )


@pytest.mark.parametrize(("side", "failure", "error"), [
    ("cert", "pair.cert-no-pem", "tls: failed to find any PEM data in certificate input"),
    ("key", "pair.key-no-pem", "tls: failed to find any PEM data in key input"),
])
def test_an_empty_file_under_tls_load_is_x509keypairs_own_error(side, failure, error):
    load = make("etcd-client", b"" if side == "cert" else LEAF.cert_pem, b"" if side == "key" else LEAF.key_pem)
    [found] = check_pair(load, CTX)
    assert (found.id, found.go_error) == (failure, error)


def test_a_missing_file_wins_over_an_empty_one_because_both_are_read_first():
    load = make("serving", b"", None)
    [found] = check_pair(load, CTX)
    assert found.id == "pair.file-missing"
    assert found.go_error == f"open {load.payload.key_path}: no such file or directory"


def test_the_certificate_is_read_before_the_key():
    load = make("sni", None, None)
    [found] = check_pair(load, CTX)
    assert found.go_error == f"failed to load SNI cert and key: open {SNI_CERT}: no such file or directory"


BROKEN = {
    "garbage certificate": (b"this is not PEM\n", LEAF.key_pem, "pair.cert-no-pem", "tls: failed to find any PEM data in certificate input", "cert"),
    "garbage key": (LEAF.cert_pem, b"this is not PEM\n", "pair.key-no-pem", "tls: failed to find any PEM data in key input", "key"),
    "switched": (LEAF.key_pem, LEAF.cert_pem, "pair.cert-inputs-switched",
                 "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched", "cert"),
    "certificate as key": (LEAF.cert_pem, LEAF.cert_pem, "pair.key-is-certificate",
                           "tls: found a certificate rather than a key in the PEM for the private key", "key"),
    "unparseable key": (LEAF.cert_pem, BROKEN_KEY, "pair.key-unparseable", BROKEN_KEY_ERROR, "key"),
    "someone else's key": (LEAF.cert_pem, OTHER.key_pem, "pair.key-mismatch", "tls: private key does not match public key", "key"),
    "key of another type": (LEAF.cert_pem, RSA_PKCS8, "pair.key-type-mismatch", "tls: private key type does not match public key type", "key"),
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_x509keypair_errors_are_predicted_word_for_word(loader, case):
    cert, key, finding_id, error, at_fault = BROKEN[case]
    load = make(loader, cert, key)
    [found] = check_pair(load, CTX)
    assert found.id == finding_id
    assert found.go_error == prefix(loader) + error
    assert found.subject.source == f"{load.payload.cert_path if at_fault == 'cert' else load.payload.key_path} on master-0"
    assert found.severity is Severity.CRITICAL and found.blocks_start
    assert found.title.startswith(f"kube-apiserver cannot start: {load.label}: ")


def test_a_mismatch_names_the_key_file_and_both_public_keys():
    [found] = check_pair(make("sni", LEAF.cert_pem, OTHER.key_pem), CTX)
    assert found.problem.startswith("tls.key holds a key that does not belong to the certificate (")
    assert found.fingerprint is not None  # the certificate concerned, even when the key is at fault


def test_a_pair_that_does_not_stop_the_component_is_an_error_about_its_peer():
    peer = peer_trusting(CA.cert_pem, name="kubelets")
    load = make("etcd-client", LEAF.cert_pem, OTHER.key_pem, role="kubelet-client", fatal=False, peer=peer)
    [found] = check_pair(load, CTX)
    assert found.severity is Severity.ERROR and not found.blocks_start
    assert found.peer == "kubelets"
    assert "cannot open connections that need this pair" in found.detail


@pytest.mark.parametrize("state", [State.SCRUBBED, State.ELIDED, State.ENCRYPTED, State.NOT_IN_EVIDENCE, State.UNREADABLE])
def test_a_pair_the_evidence_cannot_show_is_left_to_the_presence_check(state):
    key = on_node(f"{PKI}/apiserver.key", b"-----SCRUBBED", state=state)
    assert check_pair(make("serving", LEAF.cert_pem, key), CTX) == []


def test_only_pair_loaders_are_checked():
    load = make("serving", LEAF.cert_pem, b"")
    pair = load.payload
    for payload in (BundlePayload(pair.cert_path, pair.cert), PrivateKeyPayload(pair.key_path, pair.key),
                    PublicKeysPayload((pair.key_path,), (pair.key,))):
        assert check_pair(replace(load, payload=payload), CTX) == []


# -- kubeconfigs: client-go calls X509KeyPair on the embedded data or the files it names ---------

def kubeconfig_pair(cert: bytes, key: bytes, *, owner: str = "kube-scheduler"):
    load = kubeconfig_load(LEAF, CA.cert_pem, "https://10.0.0.1:6443", component=owner)
    config = load.payload
    return replace(load, payload=replace(config, cert=replace(config.cert, data=cert), key=replace(config.key, data=key)))


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_kubeconfig_whose_client_pair_does_not_load_cannot_authenticate(case):
    cert, key, finding_id, error, at_fault = BROKEN[case]
    [found] = check_pair(kubeconfig_pair(cert, key), CTX)
    assert (found.id, found.go_error) == (finding_id, error)  # no wrapping: client-go returns X509KeyPair's error
    assert found.severity is Severity.ERROR and not found.blocks_start and found.peer == "kube-apiserver"
    assert found.subject.source == "/etc/kubernetes/controller-manager.conf on master-0"
    assert "cannot authenticate to kube-apiserver with this kubeconfig" in found.detail
    data_key = "client-certificate-data" if at_fault == "cert" else "client-key-data"
    assert found.problem.startswith(data_key)


def test_a_broken_admin_kubeconfig_is_an_error():
    """kubectl with it will certainly fail: error-level whoever uses it (checks/severity.py rule 2)."""
    [found] = check_pair(kubeconfig_pair(LEAF.cert_pem, OTHER.key_pem, owner="admin kubeconfigs"), CTX)
    assert found.severity is Severity.ERROR


def test_a_healthy_kubeconfig_pair():
    assert check_pair(kubeconfig_pair(LEAF.cert_pem, LEAF.key_pem), CTX) == []
