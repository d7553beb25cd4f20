"""One mount model: a directory seen at one path whose contents lie at another.

Two places need it and used to have a class each. A node's host directory ``/etc/kubernetes``
lies at some path of the evidence tree (``case/master-0/etc/kubernetes``, or the tree's root);
a static pod's in-pod path ``/etc/kubernetes/static-pod-certs`` lies at a host path
(``/etc/kubernetes/static-pod-resources/kube-apiserver-certs``, its ``hostPath`` volume). Both are
a ``mount(8)``: a ``source`` shown at a ``target``, and a path is mapped through the longest
target that holds it, as the kernel resolves nested mounts.
"""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.records import datarecord


@datarecord
class Mount:
    """``source`` is shown at ``target``: the evidence-tree path ("" is the tree's root) behind a host
    directory, or the host directory behind a path inside a pod."""

    target: str  # where the reader sees it: a host path, or a path inside a pod
    source: str  # where its contents lie: a tree path, or a host path
    reason: str = ""  # what showed it: "manifests/, pki/, admin.conf", or the pod's volume

    def map(self, path: str) -> str | None:
        """Where ``path`` (a path as the reader sees it) lies, or None when this mount does not hold it."""
        rest = path_under(path, self.target.rstrip("/") or "/")
        if rest is None:
            return None
        if not self.source:
            return rest
        base = self.source.rstrip("/")
        if not rest:
            return base or self.source
        return f"{base}/{rest}"


def map_through(mounts: Iterable[Mount], path: str) -> str | None:
    """Where ``path`` lies through the deepest mount holding it; None when none does."""
    for mount in sorted(mounts, key=lambda m: -len(m.target)):
        mapped = mount.map(path)
        if mapped is not None:
            return mapped
    return None


def path_under(path: str, prefix: str) -> str | None:
    """The rest of ``path`` below ``prefix`` ("" when equal), or None when it is not below it."""
    if prefix in ("", "/"):
        return path.lstrip("/")
    if path == prefix:
        return ""
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return None
