"""One stored etcd value all the way to an object: decrypt if needed, then decode.

A value that cannot be opened or decoded is a result (with the reason), not an exception: one bad
Secret must not stop the analysis of the others.
"""

from __future__ import annotations

from typing import Any

from analyzer.decode.encryption import EncryptionConfig, decrypt_value
from analyzer.decode.envelope import ValueKind, detect_kind
from analyzer.decode.objects import load_object
from analyzer.errors import DecodeError, DecryptionError
from analyzer.records import datarecord


@datarecord
class DecodedValue:
    stored_kind: ValueKind  # as stored: encrypted, protobuf, JSON, CBOR, other
    kind: ValueKind | None  # after decryption; None when it could not be decrypted
    encryption: str | None  # "aescbc key '1'" when it was encrypted
    object: dict[str, Any] | None
    error: str | None  # why there is no object
    encrypted_without_key: bool = False

    @property
    def ok(self) -> bool:
        return self.object is not None


def decode_value(
    value: bytes, *, etcd_key: bytes, mod_revision: int | None = None, encryption: EncryptionConfig | None = None
) -> DecodedValue:
    stored_kind = detect_kind(value)
    label = None
    if stored_kind is ValueKind.ENCRYPTED:
        try:
            opened = decrypt_value(value, etcd_key, encryption)
        except DecryptionError as err:
            return DecodedValue(stored_kind, None, None, None, str(err), encrypted_without_key=True)
        value, label = opened.plaintext, f"{opened.provider} key {opened.key_name!r}"
    kind = detect_kind(value)
    try:
        obj = load_object(value, mod_revision=mod_revision)
    except DecodeError as err:
        return DecodedValue(stored_kind, kind, label, None, str(err))
    return DecodedValue(stored_kind, kind, label, obj, None)
