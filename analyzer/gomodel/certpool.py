"""The certificates Verify works with, as Go holds them: an x509.Certificate's fields that
buildChains reads (raw names, key identifiers, constraints, usages) and CertPool.AppendCertsFromPEM
(src/crypto/x509/cert_pool.go, verify.go, Go 1.27.3)."""

from __future__ import annotations

from hashlib import sha224

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from analyzer.gomodel.der import SEQUENCE, DerReader
from analyzer.gomodel.pem import iter_pem_blocks
from analyzer.gomodel.x509parse import parse_certificate, serial_of
from analyzer.records import datarecord

# Extensions Go's processExtensions understands (parser.go): a critical one of any other OID is
# an UnhandledCriticalExtension.
_HANDLED_EXTENSIONS = frozenset({f"2.5.29.{n}" for n in (14, 15, 17, 19, 30, 31, 32, 33, 35, 36, 37, 54)}
                                | {"1.3.6.1.5.5.7.1.1"})


@datarecord(eq=False)
class GoCertificate:
    """The fields of an x509.Certificate that Verify reads."""

    cert: x509.Certificate
    raw: bytes
    raw_subject: bytes
    raw_issuer: bytes
    raw_spki: bytes
    version: int
    basic_constraints_valid: bool
    is_ca: bool
    max_path_len: int
    key_usage_present: bool
    cert_sign: bool
    ext_key_usages: tuple[str, ...]
    subject_key_id: bytes
    authority_key_id: bytes
    san_value: bytes | None
    unhandled_critical: bool
    signature_oid: str

    @classmethod
    def of(cls, cert: x509.Certificate, der: bytes) -> GoCertificate:
        """From a certificate Go parses (parse_certificate) and cryptography reads."""
        tbs = DerReader(cert.tbs_certificate_bytes).read(SEQUENCE)
        assert tbs is not None  # Go parsed it (callers check with parse_certificate first)
        tbs.read_optional(0xA0)
        tbs.read(0x02)  # serialNumber
        tbs.read(SEQUENCE)  # signature
        raw_issuer = tbs.read_element(SEQUENCE) or b""
        tbs.read(SEQUENCE)  # validity
        raw_subject = tbs.read_element(SEQUENCE) or b""
        raw_spki = tbs.read_element(SEQUENCE) or b""
        basic, key_usage, ekus, skid, akid, san = None, None, (), b"", b"", None
        unhandled = False
        for extension in cert.extensions:
            dotted = extension.oid.dotted_string
            value = extension.value
            if dotted == "2.5.29.19":
                basic = value
            elif dotted == "2.5.29.15":
                key_usage = value
            elif dotted == "2.5.29.37":
                ekus = tuple(oid.dotted_string for oid in value)
            elif dotted == "2.5.29.14":
                skid = value.digest
            elif dotted == "2.5.29.35":
                akid = value.key_identifier or b""
            elif dotted == "2.5.29.17":
                san = value.public_bytes()
                if extension.critical and not len(value):
                    unhandled = True
            if extension.critical and dotted not in _HANDLED_EXTENSIONS:
                unhandled = True
        return cls(
            cert=cert, raw=der, raw_subject=raw_subject, raw_issuer=raw_issuer, raw_spki=raw_spki,
            version=cert.version.value + 1,
            basic_constraints_valid=basic is not None,
            is_ca=bool(basic and basic.ca),
            max_path_len=basic.path_length if basic is not None and basic.path_length is not None else -1,
            key_usage_present=key_usage is not None,
            cert_sign=bool(key_usage and key_usage.key_cert_sign),
            ext_key_usages=ekus,
            subject_key_id=skid,
            authority_key_id=akid,
            san_value=san,
            unhandled_critical=unhandled,
            signature_oid=cert.signature_algorithm_oid.dotted_string,
        )


def go_cert_pool(pem_bundle: bytes) -> list[GoCertificate]:
    """CertPool.AppendCertsFromPEM (cert_pool.go): CERTIFICATE blocks without headers that Go
    parses, each once (the pool is keyed by the SHA-224 of the DER), in order. A certificate Go
    takes but cryptography cannot load is left out: nothing about it can be modelled."""
    pool: list[GoCertificate] = []
    seen: set[bytes] = set()
    for block in iter_pem_blocks(pem_bundle):
        if block.type != "CERTIFICATE" or block.headers:
            continue
        digest = sha224(block.der).digest()
        certificate = go_certificate(block.der)
        if certificate is not None and digest not in seen:
            seen.add(digest)
            pool.append(certificate)
    return pool


def go_certificate(der: bytes) -> GoCertificate | None:
    """The certificate as Verify sees it, None when Go refuses it (x509.ParseCertificate) or
    cryptography cannot even load its framing. cryptography's lazily parsed parts that Verify
    does not need (a T61String name, which cryptography will not decode) stay unread: Go reads
    those from the raw bytes here too (hint_name)."""
    parsed = parse_certificate(der)
    if parsed.go_error is not None:
        return None
    try:
        return GoCertificate.of(parsed.certificate or x509.load_der_x509_certificate(der), der)
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        return None


_CN, _O = (2, 5, 4, 3), (2, 5, 4, 10)


def hint_name(cert: GoCertificate) -> str:
    """UnknownAuthorityError's name for the candidate: the subject's (last) CommonName, else its
    first Organization, else ``serial:<decimal>`` (verify.go), read the way pkix.Name.
    FillFromRDNSequence does from Go's parsed strings: a T61String is Latin-1 (parser.go
    parseASN1String), which cryptography refuses to decode."""
    common_name, organizations = "", []
    name = DerReader(cert.raw_subject).read(SEQUENCE)
    while name is not None and not name.empty:
        rdn = name.read(0x31)
        while rdn is not None and not rdn.empty:
            attribute = rdn.read(SEQUENCE)
            oid = attribute.read_oid() if attribute is not None else None
            value = attribute.read_any() if attribute is not None else None
            if oid is None or value is None:
                break
            text = _go_string(*value)
            if text is None:
                continue
            if oid == _CN:
                common_name = text
            elif oid == _O:
                organizations.append(text)
    if common_name:
        return common_name
    return organizations[0] if organizations else f"serial:{serial_of(cert.cert)}"


def _go_string(tag: int, body: DerReader) -> str | None:
    raw = body.content()
    if tag == 0x14:  # T61String, read as Latin-1
        return raw.decode("latin-1")
    if tag == 0x1E:  # BMPString (UCS-2), a trailing NUL pair stripped
        return (raw[:-2] if raw.endswith(b"\x00\x00") else raw).decode("utf-16-be", "replace")
    if tag in (0x0C, 0x13, 0x16, 0x12):  # UTF8String, PrintableString, IA5String, NumericString
        return raw.decode("utf-8", "replace")
    return None
