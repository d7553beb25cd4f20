"""Parsing shared by the checks, done once per distinct byte string.

The same CA bundle is read by several loads and the same pair appears in several copies; parsing
is memoised on the bytes themselves so that every check sees the same objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from analyzer.gomodel.x509parse import ParsedCertificate, parse_certificate
from analyzer.gomodel.keypair import KeyPairResult, load_x509_key_pair
from analyzer.gomodel.keys import KeyAlgorithm, KeyEncoding, PrivateKeyInfo, PublicKeyInfo, load_private_key, load_private_key_der, load_public_keys, public_key_info
from analyzer.gomodel.pem import is_private_key_type, iter_pem_blocks
from analyzer.errors import DecodeError
from analyzer.gomodel.wrappers import CA_NOT_PEM, CA_NOTHING_VALID

# client-go certutil.ParseCertsPEM: the error kube components print for a bundle without certificates.
NO_CERTIFICATES = "data does not contain any valid RSA or ECDSA certificates"


@lru_cache(maxsize=4096)
def key_pair(cert_pem: bytes, key_pem: bytes) -> KeyPairResult:
    return load_x509_key_pair(cert_pem, key_pem)


@lru_cache(maxsize=4096)
def bundle(data: bytes) -> tuple[tuple[x509.Certificate, ...], str | None]:
    """Certificates of a CA bundle the way client-go's ParseCertsPEM reads it, and its error.

    Only CERTIFICATE blocks without headers count; one that does not parse fails the whole bundle.
    """
    certificates: list[x509.Certificate] = []
    accepted = 0
    for parsed in _bundle_certificates(data):
        if parsed.go_error is not None:
            return tuple(certificates), parsed.go_error
        accepted += 1
        if parsed.certificate is not None:  # an unreadable one makes the load unverifiable instead
            certificates.append(parsed.certificate)
    if not accepted:
        return (), NO_CERTIFICATES
    return tuple(certificates), None


@lru_cache(maxsize=4096)
def unreadable_certificate(data: bytes) -> str | None:
    """Why a certificate Go would take from ``data`` cannot be read here, or None.

    Such a certificate cannot be checked at all: a load that uses it is "cannot be verified".
    """
    for parsed in _bundle_certificates(data):
        if parsed.go_error is not None:
            return None  # Go stops at this one: that is a finding, not a blind spot
        if parsed.unreadable is not None:
            return parsed.unreadable
    return None


def _bundle_certificates(data: bytes) -> Iterator[ParsedCertificate]:
    for block in iter_pem_blocks(data):
        if block.type == "CERTIFICATE" and not block.headers:
            yield parse_certificate(block.der)


def root_ca_error(data: bytes) -> str | None:
    """client-go's rootCertPool for a kubeconfig's CA data, unwrapped: None when
    AppendCertsFromPEM adds a certificate (or there is no CA data: system roots), else
    createErrorParsingCAData's reason (client-go transport/transport.go): the first CERTIFICATE
    block's parse error, else bytes pem.Decode cannot read, else nothing valid seen. The caller
    wraps it with ``unable to load root certificates: `` (gomodel.wrappers)."""
    if not data:
        return None
    first_error, rest = None, data
    for block in iter_pem_blocks(data):
        rest = data[block.end :]
        if block.type != "CERTIFICATE" or block.headers:
            continue
        error = parse_certificate(block.der).go_error
        if error is None:
            return None
        first_error = first_error or f"failed to parse certificate: {error}"
    return first_error or (CA_NOT_PEM if rest else CA_NOTHING_VALID)


@lru_cache(maxsize=1024)
def private_key(data: bytes) -> tuple[PrivateKeyInfo | None, str | None]:
    try:
        return load_private_key(data), None
    except DecodeError as err:
        return None, str(err)


@lru_cache(maxsize=1024)
def public_keys(data: bytes) -> tuple[tuple[PublicKeyInfo, ...], str | None]:
    """Verification keys the way client-go keyutil.ParsePublicKeysPEM reads them: public keys and
    certificates, and the public half of RSA (PKCS#1, PKCS#8) and EC (SEC1) private keys, which
    setups pass as --service-account-key-file (the default is --tls-private-key-file)."""
    try:
        found, error = list(load_public_keys(data)), None
    except DecodeError as err:
        found, error = [], str(err)
    for block in iter_pem_blocks(data):
        if not is_private_key_type(block.type) or block.headers:
            continue
        try:
            key = load_private_key_der(block.der, block.type)
        except DecodeError:
            continue
        if key.algorithm is KeyAlgorithm.RSA or (key.algorithm is KeyAlgorithm.ECDSA and key.encoding is KeyEncoding.SEC1):
            found.append(public_key_info(key.public_key(), key.encoding, block.type))
    return tuple(found), None if found else error


def leaf(data: bytes) -> x509.Certificate | None:
    certificates, _ = bundle(data)
    return certificates[0] if certificates else None


def sha256_fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()

