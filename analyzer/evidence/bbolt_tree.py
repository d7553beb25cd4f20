"""Buckets of a bbolt file and the one walk over their trees.

A bucket is a B+tree rooted at a page, or an inline pseudo page inside its parent's value
(bbolt bucket.go). Every full read of a bucket goes through ``Bucket.leaves``: iterative, bounded
in depth, and marking each page it enters in a one-byte-per-page bitmap, so a page that points
back up (a cycle) or is reached twice is reported, not followed. ``walk_tree`` is the same walk
over a whole file, nested buckets included, for whoever accounts for every page (the freelist
check), told each page through a ``PageVisitor``. Point lookups (``get``, ``get_many``,
``last_key``) descend one path and are bounded by the same depth.

Readers take a ``DamageLog``: with one, damage is recorded there and read around; without one
(None), the first damage raises ``CorruptEvidence``. What they meet is worded by ``damage_words``.
"""

from __future__ import annotations

import mmap
from bisect import bisect_right
from itertools import repeat
from collections.abc import Iterable, Iterator
from typing import Protocol

from analyzer.errors import CorruptEvidence
from analyzer.evidence.bbolt_format import (
    BRANCH_PAGE,
    BUCKET_LEAF_FLAG,
    ELEMENT_SIZE,
    IN_BUCKET_SIZE,
    LEAF_PAGE,
    MAX_DEPTH,
    PAGE_HEADER_SIZE,
    Pages,
    leaf_elements,
)
from analyzer.evidence.damage_log import DamageLog
from analyzer.evidence.damage_words import came_from, element_past_end, not_a_tree_page, reached_twice, too_deep, too_deep_in_lookup

# A leaf page as the walk hands it out: (page id, buffer, start, end, element count); the page id
# is None for an inline bucket, whose buffer is its parent's value.
Leaf = tuple[int | None, mmap.mmap | bytes, int, int, int]
_BIT0 = bytes(b & 1 for b in range(256))


class PageVisitor(Protocol):
    """Told of every page the walk meets. The walk keeps the visited set, the depth limit and the
    damage; a visitor only accounts (``freelist`` does bbolt's page accounting with one)."""

    def entered(self, pgid: int, flags: int, overflow: int) -> None:
        """A page read for the first time (its header checked), before its children."""

    def reached_again(self, pgid: int) -> None:
        """A page already entered, referenced once more; it is not followed again."""

    def lost(self, pgid: int) -> None:
        """A page that could not be read, or lies past the depth limit: its subtree is unknown."""


class Bucket:
    """One bucket: a B+tree rooted at a page, or an inline pseudo page inside its parent's value."""

    def __init__(self, db: Pages, name: bytes, root: int, inline: bytes | None) -> None:
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

    def iter_items(self, log: DamageLog | None = None) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, flags) in key order; flags & BUCKET_LEAF_FLAG marks a nested bucket."""
        for pgid, data, start, end, count in self.leaves(log):
            for flags, kstart, vstart, vend in self._elements(pgid, data, start, end, count, log):
                yield data[kstart:vstart], data[vstart:vend], flags

    def iter_leaf_blocks(
        self, log: DamageLog | None = None
    ) -> Iterator[tuple[int | None, mmap.mmap | bytes, list[tuple[int, int, int, int]]]]:
        """Leaf pages as (page id, buffer, [(flags, key start, value start, value end)]).

        The fast path for full passes over millions of entries: absolute offsets into the
        mapped file, so the caller reads only the bytes it needs (a revision, a key prefix).
        """
        for pgid, data, start, end, count in self.leaves(log):
            yield pgid, data, self._elements(pgid, data, start, end, count, log)

    def leaves(self, log: DamageLog | None = None) -> Iterator[Leaf]:
        """Every leaf page of the bucket, left to right: the one walk every full read goes through."""
        if self.inline is not None:
            yield from self._inline_leaf(log)
            return
        data = self.db.data
        for pgid, start, end, count in self._walk(log):
            yield pgid, data, start, end, count

    def iter_leaf_ids(self, log: DamageLog | None = None) -> Iterator[tuple[int, int | None]]:
        """(leaf, the page naming it) for the bucket's leaf pages in key order, found by walking
        branch pages only, streamed (``iter_leaf_id_batches``, one id at a time)."""
        for parent, children in self.iter_leaf_id_batches(log):
            yield from zip(children, repeat(parent))

    def iter_leaf_id_batches(self, log: DamageLog | None = None) -> Iterator[tuple[int | None, list[int]]]:
        """(the page naming them, leaves) for the bucket's leaf pages in key order, a branch's
        leaves at a time, found by walking branch pages only. The parent words damage the reader
        finds as the walk words it.

        A B+tree keeps its leaves at one depth, so one child's header tells whether a branch's
        children are leaves; whoever reads those pages checks each one (``BoltDB.leaves_by_id``).
        Each branch's children come out of the walk as one list (a large snapshot has some 450,000
        leaves: a step of the walk each would cost more than the rest of it), and nothing is held
        per page but one byte in each of two maps (pages the walk entered, leaves handed out), so
        memory grows with the file by a byte or two per page, not by a list of ids. A
        leaf named twice is damage, reported where its parent is known, and handed out once. An
        inline bucket has no leaf pages.
        """
        if self.inline is not None:
            return
        db = self.db
        # Leaves handed out, apart from the pages the walk entered: a child that is not a leaf after
        # all (a damaged pointer naming a branch) is the reader's to report, and must not stop the
        # walk from entering that branch where its real parent names it.
        named = bytearray(min(db.high_water, db.file_pages))
        batches: list[tuple[int | None, list[int]]] = []
        for _ in self._walk(log, batches=batches):
            for parent, children in batches:
                if 0 <= min(children) and max(children) < len(named) and len(set(children)) == len(children) \
                        and not any(map(named.__getitem__, children)):
                    for child in children:
                        named[child] = 1
                    yield parent, children
                    continue
                handed: list[int] = []
                for child in children:
                    if 0 <= child < len(named):
                        if named[child]:
                            self._fail(log, child, reached_twice(parent))
                            continue
                        named[child] = 1
                    handed.append(child)  # an id past the file is the reader's to report (page_bounds)
                if handed:
                    yield parent, handed
            batches.clear()

    def _walk(
        self, log: DamageLog | None, *, visitor: PageVisitor | None = None, seen: bytearray | None = None,
        batches: list[tuple[int | None, list[int]]] | None = None,
    ) -> Iterator[tuple[int, int, int, int]]:
        """(page id, start, end, element count) of each leaf page, left to right.

        With ``batches``, a branch whose first child is a leaf hands out its children unread, into
        ``batches`` as (branch, children), a leaf met on the way as (parent, [leaf]), and the walk
        yields (branch or leaf, 0, 0, 0) after each one so that the caller can take them as they
        come. ``visitor`` is told of every page met (``walk_tree``); ``seen`` is a visited set
        shared with other walks of the same file.
        """
        db = self.db
        data = db.data
        page_bounds = db.page_bounds
        branch_children = db.layout.branch_children
        # One byte per page the file holds, not per page the meta claims: a damaged meta can claim
        # 2**64 pages, and every page past the file's end fails page_bounds before it is marked.
        if seen is None:
            seen = bytearray(min(db.high_water, db.file_pages))
        # A stack of (page id, depth, parent) walked so that children come out left to right.
        stack: list[tuple[int, int, int | None]] = [(self.root_page, 0, None)]
        while stack:
            pgid, depth, parent = stack.pop()
            if depth > MAX_DEPTH or (0 <= pgid < len(seen) and seen[pgid]):
                if visitor is not None:
                    (visitor.lost if depth > MAX_DEPTH else visitor.reached_again)(pgid)
                self._fail(log, pgid, too_deep(parent) if depth > MAX_DEPTH else reached_twice(parent))
                continue
            try:
                flags, count, overflow, start, end = page_bounds(pgid)
            except CorruptEvidence as err:
                if log is None:
                    raise
                if visitor is not None:
                    visitor.lost(pgid)
                log.record(pgid, err.problem + came_from(parent), self.label)
                continue
            seen[pgid] = 1
            if visitor is not None:
                visitor.entered(pgid, flags, overflow)
            if flags == LEAF_PAGE:
                if batches is not None:
                    batches.append((parent, [pgid]))
                    yield pgid, 0, 0, 0
                else:
                    yield pgid, start, end, count
            elif flags == BRANCH_PAGE:
                first = start + PAGE_HEADER_SIZE
                children = branch_children(data, first, count)
                if batches is not None and children and self._is_leaf(children[0]):
                    # Read, checked and told apart (a leaf named twice) by whoever asked for them.
                    batches.append((pgid, children))
                    yield pgid, 0, 0, 0
                else:
                    stack.extend((child, depth + 1, pgid) for child in reversed(children))
            else:
                self._fail(log, pgid, not_a_tree_page(flags, parent))

    def _is_leaf(self, pgid: int) -> bool:
        try:
            return self.db.page_bounds(pgid)[0] == LEAF_PAGE
        except CorruptEvidence:
            return False

    def _inline_leaf(self, log: DamageLog | None) -> Iterator[Leaf]:
        assert self.inline is not None
        _, flags, count, _ = self.db.layout.PAGE_HEADER.unpack_from(self.inline, 0)
        if flags != LEAF_PAGE:
            self._fail(log, None, f"inline bucket {self.label!r} has page flags {flags:#x}, expected a leaf")
            return
        if PAGE_HEADER_SIZE + count * ELEMENT_SIZE > len(self.inline):
            self._fail(log, None, f"inline bucket {self.label!r} claims {count} elements but is {len(self.inline)} bytes")
            return
        yield None, self.inline, 0, len(self.inline), count

    def count(self, log: DamageLog | None = None) -> int:
        """Number of entries, nested buckets included, read from leaf headers alone."""
        return sum(leaf[4] for leaf in self.leaves(log))

    def iter_buckets(self, log: DamageLog | None = None) -> Iterator[Bucket]:
        for key, value, flags in self.iter_items(log):
            if flags & BUCKET_LEAF_FLAG:
                child = self._open_child(bytes(key), value, log)
                if child is not None:
                    yield child

    def bucket(self, name: bytes, log: DamageLog | None = None) -> Bucket | None:
        for child in self.iter_buckets(log):
            if child.name == name:
                return child
        return None

    # -- internals -----------------------------------------------------------------------------

    def _open_child(self, name: bytes, value: bytes, log: DamageLog | None) -> Bucket | None:
        layout = self.db.layout
        label = name.decode("utf-8", "replace")
        if len(value) < IN_BUCKET_SIZE:
            self._fail(log, None, f"bucket header of {label!r} is {len(value)} bytes, expected at least 16")
            return None
        root, _sequence = layout.IN_BUCKET.unpack_from(value, 0)
        if root != 0:
            return Bucket(self.db, name, root, None)
        inline = bytes(value[IN_BUCKET_SIZE:])
        if len(inline) < PAGE_HEADER_SIZE:
            self._fail(log, None, f"inline bucket {label!r} is too short for a page header")
            return None
        return Bucket(self.db, name, 0, inline)

    def _fail(self, log: DamageLog | None, pgid: int | None, problem: str) -> None:
        if log is None:
            where = f"page {pgid}" if pgid is not None else f"bucket {self.label}"
            raise CorruptEvidence(self.db.source, problem, where)
        log.record(pgid, problem, self.label)

    def _elements(
        self, pgid: int | None, data: mmap.mmap | bytes, start: int, end: int, count: int, log: DamageLog | None
    ) -> list[tuple[int, int, int, int]]:
        elements, broken = leaf_elements(self.db.layout, data, start, end, count)
        if broken is not None:
            self._fail(log, pgid, element_past_end(broken, end - start))
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
        raise CorruptEvidence(db.source, too_deep_in_lookup(), f"page {pgid}")

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
                raise CorruptEvidence(db.source, too_deep_in_lookup(), f"page {pgid}")
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
                    raise CorruptEvidence(db.source, element_past_end(mid), f"page {pgid}")
                return data[kstart + ksize : kstart + ksize + vsize]
            if found < key:
                lo = mid + 1
            else:
                hi = mid
        return None

    def last_key(self, log: DamageLog | None = None) -> bytes | None:
        """The greatest key, following the last child of every branch.

        Damage is worded as the walk words it (the page, and the page it was referenced from), so
        a page the walk reported already is the same entry of the log, not a second one.
        """
        if self.inline is not None:
            greatest = None
            for key, _value, _flags in self.iter_items(log):
                greatest = bytes(key)
            return greatest
        layout = self.db.layout
        pgid, parent = self.root_page, None
        path: set[int] = set()
        for _depth in range(MAX_DEPTH + 1):
            if pgid in path:
                self._fail(log, pgid, reached_twice(parent))
                return None
            path.add(pgid)
            try:
                flags, count, _overflow, span = self.db.page(pgid)
            except CorruptEvidence as err:
                if log is None:
                    raise
                log.record(pgid, err.problem + came_from(parent), self.label)
                return None
            if count == 0:
                return None
            last = PAGE_HEADER_SIZE + (count - 1) * ELEMENT_SIZE
            if flags == BRANCH_PAGE:
                pgid, parent = layout.BRANCH_ELEMENT.unpack_from(span, last)[2], pgid
                continue
            if flags != LEAF_PAGE:
                self._fail(log, pgid, not_a_tree_page(flags, parent))
                return None
            _flags, pos, ksize, _vsize = layout.LEAF_ELEMENT.unpack_from(span, last)
            return bytes(span[last + pos : last + pos + ksize])
        self._fail(log, pgid, too_deep(parent))
        return None


def walk_tree(db: Pages, root: int, log: DamageLog, visitor: PageVisitor) -> None:
    """Every page of the tree rooted at ``root``, nested buckets included, through the one walk.

    One visited set for the whole file, so a page shared by two buckets is reached again, not
    walked twice; nested buckets are taken depth first in key order, as bbolt's
    ``recursivelyCheckBucket`` takes them (tx_check.go). Inline buckets have no pages of their own.
    """
    seen = bytearray(min(db.high_water, db.file_pages))
    data = db.data
    flag_byte = 0 if db.layout.order == "little" else 3  # the low byte of each element's u32 flags
    buckets = [Bucket(db, b"", root, None)]
    while buckets:
        bucket = buckets.pop()
        children: list[Bucket] = []
        for pgid, start, end, count in bucket._walk(log, visitor=visitor, seen=seen):
            first = start + PAGE_HEADER_SIZE
            # Most leaves hold no nested bucket: one look at the flag bytes skips them unparsed.
            if b"\x01" not in data[first : first + count * ELEMENT_SIZE][flag_byte::ELEMENT_SIZE].translate(_BIT0):
                continue
            for flags, kstart, vstart, vend in bucket._elements(pgid, data, start, end, count, log):
                if flags & BUCKET_LEAF_FLAG:
                    child = bucket._open_child(bytes(data[kstart:vstart]), data[vstart:vend], log)
                    if child is None:
                        visitor.lost(pgid)  # a bucket that cannot be opened hides whatever it holds
                    elif child.inline is None:
                        children.append(child)
        buckets.extend(reversed(children))
