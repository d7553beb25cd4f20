"""NodeEvidence: one node's host filesystem inside an evidence tree, read through its mounts as host paths."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from analyzer.errors import EvidenceError
from analyzer.evidence.tree.walk import Stop, walk_path
from analyzer.evidence.tree import Entry, EntryKind, EvidenceTree
from analyzer.evidence.node.host_paths import HOST_ROOT, HostFile, IS_DIRECTORY, LEAVES_EVIDENCE, LINK_LOOP, MAYBE_MISSING, NOT_IN_EVIDENCE, HostWalk, clean_host_path, excluded_by, join_path, read_problem, path_inside, tree_location
from analyzer.evidence.node.mounts import Mount, map_through, path_under


class NodeEvidence:
    """One node's host filesystem inside an evidence tree. Build with ``find_nodes``.

    ``base`` is the node's root inside the tree ("" for the whole tree); ``host_root`` the tree
    directory that stands for the host's ``/`` when the evidence mirrors whole host paths.
    """

    def __init__(
        self,
        tree: EvidenceTree,
        *,
        input: str,
        base: str,
        mounts: tuple[Mount, ...],
        host_root: str | None,
        scrubbed: bool = False,
        exclusions: tuple[tuple[str, str], ...] = (),
        notes: tuple[str, ...] = (),
        fallback_name: str = "node",
    ) -> None:
        self.tree = tree
        self.input = input
        self.base = base
        self.mounts = tuple(sorted(mounts, key=lambda m: (-len(m.target), m.target)))
        self.host_root = host_root
        self.scrubbed = scrubbed
        self.exclusions = exclusions
        self.notes = notes
        # The name the input gives the node. Who the node is (read from its certificates and
        # manifests) is the wiring's decision (wiring/node_identity.py): the evidence offers files.
        self.fallback_name = fallback_name

    @property
    def partial(self) -> bool:
        return self.tree.partial

    def __repr__(self) -> str:
        return f"<NodeEvidence {self.fallback_name!r} input={self.input!r}>"

    # ---- mapping

    def tree_path_for(self, host_path: str) -> str | None:
        """The tree path a host path maps to through the mounts, without following any link."""
        host_path = clean_host_path(host_path)
        mapped = map_through(self.mounts, host_path)
        if mapped is not None:
            return mapped
        if self.host_root is not None:
            return join_path(self.host_root, host_path.lstrip("/"))
        return None

    def where(self, tree_path: str) -> str:
        """A tree path as a person finds it: ``<dir>/<path>`` or ``<archive>!<member>``."""
        return tree_location(self.tree, tree_path)

    def _implied_children(self, host_path: str) -> set[str]:
        """Names below ``host_path`` that exist only because a deeper mount does (``/var/lib``)."""
        names = set()
        for mount in self.mounts:
            rest = path_under(mount.target, host_path)
            if rest:
                names.add(rest.split("/")[0])
        return names

    def _stat(self, tree_path: str) -> Entry | None:
        try:
            return self.tree.stat(tree_path)
        except EvidenceError:
            return None

    def _walk(self, host_path: str, *, follow_last: bool) -> HostWalk:
        # The one path walk (tree/walk.py) over host paths: a link's target is read as a host path,
        # so it may lead into another mount.
        asked = clean_host_path(host_path)
        walked = walk_path(asked, self._lookup, follow_last=follow_last, max_hops=self.tree.limits.max_link_hops,
                           rooted=True, implied=lambda host: bool(self._implied_children(host)))
        chain = walked.links
        if walked.stop is Stop.NOTHING:
            assert walked.at is not None
            return HostWalk(None, None, False, chain, self._missing(asked, walked.at, self.tree_path_for(walked.at), list(chain)))
        if walked.stop is Stop.LOOP:
            return HostWalk(None, None, False, chain, LINK_LOOP)
        if walked.stop is not None:  # an empty link target, or a file where a directory was needed
            return HostWalk(None, None, False, chain, NOT_IN_EVIDENCE)
        final = "/" + "/".join(walked.parts)
        tree_path = self.tree_path_for(final)
        entry = self._stat(tree_path) if tree_path is not None else None
        if entry is None:  # "/" itself, or a directory only implied by deeper mounts
            return HostWalk(None, None, True, chain, None)
        return HostWalk(tree_path, entry, False, chain, None)

    def _lookup(self, host: str) -> Entry | None:
        tree_path = self.tree_path_for(host)
        return self._stat(tree_path) if tree_path is not None else None

    def _missing(self, asked: str, host: str, tree_path: str | None, chain: list[str]) -> str:
        """Why ``asked`` is not readable, the walk having found nothing at ``host``."""
        if tree_path is None and chain:
            return f"{LEAVES_EVIDENCE}: {chain[-1]} leads to {host}, which the evidence does not hold"
        for pattern, reason in self.exclusions:
            if pattern == HOST_ROOT or excluded_by(asked, pattern) or excluded_by(host, pattern):
                return f"{NOT_IN_EVIDENCE} ({reason})"
        return MAYBE_MISSING if self.tree.partial else NOT_IN_EVIDENCE

    # ---- the contract

    def read_host_file(self, host_path: str, limit: int | None = None) -> HostFile:
        """The bytes of a host file (its first ``limit`` bytes), following links as host paths;
        ``problem`` says why there are none."""
        host_path = clean_host_path(host_path)
        walk = self._walk(host_path, follow_last=True)
        if walk.entry is None or walk.tree_path is None:
            problem = IS_DIRECTORY if walk.virtual_dir else walk.problem
            return HostFile(host_path, None, walk.link_chain, None, problem, None)
        entry = walk.entry
        if entry.kind is EntryKind.DIR:
            return HostFile(host_path, walk.tree_path, walk.link_chain, None, IS_DIRECTORY, entry.mtime_utc)
        try:
            data: bytes | None = self.tree.read_bytes(walk.tree_path, limit)
            problem = None
        except EvidenceError as exc:
            data, problem = None, read_problem(exc, self.tree)
        return HostFile(host_path, walk.tree_path, walk.link_chain, data, problem, entry.mtime_utc, entry.size)

    def list_host_dir(self, host_path: str) -> list[str]:
        """Host paths of the entries (files, directories, links) directly in a host directory."""
        host_path = clean_host_path(host_path)
        walk = self._walk(host_path, follow_last=True)
        names = set(self._implied_children(host_path))
        if walk.tree_path is not None and walk.entry is not None and walk.entry.kind is EntryKind.DIR:
            try:
                names.update(entry.path.rpartition("/")[2] for entry in self.tree.iter_dir(walk.tree_path))
            except EvidenceError:
                pass
        elif not walk.virtual_dir:
            return []
        prefix = host_path.rstrip("/")
        return sorted(f"{prefix}/{name}" for name in names)

    def host_exists(self, host_path: str) -> bool:
        """Whether the host path names something in the evidence (links followed, like os.path.exists)."""
        walk = self._walk(host_path, follow_last=True)
        return walk.entry is not None or walk.virtual_dir

    def lstat_host(self, host_path: str) -> Entry | None:
        """The entry at a host path without following its last component (a link stays a link)."""
        walk = self._walk(host_path, follow_last=False)
        return walk.entry

    def iter_host_entries(self) -> Iterator[tuple[str, Entry]]:
        """Every entry under the node's mounted directories (not its whole host root), by host path."""
        seen: set[str] = set()
        found: list[tuple[str, Entry]] = []
        for mount in self.mounts:
            # A tree holding /etc/kubernetes at its root may hold another mount below it.
            deeper = [m.source for m in self.mounts if len(m.source) > len(mount.source)]
            try:
                entries = list(self.tree.iter_entries(mount.source))
            except (EvidenceError, ValueError):
                continue
            for entry in entries:
                if any(path_inside(entry.path, other) for other in deeper):
                    continue
                rest = path_under(entry.path, mount.source)
                host = posixpath.join(mount.target, rest) if rest else mount.target
                if host not in seen:
                    seen.add(host)
                    found.append((host, entry))
        yield from sorted(found, key=lambda item: item[0])
