"""What a scan returns: the one object every renderer reads (renderers never import the orchestrator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from analyzer.analysis.inventory import InventoryEntry
from analyzer.analysis.recovery import Deadlines
from analyzer.model.findings import Finding, Verdict
from analyzer.wiring.model import Wiring


@dataclass(frozen=True)
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


@dataclass
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
