"""A read-only reader for bbolt database files (what ``etcdctl snapshot save`` writes).

The whole file is mapped read-only and parsed with ``struct``; nothing is copied except the keys
and values a caller keeps. Layout facts are from ``shared/docs/etcd-snapshot-format.md`` section
A, which cites etcd-io/bbolt; the layouts themselves are in ``bbolt_format``, buckets and the tree
walk in ``bbolt_tree``.

Two rules make the reader safe on damaged files:

* It never trusts the freelist and never looks at pages at or beyond the meta's high-water mark.
* Every walk is iterative, bounded in depth, and marks each page it enters (``bbolt_tree``), so a
  page that points back up (a cycle) or is reached twice is reported, not followed.

A walk either raises ``CorruptEvidence``/``TruncatedEvidence`` naming the page, or, when the caller
passes a ``DamageLog``, records the problem there, skips the unreadable subtree and carries on.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator
from pathlib import Path

from analyzer.errors import CorruptEvidence, TruncatedEvidence, UnsupportedEvidence
from analyzer.evidence.bbolt_format import (
    BIG_ENDIAN,
    BRANCH_PAGE,
    BUCKET_LEAF_FLAG,
    ELEMENT_SIZE,
    LEAF_PAGE,
    LITTLE_ENDIAN,
    MAGIC,
    MAGIC_BYTES,
    MAX_DEPTH,
    META1_PROBES,
    META_CHECKSUMMED,
    META_OFFSET,
    PAGE_HEADER_SIZE,
    PGID_NO_FREELIST,
    SALVAGE_EVIDENCE_PAGES,
    VERSION,
    Layout,
    Meta,
    fnv1a64,
    leaf_elements,
)
from analyzer.evidence.bbolt_tree import Bucket, Leaf
from analyzer.evidence.damage_log import Damage, DamageLog
from analyzer.evidence.damage_words import came_from, element_past_end, not_a_leaf, not_a_tree_page
from analyzer.evidence.mapping import Mapped, map_file

# Readers import these from here, where the file is opened.
_MAGIC_BYTES = MAGIC_BYTES
__all__ = [
    "BRANCH_PAGE", "BUCKET_LEAF_FLAG", "ELEMENT_SIZE", "LEAF_PAGE", "LITTLE_ENDIAN", "MAX_DEPTH", "META_CHECKSUMMED",
    "META_OFFSET", "PAGE_HEADER_SIZE", "PGID_NO_FREELIST", "BoltDB", "Bucket", "Damage", "DamageLog", "Mapped", "Meta", "fnv1a64",
    "leaf_elements", "map_file", "open_bolt",
]


class BoltDB:
    """A bbolt file mapped read-only. Open with ``open_bolt``; use as a context manager."""

    def __init__(
        self,
        source: str,
        mapping: mmap.mmap | None,
        data_size: int,
        layout: Layout,
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

    def read_leaf(self, pgid: int, log: DamageLog, bucket: str) -> list[tuple[int, int, int, int]]:
        """The elements of one leaf page named by id (see ``Bucket.iter_leaf_ids``), damage recorded."""
        for _pgid, data, start, end, count in self.leaves_by_id([(pgid, None)], log, bucket):
            elements, broken = leaf_elements(self.layout, data, start, end, count)
            if broken is not None:
                log.record(pgid, element_past_end(broken, end - start), bucket)
            return elements
        return []

    def leaves_by_id(self, pages: Iterable[tuple[int, int | None]], log: DamageLog, bucket: str) -> Iterator[Leaf]:
        """Leaf pages named by id, with the page naming each (``Bucket.iter_leaf_ids``), each checked
        here; damage recorded.

        This feeds the index pass, some 450,000 pages of a large snapshot: a sound leaf is checked
        inline with the same tests as ``page_bounds`` (one header read, no call, no exception
        frame); any page that fails one goes through ``page_bounds`` for its exact problem, worded
        as the tree walk words it (``last_key`` and ``iter_items`` meet the same page), so the log
        keeps it once.
        """
        data, base, page_size, high_water, data_end = self.data, self.base, self.page_size, self.high_water, self.data_end
        header = self.layout.PAGE_HEADER.unpack_from
        last_header = data_end - PAGE_HEADER_SIZE
        for pgid, parent in pages:
            start = base + pgid * page_size
            if 2 <= pgid < high_water and start <= last_header:
                stored_id, flags, count, overflow = header(data, start)
                end = start + (overflow + 1) * page_size
                if (stored_id == pgid and flags == LEAF_PAGE and pgid + overflow < high_water and end <= data_end
                        and PAGE_HEADER_SIZE + count * ELEMENT_SIZE <= end - start):
                    yield pgid, data, start, end, count
                    continue
            try:
                flags, count, _overflow, start, end = self.page_bounds(pgid)
            except CorruptEvidence as err:
                log.record(pgid, err.problem + came_from(parent), bucket)
                continue
            if flags != LEAF_PAGE:
                # A branch among leaves breaks the tree's one depth (the walk would follow it);
                # anything else is no tree page at all, as the walk says.
                log.record(pgid, not_a_leaf(flags) if flags == BRANCH_PAGE else not_a_tree_page(flags, parent), bucket)
                continue
            yield pgid, self.data, start, end, count

    def page(self, pgid: int) -> tuple[int, int, int, memoryview]:
        """(flags, count, overflow, span) of a page; the span covers its overflow pages too."""
        flags, count, overflow, start, end = self.page_bounds(pgid)
        return flags, count, overflow, self.buf[start:end]

    # -- buckets -------------------------------------------------------------------------------

    def root(self) -> Bucket:
        if self.meta is None:
            raise CorruptEvidence(self.source, "neither meta page is valid; the tree cannot be walked (try --salvage)")
        return Bucket(self, b"", self.meta.root, None)

    def bucket(self, name: bytes, log: DamageLog | None = None) -> Bucket | None:
        return self.root().bucket(name, log)

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



# -- opening ---------------------------------------------------------------------------------------


def _read_meta(buf: memoryview, layout: Layout, page: int, start: int) -> Meta:
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


def _find_layout_and_page_size(buf: memoryview) -> tuple[Layout, int] | None:
    """Byte order and page size from meta 0, else from meta 1 at bbolt's probe offsets."""
    layout = MAGIC_BYTES.get(bytes(buf[META_OFFSET : META_OFFSET + 4]))
    if layout is not None:
        meta0 = _read_meta(buf, layout, 0, 0)
        if meta0.valid:
            return layout, meta0.page_size
    for candidate in (LITTLE_ENDIAN, BIG_ENDIAN):
        for offset in META1_PROBES:
            if offset >= len(buf) - 1024:
                break
            meta1 = _read_meta(buf, candidate, 1, offset)
            if meta1.valid and meta1.page_size == offset:
                return candidate, meta1.page_size
    return None


def _guess_layout_for_salvage(buf: memoryview) -> tuple[Layout, int, int]:
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
            has_magic = MAGIC_BYTES.get(head[META_OFFSET : META_OFFSET + 4]) is not None
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
                # Imported here: sniff holds the magic numbers, but its imports (yaml) cost some 80 ms
                # that a file which is bbolt never needs.
                from analyzer.evidence.sniff import describe_not_bolt

                raise UnsupportedEvidence(source, describe_not_bolt(head))
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
