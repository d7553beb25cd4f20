"""What the rest of the pipeline reads from etcd, whichever way it was reached.

Two sources implement it: ``evidence.etcd.Snapshot`` (a file saved with ``etcdctl snapshot save``)
and ``evidence.live.LiveEtcd`` (a running etcd read through range requests). Wiring, checks and
reports hold an ``EtcdStore`` and never ask which one it is.

The index a store builds maps keys to *handles*: ints that only the same store's ``iter_read``
understands, ascending in revision order. For a snapshot a handle is the packed revision of the
record; for a running etcd it also says at which revision the key is to be read. A source
implements ``index`` and ``iter_read``; the lookups built on them (``build_index``, ``get``,
``history``, ``iter_keys_under``, ``count_under``, ``iter_latest``) are written once, here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

from analyzer.evidence.damage_log import DamageLog
from analyzer.evidence.mvcc import Compaction, KeyIndex, KeyValue, Member
from analyzer.records import datarecord

Progress = Callable[[int], None]

# What an index pass keeps of a key (``IndexQuery.kind_of``): bit 0 its last event, bit 1 its
# history, bit 2 whether its last record may hold the query's needle (``IndexQuery.screen``).
SKIP, LIVE, HISTORY, SCREEN = 0, 1, 2, 4


@datarecord
class IndexQuery:
    """What one index pass keeps: the live keys under ``prefixes`` (all when None), and the history
    of every key (``history``), of ``keys``, or of the keys under ``history_prefixes``.

    Live keys under ``screen`` are screened while their bytes are at hand: the index notes which
    of them may hold ``needle`` (``decode.envelope.may_hold``), so that a caller selecting by a
    cheap field (a Secret's type) reads only those (``EtcdStore.iter_may_hold``).
    """

    prefixes: tuple[bytes, ...] | None = None
    history: bool = False
    keys: frozenset[bytes] = frozenset()
    history_prefixes: tuple[bytes, ...] = ()
    screen: tuple[bytes, ...] = ()
    needle: bytes = b""

    def keeps_history(self, name: bytes) -> bool:
        return self.history or name in self.keys or bool(self.history_prefixes and name.startswith(self.history_prefixes))

    def kind_of(self, name: bytes) -> int:
        """What a pass keeps of ``name``: SKIP, or LIVE with the HISTORY and SCREEN bits it asks for
        (history and screening only of kept keys)."""
        if self.prefixes is not None and not name.startswith(self.prefixes):
            return SKIP
        return LIVE | (HISTORY if self.keeps_history(name) else 0) | (SCREEN if self.screen and name.startswith(self.screen) else 0)

    def kind_of_directory(self, directory: bytes) -> int | None:
        """``kind_of`` shared by every key whose last ``/`` ends ``directory`` (b"" for keys without
        one), or None when some prefix or key reaches past it and the whole key decides.

        The index pass asks this once per directory instead of testing each key against every
        prefix: a scan's query has some fifty prefixes, and ``startswith`` over them cost more per
        record than the rest of the record's work (bench/README.md).
        """
        live = self._covers(self.prefixes, directory) if self.prefixes is not None else True
        if not live:  # False (no key under it is kept) or None (undecided)
            return live if live is None else SKIP
        exact = not self.history and any(key.startswith(directory) and b"/" not in key[len(directory) :] for key in self.keys)
        history = True if self.history else self._covers(self.history_prefixes, directory)
        screen = self._covers(self.screen, directory)
        if exact or history is None or screen is None:
            return None
        return LIVE | (HISTORY if history else 0) | (SCREEN if screen else 0)

    @staticmethod
    def _covers(prefixes: tuple[bytes, ...], directory: bytes) -> bool | None:
        """True when every key in ``directory`` starts with one of ``prefixes``, False when none
        does, None when it depends on the part after the directory."""
        if any(len(prefix) <= len(directory) and directory.startswith(prefix) for prefix in prefixes):
            return True
        # A longer prefix decides only if it ends inside the last segment: one with a "/" past the
        # directory names a deeper directory, which no key of this one is in.
        reaching = (len(prefix) > len(directory) and prefix.startswith(directory) and b"/" not in prefix[len(directory) :] for prefix in prefixes)
        return None if any(reaching) else False


class EtcdStore(ABC):
    """Latest state, the history that survives compaction, compaction, members and version."""

    source: str  # the input as the user named it: a snapshot's path, or the endpoint read
    _log: DamageLog  # created by the source when it opens; passed to every reader it calls

    @property
    @abstractmethod
    def revision(self) -> int:
        """The revision every answer is read at (a snapshot's last event; the revision pinned live)."""

    @property
    @abstractmethod
    def compaction(self) -> Compaction:
        """Where history stops: nothing older than the finished compaction survives."""

    @property
    @abstractmethod
    def cluster_version(self) -> str | None: ...

    @property
    def damage(self) -> DamageLog:
        """Everything this store's reads could not read, each once, in a stable order."""
        return self._log

    @property
    def partial(self) -> bool:
        """True when something could not be read; every answer is then a lower bound."""
        return self.damage.partial

    @abstractmethod
    def members(self) -> list[Member]: ...

    @abstractmethod
    def index(self, query: IndexQuery, progress: Progress | None = None, workers: int | None = None) -> KeyIndex:
        """One pass: the live keys and the histories ``query`` asks for. ``workers`` is a snapshot's
        number of processes (None: its default); a running etcd has no use for it."""

    @abstractmethod
    def iter_read(self, handles: Iterable[int], /) -> Iterator[KeyValue]:
        """The records behind handles of an index; one that cannot be read becomes damage."""

    # -- built on the two above ----------------------------------------------------------------

    def build_index(
        self,
        prefixes: Iterable[bytes] | None = None,
        /,
        *,
        history: bool = False,
        keys: Iterable[bytes] = (),
        history_prefixes: Iterable[bytes] = (),
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> KeyIndex:
        """The live keys under ``prefixes`` (all when None), with the history of the keys asked for."""
        query = IndexQuery(tuple(prefixes) if prefixes is not None else None, history, frozenset(keys), tuple(history_prefixes))
        return self.index(query, progress, workers)

    def get(self, key: bytes, index: KeyIndex | None = None) -> KeyValue | None:
        """The latest state of one key; None when it is deleted or was never written."""
        index = index or self.build_index([key])
        handle = index.live.get(key)
        return next(self.iter_read([handle]), None) if handle is not None else None

    def history(self, key: bytes) -> list[KeyValue]:
        """Every surviving event of one key; older ones may be gone to compaction."""
        index = self.build_index([key], keys=[key])
        return list(self.iter_read(index.history.get(key, [])))

    def iter_keys_under(self, index: KeyIndex, prefix: bytes) -> Iterator[bytes]:
        """The live keys of ``index`` under ``prefix``, in key order (a running etcd lists them
        page by page instead of holding them)."""
        return iter(sorted(key for key in index.live if key.startswith(prefix)))

    def count_under(self, index: KeyIndex, prefix: bytes) -> int:
        return sum(1 for key in index.live if key.startswith(prefix))

    def iter_latest(self, index: KeyIndex, prefix: bytes) -> Iterator[KeyValue]:
        """The latest record of every live key of ``index`` under ``prefix``, streamed: nothing is kept.

        Read in revision order, which a snapshot serves in one ordered descent of its tree; a
        running etcd overrides it with paginated ranges.
        """
        return self.iter_read(sorted(handle for key, handle in index.live.items() if key.startswith(prefix)))

    def iter_may_hold(self, index: KeyIndex, prefix: bytes) -> Iterator[KeyValue]:
        """``iter_latest`` of the keys the pass screened as possibly holding its needle; every key
        under ``prefix`` when the index was not screened there (a running etcd, a salvage)."""
        if index.screened is None or not prefix.startswith(index.screen):
            return self.iter_latest(index, prefix)
        live = index.live
        return self.iter_read(sorted(live[key] for key in index.screened if key.startswith(prefix)))
