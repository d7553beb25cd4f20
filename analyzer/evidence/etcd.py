"""An etcd snapshot (or a raw ``member/snap/db``) read in place: the ``EtcdStore`` of a file.

Facts from ``shared/docs/etcd-snapshot-format.md`` sections B and C (etcd-io/etcd
server/storage/mvcc, server/storage/schema, etcdutl/snapshot). The records themselves are in
``mvcc``, the index pass in ``etcd_index``, the appended SHA-256 in ``snapshot_hash``, ``--salvage``
in ``etcd_salvage``.

Memory stays flat in the size of the file: the snapshot is mapped, values are read only when
asked for, and an index holds one small integer per live key (plus its history when requested).

What could not be read goes to one ``DamageLog``, created at open and passed to every reader. The
*survey* (``Snapshot.survey``) reads every page and element of every bucket the analysis reads;
``damage`` and ``partial`` run it first, so the tree's damage is all there whatever was read before.
*Value reads* (``iter_read``) add only what a value itself shows (a record that does not decode, a
revision a lookup cannot reach), one entry per revision. So the same reads give the same log in any
order, final once the values the analysis needs are read (``scan`` judges after wiring).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import pairwise
from pathlib import Path

from analyzer.errors import CorruptEvidence
from analyzer.evidence.bbolt import BoltDB, Bucket, Mapped, open_bolt
from analyzer.evidence.damage_log import DamageLog
from analyzer.evidence.damage_words import not_a_revision, revision_missing
from analyzer.evidence.etcd_index import (
    DEFAULT_WORKERS,
    Run,
    index_by_columns,
    index_event,
    index_in_parallel,
    index_leaves,
    merge_runs,
)
from analyzer.evidence.etcd_salvage import Salvaged, salvage_records
from analyzer.evidence.freelist import FreelistCheck, check_freelist
from analyzer.evidence.mapping import map_file
from analyzer.evidence.mvcc import (
    CLUSTER_BUCKET,
    KEY_BUCKET,
    MEMBERS_BUCKET,
    META_BUCKET,
    U64_BE,
    Compaction,
    KeyIndex,
    KeyValue,
    Member,
    Revision,
    SalvageReport,
    load_key_value,
    load_revision,
    pack_revision,
    unpack_revision,
    user_key,
)
from analyzer.evidence.snapshot_hash import (
    SECTOR,
    TRAILER_SIZE,
    BackgroundHash,
    Digests,
    Integrity,
    IntegrityResult,
)
from analyzer.evidence.store import EtcdStore, IndexQuery

# The names readers have always imported from here.
__all__ = [
    "DEFAULT_WORKERS", "KEY_BUCKET", "Compaction", "Integrity", "IntegrityResult", "KeyIndex", "KeyValue",
    "Member", "Revision", "SalvageReport", "Snapshot", "load_revision", "pack_revision", "unpack_revision",
    "user_key",
]


class Snapshot(EtcdStore):
    """An etcd snapshot (or a raw ``member/snap/db``) opened read-only. A context manager."""

    def __init__(
        self, path: str | Path, *, salvage: bool = False, offset: int = 0, size: int | None = None, source: str | None = None,
        mapped: Mapped | None = None,
    ) -> None:
        """``offset`` and ``size`` name a window of ``path`` (a member of a tar, read in place);
        ``source`` is how the snapshot is named in messages (``backup.tar!snapshot.db``); ``mapped``
        lets a caller hand over a mapping it made (the fuzzer's in-memory files)."""
        mapped = mapped or map_file(path, offset=offset, length=size, source=source)
        self.source, _mapping, self.file_size, _base = mapped
        self.path, self.offset = str(path), offset
        self.has_trailer = self.file_size % SECTOR == TRAILER_SIZE
        data_size = self.file_size - TRAILER_SIZE if self.has_trailer else self.file_size
        self.db: BoltDB = open_bolt(path, data_size=data_size, salvage=salvage, mapped=mapped)
        self.salvage_mode = salvage
        self._log = DamageLog(self.db.file_damage())
        stray = data_size - self.db.size
        if not self.has_trailer and 0 < stray < TRAILER_SIZE:
            # A database is whole pages; a few bytes more is a `snapshot save` trailer cut short.
            self._log.record(None, f"{stray} bytes follow the last page where a 32-byte SHA-256 trailer belongs: the file was cut short")
        self._surveyed_buckets = self._surveyed_key = False
        self._revision: int | None = None
        self._hashing: BackgroundHash | None = None
        self._salvaged: Salvaged | None = None
        self._buckets: dict[bytes, Bucket | None] = {}
        self._freelist: FreelistCheck | None = None
        self._on_close: list[Callable[[], None]] = []

    def on_close(self, release: Callable[[], None]) -> None:
        """Release something the snapshot's bytes live in (an anonymous decompressed file) with it."""
        self._on_close.append(release)

    def close(self) -> None:
        if self._hashing is not None:
            self._hashing.wait()  # it reads the mapping that closing releases
        self.db.close()
        while self._on_close:
            self._on_close.pop()()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- damage --------------------------------------------------------------------------------

    @property
    def damage(self) -> DamageLog:
        """Everything that could not be read, the survey's findings always among it."""
        self.survey()
        return self._log

    def survey(self) -> None:
        """The reads that decide the tree's damage, each run once: every page and element of every
        top-level bucket (the index pass walks ``key``; a pass that keeps nothing runs when no index
        was asked for) and the members' JSON; etcd nests no buckets below the top level. Point
        lookups descend pages the survey has read: ``last_key`` words what it meets as the walk
        does (the same entry), a value read names the revision it lost (``_lost``)."""
        if self.db.meta is None:
            return  # no tree: the invalid metas are the damage, and salvage reads pages, not buckets
        if not self._surveyed_buckets:
            self._surveyed_buckets = True
            for bucket in self.db.root().iter_buckets(self._log):
                if bucket.name not in (KEY_BUCKET, MEMBERS_BUCKET):
                    for _item in bucket.iter_items(self._log):
                        pass
            self.members()
        if not self._surveyed_key:
            self.index(IndexQuery(prefixes=()))

    def check_freelist(self) -> FreelistCheck:
        """The stored freelist against the tree (bbolt's check). Its problems are kept apart from
        ``damage``: the data is read by walking the tree, so a wrong freelist leaves every answer
        whole, but etcd's next write (or its refusal to open the file) is what it endangers."""
        if self._freelist is None:
            self._freelist = check_freelist(self.db)
        return self._freelist

    # -- integrity -----------------------------------------------------------------------------

    def start_hash(self) -> None:
        """Start hashing the file in a thread now, so that the hash runs beside the walk that follows."""
        if self._hashing is None:
            whole = self.db._mmap  # the trailer lies outside the bbolt view, so hash the file map
            assert whole is not None
            self._hashing = BackgroundHash(whole, self.db.base, self.file_size, self.has_trailer)

    def _digests(self) -> Digests:
        self.start_hash()
        assert self._hashing is not None
        return self._hashing.result()

    def verify_integrity(self) -> IntegrityResult:
        """Compare the appended SHA-256 with the data, as ``etcdutl snapshot restore`` does."""
        if not self.has_trailer and self._hashing is None:
            return IntegrityResult(Integrity.ABSENT)  # nothing to compare: no reason to read the file
        return self._digests().integrity

    def file_sha256(self) -> str:
        """SHA-256 of the whole file, trailer included: what the report lists as the input's digest."""
        return self._digests().file_sha256

    # -- buckets -------------------------------------------------------------------------------

    def _bucket(self, name: bytes) -> Bucket | None:
        # Opening a bucket scans the root bucket; reads call this per record, so keep each one.
        if name not in self._buckets:
            self._buckets[name] = self.db.bucket(name, self._log) if self.db.meta is not None else None
        return self._buckets[name]

    def bucket_counts(self, known: dict[bytes, int] | None = None) -> dict[str, int]:
        """Entries per top-level bucket, as ``etcdutl snapshot status`` counts them.

        ``known`` supplies counts already taken (the key bucket's, from a full pass) so that the
        biggest bucket is not walked a second time.
        """
        if self.db.meta is None:
            return {}
        known = known or {}
        return {
            bucket.label: known[bucket.name] if bucket.name in known else bucket.count(self._log)
            for bucket in self.db.root().iter_buckets(self._log)
        }

    def _meta_value(self, name: bytes) -> bytes | None:
        bucket = self._bucket(META_BUCKET)
        if bucket is None:
            return None
        for key, value, _flags in bucket.iter_items(self._log):
            if key == name:
                return bytes(value)
        return None

    @property
    def consistent_index(self) -> int | None:
        raw = self._meta_value(b"consistent_index")
        return U64_BE.unpack(raw)[0] if raw and len(raw) == 8 else None

    @property
    def term(self) -> int | None:
        raw = self._meta_value(b"term")
        return U64_BE.unpack(raw)[0] if raw and len(raw) == 8 else None

    @property
    def storage_version(self) -> str | None:
        raw = self._meta_value(b"storageVersion")
        return raw.decode("ascii", "replace") if raw else None

    @property
    def compaction(self) -> Compaction:
        def rev(name: bytes) -> int | None:
            raw = self._meta_value(name)
            parsed = load_revision(raw) if raw else None
            return parsed.main if parsed else None

        return Compaction(rev(b"scheduledCompactRev"), rev(b"finishedCompactRev"))

    @property
    def cluster_version(self) -> str | None:
        bucket = self._bucket(CLUSTER_BUCKET)
        if bucket is None:
            return None
        for key, value, _flags in bucket.iter_items(self._log):
            if key == b"clusterVersion":
                return bytes(value).decode("ascii", "replace")
        return None

    def members(self) -> list[Member]:
        bucket = self._bucket(MEMBERS_BUCKET)
        found: list[Member] = []
        if bucket is None:
            return found
        for key, value, _flags in bucket.iter_items(self._log):
            member_id = bytes(key).decode("ascii", "replace")
            try:
                data = json.loads(bytes(value))
            except ValueError:
                self._log.record(None, f"member {member_id} is not valid JSON", "members")
                continue
            # etcd stores RaftAttributes and Attributes flattened into one JSON object.
            found.append(
                Member(
                    id=member_id,
                    name=str(data.get("name", "")),
                    peer_urls=tuple(data.get("peerURLs") or ()),
                    client_urls=tuple(data.get("clientURLs") or ()),
                    is_learner=bool(data.get("isLearner", False)),
                )
            )
        return found

    # -- revisions -----------------------------------------------------------------------------

    def iter_raw_revisions(self) -> Iterator[tuple[bytes | memoryview, bytes | memoryview]]:
        """(revision key, KeyValue bytes) in revision order, read through the tree."""
        for _pgid, key, value in self._iter_records():
            yield key, value

    def _iter_records(self) -> Iterator[tuple[int | None, bytes | memoryview, bytes | memoryview]]:
        bucket = self._bucket(KEY_BUCKET)
        if bucket is None:
            return
        for pgid, data, elements in bucket.iter_leaf_blocks(self._log):
            for _flags, kstart, vstart, vend in elements:
                yield pgid, data[kstart:vstart], data[vstart:vend]

    def iter_events(self) -> Iterator[KeyValue]:
        """Every surviving event in revision order, salvaged ones merged in when salvaging."""
        salvaged = iter(self.salvaged_records()) if self.salvage_mode else iter(())
        pending = next(salvaged, None)
        for pgid, raw_key, raw_value in self._iter_records():
            revision = load_revision(raw_key)
            if revision is None:
                self._log.record(pgid, not_a_revision(raw_key), KEY_BUCKET.decode())
                continue
            while pending is not None and pending.revision < revision:
                yield pending
                pending = next(salvaged, None)
            try:
                yield load_key_value(revision, raw_value, source=self.source)
            except CorruptEvidence as err:
                self._lost(revision, err)
        while pending is not None:
            yield pending
            pending = next(salvaged, None)

    def index(self, query: IndexQuery, progress: Callable[[int], None] | None = None, workers: int | None = None) -> KeyIndex:
        """One pass over every revision (``etcd_index``). ``progress`` is called with the number of
        events seen so far. ``workers`` processes (default: ``DEFAULT_WORKERS``) index consecutive
        runs of leaf pages, merged in revision order. Every pass surveys the key bucket whole."""
        workers = workers if workers is not None else DEFAULT_WORKERS
        bucket = self._bucket(KEY_BUCKET)
        log = self._log
        run = Run(damage=log)
        if self.salvage_mode:
            for record in self.iter_events():
                revision = record.revision
                index_event(run, revision.main, revision.sub, int(revision.tombstone), record.key, query)
            index = merge_runs([run], log)
        elif bucket is not None and index_by_columns(self.db, bucket, query, run, progress, self.file_size, workers):
            index = merge_runs([run], log, query.screen)
        elif bucket is None or bucket.inline is not None or workers < 2:
            if bucket is not None:
                # The branches name the leaves and the leaves are read by id, as the workers read
                # theirs: this is half the cost of the general walk's per-page checks.
                leaves = bucket.leaves(log) if bucket.inline is not None else self.db.leaves_by_id(bucket.iter_leaf_ids(log), log, bucket.label)
                index_leaves(run, leaves, self.db.layout.LEAF_ELEMENT.iter_unpack, query, progress)
            index = merge_runs([run], log, query.screen)
        else:
            index = index_in_parallel(self.db, bucket, (self.path, self.offset), query, workers, progress, log)
        self._surveyed_key = True
        return index

    def read(self, packed: int) -> KeyValue:
        """The event stored under a packed revision from an index."""
        revision = unpack_revision(packed)
        if self.salvage_mode:
            salvaged = self._salvaged_by_revision().get(packed)
            if salvaged is not None:
                return salvaged
        bucket = self._bucket(KEY_BUCKET)
        raw = bucket.get(revision.key()) if bucket is not None else None
        if raw is None:
            raise CorruptEvidence(self.source, revision_missing(revision))
        return load_key_value(revision, raw, source=self.source)

    def iter_read(self, packed_revisions: Iterable[int]) -> Iterator[KeyValue]:
        """Read many events; one that cannot be read becomes damage instead of ending the run.

        Revisions in ascending order (a history; ``sorted(index.live.values())``) are read in one
        ordered descent, several times faster than one lookup each.
        """
        packed = list(packed_revisions)
        bucket = self._bucket(KEY_BUCKET)
        done = 0
        if not self.salvage_mode and bucket is not None and len(packed) > 1 and all(a < b for a, b in pairwise(packed)):
            revisions = [unpack_revision(p) for p in packed]
            try:
                for revision, raw in zip(revisions, bucket.get_many(r.key() for r in revisions), strict=False):
                    done += 1
                    if raw is None:
                        self._log.record(None, revision_missing(revision), "key")
                        continue
                    try:
                        yield load_key_value(revision, raw, source=self.source)
                    except CorruptEvidence as err:
                        self._lost(revision, err)
            except CorruptEvidence:
                pass  # a damaged page on the way: the lookups one by one say which revisions it hides
        for one in packed[done:]:
            try:
                yield self.read(one)
            except CorruptEvidence as err:
                self._lost(unpack_revision(one), err)

    def _lost(self, revision: Revision, err: CorruptEvidence) -> None:
        """A value read that failed: one entry per revision lost. A page on the way down names no
        revision, so the entry names the one it hides (each loss counts once in the log)."""
        named = err.where is None or err.where.startswith("revision")
        self._log.record(None, err.problem if named else f"revision {revision} cannot be read ({err.where}): {err.problem}", "key")

    @property
    def revision(self) -> int:
        """Main revision of the last stored event: what ``etcdutl snapshot status`` prints."""
        if self._revision is None:
            bucket = self._bucket(KEY_BUCKET)
            last = 0
            if bucket is not None:
                last_key = bucket.last_key(self._log)
                parsed = load_revision(last_key) if last_key is not None else None
                last = parsed.main if parsed else 0
            self._revision = last
        return self._revision

    # -- salvage -------------------------------------------------------------------------------

    def _salvage(self) -> Salvaged:
        if self._salvaged is None:
            reachable = {revision.packed for revision in (load_revision(key) for key, _ in self.iter_raw_revisions()) if revision is not None}
            self._salvaged = salvage_records(self.db, reachable)
        return self._salvaged

    def salvaged_records(self) -> list[KeyValue]:
        """Revision records the tree walk cannot reach, from a scan of every leaf page."""
        return self._salvage().records

    def _salvaged_by_revision(self) -> dict[int, KeyValue]:
        return self._salvage().by_revision

    def salvage_report(self) -> SalvageReport:
        return self._salvage().report
