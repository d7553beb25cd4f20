"""Does the peer trust it? Each certificate is verified against the bundle its peer really uses.

Go's verdict and its exact error come from ``gomodel.verify``; this check says what it means for
the cluster. Validity is its own check, so chains are verified at a moment inside the leaf's validity.
"""

from __future__ import annotations

from cryptography import x509

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import bundle, common_name, sha256_fingerprint, unreadable_certificate
from analyzer.checks.remediation import remedies
from analyzer.gomodel.verify import verifies
from analyzer.model.findings import Finding
from analyzer.model.vocabulary import Role
from analyzer.wiring.model import STORAGE_ROLES, Load, Material, State


def _verdict(chain: tuple[x509.Certificate, ...], ca: Material | None) -> tuple[bool, tuple[x509.Certificate, ...], str | None] | None:
    """(trusted, the bundle's roots, Go's error) when ``ca`` is a readable bundle; None when there is nothing to judge by."""
    if ca is None or ca.state is not State.PRESENT or unreadable_certificate(ca.data):
        return None
    roots, _error = bundle(ca.data)
    trusted, go_error = verifies(chain, roots)
    return trusted, roots, go_error


def check_trust(load: Load, ctx: CheckContext) -> list[Finding]:
    peer = load.peer
    if peer is None:
        return []
    chain = presented_chain(load)
    if not chain:
        return []
    # Every bundle the other side verifies with (etcd: each member kube-apiserver may dial); the first
    # that refuses is told, the others that refuse are named with it.
    judged = [(ref, material, verdict) for material, ref in peer.bundles() if (verdict := _verdict(chain, material)) is not None]
    refused = [(ref, material, (roots, go_error)) for ref, material, (trusted, roots, go_error) in judged if not trusted]
    if not refused:
        return []
    # Bundles that verify the chain: members that accept the pair. etcd's client sends requests
    # over gRPC's round_robin balancer to its ready connections only (etcd client/v3 client.go
    # dials every endpoint with the round_robin policy; grpc-go balancer/roundrobin picks READY
    # sub-connections), so while one member accepts, kube-apiserver keeps its storage.
    accepted = [ref or "?" for ref, _material, (trusted, _roots, _error) in judged if trusted] if load.role == Role.ETCD_CLIENT else []
    (ca_ref, ca, (roots, go_error)), *others = refused
    assert ca is not None
    leaf = chain[0]
    storage = load.role in STORAGE_ROLES
    issuer = leaf.issuer.rfc4514_string()
    in_bundle = ", ".join(f"CN={common_name(root)}" for root in roots) or "nothing"
    # Go refuses MD5 and SHA-1 signatures before it looks at the key (gomodel.verify): the CA is
    # the right one, the certificate has to be reissued with a modern digest.
    insecure = go_error is not None and "cannot verify signature: insecure algorithm" in go_error
    why = "whose CA signed it with an algorithm Go refuses" if insecure else "which does not hold its issuer"
    if peer.usage == "client":
        what = f"{peer.name} refuses {load.label}: it verifies clients with {ca_ref}, {why}"
    else:
        what = f"{peer.name} refuse {load.label}: they verify it with {ca_ref}, {why}"
    if insecure:
        explanation = ("Its signature uses SHA-1 or MD5, which Go refuses for certificates (SHA-1 since Go 1.18); "
                       "the certificate must be reissued signed with SHA-256. ")
    elif go_error and "possibly because of" in go_error:
        explanation = "A CA of the same name with a different key means the CA was regenerated and this certificate still comes from the old one. "
    else:
        explanation = ""
    also = f"It is refused by {', '.join(ref or '?' for ref, _, _ in others)} too. " if others else ""
    if accepted:  # only an etcd client pair has any (a storage role)
        consequence = (f"{', '.join(accepted)} accept{'s' if len(accepted) == 1 else ''} it: etcd's client sends requests only over "
                       "connections whose handshake succeeded, so kube-apiserver keeps its storage through "
                       f"{'that member' if len(accepted) == 1 else 'those members'} while up, and every connection to a refusing member fails.")
    elif storage:
        consequence = "Without its etcd connection kube-apiserver never becomes ready."
    else:
        consequence = ""
    detail = f"{what}. The certificate (CN={common_name(leaf)}) was issued by {issuer}; the bundle holds {in_bundle}. " + explanation + also + consequence
    # Rule 1 only when no member it dials accepts the pair; a connection that certainly fails is rule 2.
    level = severity.connection_fails() if accepted else severity.failure(load, stops_component=False)
    # The verdict says whom the component "cannot talk to": not the whole peer while part of it accepts.
    who = f"some {peer.name} members" if accepted else peer.name
    return [finding(
        load, "trust.unknown-authority", level,
        f"{load.label}: not trusted by {who}", detail.strip(), material=load.certificate, go_error=go_error,
        peer=who, remediation=remedies(load, "trust.unknown-authority", ctx), fingerprint=sha256_fingerprint(leaf),
        evidence=tuple(f"trust bundle: {material.location.describe()}" for _, material, _ in refused if material is not None),
    )]
