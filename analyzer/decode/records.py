"""etcd records as ``kforensic get`` lists them: revisions, size and what kind of value each holds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from analyzer.decode.envelope import ValueKind, detect_kind
from analyzer.evidence.etcd import KeyValue, Snapshot


@dataclass(frozen=True)
class KeyRecord:
    record: KeyValue
    kind: ValueKind | None  # None for a delete

    @property
    def value(self) -> bytes:
        return self.record.value

    def to_json(self) -> dict[str, object]:
        record = self.record
        return {
            "key": record.key_text,
            "revision": str(record.revision),
            "event": "delete" if record.deleted else "put",
            "create_revision": record.create_revision,
            "mod_revision": record.mod_revision,
            "version": record.version,
            "lease": record.lease,
            "size": len(record.value),
            "kind": self.kind.value if self.kind else None,
            "salvaged": record.salvaged,
        }


def describe(record: KeyValue) -> KeyRecord:
    return KeyRecord(record, None if record.deleted else detect_kind(record.value))


def iter_key_records(
    snapshot: Snapshot,
    wanted: bytes,
    *,
    exact: bool,
    history: bool,
    progress: Callable[[int], None] | None = None,
) -> Iterator[KeyRecord]:
    """One key or every key under a prefix, at its latest put or with its whole surviving history."""
    index = snapshot.build_index([wanted], history=history, progress=progress)
    names = [wanted] if exact else sorted(index.history if history else index.live)
    for name in names:
        if exact and not name == wanted:
            continue
        if history:
            yield from map(describe, snapshot.iter_read(index.history.get(name, [])))
        elif name in index.live:
            yield from map(describe, snapshot.iter_read([index.live[name]]))
