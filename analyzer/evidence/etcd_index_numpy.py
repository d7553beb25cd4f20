"""The index pass over columns: every record of a sound ``key`` bucket parsed with numpy, in chunks.

The fused Python loop (``etcd_index.index_leaves``) costs about 3 us a record, and a million
revisions made ``scan`` slower than ``etcdutl snapshot status`` (bench/README.md). Here the same
facts are read as columns over the mapped file: page headers, element headers, revision keys and
the ``KeyValue.key`` of every record are gathered by index arrays, a chunk of leaf pages at a
time, so nothing is held per record beyond the chunk and memory does not grow with the file.
Records are grouped by a 128-bit hash of their key (two independent 64-bit lanes over the key's
8-byte words and its length); Python objects are made only for each distinct key, once.

This path takes the sound file only. Anything the Python pass would word (a page header that fails
a test, an element past its page, a key that is not a revision, a ``KeyValue`` that does not open
with a short key, revisions out of order, a hash lane that collides, damage met on the branch
walk) makes it return None and the caller runs the Python pass, which reads and words every one
of them: so the damage log, the counts and the index are the Python pass's, by construction. A
hash only groups records: every record's key is compared byte for byte with the key it was
grouped under, so keys that share both lanes (by chance, or made to: the lanes are no secret)
make the pass decline, not merge. Nothing here is approximate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import sys
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from analyzer.decode.envelope import may_hold
from analyzer.evidence.bbolt_format import ELEMENT_SIZE, LEAF_PAGE, PAGE_HEADER_SIZE
from analyzer.evidence.damage_log import DamageLog
from analyzer.evidence.mvcc import REVISION_KEY_SIZE, TOMBSTONE_MARK
from analyzer.evidence.store import HISTORY, SCREEN, IndexQuery
from analyzer.records import datarecord

if TYPE_CHECKING:
    import mmap

    from analyzer.evidence.bbolt import BoltDB
    from analyzer.evidence.bbolt_tree import Bucket

# What a query keeps of a key (SKIP, LIVE and its bits): etcd_index._kind, with its directory memo.
KindOf = Callable[[IndexQuery, dict[bytes, "int | None"], bytes, bytes], int]


@datarecord(frozen=False)
class Columns:
    """The pass's answer, as the Python pass puts it in a ``Run``: each kept key's last event
    (packed, deletes included), the history it keeps, the screen's verdicts, and the counts."""

    last: dict[bytes, int]
    history: dict[bytes, list[int]]
    screened: set[bytes]
    events: int
    tombstones: int
    first_main: int
    last_main: int


# Leaf pages per chunk: about 18,000 records of a busy history. Measured on the bench snapshot
# (bench/README.md): 8,192 pages peak at 54 MiB for 1.5 s, 32,768 at 81 MiB for about the same.
_CHUNK_PAGES = 1 << 13
# A revision's main part must leave room for the packed form (main << 33 | sub << 1 | delete) in
# 64 bits. etcd's revisions are int64; a cluster past 2**31 revisions gets the Python pass.
_MAX_MAIN = 1 << 31
# Keys are gathered as rows as wide as the chunk's longest: a Kubernetes key is at most a few
# hundred bytes, and a longer one is left to the Python pass rather than widen every row.
_MAX_NAME = 512
_U64 = np.uint64
# Odd 64-bit multipliers for the two lanes (FNV-1a's prime and the golden ratio's).
_LANE_A, _LANE_B = _U64(0x100000001B3), _U64(0x9E3779B97F4A7C15)
_SHIFT_A, _SHIFT_B = _U64(29), _U64(32)
# A record's first bytes read in one gather: the revision key with its delete mark, and the tag
# and a varint of up to two bytes that open KeyValue (17 + 1 + 3, rounded up to a word).
_HEAD = 24
# Masks that keep the first n bytes of a little-endian word, n = 0..8.
_WORD_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)


class _Keys:
    """Every distinct key met so far, numbered in the order first met (the Python pass's dict
    order): per number its lane B, where its name is, what the query keeps of it, its last event
    (packed) and that record's value span. Lane A is kept sorted beside the numbers for lookups;
    the columns per number only grow, so a chunk's new keys cost one insertion into two arrays.

    Each key's bytes are also kept, end to end in ``pool`` (``pool_at``: where each starts), so
    that a later chunk's records are compared with them from memory, not by reading the file again
    where the key was first met (scattered over the file: 0.1-0.25 s of a 1.7 GiB pass); they cost
    the bytes of the distinct keys, about 45 a key on the benchmark's file, and are dropped before the
    Python index is built."""

    _COLUMNS = ("lane_b", "name_at", "name_size", "pool_at", "kind", "last", "value_at", "value_size")
    _PAD = 8 * 64  # a gather of the widest rows (512-byte keys) from the last key stays in the pool

    def __init__(self) -> None:
        self.count = 0
        self.sorted_lane_a = np.empty(0, np.uint64)
        self.sorted_number = np.empty(0, np.int64)
        self.lane_b: np.ndarray = np.zeros(1024, np.uint64)
        self.name_at: np.ndarray = np.zeros(1024, np.int64)
        self.name_size: np.ndarray = np.zeros(1024, np.int64)
        self.pool_at: np.ndarray = np.zeros(1024, np.int64)
        self.pool: np.ndarray = np.zeros(4096, np.uint8)  # grows as it fills (add)
        self.pool_size = 0
        self.pool_windows: dict[int, np.ndarray] = {}  # views of the pool by row width (_window)
        self.kind: np.ndarray = np.zeros(1024, np.int8)
        self.last: np.ndarray = np.zeros(1024, np.uint64)
        self.value_at: np.ndarray = np.zeros(1024, np.int64)
        self.value_size: np.ndarray = np.zeros(1024, np.int64)

    def drop_pool(self) -> None:
        self.pool_windows.clear()
        self.pool = np.zeros(0, np.uint8)

    def add(self, lanes_a: np.ndarray, at: np.ndarray, words: np.ndarray, **columns: np.ndarray) -> np.ndarray:
        """Number new keys (given in the order first met; ``at``: where each goes in lane A's
        order; ``words``: their bytes, as ``_Chunk.words`` rows), store their columns and bytes,
        and return their numbers."""
        numbers = np.arange(self.count, self.count + len(lanes_a), dtype=np.int64)
        sizes = columns["name_size"]
        names = words.view(np.uint8)[np.arange(words.shape[1] * 8) < sizes[:, None]]  # row by row, each key's own bytes
        if self.pool_size + len(names) + self._PAD > len(self.pool):
            # A quarter more each time, not double: the slack would be the pass's peak, and a step.
            grown = np.zeros(max(len(self.pool) * 5 // 4, self.pool_size + len(names) + self._PAD), np.uint8)
            grown[: self.pool_size] = self.pool[: self.pool_size]
            self.pool = grown
            self.pool_windows.clear()  # views of the old pool
        self.pool[self.pool_size : self.pool_size + len(names)] = names
        columns["pool_at"] = self.pool_size + np.cumsum(sizes) - sizes
        self.pool_size += len(names)
        self.count += len(lanes_a)
        if self.count > len(self.kind):  # grow by doubling: amortised, like a list
            size = max(self.count, 2 * len(self.kind))
            for name in self._COLUMNS:
                old = getattr(self, name)
                grown = np.zeros(size, old.dtype)
                grown[: len(old)] = old
                setattr(self, name, grown)
        for name, values in columns.items():
            getattr(self, name)[numbers] = values
        # Inserted in lane order: np.insert keeps the given order among values at one position.
        order = np.argsort(lanes_a, kind="stable")
        self.sorted_lane_a = np.insert(self.sorted_lane_a, at[order], lanes_a[order])
        self.sorted_number = np.insert(self.sorted_number, at[order], numbers[order])
        return numbers


def _return_freed_memory() -> None:
    """Hand the heap's free memory back to the system (glibc's malloc_trim), once the columns are
    folded and before the Python index is built on top of them.

    A chunk's columns are some 150 KiB each: glibc maps the first ones and, once one is freed,
    raises its mapping threshold above them, so later chunks' columns come from the heap and the
    freed pieces stay resident. The more chunks, the more stays: `scan` of the bench snapshot
    peaked at 61.5 MiB on 1.71 GiB and 58.9 on 0.43 GiB (bench/README.md). Fixing the threshold
    instead (mallopt) kept the peak flat but mapped every numpy temporary: 50 % slower.
    """
    if sys.platform != "linux":
        return
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return
    trim(0)


def usable(query: IndexQuery) -> bool:
    """Queries this path answers: the live keys under prefixes with the history of some, screened.
    Every key's history (``get --history``) and named keys are the Python pass's: small reads."""
    return not query.history and not query.keys


def index_columns(db: BoltDB, bucket: Bucket, query: IndexQuery, kind_of: KindOf,
                  progress: Callable[[int], None] | None = None, threads: int = 1) -> Columns | None:
    """Index ``bucket`` (etcd's key bucket); None where the file needs the Python pass (see the
    module's docstring)."""
    if bucket.inline is not None:
        return None
    walk_log = DamageLog()
    limit = min(db.high_water, db.file_pages)
    # The mapping as numpy sees it, and views of it; all dropped at the end, or the mapping could
    # not be closed (mmap refuses while exported).
    whole = [np.frombuffer(db.data, dtype=np.uint8)]
    keys = _Keys()
    totals = [0, 0, -1, 0]  # events, tombstones, first main, last main
    history: list[tuple[np.ndarray, np.ndarray]] = []
    kinds: dict[bytes, int | None] = {}
    windows: dict[int, np.ndarray] = {}

    def _step(ready: Future[_Chunk | None] | _Chunk | None) -> bool:
        chunk = ready.result() if isinstance(ready, Future) else ready
        if walk_log or chunk is None or not _fold(chunk, keys, totals, history, kinds, query, db.data, kind_of):
            return False
        if progress is not None:
            progress(totals[0])
        return True

    pool = ThreadPoolExecutor(1, thread_name_prefix="kforensic-columns") if threads > 1 else None
    pending: list[Future[_Chunk | None] | _Chunk | None] = []  # the chunk read and not yet folded
    try:
        for pages in _leaf_id_chunks(bucket, walk_log, limit):
            if pages is None:
                return None
            # With a spare core, the next chunk is gathered (numpy frees the GIL for it) while this
            # thread folds the last one into the key table (mostly Python and sorts).
            pending.append(pool.submit(_chunk, db, pages, whole[0], windows) if pool is not None else _chunk(db, pages, whole[0], windows))
            if len(pending) > 1 and not _step(pending.pop(0)):
                return None
        if pending and not _step(pending.pop()):
            return None
    except BaseException as err:
        # The frames of a failed gather hold views of the mapping; cleared, the mapping can close.
        traceback.clear_frames(err.__traceback__)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for left in pending:  # a gather that failed unread holds the mapping in its frames too
            failure = left.exception() if isinstance(left, Future) and not left.cancelled() else None
            if failure is not None:
                traceback.clear_frames(failure.__traceback__)
        pending.clear()
        windows.clear()
        whole.clear()
    if walk_log:  # damage the walk met, anywhere in the tree
        return None
    if progress is not None:
        progress(totals[0])
    # The keys' bytes are needed no more: freed before the Python index is built, they add nothing
    # to the pass's peak, which is while that index is made beside the key table.
    keys.drop_pool()
    _return_freed_memory()
    return _finish(keys, totals, history, query, db.data)


@datarecord(frozen=False)
class _Chunk:
    lane_a: np.ndarray
    lane_b: np.ndarray
    name_at: np.ndarray
    name_size: np.ndarray
    words: np.ndarray  # each record's key as rows of words (``_own_words``)
    packed: np.ndarray
    main: np.ndarray
    value_at: np.ndarray
    value_size: np.ndarray


def _leaf_id_chunks(bucket: Bucket, walk_log: DamageLog, limit: int) -> Iterator[np.ndarray | None]:
    """The walk's leaf ids, ``_CHUNK_PAGES`` at a time (nothing is held per page of the file); None
    for a page id past the file, which the walk leaves to the reader and the Python pass words (a
    damaged pointer may name up to 2**64 - 1, past numpy's int64; ``_chunk`` tests the rest)."""
    pending: list[int] = []
    for _parent, children in bucket.iter_leaf_id_batches(walk_log):
        pending.extend(children)
        if len(pending) >= _CHUNK_PAGES:
            yield np.array(pending, dtype=np.int64) if max(pending) < limit else None
            pending = []
    if pending:
        yield np.array(pending, dtype=np.int64) if max(pending) < limit else None


def _window(whole: np.ndarray, windows: dict[int, np.ndarray], size: int) -> np.ndarray:
    """A view of the mapping whose element i is the ``size`` bytes at byte i, unaligned: gathering
    from it copies each record's bytes once (numpy's fast path for raw items; a structured or
    multi-byte integer view is several times slower to gather from)."""
    window = windows.get(size)
    if window is None:
        window = windows[size] = np.ndarray((max(0, len(whole) - size + 1),), dtype=np.dtype((np.void, size)), buffer=whole, strides=(1,))
    return window


def _gather(whole: np.ndarray, windows: dict[int, np.ndarray], at: np.ndarray, size: int) -> np.ndarray | None:
    """The ``size`` bytes at each of ``at`` as rows of a (len(at), size) byte matrix; None if any
    would run past the mapping."""
    if len(at) and (at.min() < 0 or at.max() + size > len(whole)):
        return None
    rows: np.ndarray = _window(whole, windows, size)[at].view(np.uint8).reshape(len(at), size)
    return rows


def _column(rows: np.ndarray, start: int, dtype: str) -> np.ndarray:
    """One field of every row: ``rows[:, start : start + itemsize]`` read as ``dtype``."""
    width = np.dtype(dtype).itemsize
    return np.ascontiguousarray(rows[:, start : start + width]).view(dtype).reshape(len(rows))


def _chunk(db: BoltDB, pages: np.ndarray, whole: np.ndarray, windows: dict[int, np.ndarray]) -> _Chunk | None:
    """The records of ``pages`` (leaf ids in key order) as columns, or None if any test fails."""
    order = db.layout.order_char
    start = db.base + pages * db.page_size
    # BoltDB.leaves_by_id's tests, every page at once.
    # The high-water mark bounded by the file: a damaged meta may claim 2**64 pages, more than numpy's
    # int64 holds, and a page past the file fails the end test below either way.
    high_water = min(db.high_water, db.file_pages)
    if len(pages) and (pages.min() < 2 or pages.max() >= high_water or start.max() > db.data_end - PAGE_HEADER_SIZE):
        return None
    header = _gather(whole, windows, start, PAGE_HEADER_SIZE)
    if header is None:
        return None
    stored, flags = _column(header, 0, order + "u8"), _column(header, 8, order + "u2")
    count, overflow = _column(header, 10, order + "u2").astype(np.int64), _column(header, 12, order + "u4").astype(np.int64)
    end = start + (overflow + 1) * db.page_size
    if not (np.array_equal(stored, pages.astype(np.uint64)) and np.all(flags == LEAF_PAGE) and np.all(pages + overflow < high_water)
            and np.all(end <= db.data_end) and np.all(PAGE_HEADER_SIZE + count * ELEMENT_SIZE <= end - start)):
        return None
    total = int(count.sum())
    if total == 0:
        i64, u64 = np.empty(0, np.int64), np.empty(0, np.uint64)
        return _Chunk(u64, u64, i64, i64, np.empty((0, 0), np.uint64), u64, i64, i64, i64)
    # Element i of a page sits at start + 16 + 16 * i; pos is relative to the element (bbolt page.go).
    firsts = np.cumsum(count) - count
    element = np.repeat(start + PAGE_HEADER_SIZE - firsts * ELEMENT_SIZE, count) + np.arange(total, dtype=np.int64) * ELEMENT_SIZE
    elements = _gather(whole, windows, element, ELEMENT_SIZE)
    if elements is None:
        return None
    pos, key_size, value_size = (_column(elements, 4 * field, order + "u4").astype(np.int64) for field in (1, 2, 3))
    key_at = element + pos
    value_at = key_at + key_size
    value_end = value_at + value_size
    if np.any(value_end > np.repeat(end, count)) or np.any(value_size < 2):
        return None
    # The revision key (main, 8 bytes big-endian; "_"; sub; "t" for a delete), then the record's
    # first bytes: KeyValue.key's tag 0x0A and a varint length of one or two bytes.
    delete = key_size == REVISION_KEY_SIZE + 1
    if not np.all(delete | (key_size == REVISION_KEY_SIZE)):
        return None
    head = _gather(whole, windows, key_at, _HEAD)
    if head is None:
        return None
    rows = np.arange(total)
    after = REVISION_KEY_SIZE + delete  # where the record starts in each row
    if (np.any(head[:, 8] != ord("_")) or np.any(head[delete, REVISION_KEY_SIZE] != TOMBSTONE_MARK[0])
            or np.any(head[rows, after] != 0x0A)):
        return None
    main, sub = _column(head, 0, ">u8"), _column(head, 9, ">u8")
    if main.max() >= _MAX_MAIN or sub.max() >= (1 << 32):
        return None
    first = head[rows, after + 1].astype(np.int64)
    second = head[rows, after + 2].astype(np.int64)
    long_key = first >= 0x80
    if np.any(long_key & ((second >= 0x80) | (second == 0))):
        return None  # a three-byte length (a key over 16 KiB), or a varint that is not minimal
    name_size = np.where(long_key, (first & 0x7F) | (second << 7), first)
    name_at = value_at + 2 + long_key
    if np.any(name_at + name_size > value_end):
        return None
    if name_size.max() > _MAX_NAME:
        return None
    width = -(-int(name_size.max()) // 8) * 8
    name = _gather(whole, windows, name_at, width)
    if name is None:
        return None
    words = _own_words(name.view("<u8"), name_size)
    lane_a, lane_b = _lanes(words, name_size)
    packed = (main << _U64(33)) | (sub << _U64(1)) | delete.astype(np.uint64)
    return _Chunk(lane_a, lane_b, name_at, name_size, words, packed, main.astype(np.int64), value_at, value_size)


def _own_words(words: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Rows of little-endian words with each row's bytes past its first ``size`` zeroed: rows are as
    wide as the chunk's longest key, and what follows a shorter one is another record's."""
    kept: np.ndarray = words & _WORD_MASKS[np.clip(size[:, None] - 8 * np.arange(words.shape[1]), 0, 8)]
    return kept.astype("<u8", copy=False)


def _lanes(words: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit hash lanes of each row's first ``size`` bytes (``_own_words``): what groups records
    by key. They only group: every record's bytes are then compared with its key's (``_fold``).

    A row's lanes take in only its own words, so that a key hashes the same in every chunk."""
    lane_a = size.astype(np.uint64) * _LANE_A
    lane_b = size.astype(np.uint64) ^ _LANE_B
    for column in range(words.shape[1]):
        word = words[:, column]
        mixed_a = (lane_a ^ word) * _LANE_A
        mixed_a ^= mixed_a >> _SHIFT_A
        mixed_b = (lane_b + word) * _LANE_B
        mixed_b ^= mixed_b >> _SHIFT_B
        inside = size > 8 * column
        lane_a, lane_b = np.where(inside, mixed_a, lane_a), np.where(inside, mixed_b, lane_b)
    return lane_a, lane_b


def _fold(chunk: _Chunk, keys: _Keys, totals: list[int], history: list[tuple[np.ndarray, np.ndarray]],
          kinds: dict[bytes, int | None], query: IndexQuery, data: mmap.mmap | bytes, kind_of: KindOf) -> bool:
    """``chunk`` merged into ``keys``; False where the Python pass must decide (see the docstring)."""
    events = len(chunk.packed)
    if not events:
        return True
    main = chunk.main
    # bbolt keeps the key bucket sorted, so a sound file's revisions only grow; the Python pass
    # counts and reports any that do not.
    if main[0] < totals[3] or (events > 1 and np.any(main[1:] < main[:-1])):
        return False
    totals[0] += events
    if totals[2] < 0:
        totals[2] = int(main[0])
    totals[3] = int(main[-1])
    lanes, first, inverse = np.unique(chunk.lane_a, return_index=True, return_inverse=True)
    lanes_b = chunk.lane_b[first]
    # The lanes only group; the bytes decide. Every record's key must be, byte for byte, the key of
    # the first record grouped with it (two keys may share lanes, by chance or by design: the
    # lanes are no secret), and below, the key of the same number met in an earlier chunk.
    if not (np.array_equal(chunk.lane_b, lanes_b[inverse]) and np.array_equal(chunk.name_size, chunk.name_size[first][inverse])
            and np.array_equal(chunk.words, chunk.words[first][inverse])):
        return False
    # Each of the chunk's keys by its number: known ones found by lane A, new ones numbered in the
    # order the chunk first met them.
    at = np.searchsorted(keys.sorted_lane_a, lanes)
    known = at < len(keys.sorted_lane_a)
    known[known] = keys.sorted_lane_a[at[known]] == lanes[known]
    number = np.empty(len(lanes), np.int64)
    number[known] = keys.sorted_number[at[known]]
    if np.any(known):
        earlier, here = number[known], first[known]
        if not (np.array_equal(keys.lane_b[earlier], lanes_b[known]) and np.array_equal(keys.name_size[earlier], chunk.name_size[here])):
            return False
        before = _gather(keys.pool, keys.pool_windows, keys.pool_at[earlier], 8 * chunk.words.shape[1])
        if before is None or not np.array_equal(_own_words(before.view("<u8"), keys.name_size[earlier]), chunk.words[here]):
            return False
    new = np.flatnonzero(~known)
    if len(new):
        new = new[np.argsort(first[new], kind="stable")]
        found = first[new]
        new_kinds = _classify(chunk, found, query, kinds, data, kind_of)
        if new_kinds is None:
            return False
        number[new] = keys.add(lanes[new], at[new], chunk.words[found], lane_b=lanes_b[new], name_at=chunk.name_at[found],
                               name_size=chunk.name_size[found], kind=new_kinds)
    kind = keys.kind[number][inverse]
    kept = kind > 0
    if not np.any(kept):
        return True
    packed = chunk.packed[kept]
    totals[1] += int(np.count_nonzero(packed & _U64(1)))
    # Each kept key's last record in this chunk (records are in revision order).
    last = np.full(len(lanes), -1, np.int64)
    np.maximum.at(last, inverse[kept], np.flatnonzero(kept))
    met = last >= 0
    latest, last = number[met], last[met]
    keys.last[latest] = chunk.packed[last]
    keys.value_at[latest] = chunk.value_at[last]
    keys.value_size[latest] = chunk.value_size[last]
    with_history = (kind[kept] & HISTORY) != 0
    if np.any(with_history):
        history.append((number[inverse[kept][with_history]], packed[with_history]))
    return True


def _classify(chunk: _Chunk, found: np.ndarray, query: IndexQuery, kinds: dict[bytes, int | None], data: mmap.mmap | bytes,
              kind_of: KindOf) -> np.ndarray | None:
    """What the query keeps of each new key (records ``found``), decided once per directory by the
    Python pass's rule (``etcd_index._kind`` and a memo like its own), key by key where it cannot be."""
    # Each new key's directory: up to and including its last "/" (what the query decides by, as the
    # Python pass's memo does), none for a key without one; found from the key's own bytes (zero
    # past its end), for new keys only, not for every record.
    named = chunk.words[found]
    rows = named.view(np.uint8)
    slash = rows == ord("/")
    size = np.where(slash.any(axis=1), rows.shape[1] - np.argmax(slash[:, ::-1], axis=1), 0) if rows.shape[1] else np.zeros(len(found), np.int64)
    words = _own_words(named, size)
    lane_a, lane_b = _lanes(words, size)
    directories, first, inverse = np.unique(lane_a, return_index=True, return_inverse=True)
    # As for keys, the lanes only group: each directory must be, byte for byte, its group's first.
    if not (np.array_equal(lane_b, lane_b[first][inverse]) and np.array_equal(size, size[first][inverse])
            and np.array_equal(words, words[first][inverse])):
        return None
    decided = np.zeros(len(directories), np.int8)
    undecided: list[int] = []
    for index, (record, directory_size) in enumerate(zip(found[first].tolist(), size[first].tolist(), strict=True)):
        start = int(chunk.name_at[record])
        directory = data[start : start + directory_size]
        shared = kinds.get(directory)
        if shared is None:
            shared = kind_of(query, kinds, directory, data[start : start + int(chunk.name_size[record])])
            if kinds.get(directory) is None:  # no verdict for the directory: each key decides
                undecided.append(index)
                continue
        decided[index] = shared
    result = decided[inverse]
    if undecided:
        for position in np.flatnonzero(np.isin(inverse, undecided)).tolist():
            start, length = int(chunk.name_at[found[position]]), int(chunk.name_size[found[position]])
            result[position] = query.kind_of(data[start : start + length])
    return result


def _ints(column: np.ndarray, block: int = 8192) -> Iterator[int]:
    """A column's values as Python ints, converted a block at a time."""
    for start in range(0, len(column), block):
        yield from column[start : start + block].tolist()


def _finish(keys: _Keys, totals: list[int], parts: list[tuple[np.ndarray, np.ndarray]],
            query: IndexQuery, data: mmap.mmap | bytes) -> Columns:
    """The Python index from the columns: one bytes object per kept key, in the order the keys were
    first met (the Python pass's dict order)."""
    kept = np.flatnonzero(keys.kind[: keys.count] > 0)  # numbered in the order first met
    # Python ints made a block at a time: lists of every key's place and size would cost some 80
    # bytes a key at the peak, beside the index itself (bench/README.md, "Memory").
    names = (data[start : start + size] for start, size in zip(_ints(keys.name_at[kept]), _ints(keys.name_size[kept]), strict=True))
    last = dict(zip(names, _ints(keys.last[kept]), strict=True))
    history: dict[bytes, list[int]] = {}
    if parts:
        named = list(last)  # the dict keeps the order first met: its keys are the names by position
        numbers = np.concatenate([number for number, _ in parts])
        packed = np.concatenate([events for _, events in parts]).tolist()
        for position, event in zip(np.searchsorted(kept, numbers).tolist(), packed, strict=True):
            history.setdefault(named[position], []).append(event)
    screened: set[bytes] = set()
    if query.screen:
        needle = query.needle
        candidate = ((keys.kind[kept] & SCREEN) != 0) & ((keys.last[kept] & _U64(1)) == 0)
        spans = zip(_ints(keys.value_at[kept]), _ints(keys.value_size[kept]), strict=True)
        for name, wanted, (start, size) in zip(last, _ints(candidate), spans, strict=True):
            if wanted and may_hold(data, start, start + size, needle):
                screened.add(name)
    events, tombstones, first_main, last_main = totals
    return Columns(last, history, screened, events, tombstones, first_main, last_main)
