"""Findings and the verdict: what the checks conclude, in the shape the JSON report carries."""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum

from analyzer.model.vocabulary import Component, Role
from analyzer.records import datarecord


class Severity(StrEnum):
    CRITICAL = "critical"  # a component cannot start, or cannot reach its storage
    ERROR = "error"  # a connection will be refused
    WARNING = "warning"  # will break later, or cannot be verified from this evidence
    INFO = "info"  # context: history, notes

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def failing(self) -> bool:
        """Error-level: makes `kforensic scan` exit 1."""
        return self in (Severity.CRITICAL, Severity.ERROR)


_RANK = {Severity.CRITICAL: 0, Severity.ERROR: 1, Severity.WARNING: 2, Severity.INFO: 3}

# Which component's failure leads the verdict when several fail.
COMPONENT_PRIORITY = (Component.KUBE_APISERVER, Component.ETCD, Component.KUBE_CONTROLLER_MANAGER, Component.KUBE_SCHEDULER,
                      Component.KUBELET)


def component_rank(component: Component) -> int:
    return COMPONENT_PRIORITY.index(component) if component in COMPONENT_PRIORITY else len(COMPONENT_PRIORITY)


@datarecord
class Subject:
    """What a finding is about, named the way a person finds it on the node or in etcd."""

    cert: str | None = None  # path as the component is configured with it
    key: str | None = None
    object: str | None = None  # namespace/name in etcd
    node: str | None = None
    source: str | None = None  # where the failing bytes were read (file, or etcd key and revision)
    ca: str | None = None  # a CA bundle's path, for a finding about the bundle itself

    def to_json(self) -> dict[str, str | None]:
        # The report's contract has no "ca": a bundle's path is its "key" there, as it always was.
        key = self.key if self.key is not None else self.ca
        return {"cert": self.cert, "key": key, "object": self.object, "node": self.node, "source": self.source}


@datarecord
class LoadKey:
    """Which load a finding judges: its component, node, place in start-up and label (one per load)."""

    component: Component
    node: str | None
    order: int
    label: str


@datarecord
class Finding:
    id: str  # stable: pair.key-unparseable, validity.expired, trust.unknown-authority
    severity: Severity
    component: Component
    role: Role
    title: str
    detail: str
    subject: Subject
    go_error: str | None = None
    evidence: tuple[str, ...] = ()
    remediation: tuple[str, ...] = ()
    label: str = ""  # the load as a person says it: "SNI pair 6 of 6, user-serving-cert-000"
    order: int = 0  # the load's place in the component's start-up
    blocks_start: bool = False  # the component stops at this load
    peer: str | None = None  # whom the component will fail to talk to
    fingerprint: str | None = None  # SHA-256 of the certificate concerned
    problem: str = ""  # what is wrong, in words, for the verdict's sentence (defaults to the title)
    recovery: str | None = None  # heals-on-restart | needs-csr-approval | needs-reissue | unknown (analysis.recovery)
    recovery_detail: str | None = None  # why, naming the mechanism
    go_version: str | None = None  # the Go release whose words go_error is ("1.27")
    # (release named by the evidence, its Go, what it prints instead) where an older Go words it otherwise
    go_error_older: tuple[tuple[str, str, str], ...] = ()
    load: LoadKey | None = None  # the load it judges, for joining it back; None for evidence and log findings

    @property
    def sort_key(self) -> tuple[int, int, str, int, str, str]:
        return (self.severity.rank, component_rank(self.component), self.subject.node or "", self.order, self.id, self.title)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "component": self.component,
            "role": self.role,
            "label": self.label,
            "title": self.title,
            "detail": self.detail,
            "go_error": self.go_error,
            "subject": self.subject.to_json(),
            "evidence": list(self.evidence),
            "remediation": list(self.remediation),
            "order": self.order,
            "blocks_start": self.blocks_start,
            "peer": self.peer,
            "fingerprint": self.fingerprint,
            "problem": self.problem or self.title,
            "recovery": self.recovery,
            "recovery_detail": self.recovery_detail,
            "go_version": self.go_version,
            "go_error_older": [{"release": r, "go": g, "text": t} for r, g, t in self.go_error_older],
        }


@datarecord
class ComponentVerdict:
    component: Component
    node: str | None
    starts: bool | None  # None: the evidence cannot tell
    blocked_by: str | None  # id of the finding that stops it
    cannot_reach: tuple[str, ...]
    summary: str

    def to_json(self) -> dict[str, object]:
        return {
            "component": self.component,
            "node": self.node,
            "starts": self.starts,
            "blocked_by": self.blocked_by,
            "cannot_reach": list(self.cannot_reach),
            "summary": self.summary,
        }


@datarecord
class Verdict:
    status: str  # broken | degraded | at-risk | healthy | unknown
    headline: str
    components: tuple[ComponentVerdict, ...] = ()
    next_expiry: dict[str, object] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    lead: Finding | None = None  # the finding the headline names: every renderer's "fix first"

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "headline": self.headline,
            "components": [c.to_json() for c in self.components],
            "next_expiry": self.next_expiry,
            "counts": self.counts,
        }
