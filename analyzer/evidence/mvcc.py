"""etcd's MVCC records as they are stored: revisions, key values, members, compaction, the index.

Facts from ``shared/docs/etcd-snapshot-format.md`` sections B and C (etcd-io/etcd
server/storage/mvcc, server/storage/schema). The bucket ``key`` maps 17-byte revision keys (18
with the tombstone mark) to ``mvccpb.KeyValue`` records; replaying them in revision order gives
the latest state, exactly as etcd's own ``restore`` does. Both sources (a snapshot, a running
etcd) hand these types to the rest of the pipeline.
"""

from __future__ import annotations

import struct
from collections.abc import MutableMapping
from dataclasses import field

from google.protobuf.message import DecodeError as ProtobufDecodeError

from analyzer.errors import CorruptEvidence
from analyzer.pb import etcd_mvcc_pb2 as mvccpb_pb2
from analyzer.records import datarecord

KEY_BUCKET = b"key"
META_BUCKET = b"meta"
CLUSTER_BUCKET = b"cluster"
MEMBERS_BUCKET = b"members"

REVISION_KEY = struct.Struct(">QcQ")  # main, '_', sub — big-endian so that byte order is revision order
REVISION_KEY_SIZE = REVISION_KEY.size  # 17
TOMBSTONE_MARK = b"t"
# A revision key followed by the first two bytes of its KeyValue (tag and one-byte length).
PUT_RECORD_HEAD = struct.Struct(">QcQBB")
DELETE_RECORD_HEAD = struct.Struct(">QcQcBB")
U64_BE = struct.Struct(">Q")


# -- revisions -------------------------------------------------------------------------------------


@datarecord(order=True)
class Revision:
    main: int
    sub: int = 0
    tombstone: bool = False

    def __str__(self) -> str:
        return f"{self.main}_{self.sub}" + ("t" if self.tombstone else "")

    @property
    def packed(self) -> int:
        return pack_revision(self.main, self.sub, self.tombstone)

    def key(self) -> bytes:
        raw = REVISION_KEY.pack(self.main, b"_", self.sub)
        return raw + TOMBSTONE_MARK if self.tombstone else raw


def pack_revision(main: int, sub: int, tombstone: bool) -> int:
    """One int per revision keeps an index of millions of keys small."""
    return (main << 33) | (sub << 1) | int(tombstone)


def unpack_revision(packed: int) -> Revision:
    return Revision(packed >> 33, (packed >> 1) & 0xFFFF_FFFF, bool(packed & 1))


def load_revision(raw: bytes | memoryview) -> Revision | None:
    """A revision from a ``key``-bucket key, or None when the bytes are not one (BytesToBucketKey)."""
    size = len(raw)
    if size == REVISION_KEY_SIZE + 1:
        if raw[REVISION_KEY_SIZE] != TOMBSTONE_MARK[0]:
            return None
    elif size != REVISION_KEY_SIZE:
        return None
    main, sep, sub = REVISION_KEY.unpack_from(raw)
    if sep != b"_" or main >> 63 or sub >> 63:
        return None
    return Revision(main, sub, size != REVISION_KEY_SIZE)


# -- key values ------------------------------------------------------------------------------------


@datarecord
class KeyValue:
    """One stored event: a put (with value) or a delete (tombstone, key only)."""

    key: bytes
    revision: Revision
    create_revision: int
    mod_revision: int
    version: int
    value: bytes
    lease: int
    salvaged: bool = False  # found by the page scan, not reachable through the tree

    @property
    def deleted(self) -> bool:
        return self.revision.tombstone

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", "backslashreplace")


def load_key_value(revision: Revision, raw: bytes | memoryview, *, source: str = "key bucket", salvaged: bool = False) -> KeyValue:
    message = mvccpb_pb2.KeyValue()
    try:
        message.ParseFromString(bytes(raw))
    except ProtobufDecodeError:
        raise CorruptEvidence(source, f"the value of revision {revision} is not an mvccpb.KeyValue", f"revision {revision}") from None
    return KeyValue(
        key=message.key,
        revision=revision,
        create_revision=message.create_revision,
        mod_revision=message.mod_revision,
        version=message.version,
        value=message.value,
        lease=message.lease,
        salvaged=salvaged,
    )


def user_key(raw_value: bytes | memoryview) -> bytes | None:
    """Field 1 (key) of a KeyValue without a full parse; etcd always writes it first.

    This is the hot path of every full pass, so it reads the tag and a short varint by hand.
    """
    if len(raw_value) < 2 or raw_value[0] != 0x0A:
        return None
    length, shift, index = 0, 0, 1
    while index < len(raw_value) and index < 6:
        byte = raw_value[index]
        length |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            end = index + length
            return bytes(raw_value[index:end]) if end <= len(raw_value) else None
        shift += 7
    return None


# -- cluster metadata ------------------------------------------------------------------------------


@datarecord
class Member:
    id: str
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool


@datarecord
class Compaction:
    scheduled: int | None
    finished: int | None

    @property
    def interrupted(self) -> bool:
        return self.scheduled is not None and (self.finished is None or self.scheduled > self.finished)


# -- the index -------------------------------------------------------------------------------------


@datarecord(frozen=False)
class KeyIndex:
    """The result of one pass over every revision.

    ``live`` maps each live user key to its latest put (packed revision). ``history`` holds every
    surviving event of the keys whose history was asked for, in revision order.
    """

    # A snapshot fills both with dicts; a running etcd answers them from etcd (evidence.live_index).
    live: MutableMapping[bytes, int] = field(default_factory=dict)
    history: MutableMapping[bytes, list[int]] = field(default_factory=dict)
    events: int = 0
    skipped: int = 0  # entries of the key bucket that are not revision records
    tombstones: int = 0
    last_revision: int = 0
    out_of_order: int = 0
    # The live keys under ``screen`` whose last record may hold the query's needle
    # (``IndexQuery.screen``); None when the pass did not screen.
    screened: set[bytes] | None = None
    screen: tuple[bytes, ...] = ()



@datarecord
class SalvageReport:
    """What a page-by-page scan found beyond the tree walk."""

    reachable: int  # revision records the tree walk reached
    recovered: int  # further records found only by scanning pages
    pages: tuple[int, ...]  # pages the recovered records came from
