"""Tests for analyzer.gomodel.keypair: Go's tls.X509KeyPair replayed, and x509 verify messages."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID

from analyzer.gomodel.fmt import go_quote, go_rfc3339, go_string_list
from analyzer.gomodel.keypair import (
    ERR_CERT_NO_PEM,
    ERR_CERT_SWITCHED,
    ERR_KEY_IS_CERT,
    ERR_KEY_MISMATCH,
    ERR_KEY_NO_PEM,
    ERR_KEY_PARSE,
    ERR_KEY_PKCS8_UNKNOWN,
    ERR_KEY_TYPE_MISMATCH,
    ERR_UNKNOWN_PUBLIC_KEY,
    PairFailure,
    PairOutcome,
    load_x509_key_pair,
)
from analyzer.gomodel.hostname import find_hostname_error, format_hostname_error
from analyzer.gomodel.verify import (
    find_validity_error,
    format_unknown_authority,
    format_validity_error,
    go_hint_certificate_name,
)
from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.keys import KeyAlgorithm, KeyEncoding

UTC = dt.UTC
NOT_BEFORE_UTC = dt.datetime(2024, 1, 1, tzinfo=UTC)
NOT_AFTER_UTC = dt.datetime(2025, 1, 1, tzinfo=UTC)
PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER
TRADITIONAL, PKCS8 = serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8
NO_PASSWORD = serialization.NoEncryption()
SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")
SHA384_WITH_RSA = bytes.fromhex("06092a864886f70d01010c")


def make_cert(subject_key, *, issuer_key=None, cn="kube-apiserver", org=None, serial=1, dns=(), ips=(), issuer_cn=None):
    """A certificate for ``subject_key``, self-signed unless ``issuer_key`` is given."""
    signer = issuer_key or subject_key
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    if org:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    subject = x509.Name(attributes)
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]) if issuer_cn else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE_UTC)
        .not_valid_after(NOT_AFTER_UTC)
    )
    if dns or ips:
        names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    algorithm = None if isinstance(signer, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    return builder.sign(signer, algorithm)


def pem_block(block_type: str, der: bytes) -> bytes:
    return f"-----BEGIN {block_type}-----\n".encode() + base64.encodebytes(der) + f"-----END {block_type}-----\n".encode()


def key_pem(key, fmt=TRADITIONAL, encryption=NO_PASSWORD) -> bytes:
    return key.private_bytes(PEM, fmt, encryption)


class Pki:
    """Keys and certificates shared by the tests of this module (key generation is slow)."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(65537, 2048)
        self.rsa_other = rsa.generate_private_key(65537, 2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ec_other = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.ed_other = ed25519.Ed25519PrivateKey.generate()
        self.ca = rsa.generate_private_key(65537, 2048)
        self.rsa_cert = make_cert(self.rsa, issuer_key=self.ca, issuer_cn="ca")
        self.ec_cert = make_cert(self.ec)
        self.ed_cert = make_cert(self.ed)
        self.ca_cert = make_cert(self.ca, cn="ca")

    def cert_pem(self, name: str = "rsa_cert") -> bytes:
        return getattr(self, name).public_bytes(PEM)

    def leaf_der(self) -> bytes:
        return self.rsa_cert.public_bytes(DER)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# --------------------------------------------------------------------------------------------
# Pairs Go loads
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cert", "key", "fmt", "encoding", "algorithm"),
    [
        ("rsa_cert", "rsa", TRADITIONAL, KeyEncoding.PKCS1, KeyAlgorithm.RSA),
        ("rsa_cert", "rsa", PKCS8, KeyEncoding.PKCS8, KeyAlgorithm.RSA),
        ("ec_cert", "ec", TRADITIONAL, KeyEncoding.SEC1, KeyAlgorithm.ECDSA),
        ("ec_cert", "ec", PKCS8, KeyEncoding.PKCS8, KeyAlgorithm.ECDSA),
        ("ed_cert", "ed", PKCS8, KeyEncoding.PKCS8, KeyAlgorithm.ED25519),
    ],
)
def test_matching_pairs_load(pki, cert, key, fmt, encoding, algorithm):
    result = load_x509_key_pair(pki.cert_pem(cert), key_pem(getattr(pki, key), fmt))
    assert result.outcome is PairOutcome.LOADS and result.ok
    assert (result.failure, result.go_error) == (None, None)
    assert result.leaf == getattr(pki, cert)
    assert (result.private_key.encoding, result.private_key.algorithm) == (encoding, algorithm)


def test_a_chain_keeps_every_certificate_and_compares_only_the_leaf(pki):
    result = load_x509_key_pair(pki.cert_pem() + pki.cert_pem("ca_cert"), key_pem(pki.rsa))
    assert result.ok
    assert result.chain == (pki.rsa_cert, pki.ca_cert)
    assert result.leaf == pki.rsa_cert


def test_a_broken_intermediate_does_not_stop_the_load(pki):
    # X509KeyPair parses only the first certificate.
    broken = pem_block("CERTIFICATE", pki.ca_cert.public_bytes(DER)[:-30])
    result = load_x509_key_pair(pki.cert_pem() + broken, key_pem(pki.rsa))
    assert result.ok and len(result.chain_der) == 2 and result.chain == (pki.rsa_cert,)


def test_other_blocks_before_the_key_are_skipped(pki):
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    result = load_x509_key_pair(pki.cert_pem("ec_cert"), params + key_pem(pki.ec))
    assert result.ok and result.key_block.type == "EC PRIVATE KEY"


def test_cert_and_key_in_one_file_load(pki):
    # kubelet-client-current.pem holds both and is passed as both inputs.
    both = pki.cert_pem() + key_pem(pki.rsa)
    assert load_x509_key_pair(both, both).ok


def test_crlf_and_junk_around_blocks_still_load(pki):
    cert = b"Certificate:\n    Data: ...\n" + pki.cert_pem().replace(b"\n", b"\r\n")
    assert load_x509_key_pair(cert, b"# key\n" + key_pem(pki.rsa)).ok


# --------------------------------------------------------------------------------------------
# Every X509KeyPair error string with an input that produces it
# --------------------------------------------------------------------------------------------


def _leaf_with(der_edit: Callable[[bytes], bytes]) -> Callable[[Pki], tuple[bytes, bytes]]:
    return lambda p: (pem_block("CERTIFICATE", der_edit(p.leaf_der())), key_pem(p.rsa))


def _negative_serial(der: bytes) -> bytes:
    # TBS: [0] EXPLICIT version 3, then serial INTEGER 1 (02 01 01) -> -1 (02 01 ff).
    marker = bytes.fromhex("a003020102020101")
    return der.replace(marker, bytes.fromhex("a0030201020201ff"), 1)


def _version(value: int) -> Callable[[bytes], bytes]:
    """TBS [0] EXPLICIT version INTEGER 2 (v3) replaced by a one-byte ``value`` (-128..127)."""
    marker = bytes.fromhex("a003020102")
    return lambda der: der.replace(marker, bytes.fromhex("a0030201") + value.to_bytes(1, "big", signed=True), 1)


def _other_leaf(key_factory):
    def build(p: Pki) -> tuple[bytes, bytes]:
        cert = make_cert(key_factory(), issuer_key=p.ca, issuer_cn="ca")
        return cert.public_bytes(PEM), key_pem(p.rsa)

    return build


ERROR_CASES = {
    "empty-cert": (lambda p: (b"", key_pem(p.rsa)), PairFailure.CERT_NO_PEM, ERR_CERT_NO_PEM),
    "cert-is-text": (lambda p: (b"not a certificate\n", key_pem(p.rsa)), PairFailure.CERT_NO_PEM, ERR_CERT_NO_PEM),
    "inputs-switched": (lambda p: (key_pem(p.rsa), p.cert_pem()), PairFailure.CERT_INPUTS_SWITCHED, ERR_CERT_SWITCHED),
    "pkcs8-key-as-cert": (lambda p: (key_pem(p.rsa, PKCS8), p.cert_pem()), PairFailure.CERT_INPUTS_SWITCHED, ERR_CERT_SWITCHED),
    "cert-has-public-key": (
        lambda p: (p.rsa.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo), key_pem(p.rsa)),
        PairFailure.CERT_NO_CERTIFICATE_BLOCK,
        'tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [PUBLIC KEY]',
    ),
    "cert-has-two-keys": (
        lambda p: (key_pem(p.ec) + key_pem(p.rsa, PKCS8), key_pem(p.rsa)),
        PairFailure.CERT_NO_CERTIFICATE_BLOCK,
        'tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [EC PRIVATE KEY PRIVATE KEY]',
    ),
    "empty-key": (lambda p: (p.cert_pem(), b""), PairFailure.KEY_NO_PEM, ERR_KEY_NO_PEM),
    "key-is-text": (lambda p: (p.cert_pem(), b"oops\n"), PairFailure.KEY_NO_PEM, ERR_KEY_NO_PEM),
    "key-is-cert": (lambda p: (p.cert_pem(), p.cert_pem()), PairFailure.KEY_IS_CERTIFICATE, ERR_KEY_IS_CERT),
    "key-has-public-key-and-cert": (
        lambda p: (p.cert_pem(), p.rsa.public_key().public_bytes(PEM, serialization.PublicFormat.PKCS1) + p.cert_pem()),
        PairFailure.KEY_NO_PRIVATE_KEY_BLOCK,
        'tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [RSA PUBLIC KEY CERTIFICATE]',
    ),
    "key-for-another-rsa-cert": (lambda p: (p.cert_pem(), key_pem(p.rsa_other)), PairFailure.KEY_MISMATCH, ERR_KEY_MISMATCH),
    "key-for-another-ec-cert": (lambda p: (p.cert_pem("ec_cert"), key_pem(p.ec_other)), PairFailure.KEY_MISMATCH, ERR_KEY_MISMATCH),
    "key-for-another-ed25519-cert": (
        lambda p: (p.cert_pem("ed_cert"), key_pem(p.ed_other, PKCS8)),
        PairFailure.KEY_MISMATCH,
        ERR_KEY_MISMATCH,
    ),
    "rsa-cert-ec-key": (lambda p: (p.cert_pem(), key_pem(p.ec)), PairFailure.KEY_TYPE_MISMATCH, ERR_KEY_TYPE_MISMATCH),
    "rsa-cert-pkcs8-ed25519-key": (
        lambda p: (p.cert_pem(), key_pem(p.ed, PKCS8)),
        PairFailure.KEY_TYPE_MISMATCH,
        ERR_KEY_TYPE_MISMATCH,
    ),
    "ec-cert-rsa-key": (lambda p: (p.cert_pem("ec_cert"), key_pem(p.rsa)), PairFailure.KEY_TYPE_MISMATCH, ERR_KEY_TYPE_MISMATCH),
    "ed25519-cert-ec-key": (lambda p: (p.cert_pem("ed_cert"), key_pem(p.ec)), PairFailure.KEY_TYPE_MISMATCH, ERR_KEY_TYPE_MISMATCH),
    "pkcs8-x25519-key": (
        lambda p: (p.cert_pem(), key_pem(x25519.X25519PrivateKey.generate(), PKCS8)),
        PairFailure.KEY_PKCS8_UNKNOWN_TYPE,
        ERR_KEY_PKCS8_UNKNOWN,
    ),
    "encrypted-pkcs8-key": (
        lambda p: (p.cert_pem(), key_pem(p.rsa, PKCS8, serialization.BestAvailableEncryption(b"pw"))),
        PairFailure.KEY_UNPARSEABLE,
        ERR_KEY_PARSE,
    ),
    "legacy-encrypted-key": (
        lambda p: (p.cert_pem(), key_pem(p.rsa, TRADITIONAL, serialization.BestAvailableEncryption(b"pw"))),
        PairFailure.KEY_UNPARSEABLE,
        ERR_KEY_PARSE,
    ),
    "truncated-key-der": (
        lambda p: (p.cert_pem(), pem_block("RSA PRIVATE KEY", p.rsa.private_bytes(DER, TRADITIONAL, NO_PASSWORD)[:700])),
        PairFailure.KEY_UNPARSEABLE,
        ERR_KEY_PARSE,
    ),
    "pkcs1-key-with-trailing-bytes": (
        lambda p: (p.cert_pem(), pem_block("RSA PRIVATE KEY", p.rsa.private_bytes(DER, TRADITIONAL, NO_PASSWORD) + b"\x00")),
        PairFailure.KEY_UNPARSEABLE,
        ERR_KEY_PARSE,
    ),
    "empty-key-block": (
        lambda p: (p.cert_pem(), b"-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n"),
        PairFailure.KEY_UNPARSEABLE,
        ERR_KEY_PARSE,
    ),
    "openssh-key-block": (
        lambda p: (p.cert_pem(), pem_block("OPENSSH PRIVATE KEY", b"openssh-key-v1\x00rest")),
        PairFailure.KEY_UNPARSEABLE,
        ERR_KEY_PARSE,
    ),
    "secp256k1-key": (
        lambda p: (p.cert_pem(), key_pem(ec.generate_private_key(ec.SECP256K1()))),
        PairFailure.KEY_UNPARSEABLE,
        ERR_KEY_PARSE,
    ),
    "truncated-leaf-der": (_leaf_with(lambda d: d[:-40]), PairFailure.LEAF_UNPARSEABLE, "x509: malformed certificate"),
    "leaf-with-trailing-data": (_leaf_with(lambda d: d + b"\x00\x00"), PairFailure.LEAF_UNPARSEABLE, "x509: trailing data"),
    "leaf-not-a-certificate": (
        _leaf_with(lambda d: bytes.fromhex("3003020101")),
        PairFailure.LEAF_UNPARSEABLE,
        "x509: malformed tbs certificate",
    ),
    "leaf-signature-algorithms-differ": (
        _leaf_with(lambda d: d[: d.rindex(SHA256_WITH_RSA)] + SHA384_WITH_RSA + d[d.rindex(SHA256_WITH_RSA) + len(SHA256_WITH_RSA) :]),
        PairFailure.LEAF_UNPARSEABLE,
        "x509: inner and outer signature algorithm identifiers don't match",
    ),
    "leaf-negative-serial": (_leaf_with(_negative_serial), PairFailure.LEAF_UNPARSEABLE, "x509: negative serial number"),
    "leaf-version-4": (_leaf_with(_version(3)), PairFailure.LEAF_UNPARSEABLE, "x509: invalid version"),
    "leaf-version-6": (_leaf_with(_version(5)), PairFailure.LEAF_UNPARSEABLE, "x509: invalid version"),
    "leaf-negative-version": (_leaf_with(_version(-1)), PairFailure.LEAF_UNPARSEABLE, "x509: malformed version"),
    "leaf-on-secp256k1": (
        _other_leaf(lambda: ec.generate_private_key(ec.SECP256K1())),
        PairFailure.LEAF_UNPARSEABLE,
        "x509: unsupported elliptic curve",
    ),
    "dsa-leaf": (
        _other_leaf(lambda: dsa.generate_private_key(2048)),
        PairFailure.UNKNOWN_PUBLIC_KEY_ALGORITHM,
        ERR_UNKNOWN_PUBLIC_KEY,
    ),
    "ed448-leaf": (_other_leaf(ed448.Ed448PrivateKey.generate), PairFailure.UNKNOWN_PUBLIC_KEY_ALGORITHM, ERR_UNKNOWN_PUBLIC_KEY),
    # Go checks the key PEM before parsing the leaf: an empty key wins over a broken leaf.
    "broken-leaf-and-empty-key": (
        lambda p: (pem_block("CERTIFICATE", p.leaf_der()[:-40]), b""),
        PairFailure.KEY_NO_PEM,
        ERR_KEY_NO_PEM,
    ),
}


@pytest.mark.parametrize(("build", "failure", "go_error"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_go_error_strings(pki, build, failure, go_error):
    """The texts above are Go 1.25's (before X509KeyPair wrapped the PKCS#8 error)."""
    cert_pem, key_input = build(pki)
    result = load_x509_key_pair(cert_pem, key_input, go_version=(1, 25))
    assert result.outcome is PairOutcome.FAILS and not result.ok
    assert (result.failure, result.go_error) == (failure, go_error)


@pytest.mark.parametrize(("build", "failure", "go_error"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_go_error_strings_of_current_go(go_oracle, pki, build, failure, go_error):
    """The same cases with the Go the model follows by default: its text is real Go's."""
    cert_pem, key_input = build(pki)
    result = load_x509_key_pair(cert_pem, key_input)
    go = go_oracle.ask({"pair": {"cert": cert_pem, "key": key_input}})["pair"]
    assert result.failure is failure
    assert go["error"] is not None and go["error"].startswith(go_error)
    assert result.go_error == go["error"]


def test_every_failure_kind_has_a_case():
    assert {case[1] for case in ERROR_CASES.values()} == set(PairFailure)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize(
    ("case", "old_outcome"),
    [
        ("pkcs8-x25519-key", ERR_KEY_PARSE),  # Go 1.19 cannot parse X25519 in PKCS#8 at all
        ("leaf-negative-serial", None),  # Go before 1.23 accepts negative serial numbers
    ],
)
def test_older_go_versions(pki, case, old_outcome):
    cert_pem, key_input = ERROR_CASES[case][0](pki)
    assert load_x509_key_pair(cert_pem, key_input, go_version=(1, 19)).go_error == old_outcome
    assert load_x509_key_pair(cert_pem, key_input).go_error == ERROR_CASES[case][2]


@pytest.mark.parametrize(
    ("key_input", "detail"),
    [
        (b"", "the key input is empty (0 bytes)"),
        (b"0 bytes long", "the key input was empty (must-gather recorded 0 bytes)"),
        (b"garbage\n", "the key input holds no PEM block Go can decode"),
        (None, "the key input is DER, but X509KeyPair reads only PEM"),
    ],
)
def test_a_key_without_pem_says_why(pki, key_input, detail):
    if key_input is None:
        key_input = pki.rsa.private_bytes(DER, TRADITIONAL, NO_PASSWORD)
    result = load_x509_key_pair(pki.cert_pem(), key_input)
    assert (result.go_error, result.detail) == (ERR_KEY_NO_PEM, detail)


@pytest.mark.parametrize(
    ("encryption_format", "detail"),
    [(PKCS8, "PKCS#8 EncryptedPrivateKeyInfo"), (TRADITIONAL, "Proc-Type: 4,ENCRYPTED")],
)
def test_encrypted_keys_are_explained(pki, encryption_format, detail):
    data = key_pem(pki.rsa, encryption_format, serialization.BestAvailableEncryption(b"pw"))
    result = load_x509_key_pair(pki.cert_pem(), data)
    assert result.go_error.startswith(ERR_KEY_PARSE + ": asn1: ") and detail in result.detail


def test_a_mismatch_names_both_fingerprints(pki):
    result = load_x509_key_pair(pki.cert_pem(), key_pem(pki.rsa_other))
    assert "RSA 2048 key" in result.detail and result.private_key.public_key_sha256[:16] in result.detail


def test_go_formats_string_lists_like_fmt():
    assert go_string_list(["EC PARAMETERS", "PUBLIC KEY"]) == "[EC PARAMETERS PUBLIC KEY]"
    assert go_string_list([]) == "[]"


def test_results_never_show_key_material(pki):
    data = key_pem(pki.rsa_other)
    der = pki.rsa_other.private_bytes(DER, TRADITIONAL, NO_PASSWORD)
    for result in (load_x509_key_pair(pki.cert_pem(), data), load_x509_key_pair(pki.cert_pem(), key_pem(pki.rsa))):
        text = repr(result) + str(result.detail)
        assert data.split(b"\n")[1].decode() not in text
        assert der.hex()[:48] not in text


# --------------------------------------------------------------------------------------------
# Redacted evidence
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cert_input", "key_input", "which"),
    [
        (b"-----SCRUBBED CERTIFICATE-----\n", b"-----SCRUBBED RSA PRIVATE KEY-----\n", "certificate"),
        (None, b"-----SCRUBBED RSA PRIVATE KEY-----\n", "key"),
        (None, b"1675 bytes long", "key"),
        (None, b"***** SCRUBBED BASE64 PEM *****", "key"),
    ],
)
def test_redacted_inputs_are_unverifiable(pki, cert_input, key_input, which):
    result = load_x509_key_pair(cert_input if cert_input is not None else pki.cert_pem(), key_input)
    assert result.outcome is PairOutcome.UNVERIFIABLE
    assert (result.failure, result.go_error, result.unverifiable_input) == (None, None, which)
    if which == "key":
        assert result.leaf == pki.rsa_cert  # still there for expiry and trust checks


def test_a_broken_certificate_fails_even_when_the_key_is_redacted(pki):
    # Go stops at the certificate input before it ever looks at the key.
    result = load_x509_key_pair(b"", b"1675 bytes long")
    assert (result.outcome, result.go_error) == (PairOutcome.FAILS, ERR_CERT_NO_PEM)
    assert result.key_material.state is MaterialState.ELIDED


# --------------------------------------------------------------------------------------------
# Verification-time messages
# --------------------------------------------------------------------------------------------


def test_rfc3339_like_go():
    assert go_rfc3339(dt.datetime(2025, 1, 1, 0, 0, 1, 999999, tzinfo=UTC)) == "2025-01-01T00:00:01Z"
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert go_rfc3339(dt.datetime(2025, 1, 1, 2, 0, tzinfo=plus_two)) == "2025-01-01T02:00:00+02:00"
    minus = dt.timezone(-dt.timedelta(hours=5, minutes=30))
    assert go_rfc3339(dt.datetime(2025, 1, 1, tzinfo=minus)) == "2025-01-01T00:00:00-05:30"
    with pytest.raises(ValueError):
        go_rfc3339(dt.datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("now_utc", "expected"),
    [
        (
            dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
            "x509: certificate has expired or is not yet valid: current time 2025-03-04T05:06:07Z is after 2025-01-01T00:00:00Z",
        ),
        (
            dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC),
            "x509: certificate has expired or is not yet valid: current time 2023-12-31T23:59:59Z is before 2024-01-01T00:00:00Z",
        ),
        (NOT_BEFORE_UTC, None),  # both bounds are inclusive
        (NOT_AFTER_UTC, None),
        (dt.datetime(2024, 6, 1, tzinfo=UTC), None),
    ],
)
def test_validity_errors(pki, now_utc, expected):
    assert format_validity_error(now_utc, NOT_BEFORE_UTC, NOT_AFTER_UTC) == expected
    assert find_validity_error(pki.rsa_cert, now_utc) == expected


def test_unknown_authority_with_and_without_hint():
    assert format_unknown_authority() == "x509: certificate signed by unknown authority"
    assert format_unknown_authority("crypto/rsa: verification error", "kube-apiserver-lb-signer") == (
        "x509: certificate signed by unknown authority (possibly because of "
        '"crypto/rsa: verification error" while trying to verify candidate authority certificate '
        '"kube-apiserver-lb-signer")'
    )


def test_go_quote_escapes_like_strconv():
    assert go_quote('a "b" \\ c\n\x01é') == '"a \\"b\\" \\\\ c\\n\\x01é"'


@pytest.mark.parametrize(
    ("cn", "org", "expected"),
    [("localhost-serving-signer@1700000000", None, None), ("", "system:masters", "system:masters"), ("", None, "serial:4242")],
)
def test_hint_certificate_name(pki, cn, org, expected):
    cert = make_cert(pki.ec, cn=cn, org=org, serial=4242)
    assert go_hint_certificate_name(cert) == (expected or cn)


@pytest.mark.parametrize(
    ("host", "kwargs", "expected"),
    [
        (
            "api.example.com",
            {"dns_names": ["kubernetes", "kubernetes.default"], "ip_addresses": ["10.0.0.1"]},
            "x509: certificate is valid for kubernetes, kubernetes.default, not api.example.com",
        ),
        (
            "10.0.0.2",
            {"dns_names": ["localhost"], "ip_addresses": [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]},
            "x509: certificate is valid for 127.0.0.1, ::1, not 10.0.0.2",
        ),
        ("10.0.0.2", {"dns_names": ["localhost"]}, "x509: cannot validate certificate for 10.0.0.2 because it doesn't contain any IP SANs"),
        ("10.0.0.2", {"ip_addresses": [ipaddress.ip_address("::ffff:10.0.0.1")]}, "x509: certificate is valid for 10.0.0.1, not 10.0.0.2"),
        ("etcd", {"common_name": "etcd"}, "x509: certificate relies on legacy Common Name field, use SANs instead"),
        ("etcd", {"common_name": "other"}, "x509: certificate is not valid for any names, but wanted to match etcd"),
        (
            "x.example.com",
            {"dns_names": [f"n{i}" for i in range(100)]},
            "x509: certificate is valid for 100 names, but none matched x.example.com",
        ),
        (
            "10.9.9.9",
            {"ip_addresses": [f"10.0.0.{i}" for i in range(100)]},
            "x509: certificate is valid for 100 IP SANs, but none matched 10.9.9.9",
        ),
    ],
)
def test_hostname_error_messages(host, kwargs, expected):
    assert format_hostname_error(host, **kwargs) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.cluster.example.com", None),
        ("API.Cluster.Example.COM.", None),  # case-insensitive, trailing dot ignored
        ("foo.apps.example.com", None),  # wildcard, left-most label only
        ("a.b.apps.example.com", "x509: certificate is valid for api.cluster.example.com, *.apps.example.com, not a.b.apps.example.com"),
        ("172.30.0.1", None),
        ("[172.30.0.1]", None),
        ("172.30.0.2", "x509: certificate is valid for 172.30.0.1, not 172.30.0.2"),
        ("[172.30.0.2]", "x509: certificate is valid for 172.30.0.1, not 172.30.0.2"),
    ],
)
def test_find_hostname_error_mirrors_verify_hostname(pki, host, expected):
    cert = make_cert(pki.ec, dns=("api.cluster.example.com", "*.apps.example.com"), ips=("172.30.0.1",))
    assert find_hostname_error(cert, host) == expected


def test_a_certificate_without_sans_relies_on_its_common_name(pki):
    cert = make_cert(pki.ec, cn="localhost")
    assert find_hostname_error(cert, "localhost") == "x509: certificate relies on legacy Common Name field, use SANs instead"
    assert find_hostname_error(cert, "127.0.0.1") == (
        "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"
    )
