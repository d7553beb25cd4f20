"""The entries of one tree, collected while its input is read: refusals, implicit directories, limits."""

from __future__ import annotations

from datetime import datetime

from analyzer.evidence.tree.entries import Entry, EntryKind, Limits, TreeProblem, link_leaves_root, member_path, printable, too_big


# --------------------------------------------------------------------------- the index


class TreeIndex:
    """The entries of one tree, collected while its input is read, and what was wrong with them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.entries: dict[str, Entry] = {}
        self.problems: list[TreeProblem] = []
        self.partial = False
        self._implicit: set[str] = set()  # directories known only from the paths beneath them
        self._members = 0

    def admit_member(self) -> bool:
        """Count one more member read; False once over the limit (the tree is then partial)."""
        self._members += 1
        if self._members <= self.limits.max_members:
            return True
        self.stop("", f"more than {self.limits.max_members} members; the rest were not read")
        return False

    def refuse(self, name: str, problem: str) -> None:
        self.problems.append(TreeProblem(printable(name), problem))

    def stop(self, name: str, problem: str) -> None:
        """Record why reading ended early; members after this point are missing."""
        self.refuse(name, problem)
        self.partial = True

    def add(
        self,
        name: str,
        kind: EntryKind,
        *,
        size: int = 0,
        link_target: str | None = None,
        mode: int | None = None,
        mtime_utc: datetime | None = None,
    ) -> str | None:
        """Add one member by its stored name; its tree path, or None when it was refused."""
        path, refusal = member_path(name)
        if refusal is not None:
            self.refuse(name, f"{refusal}; skipped")
            return None
        if not path:  # "./": the archive's own root
            return None
        blocker = self._add_parents(path)
        if blocker is not None:
            # Extracting this would write through a link or over a file (the classic tar attack).
            self.refuse(name, f"parent {blocker.path} is a {blocker.kind.value}; skipped")
            return None
        existing = self.entries.get(path)
        entry = Entry(
            path, kind, size if kind is EntryKind.FILE else 0, link_target, mode, mtime_utc
        )
        if existing is not None:
            if kind is EntryKind.DIR and existing.kind is EntryKind.DIR:
                if path in self._implicit:
                    self._implicit.discard(path)
                    self.entries[path] = entry
                return path
            self.refuse(name, "duplicate member name; the first one is kept")
            return None
        self.entries[path] = entry
        if kind is EntryKind.FILE and size > self.limits.max_member_bytes:
            self.refuse(path, f"{too_big(size, self.limits)}; contents not read")
        if kind is EntryKind.SYMLINK and link_leaves_root(path, link_target or ""):
            self.refuse(
                path,
                f"symbolic link to {printable(link_target or '')} leaves the evidence; "
                "not followed",
            )
        return path

    def _add_parents(self, path: str) -> Entry | None:
        """Create the implicit directories above path; the first non-directory in the way."""
        parent = self.entries.get(path.rpartition("/")[0])
        if parent is not None:  # the common case: its own ancestors were made when it was added
            return None if parent.kind is EntryKind.DIR else parent
        parts = path.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            existing = self.entries.get(ancestor)
            if existing is None:
                self.entries[ancestor] = Entry(ancestor, EntryKind.DIR, 0, None, None, None)
                self._implicit.add(ancestor)
            elif existing.kind is not EntryKind.DIR:
                return existing
        return None
