"""etcd records as ``kforensic get`` lists them: revisions, size, value kind and the decoded object."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from analyzer.decode.encryption import EncryptionConfig
from analyzer.decode.envelope import ValueKind, detect_kind
from analyzer.decode.redaction import redact_object
from analyzer.decode.values import DecodedValue, decode_value
from analyzer.evidence.etcd import KeyValue
from analyzer.evidence.store import EtcdStore


@dataclass(frozen=True)
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


def iter_key_records(
    snapshot: EtcdStore,
    wanted: bytes,
    *,
    exact: bool,
    history: bool,
    decode: bool = False,
    encryption: EncryptionConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[KeyRecord]:
    """One key or every key under a prefix, at its latest put or with its whole surviving history."""
    index = snapshot.build_index([wanted], history=history, progress=progress)
    names = [wanted] if exact else sorted(index.history if history else index.live)
    for name in names:
        packed = index.history.get(name, []) if history else [index.live[name]] if name in index.live else []
        for record in snapshot.iter_read(packed):
            yield describe(record, decode=decode, encryption=encryption)
