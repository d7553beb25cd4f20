"""must-gather and ``oc adm inspect`` output: the cluster's objects as YAML files, and pod logs.

Layout (openshift/oc pkg/cli/admin/inspect/util.go dirPathForInfo, filenameForInfo; pod.go):
- ``<root>/namespaces/<ns>/<group>/<resource>.yaml`` — a whole list (``core`` for the core group),
  e.g. ``namespaces/openshift-kube-apiserver/core/secrets.yaml``;
- ``<root>/namespaces/<ns>/<group>/<resource>/<name>.yaml`` — one object;
- ``<root>/cluster-scoped-resources/<group>/<resource>.yaml`` or ``…/<resource>/<name>.yaml``;
- ``<root>/namespaces/<ns>/pods/<pod>/<container>/<container>/logs/current.log`` and ``previous.log``,
  written with ``Timestamps: true``: each line starts with the kubelet's RFC3339Nano time.
must-gather (openshift/must-gather collection-scripts/gather) runs ``oc adm inspect`` into one
directory per image, so a must-gather holds one root per image directory (``oc adm must-gather
--image A --image B`` writes ``quay-io-…A/`` beside ``quay-io-…B/``, each collecting what its image's
scripts gather). Every root is read; an object collected by more than one root (or by several
must-gathers given together) is taken from the copy with the highest ``resourceVersion``, the
newest the API server served. Secrets are collected
with every value but ``tls.crt``, ``ca.crt`` and ``service-ca.crt`` replaced by ``<N> bytes long``
(inspect/secret.go elideSecret); that is decided when the values are read (gomodel.pem).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import field

from analyzer.evidence.tree import EntryKind, EvidenceTree
from analyzer.records import datarecord

_ROOT = re.compile(r"^(?:(?P<root>.*)/)?(?:namespaces/[^/]+/[^/]+/[^/]+\.yaml|namespaces/[^/]+/[^/]+/[^/]+/[^/]+\.yaml"
                   r"|cluster-scoped-resources/[^/]+/[^/]+(?:/[^/]+)?\.yaml)$")
_POD_LOG = re.compile(r"^namespaces/(?P<ns>[^/]+)/pods/(?P<pod>[^/]+)/(?P<container>[^/]+)/(?P=container)/logs/(?:current|previous)\.log$")
# The pod logs kforensic reads like --log: kube-apiserver's own container.
LOG_CONTAINERS = {("openshift-kube-apiserver", "kube-apiserver")}
MAX_RESOURCE_FILE = 256 << 20  # a secrets.yaml of a large namespace is tens of MiB at most


@datarecord
class MustGatherRoot:
    """One ``oc adm inspect`` directory inside a tree."""

    tree: EvidenceTree = field(repr=False, compare=False)
    root: str  # tree path of the directory that holds namespaces/ and cluster-scoped-resources/
    resource_files: tuple[str, ...]  # tree paths of the YAML files
    logs: tuple[str, ...]  # tree paths of the kube-apiserver pod logs

    @property
    def source(self) -> str:
        return f"{self.tree.source}:{self.root}" if self.root else self.tree.source


def _relative(path: str, root: str) -> str:
    return path[len(root) + 1 :] if root else path


def find_must_gathers(tree: EvidenceTree) -> list[MustGatherRoot]:
    """Every inspect root in a tree: the directories above ``namespaces/<ns>/<group>/…`` or
    ``cluster-scoped-resources/…`` files."""
    files: dict[str, list[str]] = {}
    entries = [entry.path for entry in tree.iter_entries() if entry.kind is EntryKind.FILE]
    for path in entries:
        match = _ROOT.match(path)
        if match is not None:
            files.setdefault(match.group("root") or "", []).append(path)
    roots = []
    for root, resource_files in sorted(files.items()):
        logs = []
        for path in entries:
            if root and not path.startswith(root + "/"):
                continue
            log = _POD_LOG.match(_relative(path, root))
            if log is not None and (log.group("ns"), log.group("container")) in LOG_CONTAINERS:
                logs.append(path)
        roots.append(MustGatherRoot(tree, root, tuple(sorted(resource_files)), tuple(sorted(logs))))
    return roots


def inside_must_gather(path: str, roots: list[MustGatherRoot]) -> bool:
    return any(root.root == "" or path.startswith(root.root + "/") for root in roots)


def iter_resource_files(root: MustGatherRoot) -> Iterator[tuple[str, str | None, str, str, bytes]]:
    """(tree path, namespace or None, group, resource, bytes) of each YAML file of a root."""
    for path in root.resource_files:
        parts = _relative(path, root.root).split("/")
        if parts[0] == "namespaces" and parts[2] == "pods":  # pod.go: namespaces/<ns>/pods/<pod>/<pod>.yaml
            namespace, group, resource = parts[1], "core", "pods"
        elif parts[0] == "namespaces":
            namespace, group, resource = parts[1], parts[2], parts[3].removesuffix(".yaml")
        else:
            namespace, group, resource = None, parts[1], parts[2].removesuffix(".yaml")
        yield path, namespace, group, resource, root.tree.read_bytes(path, MAX_RESOURCE_FILE)


def iter_all_resource_files(roots: Sequence[MustGatherRoot]) -> Iterator[tuple[str, str | None, str, str, bytes]]:
    """The resource files of every root, one root after another (image directories in name order)."""
    for root in roots:
        yield from iter_resource_files(root)


def roots_source(roots: Sequence[MustGatherRoot]) -> str:
    """How the set of roots is named in provenance: the one root, or every root joined."""
    return " + ".join(root.source for root in roots)


def newer_copy(candidate: dict[str, object], current: dict[str, object]) -> bool:
    """Whether a second copy of one object replaces the first: its metadata.resourceVersion is higher
    (etcd's modification revision, which the API server serves as an opaque but, in practice, numeric
    string); when either is not a number, the later root wins."""
    def version(obj: dict[str, object]) -> int | None:
        metadata = obj.get("metadata")
        text = str(metadata.get("resourceVersion") or "") if isinstance(metadata, dict) else ""
        return int(text) if text.isdigit() else None

    new, old = version(candidate), version(current)
    return new is None or old is None or new >= old
