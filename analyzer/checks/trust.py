"""Does the peer trust it? Each certificate is verified against the bundle its peer really uses.

Go's verdict and its exact error come from ``gomodel.verify``; this check says what it means for
the cluster. Validity is its own check, so chains are verified at a moment inside the leaf's validity.
"""

from __future__ import annotations

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import bundle, common_name, sha256_fingerprint, unreadable_certificate
from analyzer.checks.remediation import remedies
from analyzer.gomodel.verify import verifies
from analyzer.model.findings import Finding
from analyzer.wiring.model import STORAGE_ROLES, Load, State

def check_trust(load: Load, ctx: CheckContext) -> list[Finding]:
    peer = load.peer
    if peer is None or peer.ca is None or peer.ca.state is not State.PRESENT or unreadable_certificate(peer.ca.data):
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
    # Go refuses MD5 and SHA-1 signatures before it looks at the key (gomodel.verify): the CA is
    # the right one, the certificate has to be reissued with a modern digest.
    insecure = go_error is not None and "cannot verify signature: insecure algorithm" in go_error
    why = "whose CA signed it with an algorithm Go refuses" if insecure else "which does not hold its issuer"
    if peer.usage == "client":
        what = f"{peer.name} refuses {load.label}: it verifies clients with {peer.ca_ref}, {why}"
    else:
        what = f"{peer.name} refuse {load.label}: they verify it with {peer.ca_ref}, {why}"
    if insecure:
        explanation = ("Its signature uses SHA-1 or MD5, which Go refuses for certificates (SHA-1 since Go 1.18); "
                       "the certificate must be reissued signed with SHA-256. ")
    elif go_error and "possibly because of" in go_error:
        explanation = "A CA of the same name with a different key means the CA was regenerated and this certificate still comes from the old one. "
    else:
        explanation = ""
    detail = (
        f"{what}. The certificate (CN={common_name(leaf)}) was issued by {issuer}; the bundle holds {in_bundle}. "
        + explanation
        + ("Without its etcd connection kube-apiserver never becomes ready." if storage else "")
    )
    return [finding(
        load, "trust.unknown-authority", severity.failure(load, stops_component=False),
        f"{load.label}: not trusted by {peer.name}", detail.strip(), material=load.certificate, go_error=go_error,
        peer=peer.name, remediation=remedies(load, "trust.unknown-authority", ctx), fingerprint=sha256_fingerprint(leaf),
        evidence=(f"trust bundle: {peer.ca.location.describe()}",),
    )]
