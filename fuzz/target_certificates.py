"""PEM, certificates and keys: how Go's pem.Decode, x509.ParseCertificate, tls.X509KeyPair and
client-go's bundle and key readers take the bytes, and what the checks then read from a parsed
certificate (names, SANs, validity, issuer hints, key descriptions).

The input is used whole (a file kforensic meets), as raw DER, and split in two as the certificate
and key inputs of X509KeyPair.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509

from harness import instrumented, run, utf8_clean

with instrumented():
    from analyzer.errors import KforensicError
    from analyzer.gomodel.x509parse import parse_certificate, public_key_of
    from analyzer.gomodel.clientgo import bundle, common_name, private_key, public_keys, sha256_fingerprint, unreadable_certificate
    from analyzer.gomodel.keypair import load_x509_key_pair
    from analyzer.gomodel.verify import find_hostname_error, find_validity_error, go_hint_certificate_name, verifies
    from analyzer.gomodel.keys import describe_key, load_certificates
    from analyzer.gomodel.pem import inspect_material, iter_pem_blocks

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def read_certificate(certificate: x509.Certificate) -> None:
    """What checks, inventory and listings read from a certificate that parsed."""
    utf8_clean(certificate.subject.rfc4514_string() + certificate.issuer.rfc4514_string())
    utf8_clean(common_name(certificate) + go_hint_certificate_name(certificate) + sha256_fingerprint(certificate))
    for host in ("kubernetes.default.svc", "10.0.0.1", "a.example"):
        error = find_hostname_error(certificate, host)
        if error:
            utf8_clean(error)
    find_validity_error(certificate, NOW)
    for extension in certificate.extensions:
        _ = extension.value
    key = public_key_of(certificate)
    if key is not None:
        try:
            describe_key(key)
        except KforensicError:
            pass


def test_one(data: bytes) -> None:
    inspect_material(data)
    for block in iter_pem_blocks(data):
        parsed = parse_certificate(block.der)
        if parsed.certificate is not None:
            read_certificate(parsed.certificate)
    parsed = parse_certificate(data)
    if parsed.certificate is not None:
        read_certificate(parsed.certificate)
    certificates, error = bundle(data)
    for certificate in certificates:
        read_certificate(certificate)
    if certificates:
        verifies(certificates, certificates[-1:])  # the chain against its own last certificate as root
    unreadable_certificate(data)
    private_key(data)
    public_keys(data)
    cut = len(data) // 2
    result = load_x509_key_pair(data[:cut], data[cut:])
    if result.leaf is not None:
        read_certificate(result.leaf)
    for certificate in result.chain:
        read_certificate(certificate)
    for text in (result.go_error, result.detail, error):
        if text:
            utf8_clean(text)
    try:
        load_certificates(data)
    except KforensicError:
        pass


if __name__ == "__main__":
    run(test_one)
