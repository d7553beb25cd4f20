"""What opening the evidence found about the evidence itself: a typed record, judged by the evidence checks.

Opening the inputs learns things no load check sees: a snapshot that cannot be read in place, one
that is not the one analysed, a trailer that does not match, damage met while reading, a sosreport's
scrubbing, a must-gather standing in for the snapshot, two inputs describing one node differently,
what a running etcd said of the client pair. The scan writes them here, as plain data, once every
read is done (reading values while wiring can find damage the index pass did not); the checks in
``checks/evidence.py`` turn them into findings, so that no finding is made outside a registry.
"""

from __future__ import annotations

from datetime import datetime

from analyzer.evidence.live_tls import ClientFiles, HandshakeFacts
from analyzer.records import datarecord


@datarecord
class SnapshotFacts:
    """One snapshot that was opened (analysed or not)."""

    source: str
    analysed_instead: str | None  # what is analysed in its place ("the newest snapshot (…)", "etcd at …"); None: this one
    integrity_mismatch: str | None  # why its SHA-256 trailer does not match; None when it matches or is absent
    possibly_dirty: bool  # cluster-backup.sh --force named it __POSSIBLY_DIRTY__
    freelist_damage: tuple[str, ...]  # what is wrong with the bbolt freelist (the data was read without it)
    damage: tuple[str, ...]  # what could not be read, each once, in the damage log's order (page, bucket, problem)

    @property
    def partial(self) -> bool:
        """Reading it met damage: the analysis is partial."""
        return bool(self.damage)


@datarecord
class NodeConflict:
    """Two or more inputs describe one node and disagree: both are kept, under distinct names."""

    node: str
    inputs: tuple[str, ...]
    differing: tuple[str, ...]  # host paths whose content differs between the inputs
    renamed: tuple[str, ...]  # the names the members are analysed under

    def describe(self) -> str:
        shown = ", ".join(self.differing[:8]) + (f" and {len(self.differing) - 8} more" if len(self.differing) > 8 else "")
        return (f"{' and '.join(self.inputs)} both describe node {self.node} but disagree on {shown}; "
                f"each is analysed on its own, as {' and '.join(self.renamed)}")


@datarecord
class MustGatherFacts:
    """Must-gather roots standing in for the snapshot (read together, newest copy of each object)."""

    source: str  # the roots, as one source
    roots: tuple[str, ...]


@datarecord
class EtcdAccepted:
    """A running etcd accepted the client pair given with --etcd and answered reads."""

    files: ClientFiles
    endpoint: str
    revision: int


@datarecord
class EtcdRefused:
    """A running etcd refused the client pair; ``explanation`` is Go's reason (checks/etcd_client.py)."""

    facts: HandshakeFacts
    explanation: str


@datarecord
class LiveDamage:
    """Part of a running etcd could not be read."""

    endpoint: str
    damage: tuple[str, ...]


@datarecord
class EvidenceFacts:
    """Everything the evidence checks judge. Sources are as the report names them."""

    encryption_config_errors: tuple[tuple[str, str], ...] = ()  # (source, why it does not load)
    unreadable_snapshots: tuple[tuple[str, str], ...] = ()  # (source, why it cannot be read in place)
    snapshots: tuple[SnapshotFacts, ...] = ()  # newest first
    skipped: tuple[str, ...] = ()  # parts of the evidence skipped, each saying why
    node_conflicts: tuple[NodeConflict, ...] = ()
    scrubbed_inputs: tuple[str, ...] = ()  # sosreports: keys and kubeconfig data scrubbed
    must_gather: MustGatherFacts | None = None
    handshake: EtcdAccepted | EtcdRefused | None = None
    handshake_utc: datetime | None = None  # when the handshake's outcome is judged (now, whatever --at says)
    live_damage: LiveDamage | None = None
    unread_logs: tuple[tuple[str, str], ...] = ()  # (source, why it was not read)
