"""Does the peer trust it? Each certificate is verified against the bundle its peer really uses.

``cryptography.x509.verification`` is tried first; its RFC 5280 policy is stricter than Go's
(it wants key identifiers, key usage on CAs, SANs), so a refusal there is re-checked the way Go
decides: a chain of issuer-name and signature matches from the presented certificates to a
certificate of the bundle (crypto/x509 verify.go buildChains). When Go would refuse, its error
is predicted, including the hint it adds when a candidate CA has the right name but the wrong
key — the signature of a regenerated CA: ``x509: certificate signed by unknown authority
(possibly because of "crypto/rsa: verification error" while trying to verify candidate authority
certificate "kubernetes")``.

Validity is its own check, so chains are verified at a moment inside the leaf's validity.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import bundle, common_name, sha256_fingerprint
from analyzer.checks.remediation import remedies
from analyzer.gomodel.keypair import format_unknown_authority, go_hint_certificate_name
from analyzer.model.findings import Finding, Severity
from analyzer.wiring.model import STORAGE_ROLES, Load, State

MAX_CHAIN = 8
# Per key type: Go's name for the algorithm, its %T, and what CheckSignatureFrom reports when the
# signature does not verify (crypto/x509 x509.go checkSignature).
_KEY_TYPES = (
    (rsa.RSAPublicKey, "RSA", "*rsa.PublicKey", "crypto/rsa: verification error"),
    (ec.EllipticCurvePublicKey, "ECDSA", "*ecdsa.PublicKey", "x509: ECDSA verification failure"),
    (ed25519.Ed25519PublicKey, "Ed25519", "ed25519.PublicKey", "x509: Ed25519 verification failure"),
)
ERR_CANNOT_SIGN = "x509: invalid signature: parent certificate cannot sign this kind of certificate"


def _signed_with(certificate: x509.Certificate) -> str | None:
    """The key algorithm the certificate's signature algorithm names (RSA, ECDSA, Ed25519)."""
    if certificate.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ED25519:
        return "Ed25519"
    parameters = certificate.signature_algorithm_parameters
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


def _signature_error(certificate: x509.Certificate, issuer: x509.Certificate) -> str:
    """What Go's CheckSignatureFrom returns for a candidate issuer that did not sign the certificate."""
    if not _can_sign(issuer):
        return ERR_CANNOT_SIGN
    key, wanted = issuer.public_key(), _signed_with(certificate)
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
    if not _can_sign(issuer):
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError):
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
    except (VerificationError, ValueError, TypeError):
        return go_chain(chain, roots)


def check_trust(load: Load, ctx: CheckContext) -> list[Finding]:
    peer = load.peer
    if peer is None or peer.ca is None or peer.ca.state is not State.PRESENT:
        return []
    chain = presented_chain(load)
    if not chain:
        return []
    roots, _error = bundle(peer.ca.data)
    trusted, go_error = verifies(chain, roots)
    if trusted:
        return []
    leaf = chain[0]
    storage = load.role in STORAGE_ROLES
    issuer = leaf.issuer.rfc4514_string()
    in_bundle = ", ".join(f"CN={common_name(root)}" for root in roots) or "nothing"
    if peer.usage == "client":
        what = f"{peer.name} refuses {load.label}: it verifies clients with {peer.ca_ref}, which does not hold its issuer"
    else:
        what = f"{peer.name} refuse {load.label}: they verify it with {peer.ca_ref}, which does not hold its issuer"
    detail = (
        f"{what}. The certificate (CN={common_name(leaf)}) was issued by {issuer}; the bundle holds {in_bundle}. "
        + ("A CA of the same name with a different key means the CA was regenerated and this certificate still comes from the old one. "
           if go_error and "possibly because of" in go_error else "")
        + ("Without its etcd connection kube-apiserver never becomes ready." if storage else "")
    )
    return [finding(
        load, "trust.unknown-authority", Severity.CRITICAL if storage else Severity.ERROR,
        f"{load.label}: not trusted by {peer.name}", detail.strip(), material=load.cert, go_error=go_error,
        peer=peer.name, remediation=remedies(load, "trust.unknown-authority", ctx), fingerprint=sha256_fingerprint(leaf),
        evidence=(f"trust bundle: {peer.ca.location.describe()}",),
    )]
