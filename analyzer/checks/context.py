"""What every check needs besides the wiring: the reference time and the thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from analyzer.report.model import Finding, Severity, Subject
from analyzer.wiring.model import Load, Material


@dataclass(frozen=True)
class CheckContext:
    reference_utc: datetime
    warn_days: int = 30
    distribution: str = "kubeadm"

    @property
    def warn_window(self) -> timedelta:
        return timedelta(days=self.warn_days)


def subject_of(load: Load, material: Material | None = None) -> Subject:
    """The subject of a finding about a load, naming the copy that was read when there is one."""
    return Subject(
        cert=load.cert_path,
        key=load.key_path or (load.ca_path if load.cert_path is None else None),
        object=load.object,
        node=load.node,
        source=material.location.describe() if material is not None else None,
    )


# Kubeconfigs people use (admin.conf, OpenShift's recovery kubeconfigs) rather than components:
# when they fail, a person's kubectl fails and the control plane runs on. That is a warning.
PEOPLE_KUBECONFIGS = frozenset({"admin kubeconfigs", "node kubeconfigs"})


def finding(load: Load, id: str, severity: Severity, title: str, detail: str, *, material: Material | None = None,
            go_error: str | None = None, evidence: tuple[str, ...] = (), remediation: tuple[str, ...] = (),
            blocks_start: bool = False, peer: str | None = None, fingerprint: str | None = None,
            problem: str = "") -> Finding:
    if load.component in PEOPLE_KUBECONFIGS and severity.failing:
        severity = Severity.WARNING
    return Finding(
        id=id, severity=severity, component=load.component, role=load.role, title=title, detail=detail,
        subject=subject_of(load, material), go_error=go_error, evidence=evidence, remediation=remediation,
        label=load.label, order=load.order, blocks_start=blocks_start, peer=peer, fingerprint=fingerprint,
        problem=problem,
    )
