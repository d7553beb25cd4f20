"""The bbolt file format: page and element layouts and the meta page.

Layout facts are from ``shared/docs/etcd-snapshot-format.md`` section A, which cites etcd-io/bbolt
(page.go, db.go, bucket.go). Readers of the file are in ``bbolt`` (opening, pages) and
``bbolt_tree`` (buckets and the one tree walk). What damage looks like is ``damage_log``'s, its
words ``damage_words``'; what a file that is not bbolt is, ``sniff``'s.
"""

from __future__ import annotations

import mmap
import struct
from typing import Protocol

from analyzer.records import datarecord

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
META1_PROBES = tuple(1024 << i for i in range(15))


class Layout:
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
        self._branch_runs: dict[int, struct.Struct] = {}

    def branch_children(self, data: bytes | mmap.mmap, offset: int, count: int) -> list[int]:
        """The child page ids of ``count`` branch elements at ``offset``, in one unpack.

        An element is 16 bytes (pos and ksize as u32, the child as u64), so the run reads as 2 x
        count u64s whose odd ones are the children: no Python step per element.
        """
        run = self._branch_runs.get(count)
        if run is None:
            run = self._branch_runs[count] = struct.Struct(f"{self.order_char}{2 * count}Q")
        return list(run.unpack_from(data, offset)[1::2])


LITTLE_ENDIAN = Layout("<")
BIG_ENDIAN = Layout(">")
MAGIC_BYTES = {
    LITTLE_ENDIAN.U32.pack(MAGIC): LITTLE_ENDIAN,
    BIG_ENDIAN.U32.pack(MAGIC): BIG_ENDIAN,
}


def fnv1a64(data: bytes | memoryview) -> int:
    """Go's hash/fnv New64a, which bbolt uses for the meta checksum."""
    h = FNV64_OFFSET
    for byte in bytes(data):
        h = ((h ^ byte) * FNV64_PRIME) & 0xFFFF_FFFF_FFFF_FFFF
    return h


@datarecord
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


def leaf_elements(
    layout: Layout, data: mmap.mmap | bytes, start: int, end: int, count: int
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


class Pages(Protocol):
    """What a bucket reads its pages through (``bbolt.BoltDB``)."""

    source: str
    data: mmap.mmap | bytes
    layout: Layout
    high_water: int
    file_pages: int

    def page_bounds(self, pgid: int) -> tuple[int, int, int, int, int]: ...

    def page(self, pgid: int) -> tuple[int, int, int, memoryview]: ...
