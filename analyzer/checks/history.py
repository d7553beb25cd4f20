"""When did the material last change, and who changed it? From the surviving etcd revisions and
the managedFields entry written with each (the manager and its time).

History older than the last compaction is gone; a change before it is reported as such, never
guessed.
"""

from __future__ import annotations

from analyzer.checks.context import CheckContext, finding
from analyzer.model.findings import Finding, Severity
from analyzer.wiring.model import Change, Load, Material, State
from analyzer.reftime import format_utc


def _current_run(material: Material) -> list[Change]:
    """The puts since the object was last created: a delete ends what came before."""
    run: list[Change] = []
    for change in material.history:
        if change.event == "delete":
            run = []
        elif change.event == "put":
            run.append(change)
    return run


def introduced(material: Material) -> Change | None:
    """The revision that put the current value in place (the first of the last run of equal values)."""
    puts = _current_run(material)
    if not puts:
        return None
    current = puts[-1].value_sha256
    index = len(puts) - 1
    while index > 0 and puts[index - 1].value_sha256 == current:
        index -= 1
    return puts[index]


def previous(material: Material, change: Change) -> Change | None:
    """The put before ``change`` since the object was last created, when the surviving history still has it."""
    puts = _current_run(material)
    index = puts.index(change)
    return puts[index - 1] if index > 0 else None


def recreated(material: Material, change: Change) -> bool:
    """Whether ``change`` created the object again after a surviving delete."""
    puts = _current_run(material)
    return bool(puts) and puts[0] == change and any(c.event == "delete" for c in material.history)


def describe_change(material: Material) -> str | None:
    """One sentence: what the current value replaced, when, and by whom (sizes and digests only)."""
    change = introduced(material)
    if change is None:
        return None
    when = format_utc(change.time_utc) if change.time_utc else "an unknown time"
    before = previous(material, change)
    size = f"{change.value_size} bytes"
    if change.value_size is None:
        what = "was removed" + (f" (it held {before.value_size} bytes)" if before is not None and before.value_size is not None else "")
    elif before is not None and before.value_size is not None:
        verb = "emptied" if change.value_size == 0 else "changed"
        what = f"was {verb} from {before.value_size} to {size}"
    elif recreated(material, change):
        what = f"was re-created with {size}"
    else:
        what = f"was set to {size}"
    older = before is None and not material.history_complete and not recreated(material, change)
    caveat = " (the earliest surviving revision: it may be older)" if older else ""
    return f"{material.location.object} {material.location.data_key} {what} at {when} by {change.manager or 'an unknown manager'} (etcd revision {change.revision}){caveat}"


def check_history(load: Load, ctx: CheckContext) -> list[Finding]:
    """One note per load whose etcd material changed within the surviving history."""
    found = []
    seen = set()
    for material in load.history_materials():
        if material.state not in (State.PRESENT, State.EMPTY):
            continue
        change = introduced(material)
        if change is None or (previous(material, change) is None and not recreated(material, change)):
            continue  # unchanged in the surviving history: nothing to tell
        sentence = describe_change(material)
        if sentence is None or sentence in seen:
            continue
        seen.add(sentence)
        found.append(finding(
            load, "history.changed", Severity.INFO, f"{load.label}: {sentence.split(' (etcd')[0]}",
            f"{sentence}. Earlier revisions: " + "; ".join(
                f"{c.revision} by {c.manager or '?'}" for c in material.history[:-1]
            ) + ".",
            material=material,
        ))
    return found
