"""What Go's crypto/x509 says when it verifies a certificate: chains, signatures, names, validity.

Chains: ``cryptography.x509.verification`` is tried first; its RFC 5280 policy is stricter than
Go's (it wants key identifiers, key usage on CAs, SANs), so a refusal there is re-checked the way Go
decides: a chain of issuer-name and signature matches from the presented certificates to a
certificate of the roots (crypto/x509 verify.go buildChains). When Go would refuse, its error is
predicted, including the hint it adds when a candidate CA has the right name but the wrong key —
the signature of a regenerated CA: ``x509: certificate signed by unknown authority (possibly
because of "crypto/rsa: verification error" while trying to verify candidate authority certificate
"kubernetes")``.

Names and validity: the strings of HostnameError and CertificateInvalidError
(src/crypto/x509/verify.go, Go 1.25.5+ HostnameError).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from datetime import timedelta
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from analyzer.gomodel.x509parse import public_key_of, serial_of, signature_parameters_of
from analyzer.gomodel.fmt import go_quote, go_rfc3339

# --------------------------------------------------------------------------------------------

ERR_INCOMPATIBLE_USAGE = "x509: certificate specifies an incompatible key usage"
ERR_NOT_AUTHORIZED_TO_SIGN = "x509: certificate is not authorized to sign other certificates"
ERR_NAME_MISMATCH = "x509: issuer name does not match subject from issuing certificate"
ERR_UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"
ERR_LEGACY_COMMON_NAME = "x509: certificate relies on legacy Common Name field, use SANs instead"
# HostnameError.Error prints a count instead of the names from 100 on (CVE-2025-61729 fix).
_MAX_NAMES_INCLUDED = 100


def format_validity_error(now_utc: dt.datetime, not_before_utc: dt.datetime, not_after_utc: dt.datetime) -> str | None:
    """Go's Expired CertificateInvalidError at ``now_utc``, or None while the window holds.

    Go tests now.Before(NotBefore) first, then now.After(NotAfter): both bounds are inclusive.
    Go releases before the detail was added print the text without ``: current time ...``.
    """
    if now_utc < not_before_utc:
        detail = f"current time {go_rfc3339(now_utc)} is before {go_rfc3339(not_before_utc)}"
    elif now_utc > not_after_utc:
        detail = f"current time {go_rfc3339(now_utc)} is after {go_rfc3339(not_after_utc)}"
    else:
        return None
    return f"x509: certificate has expired or is not yet valid: {detail}"


def find_validity_error(cert: x509.Certificate, now_utc: dt.datetime) -> str | None:
    return format_validity_error(now_utc, cert.not_valid_before_utc, cert.not_valid_after_utc)


def format_unknown_authority(hint_error: str | None = None, hint_certificate_name: str | None = None) -> str:
    """UnknownAuthorityError.Error; the hint names a candidate CA that was tried and rejected."""
    if hint_error is None:
        return ERR_UNKNOWN_AUTHORITY
    return (
        f"{ERR_UNKNOWN_AUTHORITY} (possibly because of {go_quote(hint_error)} while trying to verify "
        f"candidate authority certificate {go_quote(hint_certificate_name or '')})"
    )


def go_hint_certificate_name(cert: x509.Certificate) -> str:
    """The name UnknownAuthorityError uses: CommonName, else first Organization, else
    ``serial:<decimal>``. pkix.Name keeps the last CN and every O in order."""
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common_names and common_names[-1].value:
        return str(common_names[-1].value)
    organizations = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if organizations:
        return str(organizations[0].value)
    return f"serial:{serial_of(cert)}"


def format_hostname_error(
    host: str,
    *,
    dns_names: tuple[str, ...] | list[str] = (),
    ip_addresses: tuple[Any, ...] | list[Any] = (),
    common_name: str = "",
    has_san_extension: bool | None = None,
) -> str:
    """HostnameError.Error for a certificate with these names that did not match ``host``.

    ``host`` is what VerifyHostname passes on: an IP without its brackets. ``has_san_extension``
    defaults to whether any SAN was given.
    """
    if has_san_extension is None:
        has_san_extension = bool(dns_names or ip_addresses)
    if not has_san_extension and _go_match_hostnames(common_name, host):
        return ERR_LEGACY_COMMON_NAME
    if _go_parse_ip(host) is not None:
        if not ip_addresses:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        if len(ip_addresses) >= _MAX_NAMES_INCLUDED:
            return f"x509: certificate is valid for {len(ip_addresses)} IP SANs, but none matched {host}"
        valid = ", ".join(_go_ip_string(ip) for ip in ip_addresses)
    else:
        if len(dns_names) >= _MAX_NAMES_INCLUDED:
            return f"x509: certificate is valid for {len(dns_names)} names, but none matched {host}"
        valid = ", ".join(dns_names)
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


def find_hostname_error(cert: x509.Certificate, host: str) -> str | None:
    """Certificate.VerifyHostname(host): None when Go accepts ``host``, else its message."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ip_addresses = tuple(san.get_values_for_type(x509.IPAddress))
        has_san = True
    except x509.ExtensionNotFound:
        dns_names, ip_addresses, has_san = (), (), False
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(common_names[-1].value) if common_names else ""

    candidate = host[1:-1] if len(host) >= 3 and host[0] == "[" and host[-1] == "]" else host
    ip = _go_parse_ip(candidate)
    if ip is not None:
        if any(_go_ip_equal(ip, other) for other in ip_addresses):
            return None
        return format_hostname_error(
            candidate, dns_names=dns_names, ip_addresses=ip_addresses, common_name=common_name, has_san_extension=has_san
        )
    name = _ascii_lower(host)
    valid_name = _go_valid_hostname(name, pattern=False)
    for match in dns_names:
        if valid_name and _go_valid_hostname(match, pattern=True):
            if _go_match_hostnames(match, name):
                return None
        elif _go_match_exactly(match, name):
            return None
    return format_hostname_error(
        host, dns_names=dns_names, ip_addresses=ip_addresses, common_name=common_name, has_san_extension=has_san
    )


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _go_match_hostnames(pattern: str, host: str) -> bool:
    pattern, host = _ascii_lower(pattern), _ascii_lower(host.removesuffix("."))
    if not pattern or not host:
        return False
    pattern_parts, host_parts = pattern.split("."), host.split(".")
    if len(pattern_parts) != len(host_parts):
        return False
    return all((i == 0 and part == "*") or part == host_parts[i] for i, part in enumerate(pattern_parts))


def _go_match_exactly(a: str, b: str) -> bool:
    if a in ("", ".") or b in ("", "."):
        return False
    return _ascii_lower(a) == _ascii_lower(b)


def _go_valid_hostname(host: str, *, pattern: bool) -> bool:
    if not pattern:
        host = host.removesuffix(".")
    if not host or host == "*":
        return False
    for i, part in enumerate(host.split(".")):
        if not part:
            return False
        if pattern and i == 0 and part == "*":
            continue
        for j, c in enumerate(part):
            if c.isascii() and (c.isalnum() or c == "_" or (c == "-" and j != 0)):
                continue
            return False
    return True


def _go_parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """net.ParseIP: dotted IPv4 or IPv6 text, without zone or brackets."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _go_ip_equal(a: Any, b: Any) -> bool:
    """net.IP.Equal treats an IPv4 address and its IPv4-mapped IPv6 form as equal."""
    return bool(_as_v4(a) == _as_v4(b))


def _as_v4(ip: Any) -> Any:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _go_ip_string(ip: Any) -> str:
    """net.IP.String: IPv4-mapped addresses print as dotted IPv4, IPv6 as RFC 5952 text."""
    return str(_as_v4(ipaddress.ip_address(ip) if isinstance(ip, str) else ip))


MAX_CHAIN = 8
# Per key type: Go's name for the algorithm, its %T, and what CheckSignatureFrom reports when the
# signature does not verify (crypto/x509 x509.go checkSignature).
_KEY_TYPES = (
    (rsa.RSAPublicKey, "RSA", "*rsa.PublicKey", "crypto/rsa: verification error"),
    (ec.EllipticCurvePublicKey, "ECDSA", "*ecdsa.PublicKey", "x509: ECDSA verification failure"),
    (ed25519.Ed25519PublicKey, "Ed25519", "ed25519.PublicKey", "x509: Ed25519 verification failure"),
)
ERR_CANNOT_SIGN = "x509: invalid signature: parent certificate cannot sign this kind of certificate"
# Signature algorithms checkSignature refuses as insecure, by OID, with Go's name for them
# (crypto/x509 x509.go signatureAlgorithmDetails: hash MD5, or SHA-1 outside CRLs and CSRs).
_INSECURE_SIGNATURES = {
    "1.2.840.113549.1.1.4": "MD5-RSA",
    "1.2.840.113549.1.1.5": "SHA1-RSA",
    "1.3.14.3.2.29": "SHA1-RSA",
    "1.2.840.10040.4.3": "DSA-SHA1",
    "1.2.840.10045.4.1": "ECDSA-SHA1",
}


def _signed_with(certificate: x509.Certificate) -> str | None:
    """The key algorithm the certificate's signature algorithm names (RSA, ECDSA, Ed25519)."""
    if certificate.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ED25519:
        return "Ed25519"
    parameters = signature_parameters_of(certificate)
    if isinstance(parameters, padding.PKCS1v15 | padding.PSS):
        return "RSA"
    if isinstance(parameters, ec.ECDSA):
        return "ECDSA"
    return None


def _can_sign(issuer: x509.Certificate) -> bool:
    """CheckSignatureFrom's first test: a v3 parent needs basicConstraints CA=true, and certSign when it has key usage."""
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return issuer.version is not x509.Version.v3
    if not constraints.ca:
        return False
    try:
        return issuer.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True


def insecure_algorithm_error(certificate: x509.Certificate) -> str | None:
    """checkSignature's refusal before any key is tried: MD5 and SHA-1 signatures (SHA-1 is allowed
    only for CRLs and CSRs), and algorithms Go does not implement (crypto/x509 x509.go
    checkSignature, signatureAlgorithmDetails; Go 1.27)."""
    oid = certificate.signature_algorithm_oid.dotted_string
    if oid in _INSECURE_SIGNATURES:
        return f"x509: cannot verify signature: insecure algorithm {_INSECURE_SIGNATURES[oid]}"
    return None


def _signature_error(certificate: x509.Certificate, issuer: x509.Certificate) -> str:
    """What Go's CheckSignatureFrom returns for a candidate issuer that did not sign the certificate."""
    if not _can_sign(issuer):
        return ERR_CANNOT_SIGN
    insecure = insecure_algorithm_error(certificate)
    if insecure is not None:
        return insecure
    key, wanted = public_key_of(issuer), _signed_with(certificate)
    for kind, algorithm, go_type, error in _KEY_TYPES:
        if isinstance(key, kind):
            if wanted is not None and wanted != algorithm:
                return f"x509: signature algorithm specifies an {wanted} public key, but have public key of type {go_type}"
            return error
    return "x509: signature verification failure"


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool | None:
    """True when ``issuer`` signed it (and may sign); False when names match but Go refuses it; None otherwise."""
    if certificate.issuer != issuer.subject:
        return None
    if not _can_sign(issuer) or insecure_algorithm_error(certificate) is not None:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
        return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        # UnsupportedAlgorithm: a key or signature algorithm cryptography does not know; Go's
        # CheckSignature fails with ErrUnsupportedAlgorithm for such a parent as well.
        return False


def go_chain(chain: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...]) -> tuple[bool, str | None]:
    """Whether Go finds a path from the leaf to a root, and the unknown-authority error when not."""
    intermediates = chain[1:]
    hint: tuple[str, str] | None = None
    frontier = [(chain[0], 0)]
    seen: set[bytes] = set()
    while frontier:
        current, depth = frontier.pop()
        for root in roots:
            verdict = _issued_by(current, root)
            if verdict:
                return True, None
            if verdict is False and hint is None:
                hint = (_signature_error(current, root), go_hint_certificate_name(root))
        if depth >= MAX_CHAIN:
            continue
        for candidate in intermediates:
            identity = candidate.fingerprint(hashes.SHA256())
            if identity in seen:
                continue
            verdict = _issued_by(current, candidate)
            if verdict:
                seen.add(identity)
                frontier.append((candidate, depth + 1))
            elif verdict is False and hint is None:
                hint = (_signature_error(current, candidate), go_hint_certificate_name(candidate))
    return False, format_unknown_authority(*hint) if hint else format_unknown_authority()


@lru_cache(maxsize=4096)
def verifies(chain: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...]) -> tuple[bool, str | None]:
    """(trusted, Go's error) for a presented chain against a bundle of roots.

    Pure and cached: every kubeconfig of a node verifies the same served chain with the same CA.
    """
    if not roots:
        return False, format_unknown_authority()
    leaf = chain[0]
    if any(root == leaf for root in roots):
        return True, None  # Go trusts a certificate that is itself in the roots (Verify: opts.Roots.contains)
    moment = max(leaf.not_valid_before_utc + timedelta(seconds=1), min(r.not_valid_before_utc for r in roots) + timedelta(seconds=1))
    try:
        verifier = PolicyBuilder().store(Store(list(roots))).time(moment).build_client_verifier()
        verifier.verify(leaf, list(chain[1:]))
        return True, None
    except (VerificationError, UnsupportedAlgorithm, ValueError, TypeError):
        return go_chain(chain, roots)
