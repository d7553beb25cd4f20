"""etcd's MVCC store inside a bbolt snapshot: revisions, latest state, history, integrity.

Facts from ``shared/docs/etcd-snapshot-format.md`` sections B and C (etcd-io/etcd
server/storage/mvcc, server/storage/schema, etcdutl/snapshot). The bucket ``key`` maps 17-byte
revision keys (18 with the tombstone mark) to ``mvccpb.KeyValue`` records; replaying them in
revision order gives the latest state, exactly as etcd's own ``restore`` does.

Memory stays flat in the size of the file: the snapshot is mapped, values are read only when
asked for, and an index holds one small integer per live key (plus its history when requested).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import multiprocessing
import os
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path

from analyzer.errors import CorruptEvidence
from analyzer.evidence.bbolt import BoltDB, Bucket, Damage, Mapped, map_file, open_bolt
from analyzer.evidence.freelist import FreelistCheck, check_freelist
from google.protobuf.message import DecodeError as ProtobufDecodeError

from analyzer.pb import etcd_mvcc_pb2 as mvccpb_pb2

KEY_BUCKET = b"key"
META_BUCKET = b"meta"
CLUSTER_BUCKET = b"cluster"
MEMBERS_BUCKET = b"members"

REVISION_KEY = struct.Struct(">QcQ")  # main, '_', sub — big-endian so that byte order is revision order
REVISION_KEY_SIZE = REVISION_KEY.size  # 17
TOMBSTONE_MARK = b"t"
# A revision key followed by the first two bytes of its KeyValue (tag and one-byte length).
PUT_RECORD_HEAD = struct.Struct(">QcQBB")
DELETE_RECORD_HEAD = struct.Struct(">QcQcBB")
U64_BE = struct.Struct(">Q")

TRAILER_SIZE = 32  # the SHA-256 that `snapshot save` appends
SECTOR = 512  # etcd detects the trailer as size % 512 == 32 (etcdutl hasChecksum)
HASH_CHUNK = 16 << 20
PARALLEL_THRESHOLD = 256 << 20  # full passes over bigger snapshots use several processes
# Each worker holds a dict of the keys its pages touch, nearly every live key on a busy cluster:
# memory is about (workers + 1) x the index, and more than 4 gains little (bench/README.md).
MAX_WORKERS = 4


# -- revisions -------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Revision:
    main: int
    sub: int = 0
    tombstone: bool = False

    def __str__(self) -> str:
        return f"{self.main}_{self.sub}" + ("t" if self.tombstone else "")

    @property
    def packed(self) -> int:
        return pack_revision(self.main, self.sub, self.tombstone)

    def key(self) -> bytes:
        raw = REVISION_KEY.pack(self.main, b"_", self.sub)
        return raw + TOMBSTONE_MARK if self.tombstone else raw


def pack_revision(main: int, sub: int, tombstone: bool) -> int:
    """One int per revision keeps an index of millions of keys small."""
    return (main << 33) | (sub << 1) | int(tombstone)


def unpack_revision(packed: int) -> Revision:
    return Revision(packed >> 33, (packed >> 1) & 0xFFFF_FFFF, bool(packed & 1))


def load_revision(raw: bytes | memoryview) -> Revision | None:
    """A revision from a ``key``-bucket key, or None when the bytes are not one (BytesToBucketKey)."""
    size = len(raw)
    if size == REVISION_KEY_SIZE + 1:
        if raw[REVISION_KEY_SIZE] != TOMBSTONE_MARK[0]:
            return None
    elif size != REVISION_KEY_SIZE:
        return None
    main, sep, sub = REVISION_KEY.unpack_from(raw)
    if sep != b"_" or main >> 63 or sub >> 63:
        return None
    return Revision(main, sub, size != REVISION_KEY_SIZE)


# -- key values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyValue:
    """One stored event: a put (with value) or a delete (tombstone, key only)."""

    key: bytes
    revision: Revision
    create_revision: int
    mod_revision: int
    version: int
    value: bytes
    lease: int
    salvaged: bool = False  # found by the page scan, not reachable through the tree

    @property
    def deleted(self) -> bool:
        return self.revision.tombstone

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", "backslashreplace")


def load_key_value(revision: Revision, raw: bytes | memoryview, *, source: str = "key bucket", salvaged: bool = False) -> KeyValue:
    message = mvccpb_pb2.KeyValue()
    try:
        message.ParseFromString(bytes(raw))
    except ProtobufDecodeError:
        raise CorruptEvidence(source, f"the value of revision {revision} is not an mvccpb.KeyValue", f"revision {revision}") from None
    return KeyValue(
        key=message.key,
        revision=revision,
        create_revision=message.create_revision,
        mod_revision=message.mod_revision,
        version=message.version,
        value=message.value,
        lease=message.lease,
        salvaged=salvaged,
    )


def user_key(raw_value: bytes | memoryview) -> bytes | None:
    """Field 1 (key) of a KeyValue without a full parse; etcd always writes it first.

    This is the hot path of every full pass, so it reads the tag and a short varint by hand.
    """
    if len(raw_value) < 2 or raw_value[0] != 0x0A:
        return None
    length, shift, index = 0, 0, 1
    while index < len(raw_value) and index < 6:
        byte = raw_value[index]
        length |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            end = index + length
            return bytes(raw_value[index:end]) if end <= len(raw_value) else None
        shift += 7
    return None


# -- integrity -------------------------------------------------------------------------------------


class Integrity(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    ABSENT = "absent"
    UNCHECKED = "unchecked"  # the trailer is there but --skip-hash-check was given


@dataclass(frozen=True)
class IntegrityResult:
    status: Integrity
    expected_sha256: str | None = None
    actual_sha256: str | None = None

    def describe(self) -> str:
        if self.status is Integrity.OK:
            return "ok (SHA-256 appended by `etcdctl snapshot save` matches)"
        if self.status is Integrity.UNCHECKED:
            return "unchecked (a SHA-256 trailer is present; --skip-hash-check was given)"
        if self.status is Integrity.MISMATCH:
            return (
                f"MISMATCH: the appended SHA-256 is {self.expected_sha256} but the data hashes to "
                f"{self.actual_sha256}; the file was altered or damaged after it was saved"
            )
        return "absent (no SHA-256 trailer: a copied member/snap/db or a file not made by `snapshot save`)"


# -- cluster metadata ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool


@dataclass(frozen=True)
class Compaction:
    scheduled: int | None
    finished: int | None

    @property
    def interrupted(self) -> bool:
        return self.scheduled is not None and (self.finished is None or self.scheduled > self.finished)


# -- the index -------------------------------------------------------------------------------------


@dataclass
class KeyIndex:
    """The result of one pass over every revision.

    ``live`` maps each live user key to its latest put (packed revision). ``history`` holds every
    surviving event of the keys whose history was asked for, in revision order.
    """

    live: dict[bytes, int] = field(default_factory=dict)
    # A running etcd fills it lazily (evidence.live.LiveHistory); a snapshot with a dict.
    history: MutableMapping[bytes, list[int]] = field(default_factory=dict)
    events: int = 0
    skipped: int = 0  # entries of the key bucket that are not revision records
    tombstones: int = 0
    last_revision: int = 0
    out_of_order: int = 0
    damage: list[Damage] = field(default_factory=list)


@dataclass
class _Run:
    """One run of consecutive events, indexed: the last event per key (bit 0 set for a delete).

    Runs are indexed independently (possibly in worker processes) and merged in revision order;
    keeping each key's last event, deletes included, is what makes the merge exact.
    """

    last: dict[bytes, int] = field(default_factory=dict)
    history: dict[bytes, list[int]] = field(default_factory=dict)
    events: int = 0
    skipped: int = 0
    tombstones: int = 0
    out_of_order: int = 0
    first_main: int = -1
    last_main: int = 0
    damage: list[Damage] = field(default_factory=list)


@dataclass(frozen=True)
class _Wanted:
    prefixes: tuple[bytes, ...] | None
    history: bool
    history_keys: frozenset[bytes]
    history_prefixes: tuple[bytes, ...] = ()


def _page_events(data: bytes | mmap.mmap, pgid: int | None, elements: list[tuple[int, int, int, int]], run: _Run) -> list[tuple[int, int, int, bytes]]:
    """(main, sub, tombstone, user key) of one leaf page of the key bucket.

    The hot loop of every full pass: one unpack reads the revision key and the KeyValue's first
    tag and length (etcd writes KeyValue.key first, as tag 0x0a and a varint length), and nothing
    else is decoded.
    """
    unpack_put = PUT_RECORD_HEAD.unpack_from
    unpack_delete = DELETE_RECORD_HEAD.unpack_from
    events = []
    for _flags, kstart, vstart, vend in elements:
        ksize = vstart - kstart
        tombstone = 0
        if ksize == REVISION_KEY_SIZE and vend - vstart >= 2:
            main, separator, sub, tag, length = unpack_put(data, kstart)
        elif ksize == REVISION_KEY_SIZE + 1 and vend - vstart >= 2:
            main, separator, sub, mark, tag, length = unpack_delete(data, kstart)
            tombstone = 1 if mark == TOMBSTONE_MARK else -1
        else:
            separator = b""
        if separator != b"_" or tombstone < 0:
            run.skipped += 1
            run.damage.append(Damage(pgid, f"key {data[kstart:vstart].hex()} is not a revision", "key"))
            continue
        if tag == 0x0A and length < 0x80 and vstart + 2 + length <= vend:
            name: bytes | None = data[vstart + 2 : vstart + 2 + length]
        else:
            name = user_key(data[vstart:vend])
            if name is None:
                run.skipped += 1
                run.damage.append(Damage(pgid, f"revision {main}_{sub} is not an etcd KeyValue record", "key"))
                continue
        assert name is not None  # a record without one was skipped above
        events.append((main, sub, tombstone, name))
    return events


def _index_events(run: _Run, events: list[tuple[int, int, int, bytes]], wanted: _Wanted) -> None:
    last_key = run.last
    prefixes = wanted.prefixes
    for main, sub, tombstone, name in events:
        if main < run.last_main:
            run.out_of_order += 1
        if run.first_main < 0:
            run.first_main = main
        run.last_main = main
        if prefixes is not None and not name.startswith(prefixes):
            continue
        packed = (main << 33) | (sub << 1) | tombstone
        last_key[name] = packed
        run.tombstones += tombstone
        if wanted.history or name in wanted.history_keys or (wanted.history_prefixes and name.startswith(wanted.history_prefixes)):
            run.history.setdefault(name, []).append(packed)
    run.events += len(events)


def _index_leaf_run(source: str, path: str, offset: int, data_size: int, pages: list[int], wanted: _Wanted) -> _Run:
    """Worker: index a run of the key bucket's leaf pages, in a process of its own."""
    run = _Run()
    with open_bolt(path, data_size=data_size, mapped=map_file(path, offset=offset, length=data_size, source=source)) as db:
        for pgid in pages:
            _index_events(run, _page_events(db.data, pgid, db.read_leaf(pgid, run.damage, "key"), run), wanted)
    return run


def _merge_runs(runs: Iterable[_Run]) -> KeyIndex:
    """Runs in revision order into one index: a later run's last event for a key wins."""
    index = KeyIndex()
    live = index.live
    for run in runs:
        if run.first_main >= 0 and run.first_main < index.last_revision:
            index.out_of_order += 1
        index.out_of_order += run.out_of_order
        index.events += run.events
        index.skipped += run.skipped
        index.tombstones += run.tombstones
        index.last_revision = max(index.last_revision, run.last_main)
        index.damage.extend(run.damage)
        if not live and not index.history:
            # The first (often only) run: reuse its dict instead of copying it.
            index.live = live = run.last
            for name in [name for name, packed in live.items() if packed & 1]:
                del live[name]
        else:
            for name, packed in run.last.items():
                if packed & 1:
                    live.pop(name, None)
                else:
                    live[name] = packed
        for name, events in run.history.items():
            index.history.setdefault(name, []).extend(events)
    return index


@dataclass(frozen=True)
class SalvageReport:
    """What a page-by-page scan found beyond the tree walk."""

    reachable: int  # revision records the tree walk reached
    recovered: int  # further records found only by scanning pages
    pages: tuple[int, ...]  # pages the recovered records came from


# -- the snapshot ----------------------------------------------------------------------------------


class Snapshot:
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
        self.damage: list[Damage] = self.db.file_damage()
        stray = data_size - self.db.size
        if not self.has_trailer and 0 < stray < TRAILER_SIZE:
            # A database is whole pages; a few bytes more is a `snapshot save` trailer cut short.
            self.damage.append(
                Damage(None, f"{stray} bytes follow the last page where a 32-byte SHA-256 trailer belongs: the file was cut short")
            )
        self._integrity: IntegrityResult | None = None
        self._file_sha256: str | None = None
        self._salvaged: list[KeyValue] | None = None
        self._salvaged_index: dict[int, KeyValue] | None = None
        self._buckets: dict[bytes, Bucket | None] = {}
        self._salvage_report: SalvageReport | None = None
        self._freelist: FreelistCheck | None = None
        self._on_close: list[Callable[[], None]] = []

    def on_close(self, release: Callable[[], None]) -> None:
        """Release something the snapshot's bytes live in (an anonymous decompressed file) with it."""
        self._on_close.append(release)

    def close(self) -> None:
        self.db.close()
        while self._on_close:
            self._on_close.pop()()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def partial(self) -> bool:
        """True when something could not be read; every answer is then a lower bound."""
        return bool(self.damage)

    def check_freelist(self) -> FreelistCheck:
        """The stored freelist against the tree (bbolt's check). Its problems are kept apart from
        ``damage``: the data is read by walking the tree, so a wrong freelist leaves every answer
        whole, but etcd's next write (or its refusal to open the file) is what it endangers."""
        if self._freelist is None:
            self._freelist = check_freelist(self.db)
        return self._freelist

    # -- integrity -----------------------------------------------------------------------------

    def verify_integrity(self) -> IntegrityResult:
        """Compare the appended SHA-256 with the data, as ``etcdutl snapshot restore`` does."""
        if self._integrity is None and not self.has_trailer:
            self._integrity = IntegrityResult(Integrity.ABSENT)  # nothing to compare: no reason to read the file
        if self._integrity is None:
            self._hash()
        assert self._integrity is not None
        return self._integrity

    def file_sha256(self) -> str:
        """SHA-256 of the whole file, trailer included: what the report lists as the input's digest."""
        if self._file_sha256 is None:
            self._hash()
        assert self._file_sha256 is not None
        return self._file_sha256

    def _hash(self) -> None:
        """One pass over the file gives both digests: the data's (the trailer checks it) and the file's."""
        whole = self.db._mmap  # the trailer lies outside the bbolt view, so hash the file map
        assert whole is not None
        data_end = self.file_size - TRAILER_SIZE if self.has_trailer else self.file_size
        digest = hashlib.sha256()
        mapped = memoryview(whole)
        view = mapped[self.db.base : self.db.base + self.file_size]
        try:
            for start in range(0, data_end, HASH_CHUNK):
                digest.update(view[start : min(start + HASH_CHUNK, data_end)])
            trailer = bytes(view[data_end : self.file_size])
        finally:
            view.release()
            mapped.release()
        whole_file = digest.copy()
        whole_file.update(trailer)
        self._file_sha256 = whole_file.hexdigest()
        if not self.has_trailer:
            return
        actual, expected = digest.hexdigest(), trailer.hex()
        self._integrity = IntegrityResult(Integrity.OK if actual == expected else Integrity.MISMATCH, expected, actual)

    # -- buckets -------------------------------------------------------------------------------

    def _bucket(self, name: bytes) -> Bucket | None:
        # Opening a bucket scans the root bucket; reads call this per record, so keep each one.
        if name not in self._buckets:
            self._buckets[name] = self.db.bucket(name, self.damage) if self.db.meta is not None else None
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
            bucket.label: known[bucket.name] if bucket.name in known else bucket.count(self.damage)
            for bucket in self.db.root().iter_buckets(self.damage)
        }

    def _meta_value(self, name: bytes) -> bytes | None:
        bucket = self._bucket(META_BUCKET)
        if bucket is None:
            return None
        for key, value, _flags in bucket.iter_items(self.damage):
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
        for key, value, _flags in bucket.iter_items(self.damage):
            if key == b"clusterVersion":
                return bytes(value).decode("ascii", "replace")
        return None

    def members(self) -> list[Member]:
        bucket = self._bucket(MEMBERS_BUCKET)
        found: list[Member] = []
        if bucket is None:
            return found
        for key, value, _flags in bucket.iter_items(self.damage):
            member_id = bytes(key).decode("ascii", "replace")
            try:
                data = json.loads(bytes(value))
            except ValueError:
                self.damage.append(Damage(None, f"member {member_id} is not valid JSON", "members"))
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
        bucket = self._bucket(KEY_BUCKET)
        if bucket is None:
            return
        for key, value, _flags in bucket.iter_items(self.damage):
            yield key, value

    def iter_events(self) -> Iterator[KeyValue]:
        """Every surviving event in revision order, salvaged ones merged in when salvaging."""
        salvaged = iter(self.salvaged_records()) if self.salvage_mode else iter(())
        pending = next(salvaged, None)
        for raw_key, raw_value in self.iter_raw_revisions():
            revision = load_revision(raw_key)
            if revision is None:
                self.damage.append(Damage(None, f"key {bytes(raw_key).hex()} is not a revision", "key"))
                continue
            while pending is not None and pending.revision < revision:
                yield pending
                pending = next(salvaged, None)
            try:
                yield load_key_value(revision, raw_value, source=self.source)
            except CorruptEvidence as err:
                self.damage.append(Damage(None, err.problem, "key"))
        while pending is not None:
            yield pending
            pending = next(salvaged, None)

    def build_index(
        self,
        prefixes: Iterable[bytes] | None = None,
        *,
        history: bool = False,
        keys: Iterable[bytes] = (),
        history_prefixes: Iterable[bytes] = (),
        progress: Callable[[int], None] | None = None,
        workers: int | None = None,
    ) -> KeyIndex:
        """One pass over every revision: the live keys under ``prefixes`` (all when None).

        ``history`` keeps every event of those keys; ``keys`` and ``history_prefixes`` keep the
        history of just these keys, or of the keys under these prefixes.
        ``progress`` is called with the number of events seen so far. Big snapshots are indexed
        by ``workers`` processes (default: one per CPU, up to MAX_WORKERS) over consecutive runs of leaf
        pages, merged in revision order.
        """
        wanted = _Wanted(tuple(prefixes) if prefixes is not None else None, history, frozenset(keys), tuple(history_prefixes))
        workers = workers if workers is not None else default_workers(self.file_size)
        bucket = self._bucket(KEY_BUCKET)
        if self.salvage_mode or bucket is None or bucket.inline is not None or workers < 2:
            index = _merge_runs([self._index_serially(wanted, progress)])
        else:
            index = self._index_in_parallel(bucket, wanted, workers, progress)
        self.damage.extend(index.damage)
        return index

    def _index_serially(self, wanted: _Wanted, progress: Callable[[int], None] | None) -> _Run:
        run = _Run()
        if self.salvage_mode:
            for record in self.iter_events():
                revision = record.revision
                _index_events(run, [(revision.main, revision.sub, int(revision.tombstone), record.key)], wanted)
            return run
        bucket = self._bucket(KEY_BUCKET)
        if bucket is None:
            return run
        for pgid, data, elements in bucket.iter_leaf_blocks(self.damage):
            _index_events(run, _page_events(data, pgid, elements, run), wanted)
            if progress is not None:
                progress(run.events)
        return run

    def _index_in_parallel(self, bucket: Bucket, wanted: _Wanted, workers: int, progress: Callable[[int], None] | None) -> KeyIndex:
        pages = bucket.leaf_page_ids(self.damage)
        if not pages:  # a damaged root: nothing to hand out, the damage is already recorded
            return _merge_runs([])
        # A few runs per worker keep them all busy; each run's result is one dict of its keys.
        runs = max(1, min(len(pages) // 256, workers * 3))
        size = -(-len(pages) // runs)
        chunks = [pages[i : i + size] for i in range(0, len(pages), size)]
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        done = 0

        def in_order() -> Iterator[_Run]:
            nonlocal done
            with context.Pool(min(workers, len(chunks))) as pool:
                args = [(self.db.source, self.path, self.offset, self.db.data_size, chunk, wanted) for chunk in chunks]
                # imap keeps the runs in order, so each is merged as soon as its predecessors are.
                for run in pool.imap(_star_index_leaf_run, args):
                    done += run.events
                    if progress is not None:
                        progress(done)
                    yield run

        return _merge_runs(in_order())

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
            raise CorruptEvidence(self.source, f"revision {revision} is not in the key bucket")
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
                        self.damage.append(Damage(None, f"revision {revision} is not in the key bucket", "key"))
                        continue
                    try:
                        yield load_key_value(revision, raw, source=self.source)
                    except CorruptEvidence as err:
                        self.damage.append(Damage(None, err.problem, "key"))
            except CorruptEvidence:
                pass  # a damaged page on the way: the lookups one by one say which revisions it hides
        for one in packed[done:]:
            try:
                yield self.read(one)
            except CorruptEvidence as err:
                self.damage.append(Damage(None, err.problem, "key"))

    def get(self, key: bytes, index: KeyIndex | None = None) -> KeyValue | None:
        index = index or self.build_index([key])
        packed = index.live.get(key)
        return next(self.iter_read([packed]), None) if packed is not None else None

    def history(self, key: bytes) -> list[KeyValue]:
        """Every surviving event of one key; older ones may be gone to compaction."""
        index = self.build_index([key], keys=[key])
        return list(self.iter_read(index.history.get(key, [])))

    @property
    def revision(self) -> int:
        """Main revision of the last stored event: what ``etcdutl snapshot status`` prints."""
        bucket = self._bucket(KEY_BUCKET)
        last = 0
        if bucket is not None:
            last_key = bucket.last_key(self.damage)
            parsed = load_revision(last_key) if last_key is not None else None
            last = parsed.main if parsed else 0
        return last

    # -- salvage -------------------------------------------------------------------------------

    def salvaged_records(self) -> list[KeyValue]:
        """Revision records the tree walk cannot reach, from a scan of every leaf page."""
        if self._salvaged is None:
            reachable = {
                revision.packed
                for revision in (load_revision(raw_key) for raw_key, _ in self.iter_raw_revisions())
                if revision is not None
            }
            found: dict[int, KeyValue] = {}
            pages: set[int] = set()
            for pgid, record in _scan_revision_records(self.db, reachable):
                packed = record.revision.packed
                if packed not in found:
                    found[packed] = record
                    pages.add(pgid)
            self._salvaged = [found[k] for k in sorted(found)]
            self._salvage_report = SalvageReport(len(reachable), len(found), tuple(sorted(pages)))
        return self._salvaged

    def _salvaged_by_revision(self) -> dict[int, KeyValue]:
        if self._salvaged_index is None:
            self._salvaged_index = {record.revision.packed: record for record in self.salvaged_records()}
        return self._salvaged_index

    def salvage_report(self) -> SalvageReport:
        self.salvaged_records()
        assert self._salvage_report is not None
        return self._salvage_report


def _star_index_leaf_run(args: tuple[str, str, int, int, list[int], _Wanted]) -> _Run:
    return _index_leaf_run(*args)


def default_workers(file_size: int) -> int:
    """Processes for a full pass: none for small files, where starting them costs more than it saves."""
    if file_size < PARALLEL_THRESHOLD:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def _scan_revision_records(db: BoltDB, skip: set[int]) -> Iterator[tuple[int, KeyValue]]:
    """Leaf elements anywhere in the file that decode as etcd revision records, but those in ``skip``
    (the ones the tree reaches: decoding them only to drop them would double the work)."""
    for pgid, raw_key, raw_value, flags in db.iter_items_anywhere():
        revision = load_revision(raw_key) if not flags else None
        if revision is None or revision.packed in skip:
            continue
        try:
            record = load_key_value(revision, raw_value, source=db.source, salvaged=True)
        except CorruptEvidence:
            continue
        # A put records its own revision as mod_revision; that rules out look-alike garbage.
        if record.key and (revision.tombstone or record.mod_revision == revision.main):
            yield pgid, record
