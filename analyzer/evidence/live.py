"""A running etcd, read through the ``etcd3`` client with range requests only.

Read-only by construction: ``ReadOnlyRpc`` keeps three bound stub methods, ``KV.Range``,
``Cluster.MemberList`` and ``Maintenance.Status``, and nothing else of the client; no code path
can reach Put, DeleteRange, Txn, Compact, a lease, a watch or an auth change.

Consistent: the revision is taken once, at the start, from the header of the first range, and
every later range names it (``RangeRequest.revision``); a key's history is read at the earlier
revisions its own records point to (mod_revision - 1), down to its creation or to compaction.

Bounded: etcd keeps the index (``live_index.LiveKeys``): a key is looked up with a keys-only
range when asked for, so memory holds the keys looked up, not every key; listings are paginated
(``limit`` plus the next key as continuation); values are read one key at a time when asked for,
or streamed in pages sized by bytes (``iter_latest``).

Reads are serializable (answered by the member itself, without a quorum round): a cluster that
lost quorum can still be read, and pinning one member and one revision keeps the answers
consistent with each other (etcd server/etcdserver/v3_server.go Range: serializable reads skip
linearizableReadNotify; mvcc kvstore_txn.go rangeKeys refuses rev < compactMainRev with
ErrCompacted and rev > currentRev with ErrFutureRev).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Self

# gRPC's C core logs a failed handshake on stderr by itself; the one line kforensic prints says it
# better. Read when grpc is first imported, hence before the import.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc
from etcd3 import Endpoint, etcdrpc

from analyzer.errors import (
    EtcdHandshakeRefused,
    EtcdPermissionDenied,
    EtcdRevisionCompacted,
    EtcdUnreachable,
    LiveEtcdError,
    UsageError,
    os_problem,
)
from analyzer.evidence.damage_log import DamageLog
from analyzer.evidence.live_tls import (
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    ClientFiles,
    EtcdEndpoint,
    HandshakeFacts,
    LiveTarget,
    parse_endpoint,
    probe_handshake,
)
from analyzer.evidence.live_index import ALL, LiveHistory, LiveKeys, prefix_end
from analyzer.evidence.mvcc import Compaction, KeyIndex, KeyValue, Member, Revision, pack_revision, unpack_revision
from analyzer.evidence.store import EtcdStore, IndexQuery

# The names readers have always imported from here.
__all__ = ["DEFAULT_PORT", "DEFAULT_TIMEOUT", "ClientFiles", "HandshakeFacts", "LiveEtcd", "LiveTarget", "ReadOnlyRpc", "parse_endpoint"]

PAGE_SIZE = 1000  # at most this many keys per range response; etcdctl pages at 1000 too (--limit)
# About this many bytes of values per response (1,000 secrets of 1 KiB held ~12 MiB in flight). etcd
# limits only a count: the next count is the budget over the last page's mean size, from one key
# up and at most 4x a page, as values differ 1,000x (events against certificate bundles).
PAGE_BYTES = 256 << 10
_GROWTH = 4
MAX_MESSAGE = 64 << 20  # gRPC refuses larger answers (RESOURCE_EXHAUSTED); a page that hits it is cut


class ReadOnlyRpc:
    """The only calls kforensic makes to a running etcd. Nothing else of the client is kept."""

    __slots__ = ("_member_list", "_range", "_status", "timeout")

    def __init__(self, channel: grpc.Channel, timeout: float) -> None:
        self._range = etcdrpc.KVStub(channel).Range
        self._member_list = etcdrpc.ClusterStub(channel).MemberList
        self._status = etcdrpc.MaintenanceStub(channel).Status
        self.timeout = timeout

    def range(self, request: etcdrpc.RangeRequest) -> etcdrpc.RangeResponse:
        return self._range(request, timeout=self.timeout)

    def member_list(self) -> etcdrpc.MemberListResponse:
        return self._member_list(etcdrpc.MemberListRequest(), timeout=self.timeout)

    def status(self) -> etcdrpc.StatusResponse:
        return self._status(etcdrpc.StatusRequest(), timeout=self.timeout)


# -- the store -------------------------------------------------------------------------------------


class LiveEtcd(EtcdStore):
    """One member of a running etcd, read at one revision. A context manager; implements EtcdStore."""

    def __init__(
        self,
        urls: Sequence[str],
        files: ClientFiles | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        revision: int | None = None,
        page_size: int = PAGE_SIZE,
        page_bytes: int = PAGE_BYTES,
    ) -> None:
        files = files or ClientFiles()
        if not urls:
            raise UsageError("--etcd needs at least one URL")
        if (files.cert is None) != (files.key is None):
            raise UsageError("--etcd-cert and --etcd-key go together")
        for given in (files.cacert, files.cert, files.key):
            if given is not None:
                try:
                    Path(given).read_bytes()
                except OSError as err:
                    raise UsageError(f"{given}: {os_problem(err)}") from None
        self.files = files
        self.timeout = timeout
        self.page_size = page_size
        self.page_bytes = page_bytes
        self.endpoints = [parse_endpoint(url, files) for url in urls]
        self._log = DamageLog()  # what reads could not read (EtcdStore.damage)
        self.refused: list[str] = []  # endpoints tried before the one read, and why they failed
        # Where a handle's record is read, at the position its sequence number names: the key (at
        # the pinned revision), or for a handle of a key's history, the key and the earlier
        # revision it is read at. One list slot per key, the key's bytes shared with the index.
        self._reads: list[bytes | tuple[bytes, int]] = []
        last: LiveEtcdError | None = None
        for endpoint in self.endpoints:
            try:
                self._connect(endpoint)
                break
            except LiveEtcdError as err:
                self.refused.append(str(err))
                last = err
        else:
            assert last is not None
            raise last
        if revision is not None:
            if revision > self.current_revision:
                raise UsageError(f"--etcd-revision {revision}: etcd at {self.endpoint.url} is only at revision {self.current_revision}")
            self._range(b"\0", revision=revision, count_only=True)  # compacted: EtcdRevisionCompacted
        self._revision = revision or self.current_revision
        self._compaction = self._find_compaction()

    # -- connecting ----------------------------------------------------------------------------

    def _connect(self, endpoint: EtcdEndpoint) -> None:
        credentials = None
        if endpoint.secure:
            # What etcd3's get_secure_creds builds, minus its requirement of a CA file (None: system roots).
            credentials = grpc.ssl_channel_credentials(_read(self.files.cacert), _read(self.files.key), _read(self.files.cert))
        self._endpoint = Endpoint(endpoint.host, endpoint.port, secure=endpoint.secure, creds=credentials,
                                  opts=[("grpc.max_receive_message_length", MAX_MESSAGE)])
        self.endpoint = endpoint
        self.source = endpoint.url  # EtcdStore: the input as the user named it
        self._rpc = ReadOnlyRpc(self._endpoint.channel, self.timeout)
        try:
            first = self._call(lambda: self._rpc.range(etcdrpc.RangeRequest(key=ALL, range_end=ALL, count_only=True, serializable=True)), b"")
        except LiveEtcdError:
            self._endpoint.close()
            raise
        self.current_revision = first.header.revision
        self.cluster_id = f"{first.header.cluster_id:x}"
        self.member_id = f"{first.header.member_id:x}"
        self.live_count = first.count
        try:
            status = self._rpc.status()
            self.server_version: str | None = status.version
            self.db_size: int | None = status.dbSize
        except grpc.RpcError:
            self.server_version, self.db_size = None, None  # Status is a nicety; a refusal costs only the version
        try:
            self._members = [
                Member(f"{m.ID:x}", m.name, tuple(m.peerURLs), tuple(m.clientURLs), False) for m in self._rpc.member_list().members
            ]
        except grpc.RpcError:
            self._members = []

    def close(self) -> None:
        self._endpoint.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- errors --------------------------------------------------------------------------------

    def _call(self, call: Callable[[], etcdrpc.RangeResponse], key: bytes, revision: int | None = None) -> etcdrpc.RangeResponse:
        try:
            return call()
        except grpc.RpcError as err:
            raise self._problem(err, key, revision) from None

    def _problem(self, err: grpc.RpcError, key: bytes, revision: int | None) -> LiveEtcdError:
        code = err.code() if hasattr(err, "code") else None
        details = (err.details() if hasattr(err, "details") else None) or str(code)
        url = self.endpoint.url
        if code is grpc.StatusCode.PERMISSION_DENIED:
            what = f"a read of {key.decode('utf-8', 'replace') or 'every key'}"
            return EtcdPermissionDenied(url, f"etcd refused {what}: {details} (the client certificate's user lacks a role that may read it)")
        if code is grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
            return EtcdRevisionCompacted(url, f"revision {revision} is older than etcd's last compaction: {details}")
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return self._unavailable(details, code is grpc.StatusCode.DEADLINE_EXCEEDED)
        if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
            return _TooLarge(url, f"a key from {key.decode('utf-8', 'replace')} on is larger than gRPC's limit of {MAX_MESSAGE:,} bytes: {details}")
        if code is grpc.StatusCode.UNAUTHENTICATED or code is grpc.StatusCode.INVALID_ARGUMENT:
            return EtcdPermissionDenied(url, f"etcd refused the read: {details}")
        return LiveEtcdError(url, f"etcd answered {code.name if code else 'an error'}: {details}")

    def _unavailable(self, details: str, timed_out: bool) -> LiveEtcdError:
        endpoint = self.endpoint
        try:
            with socket.create_connection((endpoint.host, endpoint.port), timeout=self.timeout):
                pass
        except OSError as err:
            reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err)).lower()
            return EtcdUnreachable(endpoint.url, f"cannot reach etcd: {reason} (after {self.timeout:g} s)")
        if endpoint.secure:
            facts = probe_handshake(endpoint, self.files, self.timeout)
            if facts is not None:
                return EtcdHandshakeRefused(endpoint.url, f"the TLS handshake failed: {facts.detail}", facts)
        if timed_out:
            return EtcdUnreachable(endpoint.url, f"etcd did not answer within {self.timeout:g} s (it accepts connections but does not serve)")
        return EtcdUnreachable(endpoint.url, f"etcd is not serving: {details}")

    # -- ranges --------------------------------------------------------------------------------

    def _range(self, key: bytes, range_end: bytes = b"", *, revision: int | None = None, limit: int = 0,
               keys_only: bool = False, count_only: bool = False) -> etcdrpc.RangeResponse:
        request = etcdrpc.RangeRequest(key=key, range_end=range_end, revision=revision or 0, limit=limit,
                                       keys_only=keys_only, count_only=count_only, serializable=True)
        return self._call(lambda: self._rpc.range(request), key, revision)

    def _iter_range(self, start: bytes, end: bytes, *, keys_only: bool) -> Iterator[etcdrpc.KeyValue]:
        """Every key in [start, end) at the pinned revision, one page at a time; with values, pages
        of about ``page_bytes`` (the count is estimated from the previous page's mean size)."""
        limit = self.page_size if keys_only else 1
        while True:
            try:
                response = self._range(start, end, revision=self._revision, limit=limit, keys_only=keys_only)
            except _TooLarge:
                if limit == 1:
                    raise
                limit = max(1, limit // _GROWTH)
                continue
            kvs = response.kvs
            if not kvs:
                return
            more, count = response.more, len(kvs)
            start = kvs[-1].key + b"\0"  # the next key after the last one returned
            if not keys_only:
                limit = max(1, min(self.page_size, _GROWTH * limit, self.page_bytes * count // max(1, response.ByteSize())))
            yield from kvs
            del kvs, response  # the page's buffers go before the next request
            if not more:
                return

    def _readable(self, revision: int) -> bool:
        try:
            self._range(b"\0", revision=revision, count_only=True)
            return True
        except EtcdRevisionCompacted:
            return False

    def _find_compaction(self) -> Compaction:
        """The oldest readable revision, by bisection over cheap count-only ranges (etcd exposes no
        compaction revision over gRPC; ranges below it fail with ErrCompacted)."""
        if self._readable(1):
            return Compaction(None, None)
        low, high = 1, self._revision  # low unreadable, high readable
        while high - low > 1:
            middle = (low + high) // 2
            if self._readable(middle):
                high = middle
            else:
                low = middle
        return Compaction(high, high)

    # -- EtcdStore -----------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compaction(self) -> Compaction:
        return self._compaction

    @property
    def cluster_version(self) -> str | None:
        """The version the answering member reports (etcd 3.5 has no cluster version over gRPC)."""
        return self.server_version

    def members(self) -> list[Member]:
        return list(self._members)

    def _handle(self, mod_revision: int, read: bytes | tuple[bytes, int]) -> int:
        """A handle in revision order; its sequence number (which keeps keys of one transaction
        apart) is where ``iter_read`` finds the key and revision to read."""
        self._reads.append(read)
        return pack_revision(mod_revision, len(self._reads) - 1, False)

    def index(self, query: IndexQuery, progress: Callable[[int], None] | None = None, workers: int | None = None) -> KeyIndex:
        """The index without a pass: etcd answers each lookup (``LiveKeys``) at the pinned revision."""
        live = LiveKeys(self, query.prefixes)
        return KeyIndex(live=live, history=LiveHistory(self, query, live), last_revision=self._revision)

    def lookup(self, key: bytes) -> int | None:
        """The handle of a key's latest put at the pinned revision, or None when it is not live."""
        kvs = self._range(key, revision=self._revision, keys_only=True).kvs
        return self._handle(kvs[0].mod_revision, key) if kvs else None

    def count_in(self, start: bytes, end: bytes) -> int:
        count: int = self._range(start, end, revision=self._revision, count_only=True).count
        return count

    def iter_keys_in(self, start: bytes, end: bytes) -> Iterator[bytes]:
        for kv in self._iter_range(start, end, keys_only=True):
            yield kv.key

    def walk_history(self, key: bytes, latest: int) -> list[int]:
        """The handles of a live key's puts back to its creation or to compaction, oldest first.

        Each record's mod_revision - 1 is the revision at which the previous put is visible. A
        delete and what came before it cannot be seen through range requests (that would take a
        watch): history starts at the key's current creation, or at compaction, whichever is later.
        """
        handles = [latest]
        floor = self._compaction.finished or 1
        response = self._range(key, revision=self._revision, keys_only=True)
        if not response.kvs:
            return handles
        current = response.kvs[0]
        while current.mod_revision > current.create_revision and current.mod_revision - 1 >= floor:
            at = current.mod_revision - 1
            response = self._range(key, revision=at, keys_only=True)
            if not response.kvs:
                break
            current = response.kvs[0]
            handles.append(self._handle(current.mod_revision, (key, at)))
        return handles[::-1]

    def iter_read(self, handles: Iterable[int]) -> Iterator[KeyValue]:
        for handle in handles:
            revision = unpack_revision(handle)  # sub: this reader's read number; main: the mod_revision read
            seq = revision.sub
            read = self._reads[seq] if seq < len(self._reads) else None
            if read is None:
                self._log.record(None, f"handle {handle} was not made by this reader", "key")
                continue
            key, at = (read, self._revision) if isinstance(read, bytes) else read
            response = self._range(key, revision=at)
            if not response.kvs:
                self._log.record(None, f"{key.decode('utf-8', 'replace')} is gone at revision {at}", "key")
                continue
            kv = response.kvs[0]
            if kv.mod_revision != revision.main:  # a handle of another reader that names one of ours
                self._log.record(None, f"handle {handle} was not made by this reader", "key")
                continue
            yield _key_value(kv)

    def iter_keys_under(self, index: KeyIndex, prefix: bytes) -> Iterator[bytes]:
        if not isinstance(index.live, LiveKeys):
            return super().iter_keys_under(index, prefix)
        return index.live.keys_under(prefix)

    def count_under(self, index: KeyIndex, prefix: bytes) -> int:
        return index.live.count_under(prefix) if isinstance(index.live, LiveKeys) else super().count_under(index, prefix)

    def iter_latest(self, index: KeyIndex, prefix: bytes) -> Iterator[KeyValue]:
        """Every live key of ``index`` under ``prefix`` with its value, in pages of about
        ``page_bytes`` at the pinned revision (one request per page, not one per key); nothing is kept."""
        if not isinstance(index.live, LiveKeys):  # an index this reader did not make
            yield from super().iter_latest(index, prefix)
            return
        for start, end in index.live.ranges_under(prefix):
            for kv in self._iter_range(start, end, keys_only=False):
                yield _key_value(kv)

    def iter_keys(self, prefix: bytes | None = None) -> Iterator[bytes]:
        """Every live key (under a prefix) at the pinned revision, paginated: for summaries."""
        return self.iter_keys_in(*((ALL, ALL) if not prefix else (prefix, prefix_end(prefix))))


class _TooLarge(LiveEtcdError):
    """One answer above MAX_MESSAGE: a page is asked again smaller; one key alone is an error."""


def _key_value(kv: etcdrpc.KeyValue) -> KeyValue:
    # etcd does not say at which position of its transaction a key was written: sub is 0.
    return KeyValue(kv.key, Revision(kv.mod_revision), kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease)


def _read(path: Path | None) -> bytes | None:
    return Path(path).read_bytes() if path is not None else None
