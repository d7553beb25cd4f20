"""What every check needs besides the wiring: the reference time and the thresholds."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509

from analyzer.gomodel.clientgo import bundle, key_pair
from analyzer.model.findings import Finding, Severity, Subject
from analyzer.model.vocabulary import Distribution
from analyzer.records import datarecord
from analyzer.wiring.model import (
    BundlePayload, KubeconfigPayload, Load, Material, PairPayload, State, load_files,
)


@datarecord
class CheckContext:
    reference_utc: datetime
    warn_days: int = 30
    distribution: Distribution = Distribution.KUBEADM

    @property
    def warn_window(self) -> timedelta:
        return timedelta(days=self.warn_days)


def subject_of(load: Load, material: Material | None = None) -> Subject:
    """The subject of a finding about a load, naming the copy that was read when there is one."""
    files = load_files(load)
    # Subject.ca names a bundle a finding is about; a kubeconfig's CA file is not what its findings judge.
    ca = files.ca if isinstance(load.payload, BundlePayload) else None
    return Subject(cert=files.cert, key=files.key, object=load.object, node=load.node, ca=ca,
                   source=material.location.describe() if material is not None else None)


def finding(load: Load, id: str, severity: Severity, title: str, detail: str, *, material: Material | None = None,
            go_error: str | None = None, evidence: tuple[str, ...] = (), remediation: tuple[str, ...] = (),
            blocks_start: bool = False, peer: str | None = None, fingerprint: str | None = None,
            problem: str = "") -> Finding:
    return Finding(
        id=id, severity=severity, component=load.component, role=load.role, title=title, detail=detail,
        subject=subject_of(load, material), go_error=go_error, evidence=evidence, remediation=remediation,
        label=load.label, order=load.order, blocks_start=blocks_start, peer=peer, fingerprint=fingerprint,
        problem=problem, load=load.ref,
    )


def presented_chain(load: Load) -> tuple[x509.Certificate, ...]:
    """The certificates a load presents, leaf first: what its peers verify.

    Empty when there is nothing to verify: no certificate, or a pair that does not even load
    (its own finding says why, and expiry or trust on top of it would only be noise). A pair whose
    key cannot be seen (scrubbed, elided) still shows its certificate: must-gather keeps tls.crt.
    """
    match load.payload:
        case PairPayload(cert=cert, key=key) | KubeconfigPayload(cert=cert, key=key):
            pass
        case _:
            return ()
    if cert is None or cert.state is not State.PRESENT:
        return ()
    if key is not None and key.state.verifiable:
        # An empty or missing key file fails the pair as surely as a wrong key does.
        if key.state is not State.PRESENT or not key_pair(cert.data, key.data).ok:
            return ()
    certificates, _ = bundle(cert.data)
    return certificates
