"""What ``kforensic info`` says about a snapshot: one pass, one plain summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from analyzer.evidence.damage_log import Damage
from analyzer.evidence.etcd import (
    Compaction,
    Integrity,
    IntegrityResult,
    Member,
    SalvageReport,
    Snapshot,
)
from analyzer.evidence.etcd_index import spare_workers
from analyzer.evidence.freelist import FreelistCheck
from analyzer.records import datarecord

# Built-in resources whose etcd path has two segments (kubernetes default_storage_factory_builder.go).
TWO_SEGMENT_RESOURCES = frozenset({"services"})


def resource_prefix(key: bytes) -> str:
    """The resource a key belongs to: ``/registry/secrets``, ``/kubernetes.io/config.openshift.io/apiservers``.

    Custom resources are stored under ``<group>/<resource>``; a dotted second segment is a group.
    Keys outside a ``/prefix/`` layout (``compact_rev_key``) are their own group.
    """
    text = key.decode("utf-8", "replace")
    if not text.startswith("/"):
        return text
    parts = text.split("/")
    if len(parts) < 4:
        return text
    depth = 4 if ("." in parts[2] or parts[2] in TWO_SEGMENT_RESOURCES) and len(parts) > 4 else 3
    return "/".join(parts[:depth])


def count_resources(keys: Iterable[bytes]) -> Counter[str]:
    """Live keys per ``resource_prefix``, counted per directory first.

    A key's resource depends only on its directory (everything before its last ``/``) once it has
    four segments, so 100,000 keys in a few thousand directories cost a few thousand decodes.
    """
    directories: Counter[bytes] = Counter()
    resources: Counter[str] = Counter()
    for key in keys:
        if key.startswith(b"/") and key.count(b"/") >= 3:
            directories[key[: key.rfind(b"/")]] += 1
        else:
            resources[resource_prefix(key)] += 1
    for directory, count in directories.items():
        resources[resource_prefix(directory + b"/_")] += count
    return resources


@datarecord
class SnapshotSummary:
    source: str
    file_size: int
    size: int  # bytes in use by the database, as etcdutl reports "total size"
    page_size: int
    byte_order: str
    txid: int | None
    revision: int
    compaction: Compaction
    total_keys: int
    live_keys: int
    events: int
    tombstones: int
    bucket_counts: dict[str, int]
    resources: dict[str, int]
    integrity: IntegrityResult
    consistent_index: int | None
    term: int | None
    cluster_version: str | None
    storage_version: str | None
    members: list[Member]
    damage: list[Damage]
    salvage: SalvageReport | None
    freelist: FreelistCheck

    @property
    def partial(self) -> bool:
        """Something could not be read: every count is a lower bound."""
        return bool(self.damage)

    @property
    def damaged(self) -> bool:
        """Partial, or whole but inconsistent (a freelist bbolt's check rejects)."""
        return self.partial or not self.freelist.consistent

    @property
    def store_revision(self) -> int:
        """The revision etcd restores to: the last event or a later compaction (kvstore.go restore)."""
        return max(self.revision, self.compaction.finished or 0, self.compaction.scheduled or 0)

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "revision": self.revision,
            "store_revision": self.store_revision,
            "total_keys": self.total_keys,
            "live_keys": self.live_keys,
            "size": self.size,
            "file_size": self.file_size,
            "integrity": self.integrity.status.value,
            "integrity_detail": {
                "expected_sha256": self.integrity.expected_sha256,
                "actual_sha256": self.integrity.actual_sha256,
            },
            "page_size": self.page_size,
            "byte_order": self.byte_order,
            "txid": self.txid,
            "events": self.events,
            "tombstones": self.tombstones,
            "compaction": {
                "scheduled_revision": self.compaction.scheduled,
                "finished_revision": self.compaction.finished,
                "interrupted": self.compaction.interrupted,
            },
            "consistent_index": self.consistent_index,
            "term": self.term,
            "cluster_version": self.cluster_version,
            "storage_version": self.storage_version,
            "members": [
                {
                    "id": m.id,
                    "name": m.name,
                    "peer_urls": list(m.peer_urls),
                    "client_urls": list(m.client_urls),
                    "is_learner": m.is_learner,
                }
                for m in self.members
            ],
            "buckets": self.bucket_counts,
            "resources": self.resources,
            "partial": self.partial,
            "damage": [
                {"page": d.page, "bucket": d.bucket or None, "problem": d.problem} for d in self.damage
            ],
            "freelist": {
                "stored": self.freelist.synced,
                "free_pages": self.freelist.free_pages if self.freelist.synced else None,
                "consistent": self.freelist.consistent,
                "unreachable_checked": self.freelist.checked_unreachable,
                "problems": [{"page": d.page, "problem": d.problem} for d in self.freelist.damage],
            },
            "salvage": None
            if self.salvage is None
            else {
                "reachable_records": self.salvage.reachable,
                "recovered_records": self.salvage.recovered,
                "pages": list(self.salvage.pages),
            },
        }


def summarize_snapshot(
    snapshot: Snapshot, progress: Callable[[int], None] | None = None, *, check_hash: bool = True
) -> SnapshotSummary:
    """Everything ``info`` prints. The SHA-256 check runs beside the tree walk (hashlib frees the GIL)."""
    hashing = snapshot.has_trailer and check_hash
    with ThreadPoolExecutor(max_workers=1) as pool:
        if hashing or not snapshot.has_trailer:
            integrity = pool.submit(snapshot.verify_integrity)
        else:
            integrity = pool.submit(IntegrityResult, Integrity.UNCHECKED)
        index = snapshot.build_index(progress=progress, workers=spare_workers(snapshot.file_size, hashing=hashing))
        # Outside salvage mode the pass saw exactly the key bucket's entries, damaged ones included.
        bucket_counts = snapshot.bucket_counts({} if snapshot.salvage_mode else {b"key": index.events + index.skipped})
        resources = count_resources(index.live)
        salvage = snapshot.salvage_report() if snapshot.salvage_mode else None
        summary = SnapshotSummary(
            source=snapshot.source,
            file_size=snapshot.file_size,
            size=snapshot.db.size,
            page_size=snapshot.db.page_size,
            byte_order=snapshot.db.byte_order,
            txid=snapshot.db.meta.txid if snapshot.db.meta else None,
            revision=snapshot.revision if snapshot.db.meta else index.last_revision,
            compaction=snapshot.compaction,
            total_keys=sum(bucket_counts.values()),
            live_keys=len(index.live),
            events=index.events,
            tombstones=index.tombstones,
            bucket_counts=bucket_counts,
            resources=dict(sorted(resources.items())),
            integrity=integrity.result(),
            consistent_index=snapshot.consistent_index,
            term=snapshot.term,
            cluster_version=snapshot.cluster_version,
            storage_version=snapshot.storage_version,
            members=snapshot.members(),
            damage=list(snapshot.damage),  # after every read above: the survey's and the reads' damage, once each
            salvage=salvage,
            freelist=snapshot.check_freelist(),
        )
    return summary
