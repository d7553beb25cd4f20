"""crypto/x509's parseCertificate (src/crypto/x509/parser.go, Go 1.27.3) replayed on the DER, in
Go's order and with Go's messages: framing, version, serial, algorithm identifiers, names (every
string value valid for its type), the public key (before the extensions: a curve Go does not know
fails even when an extension is bad), extension framing and duplicate OIDs, and subjectAltName
contents. ``gomodel.x509parse`` calls it before letting cryptography read the certificate."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from analyzer.gomodel.der import BOOLEAN, OCTET_STRING, SEQUENCE, DerReader, bit_string_error, integer_error

MALFORMED = "x509: malformed certificate"

_CTX_0, _CTX_1, _CTX_2, _CTX_3 = 0xA0, 0x81, 0x82, 0xA3
_SET = 0x31
_NULL_DER = b"\x05\x00"
_OID_RSA = (1, 2, 840, 113549, 1, 1, 1)
_OID_EC = (1, 2, 840, 10045, 2, 1)
_OID_ED25519 = (1, 3, 101, 112)
_OID_SAN = (2, 5, 29, 17)
# namedCurveFromOID (crypto/x509/x509.go): Go's name, scalar size and cryptography's class.
GO_CURVE_OIDS = {
    (1, 3, 132, 0, 33): ("P224", 28, ec.SECP224R1),
    (1, 2, 840, 10045, 3, 1, 7): ("P256", 32, ec.SECP256R1),
    (1, 3, 132, 0, 34): ("P384", 48, ec.SECP384R1),
    (1, 3, 132, 0, 35): ("P521", 66, ec.SECP521R1),
}
# Tags of the string types parseASN1String knows: T61, Printable, UTF8, BMP, IA5, Numeric.
_T61, _PRINTABLE, _UTF8, _BMP, _IA5, _NUMERIC = 0x14, 0x13, 0x0C, 0x1E, 0x16, 0x12
_PRINTABLE_EXTRA = frozenset(b" '()+,-./:=?*&")


def go_parse_certificate(der: bytes, go_version: tuple[int, int]) -> tuple[str | None, int]:
    """(Go's error or None, length of the outer certificate SEQUENCE)."""
    outer = DerReader(der).read_element(SEQUENCE)
    if outer is None:
        return MALFORMED, 0
    return _go_parse_outer(outer, go_version), len(outer)


def _go_parse_outer(outer: bytes, go_version: tuple[int, int]) -> str | None:
    certificate = DerReader(outer).read(SEQUENCE)
    if certificate is None:
        return MALFORMED
    tbs_element = certificate.read_element(SEQUENCE)
    if tbs_element is None:
        return "x509: malformed tbs certificate"
    tbs = DerReader(tbs_element).read(SEQUENCE)
    if tbs is None:
        return "x509: malformed tbs certificate"

    present, version_body = tbs.read_optional(_CTX_0)
    version = 0
    if present:
        read = version_body.read_integer() if version_body is not None else None
        if read is None or version_body is None or not version_body.empty:
            return "x509: malformed version"
        version = read
    # ReadOptionalASN1Integer into an int64 refuses what does not fit; then only v1-v3 are valid.
    if version < 0 or version >= 1 << 63:
        return "x509: malformed version"
    if version + 1 > 3:
        return "x509: invalid version"

    serial = tbs.read_integer()
    if serial is None:
        return "x509: malformed serial number"
    if serial < 0 and go_version >= (1, 23):
        return "x509: negative serial number"  # unless GODEBUG x509negativeserial=1

    inner_algorithm = tbs.read(SEQUENCE)
    if inner_algorithm is None:
        return "x509: malformed signature algorithm identifier"
    outer_algorithm = certificate.read(SEQUENCE)
    if outer_algorithm is None:
        return "x509: malformed algorithm identifier"
    if outer_algorithm.content() != inner_algorithm.content():
        return "x509: inner and outer signature algorithm identifiers don't match"
    error = _go_parse_algorithm_identifier(inner_algorithm)
    if error:
        return error

    error = _go_read_name(tbs)  # the issuer
    if error:
        return error
    if tbs.read(SEQUENCE) is None:
        return "x509: malformed validity"
    error = _go_read_name(tbs)  # the subject
    if error:
        return error

    spki = tbs.read(SEQUENCE)
    if spki is None:
        return "x509: malformed spki"
    key_algorithm = spki.read(SEQUENCE)
    if key_algorithm is None:
        return "x509: malformed public key algorithm identifier"
    algorithm_oid = key_algorithm.read_oid()
    if algorithm_oid is None:
        return "x509: malformed OID"
    parameters = None
    if not key_algorithm.empty:
        rest, start = key_algorithm.content(), key_algorithm.position
        if key_algorithm.read_any() is None:
            return "x509: malformed parameters"
        parameters = rest[: key_algorithm.position - start]  # the element, header included
    public_key = spki.read_bit_string()
    if public_key is None:
        return "x509: malformed subjectPublicKey"
    error = _go_parse_public_key(algorithm_oid, parameters, public_key)
    if error:
        return error

    if version + 1 > 1:
        for tag, message in ((_CTX_1, "x509: malformed issuerUniqueID"), (_CTX_2, "x509: malformed subjectUniqueID")):
            present, body = tbs.read_optional(tag)
            if present and body is None:
                return message
        if version + 1 == 3:
            error = _go_parse_extensions(tbs)
            if error:
                return error

    if certificate.read_bit_string() is None:
        return "x509: malformed signature"
    return None


def _go_parse_algorithm_identifier(body: DerReader) -> str | None:
    if body.read_oid() is None:
        return "x509: malformed OID"
    if not body.empty and body.read_any() is None:
        return "x509: malformed parameters"
    return None


def _go_read_name(tbs: DerReader) -> str | None:
    name = tbs.read(SEQUENCE)
    if name is None:
        return "x509: malformed issuer"  # for the subject too: Go reuses the issuer's message
    return _go_parse_name(name)


def _go_parse_name(name: DerReader) -> str | None:
    """parseName on the content of a Name SEQUENCE."""
    while not name.empty:
        rdn = name.read(_SET)
        if rdn is None:
            return "x509: invalid RDNSequence"
        while not rdn.empty:
            attribute = rdn.read(SEQUENCE)
            if attribute is None:
                return "x509: invalid RDNSequence: invalid attribute"
            if attribute.read_oid() is None:
                return "x509: invalid RDNSequence: invalid attribute type"
            error = _go_read_asn1_any(attribute)
            if error:
                return f"x509: invalid RDNSequence: invalid attribute value: {error}"
    return None


def _go_read_asn1_any(body: DerReader) -> str | None:
    """readASN1Any: the errors it gives for an attribute value (the value itself is not needed)."""
    element = body.read_any()
    if element is None:
        return "invalid ASN.1 element"
    tag, content = element
    raw = content.content()
    if tag in (_T61, _PRINTABLE, _UTF8, _BMP, _IA5, _NUMERIC):
        return _go_asn1_string_error(tag, raw)
    if tag == 0x02 and (integer_error(raw) is not None or len(raw) > 8):
        return "invalid ASN.1 integer"  # ReadASN1Integer into an int64
    if tag == 0x03 and bit_string_error(raw) is not None:
        return "invalid ASN.1 BIT STRING"
    if tag == 0x01 and raw not in (b"\x00", b"\xff"):
        return "invalid ASN.1 BOOLEAN"
    if tag == 0x06 and DerReader(bytes([0x06, len(raw)]) + raw).read_oid() is None if len(raw) < 128 else False:
        return "invalid ASN.1 OBJECT IDENTIFIER"
    return None


def _go_asn1_string_error(tag: int, raw: bytes) -> str | None:
    """parseASN1String's error for one of the string types it knows."""
    if tag == _PRINTABLE and not all(0x61 <= b <= 0x7A or 0x41 <= b <= 0x5A or 0x30 <= b <= 0x39 or b in _PRINTABLE_EXTRA for b in raw):
        return "invalid PrintableString"
    if tag == _UTF8:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return "invalid UTF-8 string"
    if tag == _BMP:
        if len(raw) % 2:
            return "invalid BMPString"
        if raw.endswith(b"\x00\x00"):
            raw = raw[:-2]
        for index in range(0, len(raw), 2):
            point = raw[index] << 8 | raw[index + 1]
            if point in (0xFFFE, 0xFFFF) or 0xFDD0 <= point <= 0xFDEF or 0xD800 <= point <= 0xDFFF:
                return "invalid BMPString"
    if tag == _IA5 and any(b >= 0x80 for b in raw):
        return "invalid IA5String"
    if tag == _NUMERIC and not all(0x30 <= b <= 0x39 or b == 0x20 for b in raw):
        return "invalid NumericString"
    return None


def _go_parse_public_key(oid: tuple[int, ...], parameters: bytes | None, key: bytes) -> str | None:
    """parsePublicKey for the algorithms a control plane uses (RSA, ECDSA, Ed25519)."""
    if oid == _OID_RSA:
        if parameters != _NULL_DER:
            return "x509: RSA key missing NULL parameters"
        body = DerReader(key).read(SEQUENCE)
        if body is None:
            return "x509: invalid RSA public key"
        modulus = body.read_integer()
        if modulus is None:
            return "x509: invalid RSA modulus"
        exponent = body.read_integer()
        if exponent is None or exponent >= 1 << 63 or exponent < -(1 << 63):
            return "x509: invalid RSA public exponent"
        if modulus <= 0:
            return "x509: RSA modulus is not a positive number"
        if exponent <= 0:
            return "x509: RSA public exponent is not a positive number"
    elif oid == _OID_EC:
        curve = DerReader(parameters or b"").read_oid()
        if curve is None:
            return "x509: invalid ECDSA parameters"
        if curve not in GO_CURVE_OIDS:
            return "x509: unsupported elliptic curve"
        # ecdsa.ParseUncompressedPublicKey, then nistec's SetBytes (crypto/internal/fips140/nistec).
        if not key or key[0] != 4:
            return "ecdsa: invalid uncompressed public key"
        name, size, curve_class = GO_CURVE_OIDS[curve]
        if len(key) != 1 + 2 * size:
            return f"invalid {name} point encoding"
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(curve_class(), key)
        except ValueError:
            return f"{name} point not on curve"
    elif oid == _OID_ED25519:
        if parameters is not None:
            return "x509: Ed25519 key encoded with illegal parameters"
        if len(key) != 32:
            return "x509: wrong Ed25519 public key size"
    return None


def _go_parse_extensions(tbs: DerReader) -> str | None:
    present, wrapper = tbs.read_optional(_CTX_3)
    if not present:
        return None
    extensions = wrapper.read(SEQUENCE) if wrapper is not None else None
    if extensions is None:
        return "x509: malformed extensions"
    seen: set[tuple[int, ...]] = set()
    values: list[tuple[tuple[int, ...], DerReader]] = []
    while not extensions.empty:
        extension = extensions.read(SEQUENCE)
        if extension is None:
            return "x509: malformed extension"
        oid = extension.read_oid()
        if oid is None:
            return "x509: malformed extension OID field"
        if extension.peek_tag() == BOOLEAN:
            critical = extension.read(BOOLEAN)
            if critical is None or critical.content() not in (b"\x00", b"\xff"):
                return "x509: malformed extension critical field"
        value = extension.read(OCTET_STRING)
        if value is None:
            return "x509: malformed extension value field"
        # Go 1.19 said "x509: certificate contains duplicate extensions", without the OID.
        if oid in seen:
            return f'x509: certificate contains duplicate extension with OID "{".".join(map(str, oid))}"'
        seen.add(oid)
        values.append((oid, value))
    # processExtensions, for the extension whose contents matter most here.
    for oid, value in values:
        if oid == _OID_SAN:
            error = _go_parse_san(value)
            if error:
                return error
    return None


def _go_parse_san(value: DerReader) -> str | None:
    """parseSANExtension: forEachSAN and the checks on rfc822Name, dNSName, URI and iPAddress."""
    names = value.read(SEQUENCE)
    if names is None:
        return "x509: invalid subject alternative names"
    while not names.empty:
        element = names.read_any()
        if element is None:
            return "x509: invalid subject alternative name"
        tag, content = element
        raw = content.content()
        kind = tag ^ 0x80
        if kind in (1, 2, 6) and any(b >= 0x80 for b in raw):
            return {1: "x509: SAN rfc822Name is malformed", 2: "x509: SAN dNSName is malformed",
                    6: "x509: SAN uniformResourceIdentifier is malformed"}[kind]
        if kind == 7:
            if len(raw) == 16 and raw[:12] == bytes(10) + b"\xff\xff":  # net.IP.To4 != nil
                return "x509: SAN iPAddress contains IPv4-mapped IPv6 address"
            if len(raw) not in (4, 16):
                return f"x509: cannot parse IP address of length {len(raw)}"
    return None
