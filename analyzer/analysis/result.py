"""What a scan returns: the one object every renderer reads (renderers never import the orchestrator)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from datetime import datetime, timedelta
from enum import StrEnum

from analyzer.analysis.inventory import InventoryEntry
from analyzer.analysis.deadlines import Deadlines
from analyzer.gomodel.klog import split_prefix
from analyzer.model.findings import Finding, Verdict
from analyzer.records import datarecord
from analyzer.reftime import format_utc
from analyzer.wiring.model import Wiring

# The reference time is "far" from the evidence when the evidence's newest moment lies more than
# this before it (or after it: checks would be judged before the evidence existed).
FAR_FROM_EVIDENCE = timedelta(days=7)


@datarecord
class EvidenceTime:
    """The newest moment the evidence itself records, and where that moment was read."""

    time_utc: datetime
    what: str  # "the newest write the snapshot records (openshift-config/api-cert, revision 3)"

    def notice(self, reference_utc: datetime) -> str | None:
        """A sentence when the reference time is far from the evidence's own time, suggesting --at."""
        gap = reference_utc - self.time_utc
        if -timedelta(days=1) <= gap <= FAR_FROM_EVIDENCE:
            return None
        days = abs(gap).days
        relation = f"{days} days after" if gap > timedelta(0) else f"{days} days before"
        return (f"The reference time {format_utc(reference_utc)} is {relation} the evidence's own time, {format_utc(self.time_utc)} "
                f"({self.what}): certificates are judged at the reference time. To judge them as the evidence was taken, "
                f"add --at {format_utc(self.time_utc)}.")


def evidence_time(wiring: Wiring, log_tails: Iterable[tuple[str, bytes]], reference_utc: datetime) -> EvidenceTime | None:
    """The evidence's own newest moment: the newest write the snapshot records for the objects the
    components load (managedFields times), or a log's last dated line, whichever is later.

    Year-less log times (klog headers, journalctl's short form) take their year from the reference
    time, so they cannot say how far the reference is from the log: only lines with a full date
    (CRI, ``oc logs --timestamps``, journalctl short-iso) count.
    """
    found: list[EvidenceTime] = []
    for load in wiring.iter_loads():
        for material in load.history_materials():
            for change in material.history:
                if change.time_utc is not None:
                    found.append(EvidenceTime(change.time_utc, f"the newest write the snapshot records: {material.location.object}, revision {change.revision}"))
    for source, tail in log_tails:
        for line in reversed(tail.splitlines()[-50:]):
            if not line.strip():
                continue
            _format, moment, dated, _rest = split_prefix(line.rstrip(b"\r"), reference_utc)
            if dated and moment is not None:
                found.append(EvidenceTime(moment, f"the last dated line of {source}"))
            break
    return max(found, key=lambda item: item.time_utc, default=None)


@datarecord
class InputRecord:
    path: str
    kind: str
    format: str
    size: int | None
    sha256: str | None
    integrity: str | None  # etcd snapshots: ok | mismatch | absent
    partial: bool
    notes: tuple[str, ...] = ()
    revision: int | None = None  # etcd snapshots: the revision analysed; a running etcd: the revision read
    etcd: dict[str, object] | None = None  # a running etcd: endpoint, cluster ID, members, version, compaction

    @property
    def live(self) -> bool:
        return self.etcd is not None

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path, "kind": self.kind, "format": self.format, "size": self.size, "sha256": self.sha256,
            "integrity": self.integrity, "partial": self.partial, "revision": self.revision, "notes": list(self.notes),
            "live": self.live, "etcd": self.etcd,
        }


class Outcome(StrEnum):
    """What a scan can honestly claim; the CLI turns it into an exit code (0, 1 or 4)."""

    CLEAN = "clean"  # a verdict was reached and nothing is error-level
    FAILING = "failing"  # an error-level finding
    # Nothing error-level, but the evidence was damaged or not enough to decide: automation must
    # not read this as healthy.
    INCOMPLETE = "incomplete"


@datarecord(frozen=False)
class ScanResult:
    tool_version: str
    reference_utc: datetime
    warn_days: int
    inputs: list[InputRecord]
    wiring: Wiring
    findings: list[Finding]
    verdict: Verdict
    inventory: list[InventoryEntry]
    encryption_sources: list[str] = field(default_factory=list)
    partial: bool = False
    deadlines: Deadlines | None = None  # safe-shutdown deadline and next outage, at reference_utc
    evidence_time: EvidenceTime | None = None  # the evidence's own newest moment (evidence_time)
    last_good: dict[str, int] = field(default_factory=dict)  # "namespace/secret" -> revision of its last working pair

    @property
    def failing(self) -> bool:
        return any(f.severity.failing for f in self.findings)

    @property
    def outcome(self) -> Outcome:
        if self.failing:
            return Outcome.FAILING
        undecided = self.verdict.status == "unknown" or any(c.starts is None for c in self.verdict.components)
        # Two inputs that disagree about one node: each is judged, but which is the node's truth is not known.
        undecided = undecided or any(f.id == "evidence.node-conflict" for f in self.findings)
        return Outcome.INCOMPLETE if self.partial or undecided else Outcome.CLEAN
