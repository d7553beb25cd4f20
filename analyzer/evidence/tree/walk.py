"""The one path walk, for a tree's own paths and for a node's host paths alike.

Component by component, like the kernel's: a link's target is pushed back onto the pending
components (an absolute one starting again from the root), so ".." after a link is taken from where
the link led (POSIX), and a loop is cut by a hop count, never by recursion. What a name is — an
entry, a directory that exists only because deeper mounts do, or nothing — is the caller's lookup:
``EvidenceTree`` looks in its own listing, ``NodeEvidence`` maps host paths through its mounts.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from analyzer.evidence.tree.entries import Entry, EntryKind, path_parts
from analyzer.records import datarecord


class Stop(Enum):
    """Why a walk ended before the end of the path."""

    NOTHING = "nothing"  # a component is not there
    NOT_A_DIRECTORY = "not-a-directory"  # a file or link with components after it
    LOOP = "loop"  # more links than the hop limit
    EMPTY_LINK = "empty-link"  # a link with an empty target names nothing (ENOENT on Linux)
    ABOVE_ROOT = "above-root"  # ".." above the root, where the walk does not clamp it


@datarecord
class Walked:
    """Where a walk got to: the components walked, the links followed (as paths of the walk's own
    namespace, in order), and why it stopped (None when it reached the end). ``at`` is the path of
    the component it stopped on."""

    parts: tuple[str, ...]
    links: tuple[str, ...]
    stop: Stop | None = None
    at: str | None = None


def walk_path(
    path: str,
    lookup: Callable[[str], Entry | None],
    *,
    follow_last: bool,
    max_hops: int,
    rooted: bool,
    implied: Callable[[str], bool] | None = None,
) -> Walked:
    """Walk ``path``; ``lookup`` answers for each path on the way ("a/b" or "/a/b" when ``rooted``).

    ``rooted`` walks host paths: "/.." is "/", as on a host. Otherwise ".." above the root stops the
    walk (a tree's evidence root has nothing above it). ``implied`` says whether a name that is not
    an entry is still a directory (one that only deeper mounts show).
    """
    pending = list(reversed(path_parts(path)))
    done: list[str] = []
    links: list[str] = []
    lead = "/" if rooted else ""
    while pending:
        name = pending.pop()
        if name == "..":
            if done:
                done.pop()
            elif not rooted:
                return Walked(tuple(done), tuple(links), Stop.ABOVE_ROOT, lead)
            continue
        candidate = lead + "/".join([*done, name])
        entry = lookup(candidate)
        if entry is None:
            if implied is not None and implied(candidate):
                done.append(name)
                continue
            return Walked(tuple(done), tuple(links), Stop.NOTHING, candidate)
        if entry.kind is EntryKind.SYMLINK and (pending or follow_last):
            links.append(candidate)
            if len(links) > max_hops:
                return Walked(tuple(done), tuple(links), Stop.LOOP, candidate)
            target = entry.link_target or ""
            if not target:
                return Walked(tuple(done), tuple(links), Stop.EMPTY_LINK, candidate)
            if target.startswith("/"):
                done = []
            pending.extend(reversed(path_parts(target)))
            continue
        if pending and entry.kind is not EntryKind.DIR:
            return Walked(tuple(done), tuple(links), Stop.NOT_A_DIRECTORY, candidate)
        done.append(name)
    return Walked(tuple(done), tuple(links))
