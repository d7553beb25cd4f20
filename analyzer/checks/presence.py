"""Evidence that cannot be judged: scrubbed, elided, encrypted without a key, or simply not sent.

Such material is reported as "cannot be verified from this evidence", never as fine and never as
broken (architecture principle 4). Missing and empty files are not this module's business: what
the component does about them depends on how it loads them (pairs, bundles).
"""

from __future__ import annotations

from analyzer.checks import severity
from analyzer.checks.annotations import ownership
from analyzer.checks.context import CheckContext, finding
from analyzer.gomodel.clientgo import unreadable_certificate
from analyzer.model.findings import Finding
from analyzer.wiring.model import Load, Material, State

_WHY = {
    State.SCRUBBED: "scrubbed by sosreport",
    State.ELIDED: "elided by must-gather",
    State.ENCRYPTED: "encrypted at rest, and no key for it was given",
    State.NOT_IN_EVIDENCE: "not in the evidence",
    State.UNREADABLE: "unreadable in the evidence",
}

_ASK = {
    State.SCRUBBED: "ask for a copy of the files themselves (tar of /etc/kubernetes and /var/lib/kubelet/pki); sosreport removes keys",
    State.ELIDED: "ask for the etcd snapshot or the node's files; must-gather keeps only tls.crt and ca.crt",
    State.ENCRYPTED: "give the EncryptionConfiguration with --encryption-config (on OpenShift: static-pod-resources/kube-apiserver-pod-N/secrets/encryption-config/encryption-config)",
    State.NOT_IN_EVIDENCE: "ask for the node's /etc/kubernetes and /var/lib/kubelet/pki, or the etcd snapshot",
    State.UNREADABLE: "check the input: the file or object could not be read",
}


# A certificate Go would load but cryptography cannot read (gomodel.x509parse): present, and still
# nothing about it can be checked.
_UNREADABLE_CERTIFICATE = "unreadable-certificate"
_WHY_UNREADABLE = "Go loads a certificate in it that this tool cannot read"
_ASK_UNREADABLE = "inspect the certificate with `openssl x509 -text` or Go itself; kforensic cannot read it, so it claims nothing about it"


def _why(material: Material) -> str | None:
    if material.state in _WHY:
        return _WHY[material.state]
    if material.state is State.PRESENT and unreadable_certificate(material.data):
        return _WHY_UNREADABLE
    return None


def unverifiable(load: Load) -> list[tuple[str, Material]]:
    """The parts of a load the evidence cannot show, in order."""
    return [(what, m) for what, m in load.materials() if _why(m)]


def check_unverifiable(load: Load, ctx: CheckContext) -> list[Finding]:
    parts = unverifiable(load)
    if not parts:
        return []
    what, first = parts[0]
    names = ", ".join(f"{w} ({_why(m)})" for w, m in parts)
    unreadable = unreadable_certificate(first.data) if first.state is State.PRESENT else None
    first_detail = unreadable or first.detail
    # What the object's own annotations say (a must-gather keeps them): who owns it and what it is, to
    # attribute the certificate whose key cannot be seen.
    owned = ownership(first) or ownership(load.certificate)
    detail = (
        f"{load.label} of {load.component} cannot be verified from this evidence: {names}. "
        + (f"{first_detail}. " if first_detail and first_detail not in names else "")
        + "Nothing is claimed about it, either way."
        + (f" {owned}" if owned else "")
    )
    return [finding(
        load, f"evidence.{_UNREADABLE_CERTIFICATE if unreadable else first.state.value}", severity.cannot_tell(),
        f"{load.label}: {what} cannot be verified ({_why(first)})", detail,
        material=first, remediation=(_ASK_UNREADABLE if unreadable else _ASK[first.state],),
    )]
