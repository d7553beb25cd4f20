"""A running etcd, read through the ``etcd3`` client with range requests only.

Read-only by construction: ``ReadOnlyRpc`` keeps three bound stub methods, ``KV.Range``,
``Cluster.MemberList`` and ``Maintenance.Status``, and nothing else of the client; no code path
can reach Put, DeleteRange, Txn, Compact, a lease, a watch or an auth change.

Consistent: the revision is taken once, at the start, from the header of the first range, and
every later range names it (``RangeRequest.revision``); a key's history is read at the earlier
revisions its own records point to (mod_revision - 1), down to its creation or to compaction.

Bounded: ranges are paginated (``limit`` plus the next key as continuation) and keys-only while
indexing, so memory holds one small entry per wanted key, as the snapshot index does; values are
read one key at a time when asked for.

Reads are serializable (answered by the member itself, without a quorum round): a cluster that
lost quorum can still be read, and pinning one member and one revision keeps the answers
consistent with each other (etcd server/etcdserver/v3_server.go Range: serializable reads skip
linearizableReadNotify; mvcc kvstore_txn.go rangeKeys refuses rev < compactMainRev with
ErrCompacted and rev > currentRev with ErrFutureRev).
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

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
from analyzer.evidence.bbolt import Damage
from analyzer.evidence.etcd import (
    Compaction,
    KeyIndex,
    KeyValue,
    Member,
    Revision,
    pack_revision,
)

PAGE_SIZE = 1000  # keys per range response; etcd's own clients page at 1000 too (etcdctl --limit)
DEFAULT_TIMEOUT = 10.0  # seconds per request
DEFAULT_PORT = 2379
_ALL = b"\0"  # key and range_end b"\0" together mean "every key" (etcd api rpc.proto RangeRequest)
_SEQ_MASK = 0xFFFF_FFFF


@dataclass(frozen=True)
class ClientFiles:
    """The files given with --etcd-cacert, --etcd-cert and --etcd-key, as the user named them."""

    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @property
    def given(self) -> bool:
        return any((self.cacert, self.cert, self.key))


@dataclass(frozen=True)
class LiveTarget:
    """What ``--etcd`` and its companions ask for: where, with which files, how long to wait, which revision."""

    urls: tuple[str, ...]
    files: ClientFiles = ClientFiles()
    timeout: float = DEFAULT_TIMEOUT
    revision: int | None = None


@dataclass(frozen=True)
class EtcdEndpoint:
    url: str
    host: str
    port: int
    secure: bool

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(url: str, files: ClientFiles) -> EtcdEndpoint:
    """``https://host:port``, ``http://host:port`` or ``host:port`` (https when a CA or pair is given)."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"{'https' if files.given else 'http'}://{text}")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise UsageError(f"--etcd {url}: not an etcd client URL (expected https://HOST:PORT)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise UsageError(f"--etcd {url}: the port is not a number between 0 and 65535") from None
    if parts.scheme == "http" and files.given:
        raise UsageError(f"--etcd {url}: TLS files were given for a plain http:// endpoint")
    return EtcdEndpoint(text, parts.hostname, port, parts.scheme == "https")


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


# -- handshake diagnosis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HandshakeFacts:
    """What a plain TLS probe learnt about a failed handshake; checks.etcd_client explains it the Go way.

    ``stage``: "server-untrusted" (the server's certificate does not verify with --etcd-cacert),
    "client-refused" (the server ended the handshake over our client certificate), "pair-unusable"
    (the pair does not load locally), or "other".
    """

    endpoint: str
    stage: str
    files: ClientFiles
    detail: str
    peer_chain_der: tuple[bytes, ...] = ()
    alert: str | None = None


def probe_handshake(endpoint: EtcdEndpoint, files: ClientFiles, timeout: float) -> HandshakeFacts | None:
    """One TLS handshake outside gRPC, to tell which of the given files was refused, or None when it succeeds.

    First without a client certificate and with the CA: does our side trust the server? Then with
    the pair: does the server accept it? A Go server sends its verdict on the client certificate as
    an alert; under TLS 1.3 that arrives after our side finished, so one read waits for it.
    """
    chain = _peer_chain(endpoint, files, timeout)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # Go's hostname verdict is given separately, from the chain
    if files.cacert is not None:
        try:
            context.load_verify_locations(cafile=str(files.cacert))
        except (ssl.SSLError, OSError) as err:
            return HandshakeFacts(endpoint.url, "pair-unusable", files, f"{files.cacert}: {_ssl_reason(err)}", chain)
    else:
        context.load_default_certs()
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw, context.wrap_socket(raw) as tls:
            tls.getpeercert(binary_form=True)
    except TimeoutError:
        return None  # nothing to tell about TLS: the server does not answer at all
    except ssl.SSLCertVerificationError as err:
        return HandshakeFacts(endpoint.url, "server-untrusted", files, err.verify_message or _ssl_reason(err), chain)
    except (ssl.SSLError, OSError) as err:
        if files.cert is None:
            alert = _alert(err) if isinstance(err, ssl.SSLError) else None
            return HandshakeFacts(endpoint.url, "client-refused", files, _ssl_reason(err), chain, alert)
    if files.cert is None:
        return None
    try:
        context.load_cert_chain(str(files.cert), str(files.key) if files.key else None)
    except (ssl.SSLError, OSError) as err:
        return HandshakeFacts(endpoint.url, "pair-unusable", files, _ssl_reason(err), chain)
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw, context.wrap_socket(raw) as tls:
            # An HTTP/2 client preface: a server that accepted the certificate waits for more
            # (a timeout), one that refused it has sent an alert (etcd serves gRPC and HTTP on one port).
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            tls.settimeout(min(timeout, 2.0))
            tls.recv(1)
    except TimeoutError:
        return None
    except ssl.SSLError as err:
        return HandshakeFacts(endpoint.url, "client-refused", files, _ssl_reason(err), chain, _alert(err))
    except OSError as err:
        return HandshakeFacts(endpoint.url, "client-refused", files, os_problem(err).removeprefix("cannot read: "), chain)
    return None


def _peer_chain(endpoint: EtcdEndpoint, files: ClientFiles, timeout: float) -> tuple[bytes, ...]:
    """The certificates the server presents, read without verifying them (to explain a refusal).

    Under TLS 1.2 a server that wants a client certificate ends the handshake without one before
    our side can look at its chain, so the pair goes along when there is one.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        if files.cert is not None:
            context.load_cert_chain(str(files.cert), str(files.key) if files.key else None)
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw, context.wrap_socket(raw) as tls:
            if hasattr(tls, "get_unverified_chain"):  # Python 3.13+
                return tuple(tls.get_unverified_chain())
            leaf = tls.getpeercert(binary_form=True)
            return (leaf,) if leaf else ()
    except (ssl.SSLError, OSError):
        return ()


def _ssl_reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else (str(err) or type(err).__name__)


def _alert(err: ssl.SSLError) -> str | None:
    """The TLS alert the server sent (OpenSSL names it ``SSLV3_ALERT_BAD_CERTIFICATE`` and the like)."""
    reason = str(getattr(err, "reason", "") or "")
    for marker in ("ALERT_", "alert "):
        if marker in reason:
            return reason.split(marker, 1)[1].lower().replace("_", " ")
    return None


# -- the store -------------------------------------------------------------------------------------


@dataclass
class _Where:
    """Where a handle's record is read: its key, at which revision."""

    key: bytes
    at: int


class LiveHistory(MutableMapping[bytes, list[int]]):
    """KeyIndex.history for a running etcd: a key's events are walked only when asked for, then kept."""

    def __init__(self, store: LiveEtcd, wanted: Callable[[bytes], bool], live: dict[bytes, int]) -> None:
        self._store, self._wanted, self._live = store, wanted, live
        self._walked: dict[bytes, list[int]] = {}

    def __getitem__(self, name: bytes) -> list[int]:
        if name not in self._walked:
            if name not in self._live or not self._wanted(name):
                raise KeyError(name)
            self._walked[name] = self._store._walk_history(name, self._live[name])
        return self._walked[name]

    def __setitem__(self, name: bytes, handles: list[int]) -> None:
        self._walked[name] = handles

    def __delitem__(self, name: bytes) -> None:
        del self._walked[name]

    def __iter__(self) -> Iterator[bytes]:
        return (name for name in self._live if self._wanted(name))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LiveEtcd:
    """One member of a running etcd, read at one revision. A context manager; implements EtcdStore."""

    def __init__(
        self,
        urls: Sequence[str],
        files: ClientFiles = ClientFiles(),
        *,
        timeout: float = DEFAULT_TIMEOUT,
        revision: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
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
        self.endpoints = [parse_endpoint(url, files) for url in urls]
        self.damage: list[Damage] = []
        self.refused: list[str] = []  # endpoints tried before the one read, and why they failed
        self._where: dict[int, _Where] = {}
        self._seq = 0
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
                                  opts=[("grpc.max_receive_message_length", 64 << 20)])
        self.endpoint = endpoint
        self._rpc = ReadOnlyRpc(self._endpoint.channel, self.timeout)
        try:
            first = self._call(lambda: self._rpc.range(etcdrpc.RangeRequest(key=_ALL, range_end=_ALL, count_only=True, serializable=True)), b"")
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
        """Every key in [start, end) at the pinned revision, one page at a time."""
        while True:
            response = self._range(start, end, revision=self._revision, limit=self.page_size, keys_only=keys_only)
            yield from response.kvs
            if not response.more or not response.kvs:
                return
            start = response.kvs[-1].key + b"\0"  # the next key after the last one returned

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
    def source(self) -> str:
        return self.endpoint.url

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

    @property
    def partial(self) -> bool:
        return bool(self.damage)

    def members(self) -> list[Member]:
        return list(self._members)

    def _handle(self, key: bytes, mod_revision: int, at: int) -> int:
        """A handle in revision order; the sequence number keeps keys of one transaction apart."""
        self._seq = (self._seq + 1) & _SEQ_MASK
        handle = pack_revision(mod_revision, self._seq, False)
        self._where[handle] = _Where(key, at)
        return handle

    def build_index(
        self,
        prefixes: Iterable[bytes] | None = None,
        *,
        history: bool = False,
        keys: Iterable[bytes] = (),
        history_prefixes: Iterable[bytes] = (),
        progress: Callable[[int], None] | None = None,
    ) -> KeyIndex:
        ranges = [(_ALL, _ALL)] if prefixes is None else [(p, _prefix_end(p)) for p in sorted(set(prefixes))]
        index = KeyIndex(last_revision=self._revision)
        live = index.live
        for start, end in ranges:
            for kv in self._iter_range(start, end, keys_only=True):
                live[kv.key] = self._handle(kv.key, kv.mod_revision, self._revision)
                index.events += 1
                if progress is not None and index.events % self.page_size == 0:
                    progress(index.events)
        exact, under = frozenset(keys), tuple(history_prefixes)
        index.history = LiveHistory(self, lambda name: history or name in exact or bool(under and name.startswith(under)), live)
        return index

    def _walk_history(self, key: bytes, latest: int) -> list[int]:
        """The handles of a live key's puts back to its creation or to compaction, oldest first.

        Each record's mod_revision - 1 is the revision at which the previous put is visible. A
        delete and what came before it cannot be seen through range requests (that would take a
        watch): history starts at the key's current creation, or at compaction, whichever is later.
        """
        handles = [latest]
        floor = self._compaction.finished or 1
        where = self._where[latest]
        response = self._range(key, revision=where.at, keys_only=True)
        if not response.kvs:
            return handles
        current = response.kvs[0]
        while current.mod_revision > current.create_revision and current.mod_revision - 1 >= floor:
            at = current.mod_revision - 1
            response = self._range(key, revision=at, keys_only=True)
            if not response.kvs:
                break
            current = response.kvs[0]
            handles.append(self._handle(key, current.mod_revision, at))
        return handles[::-1]

    def iter_read(self, handles: Iterable[int]) -> Iterator[KeyValue]:
        for handle in handles:
            where = self._where.get(handle)
            if where is None:
                self.damage.append(Damage(None, f"handle {handle} was not made by this reader", "key"))
                continue
            response = self._range(where.key, revision=where.at)
            if not response.kvs:
                self.damage.append(Damage(None, f"{where.key.decode('utf-8', 'replace')} is gone at revision {where.at}", "key"))
                continue
            kv = response.kvs[0]
            # etcd does not say at which position of its transaction a key was written: sub is 0.
            yield KeyValue(kv.key, Revision(kv.mod_revision), kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease)

    def iter_keys(self, prefix: bytes | None = None) -> Iterator[bytes]:
        """Every live key (under a prefix) at the pinned revision, paginated: for summaries."""
        start, end = (_ALL, _ALL) if not prefix else (prefix, _prefix_end(prefix))
        for kv in self._iter_range(start, end, keys_only=True):
            yield kv.key


def _read(path: Path | None) -> bytes | None:
    return Path(path).read_bytes() if path is not None else None


def _prefix_end(prefix: bytes) -> bytes:
    """The range_end that makes a range a prefix (clientv3 GetPrefixRangeEnd)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return _ALL
