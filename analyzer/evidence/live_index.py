"""The index of a running etcd: etcd holds the keys, kforensic holds only the ones it asked about.

A snapshot's index is a dict of every live key under the wanted prefixes, about 160 bytes a key
(bench/README.md: 11 MiB for the 68,630 secrets and config maps of the bench keyspace). A running
etcd already keeps that index and answers ranges at the pinned revision, so ``LiveKeys`` asks it
instead: a lookup is one keys-only range of one key, a count is one count-only range per prefix,
and iterating walks keys-only pages. Memory stays flat however many keys the cluster has; only
the keys looked up are kept (the wiring looks up a few hundred objects, not every key).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Protocol

from analyzer.evidence.store import IndexQuery

ALL = b"\0"  # key and range_end b"\0" together mean "every key" (etcd api rpc.proto RangeRequest)


class KeySource(Protocol):
    """What the index asks a running etcd (evidence.live.LiveEtcd), every answer at the pinned revision."""

    def lookup(self, key: bytes) -> int | None: ...
    def count_in(self, start: bytes, end: bytes) -> int: ...
    def iter_keys_in(self, start: bytes, end: bytes) -> Iterator[bytes]: ...
    def walk_history(self, key: bytes, latest: int) -> list[int]: ...


class LiveKeys(MutableMapping[bytes, int]):
    """KeyIndex.live for a running etcd: the live keys under ``prefixes`` (all when None) at the
    pinned revision, each mapped to a handle of its latest put when it is looked up."""

    def __init__(self, store: KeySource, prefixes: tuple[bytes, ...] | None) -> None:
        self._store = store
        self._prefixes = outermost(prefixes) if prefixes is not None else None
        self._found: dict[bytes, int | None] = {}  # looked up: the handle, or None when not live
        self._count: int | None = None

    def covers(self, key: bytes) -> bool:
        return self._prefixes is None or key.startswith(self._prefixes)

    def ranges_under(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """The [start, end) ranges holding this index's keys under ``prefix``, in key order."""
        if not prefix:
            wanted = self._prefixes
        elif self._prefixes is None or prefix.startswith(self._prefixes):
            wanted = (prefix,)
        else:
            wanted = tuple(p for p in self._prefixes if p.startswith(prefix))
        if wanted is None:
            return [(ALL, ALL)]
        return [(p or ALL, prefix_end(p)) for p in wanted]

    def keys_under(self, prefix: bytes) -> Iterator[bytes]:
        """This index's keys under ``prefix``, in key order, a keys-only page at a time; nothing kept."""
        for start, end in self.ranges_under(prefix):
            yield from self._store.iter_keys_in(start, end)

    def count_under(self, prefix: bytes) -> int:
        return sum(self._store.count_in(start, end) for start, end in self.ranges_under(prefix))

    def __getitem__(self, key: bytes) -> int:
        if key not in self._found:
            self._found[key] = self._store.lookup(key) if self.covers(key) else None
        handle = self._found[key]
        if handle is None:
            raise KeyError(key)
        return handle

    def __setitem__(self, key: bytes, handle: int) -> None:
        raise TypeError("the keys of a running etcd are read, never written")

    def __delitem__(self, key: bytes) -> None:
        raise TypeError("the keys of a running etcd are read, never written")

    def __iter__(self) -> Iterator[bytes]:
        return self.keys_under(b"")

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.count_under(b"")
        return self._count


class LiveHistory(MutableMapping[bytes, list[int]]):
    """KeyIndex.history for a running etcd: a key's events are walked only when asked for, then kept."""

    def __init__(self, store: KeySource, query: IndexQuery, live: LiveKeys) -> None:
        self._store, self._wanted, self._live = store, query.keeps_history, live
        self._walked: dict[bytes, list[int]] = {}

    def __getitem__(self, name: bytes) -> list[int]:
        if name not in self._walked:
            latest = self._live.get(name) if self._wanted(name) else None
            if latest is None:
                raise KeyError(name)
            self._walked[name] = self._store.walk_history(name, latest)
        return self._walked[name]

    def __setitem__(self, name: bytes, handles: list[int]) -> None:
        self._walked[name] = handles

    def __delitem__(self, name: bytes) -> None:
        del self._walked[name]

    def __iter__(self) -> Iterator[bytes]:
        return (name for name in self._live if self._wanted(name))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def outermost(prefixes: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The prefixes no other one contains, sorted: their ranges are disjoint and in key order."""
    kept: list[bytes] = []
    for prefix in sorted(set(prefixes)):
        if not (kept and prefix.startswith(kept[-1])):
            kept.append(prefix)
    return tuple(kept)


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that makes a range a prefix (clientv3 GetPrefixRangeEnd)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return ALL
