"""What Go's crypto/x509 says when it verifies a certificate: chains, validity, key usages.

``go_verify`` replays x509.Certificate.Verify step by step (src/crypto/x509/verify.go, Go 1.27.3),
in Go's order and with Go's texts: the leaf's isValid (unhandled critical extensions, validity),
VerifyHostname (``gomodel.hostname``), Roots.contains, buildChains (candidates in
findPotentialParents order, CheckSignatureFrom (``gomodel.signature``), the candidate's isValid,
the hint, and the ``err`` later candidates overwrite), then the extended key usages of each chain.
tests/test_gooracle_verify.py checks it against real Go on generated chains. A SHA-1 leaf signed
by its CA is ``x509: certificate signed by unknown authority (possibly because of "x509: cannot
verify signature: insecure algorithm SHA1-RSA" while trying to verify candidate authority
certificate "kubernetes")`` — not a verification error.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from analyzer.gomodel.certpool import GoCertificate, go_cert_pool, go_certificate, hint_name
from analyzer.gomodel.fmt import go_quote, go_rfc3339
from analyzer.gomodel.hostname import find_hostname_error
from analyzer.gomodel.signature import go_check_signature_from
from analyzer.gomodel.x509parse import parse_certificate, public_key_of, serial_of

ERR_INCOMPATIBLE_USAGE = "x509: certificate specifies an incompatible key usage"
ERR_NOT_AUTHORIZED_TO_SIGN = "x509: certificate is not authorized to sign other certificates"
ERR_NAME_MISMATCH = "x509: issuer name does not match subject from issuing certificate"
ERR_UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"
ERR_UNHANDLED_CRITICAL = "x509: unhandled critical extension"
ERR_TOO_MANY_INTERMEDIATES = "x509: too many intermediates for path length constraint"
ERR_SIGNATURE_LIMIT = "x509: signature check attempts limit reached while verifying certificate chain"
_MAX_SIGNATURE_CHECKS = 100
_EKU_ANY = "2.5.29.37.0"
EKU_OIDS = {"any": _EKU_ANY, "serverAuth": "1.3.6.1.5.5.7.3.1", "clientAuth": "1.3.6.1.5.5.7.3.2"}


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


def _is_valid(cert: GoCertificate, kind: str, chain: list[GoCertificate], now: dt.datetime | None) -> str | None:
    """Certificate.isValid (verify.go) for a leaf, intermediate or root appended to ``chain``."""
    if cert.unhandled_critical:
        return ERR_UNHANDLED_CRITICAL
    if chain and chain[-1].raw_issuer != cert.raw_subject:
        return ERR_NAME_MISMATCH
    error = find_validity_error(cert.cert, now) if now is not None else None
    if error:
        return error
    if kind == "intermediate" and not (cert.basic_constraints_valid and cert.is_ca):
        return ERR_NOT_AUTHORIZED_TO_SIGN
    if cert.basic_constraints_valid and cert.max_path_len >= 0 and len(chain) - 1 > cert.max_path_len:
        return ERR_TOO_MANY_INTERMEDIATES
    return None


def _potential_parents(pool: list[GoCertificate], cert: GoCertificate) -> list[GoCertificate]:
    """CertPool.findPotentialParents: same subject as the issuer, ordered by key-id agreement."""
    matching, one, mismatch = [], [], []
    for candidate in pool:
        if candidate.raw_subject != cert.raw_issuer:
            continue
        if candidate.subject_key_id == cert.authority_key_id:
            matching.append(candidate)
        elif bool(candidate.subject_key_id) != bool(cert.authority_key_id):
            one.append(candidate)
        else:
            mismatch.append(candidate)
    return matching + one + mismatch


def _already_in_chain(candidate: GoCertificate, chain: list[GoCertificate]) -> bool:
    for cert in chain:
        if candidate.raw_subject != cert.raw_subject or candidate.raw_spki != cert.raw_spki:
            continue
        if candidate.san_value is None and cert.san_value is None:
            return True
        if candidate.san_value is None or cert.san_value is None:
            return False
        if candidate.san_value == cert.san_value:
            return True
    return False


def _build_chains(
    cert: GoCertificate, chain: list[GoCertificate], checks: list[int],
    roots: list[GoCertificate], intermediates: list[GoCertificate], now: dt.datetime | None,
) -> tuple[list[list[GoCertificate]], str | None]:
    """Certificate.buildChains: (chains, error). ``error`` follows Go's variable: the last
    candidate's isValid or recursion result, else the UnknownAuthorityError with its hint."""
    chains: list[list[GoCertificate]] = []
    error: str | None = None
    hint: tuple[str, GoCertificate] | None = None
    for kind, pool in (("root", roots), ("intermediate", intermediates)):
        for candidate in _potential_parents(pool, cert):
            checks[0] += 1
            if checks[0] > _MAX_SIGNATURE_CHECKS:
                error = ERR_SIGNATURE_LIMIT
                break
            if public_key_of(candidate.cert) is None:
                continue  # PublicKey == nil
            if _already_in_chain(candidate, chain):
                continue
            signature_error = go_check_signature_from(cert, candidate)
            if signature_error is not None:
                hint = hint or (signature_error, candidate)
                continue
            error = _is_valid(candidate, kind, chain, now)
            if error is not None:
                hint = hint or (error, candidate)
                continue
            if kind == "root":
                chains.append([*chain, candidate])
            else:
                children, error = _build_chains(candidate, [*chain, candidate], checks, roots, intermediates, now)
                chains.extend(children)
        if error == ERR_SIGNATURE_LIMIT:
            break
    if chains:
        return chains, None
    if error is None:
        error = format_unknown_authority(hint[0], hint_name(hint[1])) if hint else format_unknown_authority()
    return [], error


def _chain_allows(chain: list[GoCertificate], usages: list[str]) -> bool:
    """checkChainForKeyUsage: every certificate with EKUs must allow at least one wanted usage."""
    remaining = list(usages)
    for cert in reversed(chain):
        if not cert.ext_key_usages or _EKU_ANY in cert.ext_key_usages:
            continue
        remaining = [usage for usage in remaining if usage in cert.ext_key_usages]
        if not remaining:
            return False
    return True


def go_verify(
    leaf_der: bytes, *, roots_pem: bytes, intermediates_pem: bytes = b"", dns_name: str = "",
    now: dt.datetime | None, key_usages: tuple[str, ...] = (),
) -> str | None:
    """x509.Certificate.Verify: None when Go verifies the leaf, else Go's error text.

    ``key_usages`` are names (``serverAuth``, ``clientAuth``, ``any``); none means serverAuth.
    The leaf must be one Go parses (see parse_certificate). ``now`` None leaves validity out
    (kforensic judges it on its own); Go always checks it."""
    leaf = go_certificate(leaf_der)
    if leaf is None:
        raise ValueError("go_verify needs a leaf that Go parses and cryptography loads")
    roots, intermediates = go_cert_pool(roots_pem), go_cert_pool(intermediates_pem)
    error = _is_valid(leaf, "leaf", [], now)
    if error:
        return error
    if dns_name:
        error = find_hostname_error(leaf.cert, dns_name)
        if error:
            return error
    if any(root.raw == leaf.raw for root in roots):
        chains = [[leaf]]
    else:
        chains, error = _build_chains(leaf, [leaf], [0], roots, intermediates, now)
        if error:
            return error
    if "any" in key_usages:
        return None
    wanted = [EKU_OIDS[usage] for usage in key_usages] or [EKU_OIDS["serverAuth"]]
    if any(_chain_allows(chain, wanted) for chain in chains):
        return None
    return ERR_INCOMPATIBLE_USAGE


@lru_cache(maxsize=4096)
def verifies(chain: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...]) -> tuple[bool, str | None]:
    """(trusted, Go's error) for a presented chain against a bundle of roots, any key usage.

    Validity is its own check, so chains are judged without it (go_verify with ``now`` None).
    Pure and cached: every kubeconfig of a node verifies the same served chain with the same CA.
    """
    pem = serialization.Encoding.PEM
    leaf_der = chain[0].public_bytes(serialization.Encoding.DER)
    parse_error = parse_certificate(leaf_der).go_error
    if parse_error is not None:
        return False, parse_error
    error = go_verify(leaf_der, roots_pem=b"".join(root.public_bytes(pem) for root in roots),
                      intermediates_pem=b"".join(c.public_bytes(pem) for c in chain[1:]), now=None, key_usages=("any",))
    return error is None, error
