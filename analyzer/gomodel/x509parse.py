"""What crypto/x509 ParseCertificate refuses, with its messages, in its order (crypto/x509 parser.go).

cryptography parses more leniently than Go in places (trailing data, negative serials, curves Go
does not know), so the framing is checked first the way Go's parser walks it, then the certificate
is loaded. ``go_version`` selects a release's behaviour where it changed (negative serial numbers
are refused from Go 1.23).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec

from analyzer.gomodel.der import BOOLEAN, OCTET_STRING, SEQUENCE, DerReader

# The curves crypto/x509 and crypto/tls know (crypto/x509 x509.go namedCurveFromOID).
GO_CURVES = frozenset({"secp224r1", "secp256r1", "secp384r1", "secp521r1"})

_CTX_0, _CTX_1, _CTX_2, _CTX_3 = 0xA0, 0x81, 0x82, 0xA3


def parse_certificate(der: bytes, go_version: tuple[int, int]) -> tuple[x509.Certificate | None, str | None, bool]:
    """(certificate, Go error, whether that error text is certain)."""
    structural_error, raw_length = _go_certificate_structure(der, go_version)
    if structural_error is not None:
        return None, structural_error, True
    try:
        cert = x509.load_der_x509_certificate(der[:raw_length])
        _ = cert.extensions  # parsed lazily by cryptography; Go parses them in ParseCertificate
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        return None, "x509: malformed certificate", False
    try:
        public_key = cert.public_key()
    except UnsupportedAlgorithm:
        # Go leaves PublicKey nil for an algorithm it does not know; X509KeyPair then reports
        # "unknown public key algorithm" after parsing the key.
        public_key = None
    except ValueError:
        return None, "x509: malformed certificate", False
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name not in GO_CURVES:
        return None, "x509: unsupported elliptic curve", True
    if raw_length != len(der):
        return None, "x509: trailing data", True  # checked by ParseCertificate after parsing
    return cert, None, True


def _go_certificate_structure(der: bytes, go_version: tuple[int, int]) -> tuple[str | None, int]:
    """The framing checks of crypto/x509 parseCertificate (parser.go), in its order, with its
    messages. Returns (error, length of the outer certificate SEQUENCE)."""
    outer = DerReader(der).read_element(SEQUENCE)
    if outer is None:
        return "x509: malformed certificate", 0
    certificate = DerReader(outer).read(SEQUENCE)
    assert certificate is not None  # read_element has just framed it

    tbs_element = certificate.read_element(SEQUENCE)
    if tbs_element is None:
        return "x509: malformed tbs certificate", len(outer)
    tbs = DerReader(tbs_element).read(SEQUENCE)
    assert tbs is not None  # read_element has just framed it

    present, version_body = tbs.read_optional(_CTX_0)
    version = 0
    if present:
        read = version_body.read_integer() if version_body is not None else None
        if read is None or version_body is None or not version_body.empty:
            return "x509: malformed version", len(outer)
        version = read
    # ReadOptionalASN1Integer into an int64 refuses what does not fit; then only v1-v3 are valid.
    if version < 0 or version >= 1 << 63:
        return "x509: malformed version", len(outer)
    if version + 1 > 3:
        return "x509: invalid version", len(outer)

    serial = tbs.read_integer()
    if serial is None:
        return "x509: malformed serial number", len(outer)
    if serial < 0 and go_version >= (1, 23):
        return "x509: negative serial number", len(outer)  # unless GODEBUG x509negativeserial=1

    inner_algorithm = tbs.read(SEQUENCE)
    if inner_algorithm is None:
        return "x509: malformed signature algorithm identifier", len(outer)
    outer_algorithm = certificate.read(SEQUENCE)
    if outer_algorithm is None:
        return "x509: malformed algorithm identifier", len(outer)
    if outer_algorithm.content() != inner_algorithm.content():
        return "x509: inner and outer signature algorithm identifiers don't match", len(outer)
    error = _go_parse_algorithm_identifier(inner_algorithm)
    if error:
        return error, len(outer)

    if tbs.read_element(SEQUENCE) is None:
        return "x509: malformed issuer", len(outer)
    if tbs.read(SEQUENCE) is None:
        return "x509: malformed validity", len(outer)
    if tbs.read_element(SEQUENCE) is None:
        return "x509: malformed issuer", len(outer)  # sic: Go reuses the issuer message for the subject

    spki = tbs.read(SEQUENCE)
    if spki is None:
        return "x509: malformed spki", len(outer)
    key_algorithm = spki.read(SEQUENCE)
    if key_algorithm is None:
        return "x509: malformed public key algorithm identifier", len(outer)
    error = _go_parse_algorithm_identifier(key_algorithm)
    if error:
        return error, len(outer)
    if spki.read_bit_string() is None:
        return "x509: malformed subjectPublicKey", len(outer)

    if version + 1 > 1:
        for tag, message in ((_CTX_1, "x509: malformed issuerUniqueID"), (_CTX_2, "x509: malformed subjectUniqueID")):
            present, body = tbs.read_optional(tag)
            if present and body is None:
                return message, len(outer)
        if version + 1 == 3:
            error = _go_check_extensions(tbs)
            if error:
                return error, len(outer)

    if certificate.read_bit_string() is None:
        return "x509: malformed signature", len(outer)
    return None, len(outer)


def _go_parse_algorithm_identifier(body: DerReader) -> str | None:
    if body.read_oid() is None:
        return "x509: malformed OID"
    if not body.empty and body.read_any() is None:
        return "x509: malformed parameters"
    return None


def _go_check_extensions(tbs: DerReader) -> str | None:
    present, wrapper = tbs.read_optional(_CTX_3)
    if not present:
        return None
    extensions = wrapper.read(SEQUENCE) if wrapper is not None else None
    if extensions is None:
        return "x509: malformed extensions"
    seen: set[str] = set()
    while not extensions.empty:
        extension = extensions.read(SEQUENCE)
        if extension is None:
            return "x509: malformed extension"
        # parseExtension
        oid = extension.read_oid()
        if oid is None:
            return "x509: malformed extension OID field"
        if extension.peek_tag() == BOOLEAN:
            critical = extension.read(BOOLEAN)
            if critical is None or critical.content() not in (b"\x00", b"\xff"):
                return "x509: malformed extension critical field"
        if extension.read(OCTET_STRING) is None:
            return "x509: malformed extension value field"
        # Go 1.19 said "x509: certificate contains duplicate extensions", without the OID.
        dotted = ".".join(map(str, oid))
        if dotted in seen:
            return f'x509: certificate contains duplicate extension with OID "{dotted}"'
        seen.add(dotted)
    return None
