"""Certificate.CheckSignatureFrom (src/crypto/x509/x509.go, Go 1.27.3): whether a parent may
sign and did sign a certificate, and Go's text when not — including the refusals before any key
is tried (MD5 and SHA-1 signatures, InsecureAlgorithmError) and RSA keys under 1024 bits
(crypto/rsa checkPublicKeySize, Go 1.24+)."""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from analyzer.gomodel.certpool import GoCertificate
from analyzer.gomodel.x509parse import public_key_of

ERR_CANNOT_SIGN = "x509: invalid signature: parent certificate cannot sign this kind of certificate"
ERR_UNSUPPORTED_ALGORITHM = "x509: cannot verify signature: algorithm unimplemented"


# signatureAlgorithmDetails (x509.go): OID -> (Go's name, key algorithm, hash); the RSA PKCS#1
# entries need NULL parameters, which the parser already enforces for what reaches here.
_SIGNATURE_ALGORITHMS = {
    "1.2.840.113549.1.1.4": ("MD5-RSA", "RSA", "md5"),
    "1.2.840.113549.1.1.5": ("SHA1-RSA", "RSA", "sha1"),
    "1.3.14.3.2.29": ("SHA1-RSA", "RSA", "sha1"),
    "1.2.840.113549.1.1.11": ("SHA256-RSA", "RSA", "sha256"),
    "1.2.840.113549.1.1.12": ("SHA384-RSA", "RSA", "sha384"),
    "1.2.840.113549.1.1.13": ("SHA512-RSA", "RSA", "sha512"),
    "1.2.840.10040.4.3": ("DSA-SHA1", "DSA", "sha1"),
    "2.16.840.1.101.3.4.3.2": ("DSA-SHA256", "DSA", "sha256"),
    "1.2.840.10045.4.1": ("ECDSA-SHA1", "ECDSA", "sha1"),
    "1.2.840.10045.4.3.2": ("ECDSA-SHA256", "ECDSA", "sha256"),
    "1.2.840.10045.4.3.3": ("ECDSA-SHA384", "ECDSA", "sha384"),
    "1.2.840.10045.4.3.4": ("ECDSA-SHA512", "ECDSA", "sha512"),
    "1.3.101.112": ("Ed25519", "Ed25519", None),
}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def insecure_algorithm_error(certificate: x509.Certificate) -> str | None:
    """checkSignature's refusal before any key is tried (x509.go, InsecureAlgorithmError): MD5,
    and SHA-1 outside CRLs and CSRs."""
    details = _SIGNATURE_ALGORITHMS.get(certificate.signature_algorithm_oid.dotted_string)
    if details is not None and details[2] in ("md5", "sha1"):
        return f"x509: cannot verify signature: insecure algorithm {details[0]}"
    return None


def go_check_signature_from(child: GoCertificate, parent: GoCertificate) -> str | None:
    """Certificate.CheckSignatureFrom (x509.go): None when ``parent`` signed ``child``."""
    if (parent.version == 3 and not parent.basic_constraints_valid) or (parent.basic_constraints_valid and not parent.is_ca):
        return ERR_CANNOT_SIGN
    if parent.key_usage_present and not parent.cert_sign:
        return ERR_CANNOT_SIGN
    key = public_key_of(parent.cert)
    if key is None:
        return ERR_UNSUPPORTED_ALGORITHM
    details = _SIGNATURE_ALGORITHMS.get(child.signature_oid)
    if child.signature_oid == "1.2.840.113549.1.1.10":  # RSASSA-PSS: hash from the parameters
        algorithm = getattr(child.cert, "signature_hash_algorithm", None)
        name = algorithm.name if algorithm is not None else ""
        details = (f"{name.upper()}-RSAPSS", "RSA", name) if name in _HASHES else None
    if details is None:
        return ERR_UNSUPPORTED_ALGORITHM
    name, wanted, hash_name = details
    insecure = insecure_algorithm_error(child.cert)
    if insecure is not None:
        return insecure
    tbs, signature = child.cert.tbs_certificate_bytes, child.cert.signature
    if isinstance(key, rsa.RSAPublicKey):
        if wanted != "RSA":
            return f"x509: signature algorithm specifies an {wanted} public key, but have public key of type *rsa.PublicKey"
        if key.key_size < 1024:  # crypto/rsa checkPublicKeySize, Go 1.24+ (rsa1024min)
            return f"crypto/rsa: {key.key_size}-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"
        assert hash_name is not None
        digest = _HASHES[hash_name]()
        # RSASSA-PSS as Go verifies it: MGF1 with the same hash, salt as long as the hash (PSSSaltLengthEqualsHash).
        pad: padding.AsymmetricPadding = (padding.PSS(padding.MGF1(digest), digest.digest_size)
                                          if name.endswith("RSAPSS") else padding.PKCS1v15())
        try:
            key.verify(signature, tbs, pad, digest)
        except InvalidSignature:
            return "crypto/rsa: verification error"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if wanted != "ECDSA":
            return f"x509: signature algorithm specifies an {wanted} public key, but have public key of type *ecdsa.PublicKey"
        assert hash_name is not None
        try:
            key.verify(signature, tbs, ec.ECDSA(_HASHES[hash_name]()))
        except InvalidSignature:
            return "x509: ECDSA verification failure"
        return None
    if isinstance(key, ed25519.Ed25519PublicKey):
        if wanted != "Ed25519":
            return f"x509: signature algorithm specifies an {wanted} public key, but have public key of type ed25519.PublicKey"
        try:
            key.verify(signature, tbs)
        except InvalidSignature:
            return "x509: Ed25519 verification failure"
        return None
    return ERR_UNSUPPORTED_ALGORITHM
