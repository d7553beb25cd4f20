"""Go's ``x509.ParseCertificate``, and the one place kforensic lets cryptography read a certificate.

cryptography parses a certificate lazily: the DER framing at load, but names, extensions and the
public key only when first touched, each raising its own exception (``InvalidVersion``,
``DuplicateExtension``, ``ValueError``) wherever that happens to be. Go parses everything in
``ParseCertificate`` and either returns a certificate or an error. ``parse_certificate`` brings the
two together, once per DER string:

1. Go's parser is replayed on the DER, in its order and with its messages (``gomodel.x509replay``:
   src/crypto/x509/parser.go parseCertificate). A certificate this model refuses carries ``go_error``.
2. Otherwise cryptography loads it and every lazily parsed part is read here, so that callers can
   touch any attribute afterwards without an exception. A certificate Go accepts but cryptography
   cannot read is ``unreadable``: it cannot be checked, which is said, never guessed.

The replay stops short of Go in validity times, URI names and the contents of extensions other
than subjectAltName: a certificate Go refuses only for those reasons, and that cryptography cannot
read either, comes out ``unreadable`` ("cannot be checked"), never as a guessed Go error.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from analyzer.gomodel.x509replay import go_parse_certificate
from analyzer.records import datarecord

# The Go release whose behaviour is replayed unless a caller names another: every prediction is
# checked against Go 1.27.3 by the differential tests (tests/gooracle).
GO_VERSION = (1, 27)

# namedCurveFromOID in crypto/x509: only these curves exist for Go.
GO_CURVES = frozenset({"secp224r1", "secp256r1", "secp384r1", "secp521r1"})

# What cryptography raises while reading a part it parses lazily.
_LAZY_ERRORS = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)



@datarecord
class ParsedCertificate:
    """One DER certificate as Go parses it and as far as cryptography can read it.

    Exactly one holds: ``certificate`` (Go accepts it and every part reads), ``go_error`` (Go
    refuses it, with this error), or ``unreadable`` (Go accepts it, cryptography cannot read it:
    nothing about it can be checked; the text says why, without any of the certificate's bytes).
    """

    certificate: x509.Certificate | None
    go_error: str | None = None
    unreadable: str | None = None


@lru_cache(maxsize=4096)
def parse_certificate(der: bytes, go_version: tuple[int, int] = GO_VERSION) -> ParsedCertificate:
    """``x509.ParseCertificate(der)`` as built with ``go_version``; see the module doc."""
    error, raw_length = go_parse_certificate(der, go_version)
    if error is not None:
        return ParsedCertificate(None, go_error=error)
    try:
        with warnings.catch_warnings():
            # A serial of zero (which Go takes) makes cryptography warn on stderr; the report, not
            # a warning, is where a certificate's oddities go.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certificate = x509.load_der_x509_certificate(der[:raw_length])
            _read_every_lazy_part(certificate)
    except _LAZY_ERRORS as exc:
        if raw_length != len(der):
            return ParsedCertificate(None, go_error="x509: trailing data")
        return ParsedCertificate(None, unreadable=_reason(exc))
    if raw_length != len(der):
        return ParsedCertificate(None, go_error="x509: trailing data")  # ParseCertificate, after parsing
    return ParsedCertificate(certificate)


def public_key_of(certificate: x509.Certificate) -> CertificatePublicKeyTypes | None:
    """The public key of a parsed certificate; None for an algorithm cryptography does not know
    (Go, too, leaves PublicKey nil for an algorithm it does not know)."""
    try:
        return certificate.public_key()
    except UnsupportedAlgorithm:
        return None


def serial_of(certificate: x509.Certificate) -> int:
    """The serial number; cryptography warns on every read of a zero one, which Go takes silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return certificate.serial_number


def signature_parameters_of(certificate: x509.Certificate) -> object | None:
    """The padding or ECDSA parameters of a parsed certificate's signature; None when unknown."""
    try:
        return certificate.signature_algorithm_parameters
    except UnsupportedAlgorithm:
        return None


def _read_every_lazy_part(certificate: x509.Certificate) -> None:
    """Touch what cryptography parses on first access, so that later reads cannot raise."""
    for name in (certificate.subject, certificate.issuer):
        name.rfc4514_string()
        for attribute in name:
            _ = attribute.value
    for extension in certificate.extensions:
        _ = extension.value
    _ = certificate.not_valid_before_utc, certificate.not_valid_after_utc, serial_of(certificate)
    # An algorithm cryptography does not know only raises UnsupportedAlgorithm, on every access;
    # callers read these through public_key_of and signature_parameters_of.
    public_key_of(certificate)
    signature_parameters_of(certificate)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"cryptography cannot read it ({text})"


# --------------------------------------------------------------------------------------------
