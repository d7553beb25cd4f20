"""PEM and keys, seen the way Go sees them.

* ``iter_pem_blocks`` is a port of the loop ``for { block, rest = pem.Decode(rest) }`` over Go's
  ``encoding/pem.Decode`` (golang/go@bbf8f423:src/encoding/pem/pem.go: the algorithm of the
  CVE-2025-61723 fix, which finds the first END line and then the last BEGIN line before it; older
  releases scan for BEGIN first, and both agree on every input not built to tell them apart). Like
  Go it skips leading junk, accepts ``Key: Value`` headers and CRLF line ends, ignores spaces and
  tabs inside the base64, and silently drops a block whose base64 does not decode.
* ``inspect_material`` says whether bytes hold material Go would decode at all, or what a
  collector left in its place (``gomodel.material``), so that redacted evidence is reported as
  unverifiable rather than broken.
* ``load_certificates``, ``load_private_key`` and ``load_public_keys`` turn PEM or DER into
  cryptography objects. Private keys are wrapped in ``PrivateKeyInfo`` whose repr shows only the
  algorithm, size and public-key fingerprint; no function here puts key bytes in a message.
"""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from analyzer.errors import DecodeError
from analyzer.gomodel import privkey
from analyzer.gomodel.x509parse import parse_certificate, public_key_of
from analyzer.gomodel.der import INTEGER, OCTET_STRING, SEQUENCE, DerReader, sequence_children
from analyzer.gomodel.fmt import go_string_list
from analyzer.gomodel.material import Material, MaterialState, find_elided_size, scrub_hints

# OpenShift's signer names ("openshift-kube-apiserver-operator_localhost-recovery-serving-signer@…")
# exceed RFC 5280's 64-character bound; Go accepts them and so must we, without a warning per certificate.
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)


# --------------------------------------------------------------------------------------------
# Go's encoding/pem.Decode
# --------------------------------------------------------------------------------------------

_PEM_START = b"\n-----BEGIN "
_PEM_END = b"\n-----END "
_PEM_END_OF_LINE = b"-----"
_GO_BASE64_RE = re.compile(rb"[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


@dataclass(frozen=True)
class PemBlock:
    """One decoded PEM block. ``der`` may be key material, so it is kept out of repr."""

    type: str
    headers: tuple[tuple[str, str], ...]
    der: bytes = field(repr=False)
    offset: int  # where "-----BEGIN" starts in the input
    end: int  # where Go's ``rest`` starts after this block

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def iter_pem_blocks(data: bytes) -> Iterator[PemBlock]:
    """Yield every block Go finds by calling ``pem.Decode`` on the rest until it returns nil."""
    position = 0
    while True:
        block = find_pem_block(data, position)
        if block is None:
            return
        yield block
        position = block.end


def find_pem_block(data: bytes, start: int = 0) -> PemBlock | None:
    """One call of Go's ``pem.Decode`` on ``data[start:]``; None when Go returns a nil block.

    Indices below are relative to ``rest`` exactly as in the Go source, which keeps the odd corners
    (a BEGIN line is accepted at the very start of ``rest`` even if the byte before it is not a
    newline) identical.
    """
    n = len(data)
    rest = start
    end_trailer = 0  # Go: endTrailerIndex, relative to rest
    while True:
        rest += end_trailer
        if rest > n:
            # Go slices past the end here and panics; no block is found either way.
            return None
        found = data.find(_PEM_END, rest)
        if found < 0:
            return None
        end_index = found - rest
        end_trailer = end_index + len(_PEM_END)
        begin = data.rfind(_PEM_START[1:], rest, rest + end_index)
        if begin < 0 or (begin > rest and data[begin - 1] != 0x0A):
            continue
        shift = begin - rest + len(_PEM_START) - 1
        rest += shift
        end_index -= shift
        end_trailer -= shift

        type_line, after = _go_get_line(data, rest, n)
        consumed = after - rest
        rest = after
        if not type_line.endswith(_PEM_END_OF_LINE):
            # Go does not subtract `consumed` from endTrailerIndex on this path, so the next
            # search starts `consumed` bytes past the END marker; mirrored on purpose.
            continue
        end_index -= consumed
        end_trailer -= consumed
        block_type = type_line[: -len(_PEM_END_OF_LINE)]

        headers: dict[bytes, bytes] = {}
        while True:
            if rest >= n:
                return None
            line, after = _go_get_line(data, rest, n)
            key, colon, value = line.partition(b":")
            if not colon:
                break
            headers[key.strip()] = value.strip()  # a Go map: a repeated key keeps the last value
            consumed = after - rest
            rest = after
            end_index -= consumed
            end_trailer -= consumed

        if headers and end_index < 0:
            continue
        trailer_start = rest + end_trailer
        trailer_len = len(block_type) + len(_PEM_END_OF_LINE)
        if n - trailer_start < trailer_len:
            continue
        trailer = data[trailer_start : trailer_start + trailer_len]
        if not (trailer.startswith(block_type) and trailer.endswith(_PEM_END_OF_LINE)):
            continue
        tail, _ = _go_get_line(data, trailer_start + trailer_len, n)
        if tail:
            continue  # the END line must end with only whitespace

        der = b""
        if end_index > 0:
            body = data[rest : rest + end_index].replace(b" ", b"").replace(b"\t", b"")
            decoded = decode_go_base64(body)
            if decoded is None:
                continue
            der = decoded
        _, block_end = _go_get_line(data, rest + end_index + len(_PEM_END) - 1, n)
        return PemBlock(
            type=_text(block_type),
            headers=tuple((_text(k), _text(v)) for k, v in headers.items()),
            der=der,
            offset=begin,
            end=block_end,
        )


def _go_get_line(data: bytes, start: int, end: int) -> tuple[bytes, int]:
    """Go's getLine: the line up to \\n (without \\r\\n and trailing spaces/tabs), and where the
    rest starts."""
    newline = data.find(b"\n", start, end)
    if newline < 0:
        return data[start:end].rstrip(b" \t"), end
    line_end = newline - 1 if newline > start and data[newline - 1] == 0x0D else newline
    return data[start:line_end].rstrip(b" \t"), newline + 1


def decode_go_base64(body: bytes) -> bytes | None:
    """Go's base64.StdEncoding.Decode: skips \\r and \\n, requires padding, rejects anything else
    (spaces included); None where Go returns an error."""
    compact = body.replace(b"\r", b"").replace(b"\n", b"")
    if len(compact) % 4 or not _GO_BASE64_RE.fullmatch(compact):
        return None
    return base64.b64decode(compact)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def inspect_material(data: bytes) -> Material:
    """Classify ``data`` as present, empty, scrubbed, elided or malformed."""
    size = len(data)
    if not data.strip():
        return Material(MaterialState.EMPTY, size)
    elided = find_elided_size(data)
    if elided is not None:
        # "0 bytes long" means the original value was empty: that is a finding, not a gap.
        state = MaterialState.EMPTY if elided == 0 else MaterialState.ELIDED
        return Material(state, size, original_size=elided)
    hints = scrub_hints(data)
    if hints:
        return Material(MaterialState.SCRUBBED, size, scrub_hints=hints)
    if find_pem_block(data) is not None:
        return Material(MaterialState.PRESENT, size)
    if DerReader(data).read_element(SEQUENCE) is not None:
        return Material(MaterialState.PRESENT, size)
    return Material(MaterialState.MALFORMED, size)


# --------------------------------------------------------------------------------------------
# Keys and certificates
# --------------------------------------------------------------------------------------------


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


class RedactedMaterial(DecodeError):
    """The bytes were scrubbed (sos) or elided (must-gather): the original cannot be judged."""

    def __init__(self, what: str, material: Material) -> None:
        self.material = material
        detail = f", originally {material.original_size} bytes" if material.original_size else ""
        super().__init__(f"{what} was {material.state.value} by the collector{detail}")


class EncryptedPrivateKey(DecodeError):
    """A passphrase-protected private key; kforensic never tries passphrases."""

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        super().__init__(f"private key is encrypted ({scheme}); components cannot load it without a passphrase")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    key = privkey.load_der_key(der[:length])
    if key is None:
        # cryptography's message is generic, but key parsing errors are never forwarded.
        raise DecodeError(f"{encoding.value} private key does not parse")
    if isinstance(key, rsa.RSAPrivateKey):
        # Loaded without OpenSSL's validation; Go's own checks (rsa.PrivateKey.Validate) decide.
        go_error = privkey.pkcs1_error(der[:length]) if encoding is KeyEncoding.PKCS1 else privkey.parse_pkcs8(der[:length])[1]
        if go_error is not None:
            raise DecodeError(f"{encoding.value} private key: {go_error}")
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


def _require_material(data: bytes, what: str) -> Material:
    material = inspect_material(data)
    if not material.state.verifiable:
        raise RedactedMaterial(what, material)
    if material.state is MaterialState.EMPTY:
        raise DecodeError(f"{what} is empty")
    return material


def is_private_key_type(block_type: str) -> bool:
    """What Go's X509KeyPair takes for a key block: ``PRIVATE KEY`` or a type ending in `` PRIVATE KEY``."""
    return block_type == "PRIVATE KEY" or block_type.endswith(" PRIVATE KEY")
