"""The index pass: every revision of the ``key`` bucket, replayed in order, in one fused loop.

This is the hot loop of every full read (``info``, ``scan``, ``get`` of a prefix): a million
revisions sit in some 440,000 leaf pages of a 1.7 GiB snapshot. One loop per leaf page reads the
element headers with one ``iter_unpack``, and each record with one more ``unpack_from`` that
covers the revision key and the first tag and length of its ``mvccpb.KeyValue`` (etcd writes
``KeyValue.key`` first, as tag 0x0a and a varint length); nothing else is decoded and no list is
built per page. Bounds and damage checks stay: an element that points past its page ends the
page, a record that is not a revision is counted and recorded (bench/README.md has the numbers).

A caller may ask for processes over consecutive spans of leaf pages, merged in revision order;
keeping each key's last event per span, deletes included, makes the merge exact. One process is
the default: ``scan`` and ``info`` hash the file on the second core beside the pass. Only where
no hash runs (``info --skip-hash-check``, a file without a SHA-256 trailer) does ``info`` split the
pass in two (``spare_workers``): faster, for about 30 MiB more (bench/README.md).
"""

from __future__ import annotations

import mmap
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import field
from itertools import islice

from analyzer.decode.envelope import may_hold
from analyzer.evidence.bbolt import BoltDB, Bucket, map_file, open_bolt
from analyzer.evidence.bbolt_format import ELEMENT_SIZE, PAGE_HEADER_SIZE
from analyzer.evidence.bbolt_tree import Leaf
from analyzer.evidence.damage_log import DamageLog
from analyzer.evidence.damage_words import element_past_end, not_a_revision
from analyzer.evidence.mvcc import (
    DELETE_RECORD_HEAD,
    KEY_BUCKET,
    PUT_RECORD_HEAD,
    REVISION_KEY_SIZE,
    TOMBSTONE_MARK,
    KeyIndex,
    user_key,
)
from analyzer.evidence.store import HISTORY, LIVE, SCREEN, IndexQuery
from analyzer.records import datarecord

# Processes for a full pass when the caller does not say: one, since each process holds a dict of
# nearly every live key and the hash of ``scan`` and ``info`` takes the second core (see above).
DEFAULT_WORKERS = 1
# A file from which a second process pays for itself (a fork, a second mapping, the merge).
_WORTH_SPLITTING = 256 << 20
_LABEL = "key"
# Progress is told every 1,024 leaf pages (and at the end), not every page: a terminal's progress
# bar costs microseconds per update, and a large snapshot has some 450,000 pages.
_PROGRESS_MASK = 1024 - 1
# A file from which the columnar pass pays for numpy's import (about 0.1 s; the Python pass reads
# some 300,000 records a second): bench/README.md.
DEFAULT_COLUMNS_FROM = COLUMNS_FROM = 64 << 20
# Directories whose kind the pass remembers: a Kubernetes keyspace has one per resource and
# namespace (a few thousand); past this many, keys are tested one by one.
_DIRECTORIES_REMEMBERED = 1 << 16


@datarecord(frozen=False)
class Run:
    """One run of consecutive events, indexed: the last event per key (bit 0 set for a delete).

    ``damage`` is the log the run records into: the store's own in one process, a fresh one in a
    worker (sent back with the run and merged into the store's).
    """

    last: dict[bytes, int] = field(default_factory=dict)
    history: dict[bytes, list[int]] = field(default_factory=dict)
    events: int = 0
    skipped: int = 0
    tombstones: int = 0
    out_of_order: int = 0
    first_main: int = -1
    last_main: int = 0
    damage: DamageLog = field(default_factory=DamageLog)
    screened: set[bytes] | None = None  # see KeyIndex.screened; None where records were not at hand


def spare_workers(file_size: int, *, hashing: bool) -> int:
    """Index processes for a caller that has nothing else for the other cores to do: two on a large
    file when no SHA-256 runs beside the pass (it takes the second core), else one. Measured on the
    1,000,000-revision bench snapshot on two cores (bench/README.md)."""
    # Off Linux a worker is spawned, not forked, and cannot open a decompressed snapshot that this
    # process holds as an unlinked file (evidence/spill.py reads it through /dev/fd/N).
    if hashing or file_size < _WORTH_SPLITTING or sys.platform != "linux":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(2, cores)


def index_by_columns(db: BoltDB, bucket: Bucket, query: IndexQuery, run: Run, progress: Callable[[int], None] | None,
                     file_size: int, workers: int = 1) -> bool:
    """Index a large, sound key bucket with numpy (``etcd_index_numpy``) into ``run``; False where
    this pass is not worth its start (a small file: numpy's import alone is some 0.1 s), numpy is
    not there, the query is one it does not answer, or the file needs the Python pass's words.
    ``workers`` above one (a caller with a spare core: ``spare_workers``) gather the next chunk in
    a thread while this one folds the last."""
    if file_size < COLUMNS_FROM:
        return False
    try:
        from analyzer.evidence import etcd_index_numpy
    except ImportError:  # numpy is a dependency; a stripped install still gets the Python pass
        return False
    if not etcd_index_numpy.usable(query):
        return False
    columns = etcd_index_numpy.index_columns(db, bucket, query, _kind, progress, threads=min(workers, 2))
    if columns is None:
        return False
    run.last, run.history, run.screened = columns.last, columns.history, columns.screened
    run.events, run.tombstones, run.first_main, run.last_main = columns.events, columns.tombstones, columns.first_main, columns.last_main
    return True


def index_leaves(run: Run, leaves: Iterable[Leaf], unpack_elements: Callable[[bytes], Iterator[tuple[int, int, int, int]]],
                 query: IndexQuery, progress: Callable[[int], None] | None = None) -> None:
    """Index the records of ``leaves`` (the key bucket's, in order) into ``run``.

    ``unpack_elements`` is the layout's ``LEAF_ELEMENT.iter_unpack`` (bbolt writes host byte order).
    Counters live in locals for the length of the pass and are stored back once. What is kept of
    a key is decided once per directory (``IndexQuery.kind_of_directory``), not per record.
    """
    unpack_put = PUT_RECORD_HEAD.unpack_from
    unpack_delete = DELETE_RECORD_HEAD.unpack_from
    last = run.last
    history = run.history
    every_key = query.prefixes is None and not (query.history or query.keys or query.history_prefixes or query.screen)
    kinds: dict[bytes, int | None] = {}
    needle = query.needle
    screened = run.screened = run.screened if run.screened is not None else set()
    # Each screened key's last record, as start << 32 | size in the one buffer every leaf of a pass
    # shares (the mapped file; an inline bucket is one leaf of its own bytes).
    where: dict[bytes, int] = {}
    data: mmap.mmap | bytes = b""
    first_buffer: mmap.mmap | bytes | None = None
    record = run.damage.record
    events, skipped, tombstones, out_of_order = run.events, run.skipped, run.tombstones, run.out_of_order
    first_main, last_main = run.first_main, run.last_main
    put_size, delete_size, mark = REVISION_KEY_SIZE, REVISION_KEY_SIZE + 1, TOMBSTONE_MARK
    pages = 0
    for pgid, data, start, end, count in leaves:
        if data is not first_buffer:  # the screen's spans are offsets into one buffer
            assert first_buffer is None, "index_leaves reads the leaves of one buffer"
            first_buffer = data
        offset = start + PAGE_HEADER_SIZE
        for _flags, pos, ksize, vsize in unpack_elements(data[offset : offset + count * ELEMENT_SIZE]):
            # pos is relative to the element itself, not to the page (bbolt page.go Key/Value).
            kstart = offset + pos
            offset += ELEMENT_SIZE
            vstart = kstart + ksize
            vend = vstart + vsize
            if vend > end:
                broken = (offset - start - PAGE_HEADER_SIZE) // ELEMENT_SIZE - 1
                record(pgid, element_past_end(broken, end - start), _LABEL)
                break
            if ksize == put_size and vsize >= 2:
                main, separator, sub, tag, length = unpack_put(data, kstart)
                tombstone = 0
            elif ksize == delete_size and vsize >= 2:
                main, separator, sub, stored_mark, tag, length = unpack_delete(data, kstart)
                tombstone = 1 if stored_mark == mark else -1
            else:
                separator, tombstone = b"", 0
            if separator != b"_" or tombstone < 0:
                skipped += 1
                record(pgid, not_a_revision(data[kstart:vstart]), _LABEL)
                continue
            if tag == 0x0A and length < 0x80 and vstart + 2 + length <= vend:
                name = data[vstart + 2 : vstart + 2 + length]
            else:
                found = user_key(data[vstart:vend])
                if found is None:
                    skipped += 1
                    record(pgid, f"revision {main}_{sub} is not an etcd KeyValue record", _LABEL)
                    continue
                name = found
            events += 1
            if main < last_main:
                out_of_order += 1
            elif first_main < 0:
                first_main = main
            last_main = main
            kind = LIVE
            if not every_key:
                directory = name[: name.rfind(b"/") + 1]
                shared = kinds.get(directory)
                kind = shared if shared is not None else _kind(query, kinds, directory, name)
                if not kind:
                    continue
            packed = (main << 33) | (sub << 1) | tombstone
            last[name] = packed
            tombstones += tombstone
            if kind != LIVE:
                if kind & HISTORY:
                    history.setdefault(name, []).append(packed)
                if kind & SCREEN:
                    where[name] = (vstart << 32) | vsize
        pages += 1
        if progress is not None and not pages & _PROGRESS_MASK:
            progress(events)
    if progress is not None:
        progress(events)
    run.events, run.skipped, run.tombstones, run.out_of_order = events, skipped, tombstones, out_of_order
    run.first_main, run.last_main = first_main, last_main
    # Screened once per key, on its last record: a key's earlier records (ten each in a busy
    # history) are never searched. The whole record is searched; a Kubernetes key holds neither
    # the needle's "/"-bearing type nor the envelopes' magic.
    for name, span in where.items():
        vstart = span >> 32
        if last[name] & 1 == 0 and may_hold(data, vstart, vstart + (span & 0xFFFFFFFF), needle):
            screened.add(name)
        else:
            screened.discard(name)


def _kind(query: IndexQuery, kinds: dict[bytes, int | None], directory: bytes, name: bytes) -> int:
    """A directory met for the first time is classified and remembered (a bounded memo: keys outside
    Kubernetes' resource/namespace layout may each have a directory of their own); one whose keys
    the query tells apart (None), or met once the memo is full, is decided by the whole key."""
    if directory not in kinds and len(kinds) < _DIRECTORIES_REMEMBERED:
        shared = kinds[directory] = query.kind_of_directory(directory)
        if shared is not None:
            return shared
    return query.kind_of(name)


def index_event(run: Run, main: int, sub: int, tombstone: int, name: bytes, query: IndexQuery) -> None:
    """One event indexed on its own: the salvage path, whose records come from a page scan."""
    run.events += 1
    if main < run.last_main:
        run.out_of_order += 1
    elif run.first_main < 0:
        run.first_main = main
    run.last_main = main
    kind = query.kind_of(name)
    if not kind:
        return
    packed = (main << 33) | (sub << 1) | tombstone
    run.last[name] = packed
    run.tombstones += tombstone
    if kind & HISTORY:
        run.history.setdefault(name, []).append(packed)


def merge_runs(runs: Iterable[Run], log: DamageLog, screen: tuple[bytes, ...] = ()) -> KeyIndex:
    """Runs in revision order into one index: a later run's last event for a key wins; each run's
    damage goes to ``log``. The screen holds only where every run screened (``screen``: its prefixes)."""
    index = KeyIndex()
    live = index.live
    first = True
    for run in runs:
        if first or index.screened is None or run.screened is None:
            index.screened = run.screened if first and screen else None
        else:
            screened = index.screened
            for name in run.last:
                (screened.add if name in run.screened else screened.discard)(name)
        first = False
        if run.first_main >= 0 and run.first_main < index.last_revision:
            index.out_of_order += 1
        index.out_of_order += run.out_of_order
        index.events += run.events
        index.skipped += run.skipped
        index.tombstones += run.tombstones
        index.last_revision = max(index.last_revision, run.last_main)
        if run.damage is not log:
            log.extend(run.damage)
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
    index.screen = screen if index.screened is not None else ()
    return index


def index_in_parallel(db: BoltDB, bucket: Bucket, where: tuple[str, int], query: IndexQuery, workers: int,
                      progress: Callable[[int], None] | None, log: DamageLog) -> KeyIndex:
    """The pass split over ``workers`` processes, this one included (``where``: the path and offset
    the others map the file from): one run of consecutive leaf pages each, merged in revision order.

    This process indexes the first run itself instead of waiting, so only the others' dicts cross a
    pipe; one run per process, because each run's result is a dict of nearly every key it met and
    unpickling and merging them is serial (six runs for two workers cost 0.8 s of merging here).
    A run is a span of positions in the stream of leaf ids, which every process walks for itself
    (the branches alone: a tenth of a second here): no list of ids is built or sent, so memory
    does not grow with the file.
    """
    total = sum(1 for _ in bucket.iter_leaf_ids(log))
    size = max(1, -(-total // max(1, workers)))
    spans = [(start, min(start + size, total)) for start in range(0, total, size)]
    unpack_elements = db.layout.LEAF_ELEMENT.iter_unpack
    first = Run(damage=log)
    if len(spans) < 2:  # a damaged root (nothing to hand out) or a tiny tree
        index_leaves(first, db.leaves_by_id(bucket.iter_leaf_ids(log), log, _LABEL), unpack_elements, query, progress)
        return merge_runs([first], log, query.screen)
    import multiprocessing  # only here: one process is the default, and every run would pay its import

    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    path, offset = where
    args = [(db.source, path, offset, db.data_size, bucket.root_page, span, query) for span in spans[1:]]
    with context.Pool(len(args)) as pool:
        # imap keeps the runs in order, so each is merged as soon as its predecessors are.
        pending = pool.imap(_index_leaf_run, args)
        ours = islice(bucket.iter_leaf_ids(log), *spans[0])
        index_leaves(first, db.leaves_by_id(ours, log, _LABEL), unpack_elements, query, progress)

        def in_order() -> Iterator[Run]:
            yield first
            done = first.events
            for run in pending:
                done += run.events
                if progress is not None:
                    progress(done)
                yield run

        return merge_runs(in_order(), log, query.screen)


def _index_leaf_run(args: tuple[str, str, int, int, int, tuple[int, int], IndexQuery]) -> Run:
    """Worker: index a span of the key bucket's leaf pages, in a process of its own. Damage met on
    the way to the span is the parent's too; the merged log keeps each once."""
    source, path, offset, data_size, root, (start, stop), query = args
    run = Run()
    with open_bolt(path, data_size=data_size, mapped=map_file(path, offset=offset, length=data_size, source=source)) as db:
        leaves = islice(Bucket(db, KEY_BUCKET, root, None).iter_leaf_ids(run.damage), start, stop)
        index_leaves(run, db.leaves_by_id(leaves, run.damage, _LABEL), db.layout.LEAF_ELEMENT.iter_unpack, query)
    return run
