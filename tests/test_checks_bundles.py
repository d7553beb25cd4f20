"""analyzer.checks.bundles: CA bundles, signing keys and verification keys, with the error the
component prints. dynamiccertificates names a bundle ``<purpose>::<path>``; the load's error_format
(set by the wiring, tested there) wraps it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.checks.bundles import check_bundle, check_private_key, check_public_keys
from analyzer.checks.registry import run_checks
from analyzer.model.findings import Severity
from analyzer.wiring.model import Load, PrivateKeyPayload, PublicKeysPayload, State
from tests.fixtures.models import CTX, NODE, PKI, bundle_load, component, on_node, wiring
from tests.fixtures.pki import bundle, make_ca, make_leaf

CA = make_ca("kubernetes")
FRONT_PROXY_CA = make_ca("front-proxy-ca")
LEAF = make_leaf(CA, "kube-apiserver", server=True)
MALFORMED = b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n"

CA_PATH = f"{PKI}/ca.crt"
PROXY_CA_PATH = f"{PKI}/front-proxy-ca.crt"

# (component, role, purpose, path, what that component puts before the error)
BUNDLES = {
    "kube-apiserver client CA": ("kube-apiserver", "client-ca", "client-ca-bundle", CA_PATH, ""),
    "kube-apiserver request-header CA": ("kube-apiserver", "requestheader-ca", "request-header", PROXY_CA_PATH, ""),
    "kube-controller-manager client CA": ("kube-controller-manager", "client-ca", "client-ca-bundle", CA_PATH,
                                          "unable to load client CA provider: "),
    "kube-controller-manager request-header CA": ("kube-controller-manager", "requestheader-ca", "request-header", PROXY_CA_PATH,
                                                  "unable to create request header authentication config: "),
}


def make(case: str, data: bytes | None) -> Load:
    component, role, purpose, path, wrap = BUNDLES[case]
    return bundle_load(data, component=component, role=role, purpose=purpose, path=path, error_format=wrap + "{}")


def wrap(case: str) -> str:
    return BUNDLES[case][4]


@pytest.mark.parametrize("case", sorted(BUNDLES))
@pytest.mark.parametrize("data", [bundle(CA), bundle(CA, FRONT_PROXY_CA), LEAF.cert_pem + LEAF.key_pem], ids=["one", "two", "with-key"])
def test_a_bundle_with_a_certificate_loads(case, data):
    assert check_bundle(make(case, data), CTX) == []


@pytest.mark.parametrize("case", sorted(BUNDLES))
def test_a_missing_bundle_fails_its_read(case):
    load = make(case, None)
    [found] = check_bundle(load, CTX)
    assert found.id == "bundle.file-missing"
    assert found.go_error == f"{wrap(case)}open {load.payload.path}: no such file or directory"
    assert found.severity is Severity.CRITICAL and found.blocks_start


def test_a_bundle_finding_names_its_path_as_a_ca_and_the_report_keeps_it_under_key():
    load = make("kube-apiserver client CA", None)
    [found] = check_bundle(load, CTX)
    assert (found.subject.cert, found.subject.key, found.subject.ca) == (None, None, load.payload.path)
    assert found.subject.to_json()["key"] == load.payload.path  # the report's contract is unchanged


@pytest.mark.parametrize("case", sorted(BUNDLES))
def test_an_empty_bundle_is_missing_content(case):
    load = make(case, b"")
    [found] = check_bundle(load, CTX)
    assert found.id == "bundle.file-empty"
    assert found.go_error == f'{wrap(case)}missing content for CA bundle "{load.dynamic_name}"'
    assert found.problem == f"{load.payload.path.rsplit('/', 1)[1]} is empty (0 bytes)"


@pytest.mark.parametrize("case", sorted(BUNDLES))
@pytest.mark.parametrize("data", [b"garbage\n", LEAF.key_pem, b"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END CERTIFICATE-----\n"],
                         ids=["garbage", "only-a-key", "certificate-with-headers"])
def test_a_bundle_without_a_certificate_is_certutils_error(case, data):
    load = make(case, data)
    [found] = check_bundle(load, CTX)
    assert found.id == "bundle.unparseable"
    assert found.go_error == (
        f'{wrap(case)}error loading CA bundle for "{load.dynamic_name}": data does not contain any valid RSA or ECDSA certificates'
    )
    assert "holds no CA certificate" in found.title


@pytest.mark.parametrize("data", [MALFORMED, bundle(CA) + MALFORMED], ids=["alone", "after-a-good-one"])
def test_a_certificate_that_does_not_parse_fails_the_whole_bundle(data):
    load = make("kube-apiserver client CA", data)
    [found] = check_bundle(load, CTX)
    assert found.id == "bundle.unparseable"
    assert found.go_error == f'error loading CA bundle for "client-ca-bundle::{CA_PATH}": x509: malformed certificate'
    assert "holds a certificate that does not parse" in found.title


def test_the_exact_kube_apiserver_error_for_an_empty_client_ca():
    [found] = check_bundle(make("kube-apiserver client CA", b""), CTX)
    assert found.go_error == 'missing content for CA bundle "client-ca-bundle::/etc/kubernetes/pki/ca.crt"'
    assert found.subject.source == f"{CA_PATH} on {NODE}"


def test_etcd_starts_with_an_empty_pool_and_refuses_every_client():
    # etcd's tlsutil.NewCertPool adds what parses; garbage leaves the pool empty, which is no start error.
    load = bundle_load(b"garbage\n", component="etcd", role="etcd-trusted-ca", purpose=None, path=f"{PKI}/etcd/ca.crt",
                       label="etcd client CA bundle", flag="--trusted-ca-file")
    [found] = check_bundle(load, CTX)
    assert found.id == "bundle.empty-pool" and not found.blocks_start
    assert found.severity is Severity.CRITICAL  # kube-apiserver loses its storage
    assert found.go_error == "x509: certificate signed by unknown authority"


def test_an_empty_pool_outside_storage_is_an_error():
    load = bundle_load(b"", role="kubelet-ca", purpose=None, fatal=False, label="kubelet serving CA bundle",
                       flag="--kubelet-certificate-authority")
    [found] = check_bundle(load, CTX)
    assert found.id == "bundle.empty-pool"
    assert found.severity is Severity.ERROR and not found.blocks_start
    assert "every peer it verifies is refused" in found.title


@pytest.mark.parametrize("data", [b"", b"garbage\n"], ids=["empty", "garbage"])
def test_a_bundle_read_with_certutil_stops_the_component(data):
    """kube-controller-manager's --root-ca-file is parsed with certutil.ParseCertsPEM, which refuses a file without certificates."""
    load = bundle_load(data, component="kube-controller-manager", role="root-ca", purpose=None, label="root CA for service-account tokens",
                       flag="--root-ca-file", error_format=f"error parsing root-ca-file at {CA_PATH}: {{}}")
    [found] = check_bundle(load, CTX)
    assert (found.id, found.severity, found.blocks_start) == ("bundle.file-empty" if not data else "bundle.unparseable", Severity.CRITICAL, True)
    assert found.go_error == f"error parsing root-ca-file at {CA_PATH}: data does not contain any valid RSA or ECDSA certificates"


@pytest.mark.parametrize("state", [State.SCRUBBED, State.NOT_IN_EVIDENCE, State.ENCRYPTED])
def test_an_unverifiable_bundle_gives_no_bundle_finding(state):
    load = bundle_load(on_node(CA_PATH, b"-----SCRUBBED", state=state))
    assert check_bundle(load, CTX) == []


# -- service-account keys ------------------------------------------------------------------------

SA_KEY = f"{PKI}/sa.key"
SA_PUB = f"{PKI}/sa.pub"


def signing_key(data: bytes | None, *, fatal: bool = True) -> Load:
    return Load(component="kube-apiserver", node=NODE, role="service-account-signing-key", order=8, fatal=fatal,
                label="service-account signing key", payload=PrivateKeyPayload(SA_KEY, on_node(SA_KEY, data)),
                flag="--service-account-signing-key-file")


def verification_keys(*files: tuple[str, bytes | None]) -> Load:
    return Load(component="kube-apiserver", node=NODE, role="service-account-keys", order=7, fatal=True,
                label="service-account verification keys", flag="--service-account-key-file",
                payload=PublicKeysPayload(tuple(path for path, _ in files), tuple(on_node(path, data) for path, data in files)))


@pytest.mark.parametrize("data", [LEAF.key_pem, LEAF.key_pem_pkcs8], ids=["sec1", "pkcs8"])
def test_a_signing_key_that_parses_gives_no_finding(data):
    assert check_private_key(signing_key(data), CTX) == []


@pytest.mark.parametrize(("data", "problem", "error"), [
    (None, "sa.key does not exist", f"open {SA_KEY}: no such file or directory"),
    (b"", "sa.key is empty (0 bytes)", None),
    (b"garbage\n", "sa.key holds no private key that parses (", None),
    (LEAF.cert_pem, "sa.key holds no private key that parses (", None),
])
def test_a_signing_key_that_does_not_load_stops_kube_apiserver(data, problem, error):
    [found] = check_private_key(signing_key(data), CTX)
    assert found.id == "key.unparseable"
    assert problem in found.title
    assert found.go_error == error
    assert found.severity is Severity.CRITICAL and found.blocks_start


def test_verification_keys_that_parse_give_no_finding():
    assert check_public_keys(verification_keys((SA_PUB, LEAF.public_pem), ("/etc/kubernetes/pki/sa-2.pub", CA.public_pem)), CTX) == []


@pytest.mark.parametrize(("data", "what"), [(b"garbage\n", "holds no public key"), (b"", "is empty"), (None, "is missing")])
def test_every_unusable_verification_key_file_is_a_finding(data, what):
    [found] = check_public_keys(verification_keys((SA_PUB, LEAF.public_pem), ("/etc/kubernetes/pki/sa-2.pub", data)), CTX)
    assert found.id == "keys.unparseable"
    assert what in found.detail and "/etc/kubernetes/pki/sa-2.pub" in found.detail
    assert found.severity is Severity.CRITICAL


def test_a_scrubbed_verification_key_is_not_judged():
    load = verification_keys((SA_PUB, LEAF.public_pem))
    load = replace(load, payload=PublicKeysPayload((SA_PUB,), (on_node(SA_PUB, b"-----SCRUBBED", state=State.SCRUBBED),)))
    assert check_public_keys(load, CTX) == []


def test_two_unusable_verification_key_files_stay_two_findings_in_a_full_run():
    load = verification_keys((SA_PUB, b"garbage\n"), ("/etc/kubernetes/pki/sa-2.pub", b""))
    found = [f for f in run_checks(wiring(component("kube-apiserver", load)), CTX) if f.id == "keys.unparseable"]
    assert sorted(f.title for f in found) == [
        "kube-apiserver cannot start: service-account verification keys: sa-2.pub is unusable",
        "kube-apiserver cannot start: service-account verification keys: sa.pub is unusable",
    ]


RSA_SA = make_leaf(CA, "rsa-sa", key_kind="rsa")


@pytest.mark.parametrize("data", [RSA_SA.key_pem, RSA_SA.key_pem_pkcs8, LEAF.key_pem, LEAF.cert_pem, LEAF.public_pem + RSA_SA.key_pem],
                         ids=["rsa-pkcs1", "rsa-pkcs8", "ec-sec1", "certificate", "public-and-private"])
def test_a_verification_key_file_may_hold_what_keyutil_reads(data):
    """keyutil.ParsePublicKeysPEM takes public keys, certificates, and RSA or EC private keys (sa.key as --service-account-key-file)."""
    assert check_public_keys(verification_keys((SA_PUB, data)), CTX) == []


@pytest.mark.parametrize("data", [LEAF.key_pem_pkcs8, make_leaf(CA, "ed", key_kind="ed25519").key_pem], ids=["ec-pkcs8", "ed25519"])
def test_private_keys_keyutil_does_not_read_are_unusable(data):
    [found] = check_public_keys(verification_keys((SA_PUB, data)), CTX)
    assert found.id == "keys.unparseable"
