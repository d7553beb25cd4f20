"""What Go's crypto/tls and crypto/x509 would say about a certificate/key pair.

``load_x509_key_pair`` replays ``tls.X509KeyPair(certPEMBlock, keyPEMBlock)`` step by step
(golang/go@7926af0d:src/crypto/tls/tls.go) and returns either the loaded pair or the exact error
string Go returns, so a report can predict the line kube-apiserver prints before it exits. The
order of the checks is Go's:

1. every ``CERTIFICATE`` block of the cert input is kept (other types are listed as skipped);
2. the first key block whose type is ``PRIVATE KEY`` or ends in `` PRIVATE KEY`` is taken;
3. the first certificate (the leaf) is parsed with ``x509.ParseCertificate`` (``gomodel.x509parse``);
4. the key is parsed as PKCS#8, then PKCS#1, then SEC1 (``gomodel.privkey``); when all three fail,
   Go 1.27 reports the PKCS#8 parser's error (``tls: failed to parse private key: <error>``);
5. the leaf public key is compared with the key: type first, then the public key (for RSA the
   modulus and, since Go's switch to ``PublicKey.Equal``, the exponent).

Validity dates, SANs and issuers are not checked by X509KeyPair; ``gomodel.verify`` gives the
strings Go's verifier prints for those.

Evidence a collector redacted (sos scrub, must-gather elision) makes the step that needs it
unverifiable instead of failing: Go never saw those markers.

The strings follow Go 1.27 (checked against Go 1.27.3 by tests/test_gooracle_keypair.py). Where a
Go release changed the outcome for an input, ``go_version`` selects the older behaviour: before Go
1.27 keys were tried as PKCS#1 first and every failure was the bare ``tls: failed to parse private
key``; X25519 keys in PKCS#8 are parsed (and then refused as an unknown type) only from Go 1.20,
and negative serial numbers are refused only from Go 1.23. Those were cross-checked against a Go
1.19 toolchain.
"""

from __future__ import annotations

from dataclasses import field
from enum import Enum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from analyzer.gomodel import privkey
from analyzer.gomodel.der import SEQUENCE, DerReader
from analyzer.gomodel.material import Inspection, MaterialState
from analyzer.gomodel.keys import KeyEncoding, PrivateKeyInfo, classify_private_key_der, describe_key, is_encrypted_pkcs8, private_key_info, public_key_sha256
from analyzer.gomodel.pem import PemBlock, inspect_material, is_private_key_type, iter_pem_blocks
from analyzer.errors import DecodeError
from analyzer.gomodel.fmt import go_string_list
from analyzer.gomodel.x509parse import GO_CURVES, GO_VERSION, parse_certificate, public_key_of
from analyzer.records import datarecord

# --------------------------------------------------------------------------------------------
# X509KeyPair
# --------------------------------------------------------------------------------------------

ERR_CERT_NO_PEM = "tls: failed to find any PEM data in certificate input"
ERR_CERT_SWITCHED = (
    "tls: failed to find certificate PEM data in certificate input, but did find a private key; "
    "PEM inputs may have been switched"
)
ERR_CERT_SKIPPED = (
    'tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks '
    "of the following types: "
)
ERR_KEY_NO_PEM = "tls: failed to find any PEM data in key input"
ERR_KEY_IS_CERT = "tls: found a certificate rather than a key in the PEM for the private key"
ERR_KEY_SKIPPED = (
    'tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping '
    "PEM blocks of the following types: "
)
ERR_KEY_PARSE = "tls: failed to parse private key"
ERR_KEY_PKCS8_UNKNOWN = "tls: found unknown private key type in PKCS#8 wrapping"
ERR_KEY_TYPE_MISMATCH = "tls: private key type does not match public key type"
ERR_KEY_MISMATCH = "tls: private key does not match public key"
ERR_UNKNOWN_PUBLIC_KEY = "tls: unknown public key algorithm"


class PairOutcome(Enum):
    LOADS = "loads"
    FAILS = "fails"
    UNVERIFIABLE = "unverifiable"  # a step needed redacted evidence


class PairFailure(Enum):
    """Why X509KeyPair fails; the values are stable and usable in finding ids."""

    CERT_NO_PEM = "cert-no-pem"
    CERT_INPUTS_SWITCHED = "cert-inputs-switched"
    CERT_NO_CERTIFICATE_BLOCK = "cert-no-certificate-block"
    KEY_NO_PEM = "key-no-pem"
    KEY_IS_CERTIFICATE = "key-is-certificate"
    KEY_NO_PRIVATE_KEY_BLOCK = "key-no-private-key-block"
    LEAF_UNPARSEABLE = "leaf-unparseable"
    KEY_UNPARSEABLE = "key-unparseable"
    KEY_PKCS8_UNKNOWN_TYPE = "key-pkcs8-unknown-type"
    KEY_TYPE_MISMATCH = "key-type-mismatch"
    KEY_MISMATCH = "key-mismatch"
    UNKNOWN_PUBLIC_KEY_ALGORITHM = "unknown-public-key-algorithm"


@datarecord
class KeyPairResult:
    """The outcome of ``load_x509_key_pair``.

    ``go_error`` is the string Go returns. A leaf Go would load but cryptography cannot read makes
    the pair UNVERIFIABLE (``unverifiable_input`` "certificate"). ``detail`` is a plain explanation
    for people (never key material).
    """

    outcome: PairOutcome
    cert_material: Inspection
    key_material: Inspection
    failure: PairFailure | None = None
    go_error: str | None = None
    detail: str | None = None
    leaf: x509.Certificate | None = None
    chain_der: tuple[bytes, ...] = field(default=(), repr=False)
    private_key: PrivateKeyInfo | None = None
    key_block: PemBlock | None = None
    unverifiable_input: str | None = None  # "certificate" or "key"

    @property
    def ok(self) -> bool:
        return self.outcome is PairOutcome.LOADS

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """The certificates of the input that cryptography parses, leaf first. Go keeps the
        others as raw DER and never parses them at load time."""
        parsed = (parse_certificate(der).certificate for der in self.chain_der)
        return tuple(certificate for certificate in parsed if certificate is not None)


def load_x509_key_pair(cert_pem: bytes, key_pem: bytes, *, go_version: tuple[int, int] = GO_VERSION) -> KeyPairResult:
    """Replay Go's ``tls.X509KeyPair`` on the two inputs, as built with ``go_version``."""
    cert_material, key_material = inspect_material(cert_pem), inspect_material(key_pem)
    base: dict[str, Any] = {"cert_material": cert_material, "key_material": key_material}

    if not cert_material.state.verifiable:
        return KeyPairResult(
            PairOutcome.UNVERIFIABLE,
            **base,
            unverifiable_input="certificate",
            detail=f"the certificate input was {cert_material.state.value} by the collector",
        )
    chain: list[bytes] = []
    skipped: list[str] = []
    for block in iter_pem_blocks(cert_pem):
        if block.type == "CERTIFICATE":
            chain.append(block.der)
        else:
            skipped.append(block.type)
    if not chain:
        if not skipped:
            return _fail(base, PairFailure.CERT_NO_PEM, ERR_CERT_NO_PEM, _emptiness("certificate", cert_material))
        # Go tests HasSuffix(type, "PRIVATE KEY") here, without the leading space used for keys.
        if len(skipped) == 1 and skipped[0].endswith("PRIVATE KEY"):
            return _fail(base, PairFailure.CERT_INPUTS_SWITCHED, ERR_CERT_SWITCHED)
        return _fail(base, PairFailure.CERT_NO_CERTIFICATE_BLOCK, ERR_CERT_SKIPPED + go_string_list(skipped))
    base["chain_der"] = tuple(chain)

    if not key_material.state.verifiable:
        leaf = parse_certificate(chain[0], go_version).certificate
        return KeyPairResult(
            PairOutcome.UNVERIFIABLE,
            **base,
            leaf=leaf,
            unverifiable_input="key",
            detail=f"the key input was {key_material.state.value} by the collector",
        )
    skipped = []
    key_block = None
    for block in iter_pem_blocks(key_pem):
        if is_private_key_type(block.type):
            key_block = block
            break
        skipped.append(block.type)
    if key_block is None:
        if not skipped:
            return _fail(base, PairFailure.KEY_NO_PEM, ERR_KEY_NO_PEM, _emptiness("key", key_material))
        if skipped == ["CERTIFICATE"]:
            return _fail(base, PairFailure.KEY_IS_CERTIFICATE, ERR_KEY_IS_CERT)
        return _fail(base, PairFailure.KEY_NO_PRIVATE_KEY_BLOCK, ERR_KEY_SKIPPED + go_string_list(skipped))
    base["key_block"] = key_block

    parsed_leaf = parse_certificate(chain[0], go_version)
    if parsed_leaf.go_error is not None:
        return _fail(base, PairFailure.LEAF_UNPARSEABLE, parsed_leaf.go_error)
    if parsed_leaf.certificate is None:
        # Go loads this leaf; cryptography cannot read it, so nothing after this step can be told.
        return KeyPairResult(
            PairOutcome.UNVERIFIABLE,
            **base,
            unverifiable_input="certificate",
            detail=f"the leaf certificate: {parsed_leaf.unreadable}",
        )
    leaf = base["leaf"] = parsed_leaf.certificate

    key, key_failure, key_detail, key_error = _go_parse_private_key(key_block, go_version)
    if key_failure is PairFailure.KEY_PKCS8_UNKNOWN_TYPE:
        return _fail(base, key_failure, key_error, key_detail)
    if key is None and not key_error:
        # Go parses the key; cryptography cannot hold it (a multi-prime RSA key). Go's comparison
        # needs only N and E; when they agree the pair loads in Go, but nothing more can be told here.
        mismatch = _compare_rsa_numbers(leaf, privkey.rsa_public_numbers(key_block.der))
        if mismatch is not None:
            return _fail(base, *mismatch)
        return KeyPairResult(PairOutcome.UNVERIFIABLE, **base, unverifiable_input="key", detail=key_detail)
    if key is None:
        return _fail(base, PairFailure.KEY_UNPARSEABLE, key_error, key_detail)
    base["private_key"] = key

    mismatch = _compare_keys(leaf, key.key, go_version)
    if mismatch is not None:
        failure, message = mismatch
        return _fail(base, failure, message, _mismatch_detail(leaf, key))
    return KeyPairResult(PairOutcome.LOADS, **base)


def _fail(
    base: dict[str, Any], failure: PairFailure, message: str, detail: str | None = None
) -> KeyPairResult:
    return KeyPairResult(
        PairOutcome.FAILS, **base, failure=failure, go_error=message, detail=detail
    )


def _emptiness(what: str, material: Inspection) -> str:
    if material.state is MaterialState.EMPTY:
        if material.original_size == 0:
            return f"the {what} input was empty (must-gather recorded 0 bytes)"
        return f"the {what} input is empty ({material.size} bytes)"
    if material.state is MaterialState.PRESENT:
        return f"the {what} input is DER, but X509KeyPair reads only PEM"
    return f"the {what} input holds no PEM block Go can decode"


# --------------------------------------------------------------------------------------------
# parsePrivateKey: PKCS#8, then PKCS#1, then SEC1 (PKCS#1 first before Go 1.27)
# --------------------------------------------------------------------------------------------

# The first Go release verified to try PKCS#8 first and wrap its error (Go 1.27.3, by the oracle
# in tests/gooracle), and to compare RSA keys with rsa.PublicKey.Equal (modulus and exponent).
# golang/go@7926af0d tls.go (and the Go 1.19 toolchain the model was first checked with) tried
# PKCS#1 first, returned the bare message and compared the modulus only; Go 1.26 was not checked.
PKCS8_FIRST_VERSION = (1, 27)

_KeyParse = tuple[PrivateKeyInfo | None, PairFailure | None, str | None, str]


def _go_parse_private_key(block: PemBlock, go_version: tuple[int, int]) -> _KeyParse:
    """Mirror tls.parsePrivateKey: (key, failure, explanation for people, Go's error text)."""
    der = block.der
    encoding, length = classify_private_key_der(der)
    if go_version < PKCS8_FIRST_VERSION:
        return _go_parse_private_key_before_1_27(block, encoding, length, go_version)

    # crypto/tls/tls.go parsePrivateKey: fmt.Errorf("tls: failed to parse private key: %w", pkcs8Err).
    kind, pkcs8_error = privkey.parse_pkcs8(der)
    if kind == "x25519":
        return None, PairFailure.KEY_PKCS8_UNKNOWN_TYPE, "the PKCS#8 key is X25519, which cannot sign", ERR_KEY_PKCS8_UNKNOWN
    for encoding_found, accepted, key_der, expect in (
        (KeyEncoding.PKCS8, kind is not None, der[:length] if encoding is KeyEncoding.PKCS8 else der, kind),
        (KeyEncoding.PKCS1, privkey.pkcs1_error(der) is None, der, "rsa"),
        (KeyEncoding.SEC1, privkey.sec1_error(None, der) is None, der[:length], "ecdsa"),
    ):
        if accepted:
            key = privkey.load_der_key(key_der, expect)
            if key is None:
                return None, None, f"Go reads this {encoding_found.value} key, but it cannot be loaded here (a multi-prime RSA key?)", ""
            return private_key_info(key, encoding_found, block.type), None, None, ""
    return None, None, _unparseable_key_detail(block, encoding), f"{ERR_KEY_PARSE}: {pkcs8_error}"


def _go_parse_private_key_before_1_27(
    block: PemBlock, encoding: KeyEncoding | None, length: int, go_version: tuple[int, int]
) -> _KeyParse:
    """tls.parsePrivateKey before Go 1.27: PKCS#1, then PKCS#8, then SEC1, one bare message."""
    der = block.der
    # x509.ParsePKCS1PrivateKey refuses trailing data after the RSAPrivateKey.
    if encoding is KeyEncoding.PKCS1 and length == len(der) and privkey.pkcs1_error(der) is None:
        key = privkey.load_der_key(der, "rsa")
        if isinstance(key, rsa.RSAPrivateKey):
            return private_key_info(key, encoding, block.type), None, None, ""

    # x509.ParsePKCS8PrivateKey ignores trailing data; it knows RSA, ECDSA on Go's curves,
    # Ed25519 and X25519, and X509KeyPair rejects the X25519 (*ecdh.PrivateKey) it returns.
    if encoding is KeyEncoding.PKCS8:
        key = privkey.load_der_key(der[:length])
        if isinstance(key, x25519.X25519PrivateKey) and go_version >= (1, 20):
            return None, PairFailure.KEY_PKCS8_UNKNOWN_TYPE, "the PKCS#8 key is X25519, which cannot sign", ERR_KEY_PKCS8_UNKNOWN
        if _go_accepts_private_key(key) and privkey.parse_pkcs8(der)[0] is not None:
            return private_key_info(key, encoding, block.type), None, None, ""

    # x509.ParseECPrivateKey: version must be 1 and the curve one of Go's.
    sec1 = DerReader(der).read(SEQUENCE) if encoding is KeyEncoding.SEC1 else None
    if sec1 is not None and sec1.read_integer() == 1:
        key = privkey.load_der_key(der[:length])
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in GO_CURVES:
            return private_key_info(key, KeyEncoding.SEC1, block.type), None, None, ""

    return None, None, _unparseable_key_detail(block, encoding), ERR_KEY_PARSE


def _go_accepts_private_key(key: Any) -> bool:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.curve.name in GO_CURVES
    return isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey))


def _unparseable_key_detail(block: PemBlock, encoding: KeyEncoding | None) -> str:
    if block.type == "ENCRYPTED PRIVATE KEY" or is_encrypted_pkcs8(block.der):
        return "the key is encrypted (PKCS#8 EncryptedPrivateKeyInfo); Go never decrypts it"
    if "ENCRYPTED" in (block.header("Proc-Type") or ""):
        return "the key is encrypted (legacy PEM Proc-Type: 4,ENCRYPTED); Go never decrypts it"
    if not block.der:
        return f"the {block.type} block is empty"
    if encoding is None:
        return f"the {block.type} block holds {len(block.der)} bytes that are not a PKCS#1, PKCS#8 or SEC1 key"
    key = privkey.load_der_key(block.der)
    if isinstance(key, rsa.RSAPrivateKey):
        return f"the {encoding.value} RSA key's numbers do not agree with each other (Go's rsa.PrivateKey.Validate refuses it)"
    if key is not None:
        return f"the {encoding.value} key uses an algorithm or curve Go does not load ({type(key).__name__})"
    return f"the {encoding.value} key in the {block.type} block is damaged or truncated"


# --------------------------------------------------------------------------------------------
# The public key comparison at the end of X509KeyPair
# --------------------------------------------------------------------------------------------


def _compare_keys(leaf: x509.Certificate, private_key: Any, go_version: tuple[int, int]) -> tuple[PairFailure, str] | None:
    public = public_key_of(leaf)
    if isinstance(public, rsa.RSAPublicKey):
        if not isinstance(private_key, rsa.RSAPrivateKey):
            return PairFailure.KEY_TYPE_MISMATCH, ERR_KEY_TYPE_MISMATCH
        # Go 1.27 uses priv.PublicKey.Equal(pub): N and E (crypto/rsa/rsa.go); older Go compared N only.
        ours, held = public.public_numbers(), private_key.public_key().public_numbers()
        if ours.n != held.n or (go_version >= PKCS8_FIRST_VERSION and ours.e != held.e):
            return PairFailure.KEY_MISMATCH, ERR_KEY_MISMATCH
        return None
    if isinstance(public, ec.EllipticCurvePublicKey):
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            return PairFailure.KEY_TYPE_MISMATCH, ERR_KEY_TYPE_MISMATCH
        mine, theirs = public.public_numbers(), private_key.public_key().public_numbers()
        if (mine.x, mine.y) != (theirs.x, theirs.y):
            return PairFailure.KEY_MISMATCH, ERR_KEY_MISMATCH
        return None
    if isinstance(public, ed25519.Ed25519PublicKey):
        if not isinstance(private_key, ed25519.Ed25519PrivateKey):
            return PairFailure.KEY_TYPE_MISMATCH, ERR_KEY_TYPE_MISMATCH
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        if public.public_bytes(*raw) != private_key.public_key().public_bytes(*raw):
            return PairFailure.KEY_MISMATCH, ERR_KEY_MISMATCH
        return None
    return PairFailure.UNKNOWN_PUBLIC_KEY_ALGORITHM, ERR_UNKNOWN_PUBLIC_KEY


def _compare_rsa_numbers(leaf: x509.Certificate, numbers: tuple[int, int] | None) -> tuple[PairFailure, str] | None:
    public = public_key_of(leaf)
    if not isinstance(public, rsa.RSAPublicKey) or numbers is None:
        return PairFailure.KEY_TYPE_MISMATCH, ERR_KEY_TYPE_MISMATCH
    ours = public.public_numbers()
    return None if (ours.n, ours.e) == numbers else (PairFailure.KEY_MISMATCH, ERR_KEY_MISMATCH)


def _mismatch_detail(leaf: x509.Certificate, key: PrivateKeyInfo) -> str:
    try:
        public = public_key_of(leaf)
        if public is None:
            raise DecodeError("unknown public key algorithm")
        algorithm, bits, curve = describe_key(public)
        leaf_side = f"{algorithm.value} {curve or bits} key {public_key_sha256(public)[:16]}"
    except DecodeError:
        leaf_side = "a key of an algorithm Go does not know"
    key_side = f"{key.algorithm.value} {key.curve or key.size_bits} key {key.public_key_sha256[:16]}"
    return f"the certificate holds {leaf_side}, the key file holds {key_side}"
