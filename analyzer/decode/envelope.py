"""What kind of payload an etcd value holds, judged from its first bytes, and the protobuf envelope.

Kubernetes marks its storage encodings with fixed prefixes (etcd-snapshot-format.md §D.2):
``k8s\\0`` for protobuf (apimachinery serializer/protobuf ``protoEncodingPrefix``), ``k8s:enc:``
for encryption at rest, the self-described CBOR tag ``d9 d9 f7`` (serializer/cbor
``selfDescribedCBOR``) and ``{`` for JSON. Detection runs over every value of a snapshot, so it looks
at a bounded prefix only.
"""

from __future__ import annotations

import mmap
from enum import StrEnum

from google.protobuf.message import DecodeError as ProtobufDecodeError

from analyzer.pb import k8s_runtime_pb2
from analyzer.errors import DecodeError

PROTOBUF_PREFIX = b"k8s\x00"
ENCRYPTED_PREFIX = b"k8s:enc:"
CBOR_PREFIX = b"\xd9\xd9\xf7"

# apimachinery's IsJSONBuffer trims leading whitespace before looking for "{"; the storage encoder
# never writes any, so a short window is enough to stay O(1) on huge values.
_JSON_SNIFF = 64


class ValueKind(StrEnum):
    PROTOBUF = "protobuf"
    JSON = "json"
    CBOR = "cbor"
    ENCRYPTED = "encrypted"
    OTHER = "other"


def detect_kind(value: bytes) -> ValueKind:
    """Classify an etcd value by its prefix without reading past its first bytes."""
    if value.startswith(PROTOBUF_PREFIX):
        return ValueKind.PROTOBUF
    if value.startswith(ENCRYPTED_PREFIX):
        return ValueKind.ENCRYPTED
    if value.startswith(b"{"):
        return ValueKind.JSON
    if value.startswith(CBOR_PREFIX):
        return ValueKind.CBOR
    if value[:1].isspace() and value[:_JSON_SNIFF].lstrip().startswith(b"{"):
        return ValueKind.JSON
    return ValueKind.OTHER


def may_hold(data: bytes | mmap.mmap, start: int, end: int, needle: bytes) -> bool:
    """Whether the stored bytes ``data[start:end]`` (an etcd value, or the whole record around it)
    can decode to an object whose strings hold ``needle``; False only where they cannot.

    Protobuf and CBOR keep strings as raw UTF-8, and so does JSON unless it escapes characters. So
    bytes without the needle may hold it only when encrypted, or when JSON with a backslash. The
    first envelope magic tells which: a value opens with it (nothing before it in a record but a
    Kubernetes key, which holds no NUL, and varints, which cannot spell "k8s"), so ``k8s\\0``
    met first is protobuf, not ciphertext that happens to hold it, and ``k8s:enc:`` is
    encryption. JSON holds no NUL. Searched in place, nothing copied: this runs on every Secret
    of a snapshot.
    """
    if data.find(needle, start, end) >= 0:
        return True
    at = data.find(b"k8s", start, end)
    while 0 <= at < end - 3:
        mark = data[at + 3 : at + 4]
        if mark == b"\x00":
            return False
        if mark == b":" and data[at : at + len(ENCRYPTED_PREFIX)] == ENCRYPTED_PREFIX and at + len(ENCRYPTED_PREFIX) <= end:
            return True
        at = data.find(b"k8s", at + 1, end)
    return data.find(b"\\", start, end) >= 0


def unwrap_protobuf(value: bytes) -> tuple[str, str, bytes]:
    """Split a ``k8s\\0`` value into (apiVersion, kind, raw object bytes without TypeMeta)."""
    if not value.startswith(PROTOBUF_PREFIX):
        raise DecodeError(f"not a Kubernetes protobuf value: it does not start with {PROTOBUF_PREFIX!r}")
    unknown = k8s_runtime_pb2.Unknown()
    try:
        unknown.ParseFromString(memoryview(value)[len(PROTOBUF_PREFIX) :])
    except ProtobufDecodeError:
        raise DecodeError(
            f"Kubernetes protobuf value of {len(value)} bytes is truncated or corrupt: "
            "its runtime.Unknown envelope does not parse"
        ) from None
    api_version = unknown.typeMeta.apiVersion
    kind = unknown.typeMeta.kind
    # Wire garbage can parse as a message of unknown fields; a real envelope always names its type.
    # proto2 strings are not UTF-8 checked, and upb hands back bytes when they are invalid.
    if not (isinstance(api_version, str) and isinstance(kind, str) and api_version and kind):
        raise DecodeError("Kubernetes protobuf value names no readable apiVersion and kind in its envelope")
    return api_version, kind, unknown.raw
