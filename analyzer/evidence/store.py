"""What the rest of the pipeline reads from etcd, whichever way it was reached.

Two sources implement it: ``evidence.etcd.Snapshot`` (a file saved with ``etcdctl snapshot save``)
and ``evidence.live.LiveEtcd`` (a running etcd read through range requests). Wiring, checks and
reports hold an ``EtcdStore`` and never ask which one it is.

The index a store builds maps keys to *handles*: ints that only the same store's ``iter_read``
understands, ascending in revision order. For a snapshot a handle is the packed revision of the
record; for a running etcd it also says at which revision the key is to be read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, runtime_checkable

from analyzer.evidence.bbolt import Damage
from analyzer.evidence.etcd import Compaction, KeyIndex, KeyValue, Member


@runtime_checkable
class EtcdStore(Protocol):
    """Latest state, the history that survives compaction, compaction, members and version."""

    @property
    def source(self) -> str:
        """The input as the user named it: a snapshot's path, or the endpoint read."""
        ...

    @property
    def revision(self) -> int:
        """The revision every answer is read at (a snapshot's last event; the revision pinned live)."""
        ...

    @property
    def compaction(self) -> Compaction:
        """Where history stops: nothing older than the finished compaction survives."""
        ...

    @property
    def cluster_version(self) -> str | None: ...

    @property
    def partial(self) -> bool:
        """True when something could not be read; every answer is then a lower bound."""
        ...

    @property
    def damage(self) -> list[Damage]: ...

    def members(self) -> list[Member]: ...

    def build_index(
        self,
        prefixes: Iterable[bytes] | None = None,
        /,
        *,
        history: bool = False,
        keys: Iterable[bytes] = (),
        history_prefixes: Iterable[bytes] = (),
        progress: Callable[[int], None] | None = None,
    ) -> KeyIndex:
        """The live keys under ``prefixes`` (all when None), with the history of the keys asked for."""
        ...

    def iter_read(self, handles: Iterable[int], /) -> Iterator[KeyValue]:
        """The records behind handles of an index; one that cannot be read becomes damage."""
        ...
