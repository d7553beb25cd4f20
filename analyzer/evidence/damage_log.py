"""What could not be read in one input, collected in a log that is passed to every reader.

Whoever opens the evidence creates the log (``etcd.Snapshot``, ``live.LiveEtcd``) and hands it,
explicitly, to each reader: the bbolt walk, bucket iteration, the index pass, members, value reads.
A reader records what it met and reads around it. The log, not the order of the reads, decides
what is reported:

* an entry is recorded once, whoever meets it and however often (same page, bucket and problem);
* entries come out in one order, by page, then bucket, then problem, never in the order met.

So the same reads give the same list and the same ``partial`` in any order. Which reads decide it is
the opener's to define (``Snapshot.survey``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from analyzer.records import datarecord


@datarecord
class Damage:
    """A part of the input that could not be read; the rest was read around it."""

    page: int | None
    problem: str
    bucket: str = ""

    def __str__(self) -> str:
        where = f"page {self.page}" if self.page is not None else "file"
        scope = f" (bucket {self.bucket})" if self.bucket else ""
        return f"{where}{scope}: {self.problem}"


def _order(damage: Damage) -> tuple[bool, int, str, str]:
    # Pages first in file order, then what has no page (a record, a trailer, a member's JSON).
    return (damage.page is None, damage.page or 0, damage.bucket, damage.problem)


class DamageLog:
    """Damage met while reading one input, each entry once, in a stable order."""

    __slots__ = ("_found",)

    def __init__(self, found: Iterable[Damage] = ()) -> None:
        self._found: dict[Damage, None] = {}
        self.extend(found)

    def record(self, page: int | None, problem: str, bucket: str = "") -> None:
        """Note one problem: ``page`` is the bbolt page (None when it is not one page's fault)."""
        self._found.setdefault(Damage(page, problem, bucket))

    def add(self, damage: Damage) -> None:
        self._found.setdefault(damage)

    def extend(self, found: Iterable[Damage]) -> None:
        for damage in found:
            self._found.setdefault(damage)

    @property
    def entries(self) -> tuple[Damage, ...]:
        return tuple(sorted(self._found, key=_order))

    @property
    def partial(self) -> bool:
        """True when something could not be read: every answer is then a lower bound."""
        return bool(self._found)

    def __iter__(self) -> Iterator[Damage]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self._found)

    def __repr__(self) -> str:
        return f"<DamageLog {len(self._found)} entries>"
