"""The history a person reads: only the etcd objects that changed, one row per revision with who,
when and what (sizes and fingerprints of the data keys, never values), and the revision of the
last working pair marked."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from analyzer.records import datarecord


@datarecord
class Value:
    key: str
    size: int | None
    sha256: str | None
    changed: bool = False  # differs from the revision before (the first revision listed: False)


@datarecord
class Revision:
    revision: int
    time: str | None
    manager: str | None
    event: str
    values: tuple[Value, ...]
    last_good: bool


@datarecord
class ObjectHistory:
    name: str
    revisions: tuple[Revision, ...]


@datarecord
class ChangedHistory:
    changed: tuple[ObjectHistory, ...]
    unchanged: int  # objects with history that shows no change (one revision, never deleted)


def _changed(rows: list[dict[str, Any]]) -> bool:
    if any(row["event"] != "put" for row in rows):
        return True
    by_key: dict[str, set[Any]] = {}
    for row in rows:
        by_key.setdefault(row["data_key"], set()).add(row["sha256_prefix"])
    # A put that rewrote the object without changing these keys is not a change a person looks for.
    return any(len(values) > 1 for values in by_key.values())


def changed_history(rows: list[dict[str, Any]], last_good: dict[str, int]) -> ChangedHistory:
    """From the JSON report's ``history`` rows (sorted by object, key, revision)."""
    changed: list[ObjectHistory] = []
    unchanged = 0
    for name, group in groupby(sorted(rows, key=lambda r: (r["object"] or "", r["revision"], r["data_key"] or "")), key=lambda r: r["object"] or ""):
        object_rows = list(group)
        if not _changed(object_rows):
            unchanged += 1
            continue
        revisions = []
        before: dict[str, Any] = {}
        for revision, same in groupby(object_rows, key=lambda r: r["revision"]):
            items = list(same)
            first = items[0]
            values = tuple(Value(r["data_key"] or "", r["size"] if r["event"] == "put" else None, r["sha256_prefix"],
                                 r["data_key"] in before and before[r["data_key"]] != (r["event"], r["sha256_prefix"])) for r in items)
            before.update({r["data_key"]: (r["event"], r["sha256_prefix"]) for r in items})
            revisions.append(Revision(revision, first["time"], first["manager"], first["event"], values, last_good.get(name) == revision))
        changed.append(ObjectHistory(name, tuple(revisions)))
    return ChangedHistory(tuple(changed), unchanged)
