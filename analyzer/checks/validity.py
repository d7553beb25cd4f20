"""Is each certificate valid at the reference time, and how long will it stay so?

Go checks validity while *verifying* (crypto/x509 verify.go), not while loading: an expired pair
loads and the component starts, and its peers refuse it. The error is theirs, word for word:
``x509: certificate has expired or is not yet valid: current time … is after …``.

"Expiring soon" is ``--warn-days`` (default 30) before the end, except for certificates whose
whole life is shorter than twice that (OpenShift rotates its 30-day leaves at half-life): those
warn in the last fifth of their life, so a healthy OpenShift cluster is not a wall of warnings.
"""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509

from analyzer.checks import severity
from analyzer.checks.annotations import ownership
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import bundle, common_name, sha256_fingerprint
from analyzer.checks.remediation import remedies
from analyzer.gomodel.verify import find_validity_error
from analyzer.model.findings import Finding
from analyzer.wiring.model import STORAGE_ROLES, BundlePayload, KubeconfigPayload, Load, State
from analyzer.reftime import format_utc

# Verified only when a peer is configured to: kube-apiserver checks kubelets' serving certificates
# only with --kubelet-certificate-authority, which kubeadm does not set.
OPTIONALLY_VERIFIED = ("kubelet-serving",)


# The rule in the module docstring, as numbers the report's legend states too.
SHORT_LIFE_FACTOR = 2  # a life shorter than this many warn windows is short
SHORT_LIFE_WARN_FRACTION = 5  # a short life warns in its last 1/5


def warning_window(certificate: x509.Certificate, ctx: CheckContext) -> timedelta:
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    if lifetime < SHORT_LIFE_FACTOR * ctx.warn_window:
        return lifetime / SHORT_LIFE_WARN_FRACTION
    return ctx.warn_window


def validity_state(certificate: x509.Certificate, ctx: CheckContext) -> str:
    """expired | not-yet-valid | expiring | valid at the reference time, by the rule the check uses."""
    now = ctx.reference_utc
    if now > certificate.not_valid_after_utc:
        return "expired"
    if now < certificate.not_valid_before_utc:
        return "not-yet-valid"
    if certificate.not_valid_after_utc - now <= warning_window(certificate, ctx):
        return "expiring"
    return "valid"


def check_validity(load: Load, ctx: CheckContext) -> list[Finding]:
    chain = presented_chain(load)
    if not chain:
        return []
    leaf = chain[0]
    now = ctx.reference_utc
    peer = load.peer.name if load.peer else ("kube-apiserver" if isinstance(load.payload, KubeconfigPayload) else "its peers")
    subject = f"CN={common_name(leaf)}"
    go_error = find_validity_error(leaf, now)
    if go_error:
        expired = now > leaf.not_valid_after_utc
        storage = load.role in STORAGE_ROLES
        unchecked = load.role in OPTIONALLY_VERIFIED and load.peer is None
        level = severity.unverified_by_peer() if unchecked else severity.failure(load, stops_component=False)
        if expired:
            title = f"{load.label}: certificate expired {format_utc(leaf.not_valid_after_utc)}"
            what = f"expired at {format_utc(leaf.not_valid_after_utc)}, {(now - leaf.not_valid_after_utc).days} days before the reference time"
        else:
            title = f"{load.label}: certificate not valid until {format_utc(leaf.not_valid_before_utc)}"
            what = f"is not valid until {format_utc(leaf.not_valid_before_utc)} (issued in the future: a node clock was wrong when it was made, or is wrong now)"
        consequence = (
            "nothing in this configuration verifies it (no --kubelet-certificate-authority), but any client that does will refuse it"
            if unchecked else
            f"{load.component} loads it and starts, but {peer} refuses every connection with it"
            + ("; kube-apiserver cannot reach its storage and will not become ready" if storage else "")
        )
        return [finding(
            load, "validity.expired" if expired else "validity.not-yet-valid", level, title,
            f"{load.label} ({subject}) {what}. {consequence}.{_owned(load)}", material=load.certificate, go_error=go_error,
            peer=peer, remediation=remedies(load, "validity.expired", ctx), fingerprint=sha256_fingerprint(leaf),
        )]
    remaining = leaf.not_valid_after_utc - now
    if remaining <= warning_window(leaf, ctx):
        return [finding(
            load, "validity.expiring", severity.later(),
            f"{load.label}: certificate expires in {remaining.days} days ({format_utc(leaf.not_valid_after_utc)})",
            f"{load.label} ({subject}) expires at {format_utc(leaf.not_valid_after_utc)}, {remaining.days} days after the reference time; "
            f"then {peer} will refuse it.{_owned(load)}",
            material=load.certificate, peer=peer, remediation=remedies(load, "validity.expiring", ctx), fingerprint=sha256_fingerprint(leaf),
        )]
    return []


def _owned(load: Load) -> str:
    """The certificate's owner and description from its object's annotations (OpenShift), or nothing."""
    owned = ownership(load.certificate)
    return f" {owned}" if owned else ""


def check_bundle_validity(load: Load, ctx: CheckContext) -> list[Finding]:
    """An expired CA in a bundle: an error when nothing valid is left to verify with."""
    match load.payload:
        case BundlePayload(path=path, ca=ca) if ca.state is State.PRESENT:
            pass
        case _:
            return []
    certificates, error = bundle(ca.data)
    if error or not certificates:
        return []
    now = ctx.reference_utc
    expired = [c for c in certificates if find_validity_error(c, now)]
    if not expired:
        return []
    names = ", ".join(f"CN={common_name(c)} (until {format_utc(c.not_valid_after_utc)})" for c in expired)
    every = len(expired) == len(certificates)
    return [finding(
        load, "validity.ca-expired", severity.failure(load, stops_component=False) if every else severity.partial_defect(),
        f"{load.label}: {'every' if every else str(len(expired)) + ' of ' + str(len(certificates))} CA certificate(s) expired or not yet valid",
        f"{load.label} ({load.flag}={path}) holds {names}; "
        + ("nothing this bundle verifies can be trusted now." if every else "the other certificates of the bundle still verify."),
        material=ca, go_error=find_validity_error(expired[0], now), remediation=remedies(load, "validity.ca-expired", ctx),
    )]
