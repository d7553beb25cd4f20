"""The safe-shutdown deadline and the next outage: when the first certificate a restart depends on runs out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from cryptography import x509

from analyzer.checks.annotations import rotation_annotations
from analyzer.gomodel.clientgo import bundle, common_name
from analyzer.records import datarecord
from analyzer.reftime import format_utc
from analyzer.wiring.model import BundlePayload, Load, State, Wiring
from analyzer.analysis.recovery import CERTROTATION, Mechanism, Recovery, mechanism
from analyzer.model.vocabulary import Component as ComponentName


@datarecord
class Deadline:
    when_utc: datetime
    label: str  # what bounds it, as a person finds it
    why: str

    def to_json(self, at: datetime) -> dict[str, object]:
        return {"time": format_utc(self.when_utc), "label": self.label, "why": self.why, "passed": self.when_utc <= at,
                "days_left": (self.when_utc - at).days}

    def sentence(self, at: datetime) -> str:
        if self.when_utc <= at:
            return f"passed at {format_utc(self.when_utc)} ({self.label})"
        return f"{format_utc(self.when_utc)}, in {(self.when_utc - at).days} days ({self.label})"


@datarecord
class Deadlines:
    safe_shutdown: Deadline | None  # shut down after this and the cluster does not come back by itself
    next_outage: Deadline | None  # the next thing to stop working if the cluster keeps running

    def to_json(self, at: datetime) -> dict[str, object]:
        return {"safe_shutdown": self.safe_shutdown.to_json(at) if self.safe_shutdown else None,
                "next_outage": self.next_outage.to_json(at) if self.next_outage else None}

    def sentences(self, at: datetime) -> tuple[str, str]:
        """The two lines every report's headline area carries, computed at ``at``."""
        if self.safe_shutdown is None:
            shutdown = "Safe-shutdown deadline: none found (nothing in this evidence needs a hand after a restart)."
        elif self.safe_shutdown.when_utc <= at:
            shutdown = (f"Safe-shutdown deadline: passed at {format_utc(self.safe_shutdown.when_utc)} ({self.safe_shutdown.label}); "
                        f"a restart now does not come back by itself: {self.safe_shutdown.why.split(':', 1)[0]}.")
        else:
            shutdown = (f"Safe-shutdown deadline: {self.safe_shutdown.sentence(at)}; shut down after it and the cluster does not "
                        f"come back by itself ({self.safe_shutdown.why.split(':', 1)[0]}).")
        if self.next_outage is None:
            outage = "Next outage if it keeps running: none found (everything left is renewed while it runs)."
        else:
            outage = f"Next outage if it keeps running: {self.next_outage.sentence(at)}."
        return shutdown, outage


def _certificates(load: Load) -> Iterator[x509.Certificate]:
    """The leaf of a pair, or every certificate of a CA bundle."""
    match load.payload:
        case BundlePayload(ca=ca):
            if ca.state is State.PRESENT:
                yield from bundle(ca.data)[0]
            return
    cert = load.certificate
    if cert is not None and cert.state is State.PRESENT:
        certificates = bundle(cert.data)[0]
        if certificates:
            yield certificates[0]


def _who(load: Load, certificate: x509.Certificate) -> str:
    where = f"{load.component} on {load.node}" if load.node else load.component
    return f"{where}: {load.label}, CN={common_name(certificate)}"


def deadlines(wiring: Wiring, at: datetime) -> Deadlines:
    """The safe-shutdown deadline and the next outage, both computed at ``at``.

    Safe shutdown: the earliest end of a certificate that a restart does not renew by itself
    (needs a CSR approved, or a re-issue) — an operator-managed one counts when its annotations
    claim a later end. Next outage: the earliest end after ``at`` of a certificate nothing renews
    while the cluster runs. Loads of people's kubeconfigs count for neither: the cluster runs on.
    """
    shutdown: list[Deadline] = []
    outage: list[Deadline] = []
    for load in wiring.iter_loads():
        if load.component in (ComponentName.ADMIN_KUBECONFIGS, ComponentName.NODE_KUBECONFIGS):
            continue
        m = mechanism(load, wiring.distribution)
        for certificate in _certificates(load):
            end = certificate.not_valid_after_utc
            drifted = _annotation_claims_later(m, end)
            why = (f"needs-reissue: its rotation annotations claim a later end than the certificate's, and {m.name} decides from them ({CERTROTATION})"
                   if drifted else f"{m.after_expiry.value}: {m.detail}")
            if m.after_expiry is not Recovery.UNKNOWN and (m.after_expiry is not Recovery.HEALS or drifted):
                shutdown.append(Deadline(end, _who(load, certificate), why))
            if (drifted or not m.rotates_while_running) and m.after_expiry is not Recovery.UNKNOWN and end > at:
                outage.append(Deadline(end, _who(load, certificate), "nothing renews it while the cluster runs: "
                                       + (why.removeprefix("needs-reissue: ") if drifted else m.name)))
    return Deadlines(_earliest(shutdown), _earliest(outage))


def _earliest(found: list[Deadline]) -> Deadline | None:
    return min(found, key=lambda d: (d.when_utc, d.label)) if found else None


def _annotation_claims_later(m: Mechanism, end: datetime) -> bool:
    if m.annotated is None:
        return False
    annotated = rotation_annotations(m.annotated)
    return annotated is not None and annotated.problem is None and annotated.not_after_utc is not None and annotated.not_after_utc > end
