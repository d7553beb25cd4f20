"""A read-only reader for bbolt database files (what ``etcdctl snapshot save`` writes).

The whole file is mapped read-only and parsed with ``struct`` over a ``memoryview``; nothing is
copied except the keys and values a caller keeps. Layout facts are from
``shared/docs/etcd-snapshot-format.md`` section A, which cites etcd-io/bbolt.

Two rules make the reader safe on damaged files:

* It never trusts the freelist and never looks at pages at or beyond the meta's high-water mark.
* Every walk is iterative, bounded in depth, and marks each page it enters in a one-byte-per-page
  bitmap, so a page that points back up (a cycle) or is reached twice is reported, not followed.

A walk either raises ``CorruptEvidence``/``TruncatedEvidence`` naming the page, or, when the caller
passes a ``Damage`` list, records the problem there, skips the unreadable subtree and carries on.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from analyzer.errors import (
    CorruptEvidence,
    EvidenceError,
    TruncatedEvidence,
    UnsupportedEvidence,
    os_problem,
)

MAGIC = 0xED0CDAED
VERSION = 2
PGID_NO_FREELIST = 0xFFFF_FFFF_FFFF_FFFF

BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10
BUCKET_LEAF_FLAG = 0x01  # a leaf element whose value is a nested bucket

PAGE_HEADER_SIZE = 16
ELEMENT_SIZE = 16  # branch and leaf elements are both 16 bytes
META_OFFSET = PAGE_HEADER_SIZE  # the meta struct starts right after its page header
META_CHECKSUMMED = 56  # magic .. txid; the checksum covers these bytes
IN_BUCKET_SIZE = 16
MAX_DEPTH = 64  # a bbolt tree of 8 GiB is 4-5 levels deep; 64 can only mean a loop
SALVAGE_EVIDENCE_PAGES = 3  # pages repeating their own id that mark a file as a damaged bbolt

FNV64_OFFSET = 0xCBF29CE484222325
FNV64_PRIME = 0x100000001B3

# Where bbolt looks for the second meta page when the first is unreadable (db.go getPageSize).
_META1_PROBES = tuple(1024 << i for i in range(15))


class _Layout:
    """The structs of one byte order; bbolt writes host order, so both exist in the wild."""

    def __init__(self, order: str) -> None:
        self.order = "little" if order == "<" else "big"
        self.PAGE_HEADER = struct.Struct(order + "QHHI")  # id, flags, count, overflow
        self.META = struct.Struct(order + "IIIIQQQQQQ")  # magic … txid, checksum
        self.BRANCH_ELEMENT = struct.Struct(order + "IIQ")  # pos, ksize, pgid
        self.LEAF_ELEMENT = struct.Struct(order + "IIII")  # flags, pos, ksize, vsize
        self.IN_BUCKET = struct.Struct(order + "QQ")  # root pgid, sequence
        self.U32 = struct.Struct(order + "I")
        self.U64 = struct.Struct(order + "Q")
        self.order_char = order


LITTLE_ENDIAN = _Layout("<")
BIG_ENDIAN = _Layout(">")
_MAGIC_BYTES = {
    LITTLE_ENDIAN.U32.pack(MAGIC): LITTLE_ENDIAN,
    BIG_ENDIAN.U32.pack(MAGIC): BIG_ENDIAN,
}


def fnv1a64(data: bytes | memoryview) -> int:
    """Go's hash/fnv New64a, which bbolt uses for the meta checksum."""
    h = FNV64_OFFSET
    for byte in bytes(data):
        h = ((h ^ byte) * FNV64_PRIME) & 0xFFFF_FFFF_FFFF_FFFF
    return h


@dataclass(frozen=True)
class Meta:
    """One of the two meta pages, and whether it validates."""

    page: int
    page_size: int
    root: int
    freelist: int
    high_water: int  # meta.pgid: the first page id not in use
    txid: int
    problem: str | None  # why it does not validate; None when it does

    @property
    def valid(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Damage:
    """A part of the file that could not be read; the rest was read around it."""

    page: int | None
    problem: str
    bucket: str = ""

    def __str__(self) -> str:
        where = f"page {self.page}" if self.page is not None else "file"
        scope = f" (bucket {self.bucket})" if self.bucket else ""
        return f"{where}{scope}: {self.problem}"


def describe_magic(head: bytes) -> str:
    """A human hint for a file that is not bbolt, from its first bytes."""
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed; decompress it first (gunzip) or pass it as node evidence"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "it is xz-compressed; decompress it first (unxz) or pass it as node evidence"
    if head.startswith(b"PK\x03\x04"):
        return "it is a zip archive, not a bbolt database"
    if head[257:262] == b"ustar":
        return "it is a tar archive, not a bbolt database"
    if head.startswith(b"SQLite format 3"):
        return "it is an SQLite database, not a bbolt database"
    sample = head[:64]
    if sample and all(32 <= b < 127 or b in (9, 10, 13) for b in sample):
        return "it is a text file, not a bbolt database"
    return f"no bbolt meta page found (first bytes {head[:8].hex(' ')})"


class BoltDB:
    """A bbolt file mapped read-only. Open with ``open_bolt``; use as a context manager."""

    def __init__(
        self,
        source: str,
        mapping: mmap.mmap | None,
        data_size: int,
        layout: _Layout,
        page_size: int,
        metas: tuple[Meta, Meta],
        base: int = 0,
    ) -> None:
        self.source = source
        self._mmap = mapping
        # Hot loops index and slice the mmap itself: that yields ints and bytes directly, which is
        # cheaper than a memoryview object per key and value.
        self.data: mmap.mmap | bytes = mapping if mapping is not None else b""
        self.buf = memoryview(mapping) if mapping is not None else memoryview(b"")
        self.data_size = data_size
        # The database starts ``base`` bytes into the mapping (a snapshot read in place from a tar:
        # mmap offsets are page-aligned, tar members only 512-byte aligned). Every position handed
        # out (page_bounds, element offsets) is absolute in ``data``; sizes and messages are not.
        self.base = base
        self.data_end = base + data_size
        self.layout = layout
        self.page_size = page_size
        self.metas = metas
        valid = [m for m in metas if m.valid]
        # bbolt db.go meta(): the valid meta with the higher txid wins.
        self.meta: Meta | None = max(valid, key=lambda m: m.txid) if valid else None
        self.file_pages = data_size // page_size
        self.high_water = self.meta.high_water if self.meta else self.file_pages

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self.buf.release()
        self.data = b""
        if self._mmap is not None:
            try:
                self._mmap.close()
            except BufferError:
                # A caller still holds a slice (an unfinished generator, a traceback frame);
                # the mapping is released when the last slice goes.
                pass
            self._mmap = None

    def __enter__(self) -> BoltDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts ---------------------------------------------------------------------------------

    @property
    def byte_order(self) -> str:
        return self.layout.order

    @property
    def size(self) -> int:
        """Bytes in use, as bbolt's Tx.Size() and etcdutl's "total size" report them."""
        return self.high_water * self.page_size

    @property
    def missing_pages(self) -> int:
        """Pages below the high-water mark that the file does not contain (a truncated copy)."""
        return max(0, self.high_water - self.file_pages)

    def file_damage(self) -> list[Damage]:
        """Damage visible without walking: invalid metas and truncation."""
        found = [Damage(m.page, f"meta page is invalid: {m.problem}") for m in self.metas if not m.valid]
        if self.missing_pages:
            found.append(
                Damage(
                    self.file_pages,
                    f"file is truncated: the database needs {self.high_water} pages of "
                    f"{self.page_size} bytes ({self.size} bytes) but only {self.data_size} bytes "
                    f"are present; {self.missing_pages} pages are missing",
                )
            )
        return found

    # -- pages ---------------------------------------------------------------------------------

    def page_bounds(self, pgid: int) -> tuple[int, int, int, int, int]:
        """(flags, count, overflow, start, end) of a page, bounds-checked against the file and the meta."""
        high_water = self.high_water
        if pgid < 2 or pgid >= high_water:
            raise CorruptEvidence(
                self.source, f"page id {pgid} is outside the database (pages 2..{high_water - 1})", f"page {pgid}"
            )
        start = self.base + pgid * self.page_size
        if start + PAGE_HEADER_SIZE > self.data_end:
            raise TruncatedEvidence(self.source, f"page lies beyond the end of the file (byte {self.data_size})", f"page {pgid}")
        stored_id, flags, count, overflow = self.layout.PAGE_HEADER.unpack_from(self.data, start)
        if stored_id != pgid:
            raise CorruptEvidence(self.source, f"page header carries id {stored_id}, expected {pgid}", f"page {pgid}")
        end = start + (overflow + 1) * self.page_size
        if pgid + overflow >= high_water:
            raise CorruptEvidence(
                self.source, f"overflow of {overflow} pages runs past the high-water mark {high_water}", f"page {pgid}"
            )
        if end > self.data_end:
            raise TruncatedEvidence(
                self.source, f"page and its {overflow} overflow pages end at byte {end - self.base}, past the end of the file", f"page {pgid}"
            )
        # Every reader of a branch or leaf trusts the element count; checked once, here.
        if PAGE_HEADER_SIZE + count * ELEMENT_SIZE > end - start:
            raise CorruptEvidence(self.source, f"claims {count} elements, more than fit in {end - start} bytes", f"page {pgid}")
        return flags, count, overflow, start, end

    def read_leaf(self, pgid: int, damage: list[Damage], bucket: str) -> list[tuple[int, int, int, int]]:
        """The elements of one leaf page named by id (see ``Bucket.leaf_page_ids``), damage recorded."""
        try:
            flags, count, _overflow, start, end = self.page_bounds(pgid)
        except CorruptEvidence as err:
            damage.append(Damage(pgid, err.problem, bucket))
            return []
        if flags != LEAF_PAGE:
            damage.append(Damage(pgid, f"page flags {flags:#x} do not make a leaf page", bucket))
            return []
        elements, broken = leaf_elements(self.layout, self.data, start, end, count)
        if broken is not None:
            damage.append(Damage(pgid, f"element {broken} points past the end of the page ({end - start} bytes)", bucket))
        return elements

    def page(self, pgid: int) -> tuple[int, int, int, memoryview]:
        """(flags, count, overflow, span) of a page; the span covers its overflow pages too."""
        flags, count, overflow, start, end = self.page_bounds(pgid)
        return flags, count, overflow, self.buf[start:end]

    # -- buckets -------------------------------------------------------------------------------

    def root(self) -> Bucket:
        if self.meta is None:
            raise CorruptEvidence(self.source, "neither meta page is valid; the tree cannot be walked (try --salvage)")
        return Bucket(self, b"", self.meta.root, None)

    def bucket(self, name: bytes, damage: list[Damage] | None = None) -> Bucket | None:
        return self.root().bucket(name, damage)

    # -- salvage -------------------------------------------------------------------------------

    def iter_items_anywhere(self) -> Iterator[tuple[int, bytes, bytes, int]]:
        """(page, key, value, flags) of every leaf element in the file, reachable or not.

        Copy-on-write leaves old versions of pages behind in free pages, so this also finds
        records the tree no longer points to. A page counts when its header repeats its own id,
        which overflow continuation pages and garbage almost never do.
        """
        limit = self.file_pages if self.meta is None else min(self.file_pages, self.high_water)
        header = self.layout.PAGE_HEADER
        data = self.data
        for pgid in range(2, limit):
            start = self.base + pgid * self.page_size
            stored_id, flags, count, overflow = header.unpack_from(data, start)
            if stored_id != pgid or flags != LEAF_PAGE or count == 0:
                continue
            end = min(start + (overflow + 1) * self.page_size, self.data_end)
            if PAGE_HEADER_SIZE + count * ELEMENT_SIZE > end - start:
                continue
            for flags, kstart, vstart, vend in leaf_elements(self.layout, data, start, end, count)[0]:
                yield pgid, data[kstart:vstart], data[vstart:vend], flags


def leaf_elements(
    layout: _Layout, data: mmap.mmap | bytes, start: int, end: int, count: int
) -> tuple[list[tuple[int, int, int, int]], int | None]:
    """(flags, key start, value start, value end) of a leaf page's elements, as absolute offsets.

    Returns the elements that lie inside the page and the index of the first one that does not
    (None when all do). A list per page, not a generator per element: this runs millions of times.
    """
    elements: list[tuple[int, int, int, int]] = []
    offset = start + PAGE_HEADER_SIZE
    for flags, pos, ksize, vsize in layout.LEAF_ELEMENT.iter_unpack(data[offset : offset + count * ELEMENT_SIZE]):
        # pos is relative to the element itself, not to the page (bbolt page.go Key/Value).
        kstart = offset + pos
        vend = kstart + ksize + vsize
        if vend > end:
            return elements, len(elements)
        elements.append((flags, kstart, kstart + ksize, vend))
        offset += ELEMENT_SIZE
    return elements, None


class Bucket:
    """One bucket: a B+tree rooted at a page, or an inline pseudo page inside its parent's value."""

    def __init__(self, db: BoltDB, name: bytes, root: int, inline: bytes | None) -> None:
        self.db = db
        self.name = name
        self.root_page = root
        self.inline = inline

    def __repr__(self) -> str:
        where = "inline" if self.inline is not None else f"root page {self.root_page}"
        return f"<Bucket {self.name.decode('utf-8', 'replace')!r} {where}>"

    @property
    def label(self) -> str:
        return self.name.decode("utf-8", "replace")

    def iter_items(self, damage: list[Damage] | None = None) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, flags) in key order; flags & BUCKET_LEAF_FLAG marks a nested bucket."""
        for pgid, data, start, end, count in self._iter_leaves(damage):
            for flags, kstart, vstart, vend in self._elements(pgid, data, start, end, count, damage):
                yield data[kstart:vstart], data[vstart:vend], flags

    def iter_leaf_blocks(
        self, damage: list[Damage] | None = None
    ) -> Iterator[tuple[int | None, mmap.mmap | bytes, list[tuple[int, int, int, int]]]]:
        """Leaf pages as (page id, buffer, [(flags, key start, value start, value end)]).

        The fast path for full passes over millions of entries: absolute offsets into the
        mapped file, so the caller reads only the bytes it needs (a revision, a key prefix).
        """
        for pgid, data, start, end, count in self._iter_leaves(damage):
            yield pgid, data, self._elements(pgid, data, start, end, count, damage)

    def leaf_page_ids(self, damage: list[Damage] | None = None) -> list[int]:
        """The bucket's leaf pages in key order, found by walking branch pages only.

        A B+tree keeps its leaves at one depth, so one child's header tells whether a branch's
        children are leaves; whoever reads those pages checks each one (``BoltDB.read_leaf``).
        An inline bucket has no leaf pages and yields an empty list.
        """
        if self.inline is not None:
            return []
        db = self.db
        branch_elements = db.layout.BRANCH_ELEMENT.iter_unpack
        leaves: list[int] = []
        seen: set[int] = set()
        stack: list[tuple[int, int, int | None]] = [(self.root_page, 0, None)]
        while stack:
            pgid, depth, parent = stack.pop()
            came_from = f" (referenced from page {parent})" if parent is not None else ""
            if depth > MAX_DEPTH or pgid in seen:
                self._fail(damage, pgid, f"page reached twice or too deep{came_from}; the tree has a cycle")
                continue
            seen.add(pgid)
            try:
                flags, count, _overflow, start, end = db.page_bounds(pgid)
            except CorruptEvidence as err:
                if damage is None:
                    raise
                damage.append(Damage(pgid, err.problem + came_from, self.label))
                continue
            if flags == LEAF_PAGE:
                leaves.append(pgid)
                continue
            if flags != BRANCH_PAGE:
                self._fail(damage, pgid, f"page flags {flags:#x} do not make a branch page{came_from}")
                continue
            first = start + PAGE_HEADER_SIZE
            children = [child for _pos, _ksize, child in branch_elements(db.data[first : first + count * ELEMENT_SIZE])]
            try:
                child_flags = db.page_bounds(children[0])[0] if children else 0
            except CorruptEvidence:
                child_flags = 0
            if child_flags == LEAF_PAGE:
                leaves.extend(children)
            else:
                stack.extend((child, depth + 1, pgid) for child in reversed(children))
        return leaves

    def count(self, damage: list[Damage] | None = None) -> int:
        """Number of entries, nested buckets included, read from leaf headers alone."""
        return sum(leaf[4] for leaf in self._iter_leaves(damage))

    def iter_buckets(self, damage: list[Damage] | None = None) -> Iterator[Bucket]:
        for key, value, flags in self.iter_items(damage):
            if flags & BUCKET_LEAF_FLAG:
                child = self._open_child(bytes(key), value, damage)
                if child is not None:
                    yield child

    def bucket(self, name: bytes, damage: list[Damage] | None = None) -> Bucket | None:
        for child in self.iter_buckets(damage):
            if child.name == name:
                return child
        return None

    # -- internals -----------------------------------------------------------------------------

    def _open_child(self, name: bytes, value: bytes, damage: list[Damage] | None) -> Bucket | None:
        layout = self.db.layout
        label = name.decode("utf-8", "replace")
        if len(value) < IN_BUCKET_SIZE:
            self._fail(damage, None, f"bucket header of {label!r} is {len(value)} bytes, expected at least 16")
            return None
        root, _sequence = layout.IN_BUCKET.unpack_from(value, 0)
        if root != 0:
            return Bucket(self.db, name, root, None)
        inline = bytes(value[IN_BUCKET_SIZE:])
        if len(inline) < PAGE_HEADER_SIZE:
            self._fail(damage, None, f"inline bucket {label!r} is too short for a page header")
            return None
        return Bucket(self.db, name, 0, inline)

    def _fail(self, damage: list[Damage] | None, pgid: int | None, problem: str) -> None:
        if damage is None:
            where = f"page {pgid}" if pgid is not None else f"bucket {self.label}"
            raise CorruptEvidence(self.db.source, problem, where)
        damage.append(Damage(pgid, problem, self.label))

    def _iter_leaves(self, damage: list[Damage] | None) -> Iterator[tuple[int | None, mmap.mmap | bytes, int, int, int]]:
        """(page id, buffer, start, end, element count) of every leaf page, left to right."""
        db = self.db
        layout = db.layout
        if self.inline is not None:
            _, flags, count, _ = layout.PAGE_HEADER.unpack_from(self.inline, 0)
            if flags != LEAF_PAGE:
                self._fail(damage, None, f"inline bucket {self.label!r} has page flags {flags:#x}, expected a leaf")
                return
            if PAGE_HEADER_SIZE + count * ELEMENT_SIZE > len(self.inline):
                self._fail(damage, None, f"inline bucket {self.label!r} claims {count} elements but is {len(self.inline)} bytes")
                return
            yield None, self.inline, 0, len(self.inline), count
            return

        data = db.data
        page_bounds = db.page_bounds
        branch_elements = layout.BRANCH_ELEMENT.iter_unpack
        # One byte per page the file holds, not per page the meta claims: a damaged meta can claim
        # 2**64 pages, and every page past the file's end fails page_bounds before it is marked.
        seen = bytearray(min(db.high_water, db.file_pages))
        # A stack of (page id, depth, parent) walked so that children come out left to right.
        stack: list[tuple[int, int, int | None]] = [(self.root_page, 0, None)]
        while stack:
            pgid, depth, parent = stack.pop()
            if depth > MAX_DEPTH or (0 <= pgid < len(seen) and seen[pgid]):
                came_from = f" (referenced from page {parent})" if parent is not None else ""
                problem = f"tree deeper than {MAX_DEPTH} levels" if depth > MAX_DEPTH else "page reached twice"
                self._fail(damage, pgid, f"{problem}{came_from}; the tree has a cycle or shared page")
                continue
            try:
                flags, count, _overflow, start, end = page_bounds(pgid)
            except CorruptEvidence as err:
                if damage is None:
                    raise
                came_from = f" (referenced from page {parent})" if parent is not None else ""
                damage.append(Damage(pgid, err.problem + came_from, self.label))
                continue
            seen[pgid] = 1
            if flags == LEAF_PAGE:
                yield pgid, data, start, end, count
            elif flags == BRANCH_PAGE:
                first = start + PAGE_HEADER_SIZE
                children = [child for _pos, _ksize, child in branch_elements(data[first : first + count * ELEMENT_SIZE])]
                stack.extend((child, depth + 1, pgid) for child in reversed(children))
            else:
                came_from = f" (referenced from page {parent})" if parent is not None else ""
                self._fail(damage, pgid, f"page flags {flags:#x} where a branch or leaf page was expected{came_from}")

    def _elements(
        self, pgid: int | None, data: mmap.mmap | bytes, start: int, end: int, count: int, damage: list[Damage] | None
    ) -> list[tuple[int, int, int, int]]:
        elements, broken = leaf_elements(self.db.layout, data, start, end, count)
        if broken is not None:
            self._fail(damage, pgid, f"element {broken} points past the end of the page ({end - start} bytes)")
        return elements

    # -- point access --------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, by binary search down the branches (bbolt cursor.seek)."""
        if self.inline is not None:
            return next((value for k, value, _ in self.iter_items() if k == key), None)
        db = self.db
        data = db.data
        branch_element = db.layout.BRANCH_ELEMENT.unpack_from
        pgid = self.root_page
        for _depth in range(MAX_DEPTH):
            flags, count, _overflow, start, end = db.page_bounds(pgid)
            first = start + PAGE_HEADER_SIZE
            if flags == BRANCH_PAGE:
                # The child to follow is the last one whose first key is <= key.
                lo, hi = 0, count
                while lo < hi:
                    mid = (lo + hi) // 2
                    element = first + mid * ELEMENT_SIZE
                    pos, ksize, _child = branch_element(data, element)
                    if data[element + pos : element + pos + ksize] <= key:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo == 0:
                    return None
                pgid = branch_element(data, first + (lo - 1) * ELEMENT_SIZE)[2]
                continue
            return self._leaf_value(pgid, flags, count, start, end, key)
        raise CorruptEvidence(db.source, f"tree deeper than {MAX_DEPTH} levels during a lookup", f"page {pgid}")

    def get_many(self, keys: Iterable[bytes]) -> Iterator[bytes | None]:
        """The values of keys given in ascending order, one per key.

        Consecutive keys share most of their path, so the branch pages of the current path are
        kept decoded (one per level: memory does not grow) and each is read once, not once per key.
        """
        if self.inline is not None:
            for key in keys:
                yield self.get(key)
            return
        db = self.db
        data = db.data
        branch_elements = db.layout.BRANCH_ELEMENT.iter_unpack
        path: list[tuple[int, list[bytes], list[int]] | None] = [None] * MAX_DEPTH
        for key in keys:
            pgid = self.root_page
            value = None
            for depth in range(MAX_DEPTH):
                cached = path[depth]
                if cached is None or cached[0] != pgid:
                    flags, count, _overflow, start, end = db.page_bounds(pgid)
                    if flags != BRANCH_PAGE:
                        value = self._leaf_value(pgid, flags, count, start, end, key)
                        break
                    first = start + PAGE_HEADER_SIZE
                    elements = branch_elements(data[first : first + count * ELEMENT_SIZE])
                    firsts, children = [], []
                    for index, (pos, ksize, child) in enumerate(elements):
                        at = first + index * ELEMENT_SIZE + pos
                        firsts.append(data[at : at + ksize])
                        children.append(child)
                    cached = path[depth] = (pgid, firsts, children)
                child = bisect_right(cached[1], key)
                if child == 0:
                    break
                pgid = cached[2][child - 1]
            else:
                raise CorruptEvidence(db.source, f"tree deeper than {MAX_DEPTH} levels during a lookup", f"page {pgid}")
            yield value

    def _leaf_value(self, pgid: int, flags: int, count: int, start: int, end: int, key: bytes) -> bytes | None:
        db = self.db
        if flags != LEAF_PAGE:
            raise CorruptEvidence(db.source, f"page flags {flags:#x} during a lookup", f"page {pgid}")
        data = db.data
        leaf_element = db.layout.LEAF_ELEMENT.unpack_from
        first = start + PAGE_HEADER_SIZE
        lo, hi = 0, count
        while lo < hi:
            mid = (lo + hi) // 2
            element = first + mid * ELEMENT_SIZE
            _flags, pos, ksize, vsize = leaf_element(data, element)
            kstart = element + pos
            found = data[kstart : kstart + ksize]
            if found == key:
                if kstart + ksize + vsize > end:
                    raise CorruptEvidence(db.source, f"element {mid} points past the end of the page", f"page {pgid}")
                return data[kstart + ksize : kstart + ksize + vsize]
            if found < key:
                lo = mid + 1
            else:
                hi = mid
        return None

    def last_key(self, damage: list[Damage] | None = None) -> bytes | None:
        """The greatest key, following the last child of every branch."""
        if self.inline is not None:
            greatest = None
            for key, _value, _flags in self.iter_items(damage):
                greatest = bytes(key)
            return greatest
        layout = self.db.layout
        pgid = self.root_page
        for _depth in range(MAX_DEPTH):
            try:
                flags, count, _overflow, span = self.db.page(pgid)
            except CorruptEvidence as err:
                if damage is None:
                    raise
                damage.append(Damage(pgid, err.problem, self.label))
                return None
            if count == 0:
                return None
            last = PAGE_HEADER_SIZE + (count - 1) * ELEMENT_SIZE
            if flags == BRANCH_PAGE:
                pgid = layout.BRANCH_ELEMENT.unpack_from(span, last)[2]
                continue
            if flags != LEAF_PAGE:
                self._fail(damage, pgid, f"page flags {flags:#x} where a branch or leaf page was expected")
                return None
            _flags, pos, ksize, _vsize = layout.LEAF_ELEMENT.unpack_from(span, last)
            return bytes(span[last + pos : last + pos + ksize])
        self._fail(damage, pgid, f"tree deeper than {MAX_DEPTH} levels; probably a cycle")
        return None


# -- opening ---------------------------------------------------------------------------------------


def _read_meta(buf: memoryview, layout: _Layout, page: int, start: int) -> Meta:
    if start + META_OFFSET + layout.META.size > len(buf):
        return Meta(page, 0, 0, 0, 0, 0, "file too short to hold it")
    magic, version, page_size, _flags, root, _seq, freelist, high_water, txid, checksum = layout.META.unpack_from(
        buf, start + META_OFFSET
    )
    problem = None
    if magic != MAGIC:
        problem = f"bad magic {magic:#010x}"
    elif version != VERSION:
        problem = f"unsupported bbolt version {version}"
    elif fnv1a64(buf[start + META_OFFSET : start + META_OFFSET + META_CHECKSUMMED]) != checksum:
        problem = "checksum mismatch"
    elif page_size < 512 or page_size & (page_size - 1):
        problem = f"implausible page size {page_size}"
    elif not 2 <= root < high_water:
        problem = f"root page {root} outside the high-water mark {high_water}"
    return Meta(page, page_size, root, freelist, high_water, txid, problem)


def _find_layout_and_page_size(buf: memoryview) -> tuple[_Layout, int] | None:
    """Byte order and page size from meta 0, else from meta 1 at bbolt's probe offsets."""
    layout = _MAGIC_BYTES.get(bytes(buf[META_OFFSET : META_OFFSET + 4]))
    if layout is not None:
        meta0 = _read_meta(buf, layout, 0, 0)
        if meta0.valid:
            return layout, meta0.page_size
    for candidate in (LITTLE_ENDIAN, BIG_ENDIAN):
        for offset in _META1_PROBES:
            if offset >= len(buf) - 1024:
                break
            meta1 = _read_meta(buf, candidate, 1, offset)
            if meta1.valid and meta1.page_size == offset:
                return candidate, meta1.page_size
    return None


def _guess_layout_for_salvage(buf: memoryview) -> tuple[_Layout, int, int]:
    """With both metas gone, the byte order and page size under which most pages carry their own id.

    Returns (layout, page size, pages that matched); a handful of matches already rules out chance.
    """
    best = (LITTLE_ENDIAN, 4096, 0)
    for layout in (LITTLE_ENDIAN, BIG_ENDIAN):
        for page_size in (4096, 8192, 16384, 65536, 1024, 2048, 32768):
            pages = len(buf) // page_size
            hits = sum(
                1
                for pgid in range(2, min(pages, 4096))
                if layout.PAGE_HEADER.unpack_from(buf, pgid * page_size)[0] == pgid
            )
            if hits > best[2]:
                best = (layout, page_size, hits)
    return best


class Mapped(NamedTuple):
    """A read-only mapping of a file, or of a window of one: the data starts ``base`` bytes in."""

    source: str
    mapping: mmap.mmap | None
    size: int  # bytes of the window
    base: int = 0


def map_file(path: str | Path, *, offset: int = 0, length: int | None = None, source: str | None = None) -> Mapped:
    """Open a path read-only and map it (or ``length`` bytes from ``offset``: a member of a tar,
    read in place), turning every OS-level problem into one clear line."""
    source = source or str(path)
    try:
        st = os.stat(path)
    except OSError as err:
        raise EvidenceError(source, os_problem(err)) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnsupportedEvidence(source, "is a directory, not an etcd snapshot")
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedEvidence(source, "is not a regular file")
    size = st.st_size - offset if length is None else length
    if offset + size > st.st_size:
        raise TruncatedEvidence(source, f"the archive holding it ends at byte {st.st_size}, inside it (it should end at {offset + size})")
    if size <= 0:
        raise UnsupportedEvidence(source, "is empty (0 bytes)")
    aligned = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        with open(path, "rb") as handle:
            mapping = mmap.mmap(handle.fileno(), size + offset - aligned, access=mmap.ACCESS_READ, offset=aligned)
    except OSError as err:
        raise EvidenceError(source, os_problem(err)) from None
    if hasattr(mapping, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
        mapping.madvise(mmap.MADV_SEQUENTIAL)  # one forward pass is the common case
    return Mapped(source, mapping, size, offset - aligned)


def open_bolt(
    path: str | Path,
    *,
    data_size: int | None = None,
    salvage: bool = False,
    mapped: Mapped | None = None,
) -> BoltDB:
    """Map a bbolt file. ``data_size`` excludes a trailer (the snapshot's SHA-256) from the pages.

    Raises ``UnsupportedEvidence`` when no meta page validates, unless ``salvage`` is set, in
    which case the byte order and page size are guessed so that pages can still be scanned.
    """
    source, mapping, size, base = mapped or map_file(path)
    buf = memoryview(mapping)[base : base + size] if mapping is not None else memoryview(b"")
    if data_size is not None:
        buf = buf[:data_size]
    try:
        found = _find_layout_and_page_size(buf)
        if found is None:
            head = bytes(buf[:512])
            has_magic = _MAGIC_BYTES.get(head[META_OFFSET : META_OFFSET + 4]) is not None
            if has_magic and len(buf) < 2 * 1024:
                raise TruncatedEvidence(source, f"file is only {len(buf)} bytes, too short for a bbolt database")
            layout, page_size, hits = _guess_layout_for_salvage(buf)
            if not salvage:
                if has_magic or hits >= SALVAGE_EVIDENCE_PAGES:
                    raise CorruptEvidence(
                        source,
                        f"both bbolt meta pages are damaged, but {hits} pages still look like bbolt pages; "
                        "run with --salvage to scan them" if hits else "both bbolt meta pages are damaged; run with --salvage to scan pages",
                    )
                raise UnsupportedEvidence(source, describe_magic(head))
        else:
            layout, page_size = found
        metas = (
            _read_meta(buf, layout, 0, 0),
            _read_meta(buf, layout, 1, page_size),
        )
    except BaseException:
        buf.release()
        if mapping is not None:
            mapping.close()
        raise
    usable = len(buf)
    buf.release()
    return BoltDB(source, mapping, usable, layout, page_size, metas, base)
