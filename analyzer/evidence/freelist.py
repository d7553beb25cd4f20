"""The freelist of a bbolt file, checked against the tree and never trusted.

kforensic reads a snapshot by walking its tree, so a wrong freelist costs it nothing; it costs the
customer a great deal: bbolt allocates from the freelist, so a page that is free *and* reachable is
overwritten by etcd's next write, and a file whose meta names something that is not a freelist
page makes bbolt panic on open ("invalid freelist page"), so etcd and ``etcdutl snapshot
status``/``restore`` refuse it. This module does the page accounting of bbolt's ``Tx.Check``
(etcd-io/bbolt tx_check.go) and reports what it would, in its words:

* ``page N: already freed`` — an id listed twice in the freelist;
* ``page N: multiple references`` — a page reached twice from the tree;
* ``page N: reachable freed`` — a tree page that is also free;
* ``page N: invalid type: …`` — a reachable page that is neither branch nor leaf;
* ``page N: unreachable unfreed`` — below the high-water mark, neither reachable nor free.

Two problems bbolt's check does not word because bbolt panics or misbehaves before reaching it,
named here in the same shape: a freelist page that cannot be read (the meta names an id past the
high-water mark, beyond the file, or a page that is not a freelist page), and free ids at or past
the high-water mark (bbolt would hand such a page out, and the write would lie beyond the pages
the next meta keeps).

The on-disk list is what ``freelist.Write`` stored: the free ids merged with every id still
pending for an open reader (``Copyall``), so pending pages count as free here, as they do when
bbolt reads the list back (``freelist.Read``; the pending lists start empty after an open).

A meta carrying ``PGID_NO_FREELIST`` (etcd on Linux sets ``NoFreelistSync``, etcd-io/etcd
server/storage/backend/config_linux.go) has no list to check: bbolt rebuilds it as "every
unreachable page" (``db.freepages``), which is consistent by construction.

The pages are met through the one walk of ``bbolt_tree`` (``walk_tree``), with its visited set and
depth limit; this module only accounts for what it is told (bbolt's ``verifyPageReachable``). One
difference from bbolt follows from the visited set: a page reached a second time is reported
("multiple references") but not followed again, so the pages below a shared or cycling page are
reported once, where bbolt (which has no visited set) reports each of them again.

Costs: one walk over branch pages and page headers, plus the flag bytes of leaf elements to find
nested buckets; marks are one byte per page, bounded by the file (never by a claimed high-water
mark).
"""

from __future__ import annotations

import struct
from dataclasses import field

from analyzer.errors import CorruptEvidence
from analyzer.evidence.bbolt import BoltDB
from analyzer.evidence.bbolt_format import (
    BRANCH_PAGE,
    FREELIST_PAGE,
    LEAF_PAGE,
    PAGE_HEADER_SIZE,
    PGID_NO_FREELIST,
)
from analyzer.evidence.bbolt_tree import walk_tree
from analyzer.evidence.damage_log import Damage, DamageLog
from analyzer.records import datarecord

FREELIST_COUNT_OVERFLOW = 0xFFFF  # page.count at this value: the first id holds the real count (page.go)
PGID_SIZE = 8
MAX_REPORTED = 20  # per kind of problem; the rest are summed up in one line


@datarecord(frozen=False)
class FreelistCheck:
    """What the accounting found. ``damage`` carries bbolt's messages; empty means consistent."""

    synced: bool  # False: NoFreelistSync, nothing stored to check
    free_pages: int = 0
    damage: list[Damage] = field(default_factory=list)
    checked_unreachable: bool = True  # False when the tree could not be walked whole

    @property
    def consistent(self) -> bool:
        return not self.damage


class _Report:
    """Damage per kind, the first MAX_REPORTED of each named, the rest counted."""

    def __init__(self) -> None:
        self.damage: list[Damage] = []
        self._counts: dict[str, int] = {}
        self._more: dict[str, list[int]] = {}

    def add(self, kind: str, pgid: int, problem: str) -> None:
        seen = self._counts.get(kind, 0)
        self._counts[kind] = seen + 1
        if seen < MAX_REPORTED:
            self.damage.append(Damage(pgid, problem))
        else:
            self._more.setdefault(kind, []).append(pgid)

    def close(self) -> list[Damage]:
        for kind, pages in self._more.items():
            self.damage.append(Damage(None, f"{len(pages)} more pages {kind} (pages {pages[0]}..{pages[-1]})"))
        return self.damage


def check_freelist(db: BoltDB) -> FreelistCheck:
    """Check the stored freelist against the pages the tree reaches, as bbolt's Tx.Check does."""
    meta = db.meta
    if meta is None:
        return FreelistCheck(synced=False, checked_unreachable=False)  # no tree to compare with: the metas are the damage
    if meta.freelist == PGID_NO_FREELIST:
        return FreelistCheck(synced=False)
    report = _Report()
    pages = min(db.high_water, db.file_pages)  # marks never exceed the file, whatever the meta claims
    reachable = bytearray(pages)
    reachable[0:2] = b"\x01\x01"[: min(2, pages)]
    freed = bytearray(pages)
    free_ids, unreadable = _read_freelist(db, reachable)
    for pgid in free_ids or ():
        if pgid >= db.high_water:
            report.add("freed past the high-water mark", pgid, f"freed but at or past the high-water mark {db.high_water}")
        elif pgid < 2:
            report.add("freed meta pages", pgid, "freed, but it is a meta page")
        elif pgid >= pages:
            continue  # below the high-water mark but beyond a truncated file: the truncation is reported already
        elif freed[pgid]:
            report.add("already freed", pgid, "already freed")
        else:
            freed[pgid] = 1
    accounting = _Accounting(db, reachable, freed, report)
    # The walk's own damage is the data readers' to report (they walk the same pages); here it
    # only matters whether the tree was read whole, which the accounting is told.
    walk_tree(db, meta.root, DamageLog(), accounting)
    whole = accounting.whole
    if unreadable is not None:
        report.add("freelist", meta.freelist, _unreadable_freelist(db, meta.freelist, unreadable, reachable, whole))
        return FreelistCheck(synced=True, damage=report.close(), checked_unreachable=False)
    if whole:
        for pgid in _unmarked(reachable, freed):
            report.add("unreachable unfreed", pgid, "unreachable unfreed")
    return FreelistCheck(synced=True, free_pages=sum(freed), damage=report.close(), checked_unreachable=whole)


def _unreadable_freelist(db: BoltDB, pgid: int, problem: str, reachable: bytearray, whole: bool) -> str:
    """The line for a freelist that cannot be read, with what the tree says about the page.

    The corpus file etcd-auger/db is the model: both metas (txid 2 and 3) name page 2, the
    freelist ``bbolt init`` wrote, and page 2 is now a leaf of the tree. A writer that syncs its
    freelist writes a fresh one at every commit and can never leave two metas naming the same
    page, and a copy taken while etcd ran cannot invent a checksummed meta; it is what bbolt wrote
    under NoFreelistSync before etcd-io/bbolt#6 (2017), which left the old id in the meta instead
    of the "no freelist" mark. So the data is whole, but the file is not in a state today's bbolt
    opens: it panics reading that page, and so do etcd and ``etcdutl snapshot status`` (seen with
    etcdutl 3.5.1). That is reported, as damage of the freelist only.
    """
    meta = db.meta
    assert meta is not None
    line = f"the meta (txid {meta.txid}) names page {pgid} as the freelist, but {problem}"
    if pgid < len(reachable) and reachable[pgid] and whole:
        line += (
            "; the tree uses that page and reads whole, so the pointer is stale (bbolt before etcd-io/bbolt#6 left it "
            "under NoFreelistSync) and the data is complete"
        )
    return line + f"; bbolt panics opening the file ('invalid freelist page: {pgid}'), so etcd and etcdutl refuse it as is"


def _read_freelist(db: BoltDB, reachable: bytearray) -> tuple[list[int] | None, str | None]:
    """The stored free ids, marking the freelist page and its overflow reachable; else why not."""
    meta = db.meta
    assert meta is not None
    pgid = meta.freelist
    if pgid < 2 or pgid >= db.high_water:
        return None, f"that is outside the database (pages 2..{db.high_water - 1})"
    start = db.base + pgid * db.page_size
    if start + PAGE_HEADER_SIZE > db.data_end:
        return None, "that page lies beyond the end of the file"
    stored_id, flags, count, overflow = db.layout.PAGE_HEADER.unpack_from(db.data, start)
    if stored_id != pgid:
        return None, f"that page's header carries id {stored_id}"
    if not flags & FREELIST_PAGE:
        kind = {BRANCH_PAGE: "a branch page", LEAF_PAGE: "a leaf page"}.get(flags, f"a page with flags {flags:#x}")
        return None, f"it is {kind}"
    end = min(start + (overflow + 1) * db.page_size, db.data_end)
    # Bounded by the file, not by the overflow the header claims (up to 2**32 pages).
    last = min(pgid + overflow + 1, len(reachable))
    reachable[pgid:last] = b"\x01" * max(0, last - pgid)
    ids_at = start + PAGE_HEADER_SIZE
    if count == FREELIST_COUNT_OVERFLOW:
        if ids_at + PGID_SIZE > end:
            return None, "the page is cut off before its count"
        (count,) = db.layout.U64.unpack_from(db.data, ids_at)
        ids_at += PGID_SIZE
    if ids_at + count * PGID_SIZE > end:
        return None, f"it claims {count} free ids, more than its {overflow + 1} pages hold"
    return list(struct.unpack_from(f"{db.layout.order_char}{count}Q", db.data, ids_at)), None


class _Accounting:
    """bbolt's ``verifyPageReachable`` (tx_check.go) for each page the walk meets: a ``PageVisitor``."""

    def __init__(self, db: BoltDB, reachable: bytearray, freed: bytearray, report: _Report) -> None:
        self.db, self.reachable, self.freed, self.report = db, reachable, freed, report
        self.whole = True  # False once a page could not be read: "unreachable" would then be a guess

    def entered(self, pgid: int, flags: int, overflow: int) -> None:
        reachable, report = self.reachable, self.report
        for page in range(pgid, min(pgid + overflow + 1, len(reachable))):
            if reachable[page]:
                report.add("with multiple references", page, "multiple references")
            reachable[page] = 1
        if pgid < len(reachable) and self.freed[pgid]:
            report.add("reachable freed", pgid, "reachable freed")
        elif flags not in (BRANCH_PAGE, LEAF_PAGE):
            report.add("of an invalid type", pgid, f"invalid type: flags {flags:#x}")

    def reached_again(self, pgid: int) -> None:
        # bbolt verifies a page at every reference: each of its ids is a multiple reference now.
        try:
            flags, _count, overflow, _start, _end = self.db.page_bounds(pgid)
        except CorruptEvidence:
            return
        self.entered(pgid, flags, overflow)

    def lost(self, pgid: int) -> None:
        self.whole = False


def _unmarked(reachable: bytearray, freed: bytearray) -> list[int]:
    """Page ids neither reachable nor free, without a Python loop over every page."""
    either = (int.from_bytes(reachable, "little") | int.from_bytes(freed, "little")).to_bytes(len(reachable), "little")
    found = []
    position = either.find(0)
    while position >= 0:
        found.append(position)
        position = either.find(0, position + 1)
    return found
