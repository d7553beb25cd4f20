"""``--salvage``: revision records the tree walk cannot reach, from a scan of every leaf page.

Copy-on-write leaves old versions of pages behind in free pages (``BoltDB.iter_items_anywhere``),
so records a damaged tree no longer reaches can often still be read there.
"""

from __future__ import annotations

from collections.abc import Iterator

from analyzer.errors import CorruptEvidence
from analyzer.evidence.bbolt import BoltDB
from analyzer.evidence.mvcc import KeyValue, SalvageReport, load_key_value, load_revision
from analyzer.records import datarecord


@datarecord
class Salvaged:
    records: list[KeyValue]  # in revision order
    by_revision: dict[int, KeyValue]  # packed revision -> record
    report: SalvageReport


def salvage_records(db: BoltDB, reachable: set[int]) -> Salvaged:
    """The records found by the page scan but not among ``reachable`` (packed revisions the tree reaches)."""
    found: dict[int, KeyValue] = {}
    pages: set[int] = set()
    for pgid, record in _scan_revision_records(db, reachable):
        packed = record.revision.packed
        if packed not in found:
            found[packed] = record
            pages.add(pgid)
    ordered = {packed: found[packed] for packed in sorted(found)}
    return Salvaged(list(ordered.values()), ordered, SalvageReport(len(reachable), len(found), tuple(sorted(pages))))


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
