"""etcd records as ``kforensic get`` lists them: revisions, size, value kind and the decoded object."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from analyzer.decode.encryption import EncryptionConfig
from analyzer.decode.envelope import ValueKind, detect_kind
from analyzer.decode.redaction import redact_object
from analyzer.decode.values import DecodedValue, decode_value
from analyzer.errors import UsageError
from analyzer.evidence.etcd import KeyValue, unpack_revision
from analyzer.evidence.store import EtcdStore
from analyzer.records import datarecord


@datarecord
class KeyRecord:
    record: KeyValue
    kind: ValueKind | None  # None for a delete
    decoded: DecodedValue | None = None

    @property
    def value(self) -> bytes:
        return self.record.value

    @property
    def object_kind(self) -> str:
        obj = self.decoded.object if self.decoded else None
        return f"{obj.get('apiVersion', '')}/{obj.get('kind', '')}".lstrip("/") if obj else ""

    def to_json(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        record = self.record
        document: dict[str, Any] = {
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
        if self.decoded is not None:
            document["encryption"] = self.decoded.encryption
            obj = self.decoded.object
            document["object"] = (obj if reveal_secrets else redact_object(obj)) if obj is not None else None
            if self.decoded.error:
                document["decode_error"] = self.decoded.error
        return document


def describe(record: KeyValue, *, decode: bool = False, encryption: EncryptionConfig | None = None) -> KeyRecord:
    if record.deleted:
        return KeyRecord(record, None)
    decoded = (
        decode_value(record.value, etcd_key=record.key, mod_revision=record.mod_revision, encryption=encryption)
        if decode
        else None
    )
    return KeyRecord(record, detect_kind(record.value), decoded)


def check_revision(snapshot: EtcdStore, revision: int) -> None:
    """Refuse a revision the snapshot cannot show, as etcd refuses ``get --rev`` (ErrCompacted,
    ErrFutureRev in etcd's server/storage/mvcc/kvstore.go)."""
    compacted = snapshot.compaction.finished
    if compacted is not None and revision < compacted:
        raise UsageError(f"{snapshot.source}: revision {revision} has been compacted; this snapshot keeps revisions from {compacted} on")
    if revision > snapshot.revision:
        raise UsageError(f"{snapshot.source}: revision {revision} is newer than the snapshot (revision {snapshot.revision})")
    if revision < 1:
        raise UsageError(f"revision {revision}: revisions start at 1")


def iter_key_records(
    snapshot: EtcdStore,
    wanted: bytes,
    *,
    exact: bool,
    history: bool,
    decode: bool = False,
    encryption: EncryptionConfig | None = None,
    progress: Callable[[int], None] | None = None,
    revision: int | None = None,
) -> Iterator[KeyRecord]:
    """One key or every key under a prefix, at its latest put or with its whole surviving history.

    With ``revision`` the keys are read as they stood at that revision (what ``etcdctl get --rev``
    answers): the last event at or before it, unless that was a delete; with ``history``, every
    surviving event up to it.
    """
    if revision is not None:
        check_revision(snapshot, revision)
    index = snapshot.build_index([wanted], history=history or revision is not None, progress=progress)
    if revision is None:
        names = [wanted] if exact else sorted(index.history if history else index.live)
        for name in names:
            packed = index.history.get(name, []) if history else [index.live[name]] if name in index.live else []
            yield from (describe(r, decode=decode, encryption=encryption) for r in snapshot.iter_read(packed))
        return
    for name in [wanted] if exact else sorted(index.history):
        events = [p for p in index.history.get(name, []) if unpack_revision(p).main <= revision]
        if not history:
            events = events[-1:] if events and not unpack_revision(events[-1]).tombstone else []
        yield from (describe(r, decode=decode, encryption=encryption) for r in snapshot.iter_read(events))
