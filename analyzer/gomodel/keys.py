"""Keys and certificates from PEM or DER, as cryptography objects a report can show safely.

``load_certificates``, ``load_private_key`` and ``load_public_keys`` pick what a Go component
would pick (gomodel.pem finds the blocks). Private keys are wrapped in ``PrivateKeyInfo`` whose
repr shows only the algorithm, size and public-key fingerprint; no function here puts key bytes
in a message. RSA private keys are held without OpenSSL's validation; Go's own checks decide
(gomodel.privkey).
"""

from __future__ import annotations

import hashlib
from dataclasses import field
from enum import Enum
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from analyzer.errors import DecodeError
from analyzer.gomodel import privkey
from analyzer.gomodel.der import INTEGER, OCTET_STRING, SEQUENCE, sequence_children
from analyzer.gomodel.fmt import go_string_list
from analyzer.gomodel.material import Inspection, MaterialState, RedactedMaterial
from analyzer.gomodel.pem import inspect_material, is_private_key_type, iter_pem_blocks
from analyzer.gomodel.x509parse import parse_certificate, public_key_of
from analyzer.records import datarecord

class KeyAlgorithm(Enum):
    RSA = "RSA"
    ECDSA = "ECDSA"
    ED25519 = "Ed25519"
    ED448 = "Ed448"
    X25519 = "X25519"
    X448 = "X448"
    DSA = "DSA"


class KeyEncoding(Enum):
    """The container the key was found in."""

    PKCS1 = "PKCS#1"  # RSA PRIVATE KEY / RSA PUBLIC KEY
    SEC1 = "SEC1"  # EC PRIVATE KEY
    PKCS8 = "PKCS#8"  # PRIVATE KEY
    PKIX = "PKIX"  # PUBLIC KEY (SubjectPublicKeyInfo)
    CERTIFICATE = "certificate"  # the public key of a CERTIFICATE block


class EncryptedPrivateKey(DecodeError):
    """A passphrase-protected private key; kforensic never tries passphrases."""

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        super().__init__(f"private key is encrypted ({scheme}); components cannot load it without a passphrase")


@datarecord
class PrivateKeyInfo:
    """A private key with a repr safe for reports: algorithm, size and public fingerprint only."""

    key: Any = field(repr=False, compare=False)
    algorithm: KeyAlgorithm
    size_bits: int
    curve: str | None
    encoding: KeyEncoding
    pem_type: str | None  # None for DER input
    public_key_sha256: str  # hex SHA-256 of the DER SubjectPublicKeyInfo

    def public_key(self) -> Any:
        return self.key.public_key()


@datarecord
class PublicKeyInfo:
    key: Any = field(repr=False, compare=False)
    algorithm: KeyAlgorithm
    size_bits: int
    curve: str | None
    encoding: KeyEncoding
    pem_type: str | None
    public_key_sha256: str


def public_key_sha256(public_key: Any) -> str:
    """Hex SHA-256 of the SubjectPublicKeyInfo: equal for a certificate and its private key."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def describe_key(public_key: Any) -> tuple[KeyAlgorithm, int, str | None]:
    """(algorithm, size in bits, curve name) of a public or private key."""
    if isinstance(public_key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return KeyAlgorithm.RSA, public_key.key_size, None
    if isinstance(public_key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return KeyAlgorithm.ECDSA, public_key.key_size, public_key.curve.name
    if isinstance(public_key, (dsa.DSAPublicKey, dsa.DSAPrivateKey)):
        return KeyAlgorithm.DSA, public_key.key_size, None
    fixed = {
        (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey): (KeyAlgorithm.ED25519, 256),
        (ed448.Ed448PublicKey, ed448.Ed448PrivateKey): (KeyAlgorithm.ED448, 448),
        (x25519.X25519PublicKey, x25519.X25519PrivateKey): (KeyAlgorithm.X25519, 256),
        (x448.X448PublicKey, x448.X448PrivateKey): (KeyAlgorithm.X448, 448),
    }
    for types, (algorithm, bits) in fixed.items():
        if isinstance(public_key, types):
            return algorithm, bits, None
    raise DecodeError(f"unsupported key type {type(public_key).__name__}")


def private_key_info(key: Any, encoding: KeyEncoding, pem_type: str | None) -> PrivateKeyInfo:
    algorithm, bits, curve = describe_key(key)
    return PrivateKeyInfo(key, algorithm, bits, curve, encoding, pem_type, public_key_sha256(key.public_key()))


def public_key_info(key: Any, encoding: KeyEncoding, pem_type: str | None) -> PublicKeyInfo:
    algorithm, bits, curve = describe_key(key)
    return PublicKeyInfo(key, algorithm, bits, curve, encoding, pem_type, public_key_sha256(key))


def classify_private_key_der(der: bytes) -> tuple[KeyEncoding | None, int]:
    """Which private-key container ``der`` is, by the tags of its top-level children, and the
    length of the outer SEQUENCE. ``KeyEncoding`` None with length > 0 means a SEQUENCE of no known
    key shape; an EncryptedPrivateKeyInfo is reported by ``is_encrypted_pkcs8``."""
    shape = sequence_children(der)
    if shape is None:
        return None, 0
    tags, length = shape
    if tags[:3] == [INTEGER, INTEGER, INTEGER]:
        return KeyEncoding.PKCS1, length  # RSAPrivateKey: version, n, e, ...
    if tags[:3] == [INTEGER, SEQUENCE, OCTET_STRING]:
        return KeyEncoding.PKCS8, length  # PrivateKeyInfo: version, algorithm, privateKey
    if tags[:2] == [INTEGER, OCTET_STRING]:
        return KeyEncoding.SEC1, length  # ECPrivateKey: version 1, privateKey, [0], [1]
    return None, length


def is_encrypted_pkcs8(der: bytes) -> bool:
    """EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING } (RFC 5958)."""
    shape = sequence_children(der)
    return shape is not None and shape[0] == [SEQUENCE, OCTET_STRING]


def load_private_key_der(der: bytes, pem_type: str | None = None) -> PrivateKeyInfo:
    """Parse a PKCS#1, SEC1 or PKCS#8 private key from DER."""
    if is_encrypted_pkcs8(der):
        raise EncryptedPrivateKey("PKCS#8 EncryptedPrivateKeyInfo")
    encoding, length = classify_private_key_der(der)
    if encoding is None:
        raise DecodeError("bytes are not a PKCS#1, SEC1 or PKCS#8 private key")
    # RSA keys are judged by Go's own checks (x509.ParsePKCS1PrivateKey: structure, no trailing
    # data, rsa.PrivateKey.Validate), not OpenSSL's, and then held without OpenSSL's validation.
    if encoding is KeyEncoding.PKCS1:
        go_error = privkey.pkcs1_error(der)
    else:
        go_error = privkey.parse_pkcs8(der)[1] if encoding is KeyEncoding.PKCS8 else None
        go_error = go_error if go_error and go_error.startswith(privkey.RSA_IN_PKCS8) else None
    if go_error is not None:
        raise DecodeError(f"{encoding.value} private key: {go_error}")
    key = privkey.load_der_key(der[:length], "rsa" if encoding is KeyEncoding.PKCS1 else None)
    if key is None:
        # cryptography's message is generic, but key parsing errors are never forwarded.
        raise DecodeError(f"{encoding.value} private key does not parse")
    return private_key_info(key, encoding, pem_type)


def load_private_key(data: bytes) -> PrivateKeyInfo:
    """Load the private key a Go component would pick from ``data`` (PEM or DER).

    Like crypto/tls the first block whose type is ``PRIVATE KEY`` or ends in `` PRIVATE KEY`` is
    used. Encrypted keys (``ENCRYPTED PRIVATE KEY``, or ``Proc-Type: 4,ENCRYPTED`` headers) raise
    ``EncryptedPrivateKey``; scrubbed or elided input raises ``RedactedMaterial``.
    """
    material = _require_material(data, "private key input")
    blocks = list(iter_pem_blocks(data))
    if not blocks:
        if material.state is MaterialState.MALFORMED:
            raise DecodeError("private key input holds no PEM block and no DER structure")
        return load_private_key_der(data)
    for block in blocks:
        if is_private_key_type(block.type):
            break
    else:
        raise DecodeError(f"no PRIVATE KEY block (found {go_string_list(b.type for b in blocks)})")
    if block.type == "ENCRYPTED PRIVATE KEY":
        raise EncryptedPrivateKey("PKCS#8 EncryptedPrivateKeyInfo")
    if "ENCRYPTED" in (block.header("Proc-Type") or ""):
        cipher = (block.header("DEK-Info") or "unknown cipher").split(",")[0]
        raise EncryptedPrivateKey(f"legacy PEM encryption, {cipher}")
    try:
        return load_private_key_der(block.der, block.type)
    except EncryptedPrivateKey:
        raise
    except DecodeError as exc:
        raise DecodeError(f"{block.type} block at offset {block.offset}: {exc}") from None


def load_certificates(data: bytes) -> tuple[x509.Certificate, ...]:
    """Every CERTIFICATE block of a PEM bundle, in order, or the one certificate of a DER file.

    Other block types are ignored; a CERTIFICATE block that does not parse is an error.
    """
    material = _require_material(data, "certificate input")
    blocks = list(iter_pem_blocks(data))
    if not blocks:
        if material.state is MaterialState.MALFORMED:
            raise DecodeError("certificate input holds no PEM block and no DER structure")
        return (_load_der_certificate(data, "DER certificate"),)
    certificates = tuple(
        _load_der_certificate(block.der, f"CERTIFICATE block at offset {block.offset}")
        for block in blocks
        if block.type == "CERTIFICATE"
    )
    if not certificates:
        raise DecodeError(f"no CERTIFICATE block (found {go_string_list(b.type for b in blocks)})")
    return certificates


def load_public_keys(data: bytes) -> tuple[PublicKeyInfo, ...]:
    """Public keys from PEM ``PUBLIC KEY`` (PKIX), ``RSA PUBLIC KEY`` (PKCS#1) and ``CERTIFICATE``
    blocks, in order (a service-account ``sa.pub`` may hold several), or from DER."""
    material = _require_material(data, "public key input")
    blocks = list(iter_pem_blocks(data))
    if not blocks:
        if material.state is MaterialState.MALFORMED:
            raise DecodeError("public key input holds no PEM block and no DER structure")
        return (_load_der_public_key(data, None),)
    keys = []
    for block in blocks:
        if block.type in ("PUBLIC KEY", "RSA PUBLIC KEY"):
            keys.append(_load_der_public_key(block.der, block.type))
        elif block.type == "CERTIFICATE":
            cert = _load_der_certificate(block.der, f"CERTIFICATE block at offset {block.offset}")
            key = public_key_of(cert)
            if key is None:
                raise DecodeError(f"the certificate at offset {block.offset} holds a public key of an unknown algorithm")
            keys.append(public_key_info(key, KeyEncoding.CERTIFICATE, block.type))
    if not keys:
        raise DecodeError(f"no public key block (found {go_string_list(b.type for b in blocks)})")
    return tuple(keys)


def _load_der_public_key(der: bytes, pem_type: str | None) -> PublicKeyInfo:
    encoding = KeyEncoding.PKCS1 if pem_type == "RSA PUBLIC KEY" else KeyEncoding.PKIX
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise DecodeError(f"{pem_type or 'DER'} public key does not parse: {exc}") from None
    if pem_type is None and isinstance(key, rsa.RSAPublicKey) and sequence_children(der) == ([INTEGER, INTEGER], len(der)):
        encoding = KeyEncoding.PKCS1
    return public_key_info(key, encoding, pem_type)


def _load_der_certificate(der: bytes, what: str) -> x509.Certificate:
    parsed = parse_certificate(der)
    if parsed.certificate is None:
        raise DecodeError(f"{what} does not parse: {parsed.go_error or parsed.unreadable}")
    return parsed.certificate


def _require_material(data: bytes, what: str) -> Inspection:
    material = inspect_material(data)
    if not material.state.verifiable:
        raise RedactedMaterial(what, material)
    if material.state is MaterialState.EMPTY:
        raise DecodeError(f"{what} is empty")
    return material
