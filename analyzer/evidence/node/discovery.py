"""Finding nodes in a tree: where each host directory lies, by what it holds, never by its name alone."""

from __future__ import annotations

import posixpath
from dataclasses import field

from analyzer.evidence.tree import Entry, EntryKind, EvidenceTree
from analyzer.evidence.node.host import NodeEvidence
from analyzer.evidence.node.host_paths import ETC_KUBERNETES, HOST_ROOT, KUBELET_PKI, KUBESPRAY_ETCD_SSL, RKE2_CONFIG, RKE2_DATA, SOS_EXCLUSIONS, STATIC_KUBERESOURCES_NOTE, CONTROL_PLANE_MANIFEST, KUBEADM_PKI_FILES, KUBECONFIG_NAMES, KUBELET_PEM, KUBESPRAY_ETCD_PEM, REVISION_DIR, RKE_KUBECONFIG, SSL_FILES, STATIC_POD_DIR, join_path, path_inside, tree_location, TECTONIC_ETCD_SSL, input_stem
from analyzer.evidence.node.mounts import Mount
from analyzer.records import datarecord


# --------------------------------------------------------------------------- finding nodes


class _Listing:
    """The tree's directories and their children, read once from the listing (no link followed)."""

    def __init__(self, tree: EvidenceTree) -> None:
        self.children: dict[str, dict[str, Entry]] = {"": {}}
        for entry in tree.iter_entries():
            parent, _, name = entry.path.rpartition("/")
            self.children.setdefault(parent, {})[name] = entry
            if entry.kind is EntryKind.DIR:
                self.children.setdefault(entry.path, {})

    def dirs(self) -> list[str]:
        return sorted(self.children)

    def names(self, directory: str) -> dict[str, Entry]:
        return self.children.get(directory, {})

    def is_dir(self, path: str, name: str) -> bool:
        entry = self.names(path).get(name)
        return entry is not None and entry.kind is EntryKind.DIR


def _etc_kubernetes_markers(listing: _Listing, directory: str) -> tuple[int, list[str]]:
    """How strongly a directory looks like /etc/kubernetes, and what showed it."""
    names = listing.names(directory)
    score, shown = 0, list[str]()

    def sub(name: str) -> set[str]:
        return set(listing.names(join_path(directory, name))) if listing.is_dir(directory, name) else set()

    if any(CONTROL_PLANE_MANIFEST.match(name) for name in sub("manifests")):
        score, shown = score + 2, [*shown, "manifests/"]
    if sub("pki") & KUBEADM_PKI_FILES:
        score, shown = score + 2, [*shown, "pki/"]
    ssl = sub("ssl")
    if ssl & SSL_FILES or any(RKE_KUBECONFIG.match(name) for name in ssl):
        score, shown = score + 2, [*shown, "ssl/"]
    if any(STATIC_POD_DIR.match(name) for name in sub("static-pod-resources")):
        score, shown = score + 2, [*shown, "static-pod-resources/"]
    # bootkube/Tectonic: the pod-checkpointer's secrets, and the bootstrap control plane's manifests.
    for marker in ("checkpoint-secrets", "bootstrap-manifests"):
        if listing.is_dir(directory, marker):
            score, shown = score + 2, [*shown, f"{marker}/"]
    for name in sorted(names):
        if (name in KUBECONFIG_NAMES or name == "kubelet-ca.crt") and names[name].kind is not EntryKind.DIR:
            score, shown = score + 1, [*shown, name]
    return score, shown


def _kubelet_pki_markers(listing: _Listing, directory: str) -> list[str]:
    names = listing.names(directory)
    shown = sorted(name for name in names if KUBELET_PEM.match(name))[:2]
    if not shown and {"kubelet.crt", "kubelet.key"} <= set(names):
        shown = ["kubelet.crt", "kubelet.key"]
    return shown


def _kubespray_etcd_markers(listing: _Listing, directory: str) -> list[str]:
    names = listing.names(directory)
    members = sorted(name for name in names if KUBESPRAY_ETCD_PEM.match(name))
    return ["ca.pem", members[0]] if "ca.pem" in names and members else []


def _tectonic_etcd_markers(listing: _Listing, directory: str) -> list[str]:
    # Only at its host path: kubeadm's /etc/kubernetes/pki/etcd holds the same file names.
    if directory != "etc/ssl/etcd" and not directory.endswith("/etc/ssl/etcd"):
        return []
    names = listing.names(directory)
    pairs = sorted(name for name in ("server.crt", "peer.crt") if name in names)
    return ["ca.crt", pairs[0]] if "ca.crt" in names and pairs else []


def _rke2_data_markers(listing: _Listing, directory: str) -> list[str]:
    """/var/lib/rancher/rke2: server/tls with its CAs, or agent/pod-manifests with a control-plane pod."""
    shown = []
    tls = join_path(directory, "server/tls")
    if tls in listing.children and set(listing.names(tls)) & {"server-ca.crt", "client-ca.crt"}:
        shown.append("server/tls/")
    manifests = join_path(directory, "agent/pod-manifests")
    if manifests in listing.children and any(CONTROL_PLANE_MANIFEST.match(n) for n in listing.names(manifests)):
        shown.append("agent/pod-manifests/")
    return shown


def _rke2_config_markers(listing: _Listing, directory: str) -> list[str]:
    names = listing.names(directory)
    return ["rke2.yaml"] if "rke2.yaml" in names and names["rke2.yaml"].kind is not EntryKind.DIR else []


def _is_sos_root(listing: _Listing, directory: str) -> bool:
    names = listing.names(directory)
    return listing.is_dir(directory, "sos_commands") and (
        listing.is_dir(directory, "sos_reports") or listing.is_dir(directory, "sos_logs") or "version.txt" in names
    )


def _is_static_kuberesources(listing: _Listing, directory: str) -> bool:
    """Only revisioned ``<component>-pod-<N>`` dirs under static-pod-resources, nothing else (§2.6)."""
    names = set(listing.names(directory))
    revisions = set(listing.names(join_path(directory, "static-pod-resources")))
    return names == {"static-pod-resources"} and bool(revisions) and all(REVISION_DIR.match(n) for n in revisions)


def _suffix_root(path: str, host_dir: str) -> str | None:
    """``P`` when ``path`` is ``P/<host_dir>`` (host_dir without its leading slash)."""
    tail = host_dir.lstrip("/")
    if path == tail:
        return ""
    if path.endswith("/" + tail):
        return path[: -len(tail) - 1]
    return None


def _common_root(a: str, b: str) -> str:
    common = []
    for left, right in zip(a.split("/"), b.split("/"), strict=False):
        if left != right:
            break
        common.append(left)
    return "/".join(common)


@datarecord(frozen=False)
class _Draft:
    """A node while its mounts are being collected."""

    root: str
    host_root: str | None
    mounts: list[Mount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sos: bool = False
    static_kuberesources: bool = False

    def has(self, host_path: str) -> bool:
        return any(mount.target == host_path for mount in self.mounts)


def _place(drafts: list[_Draft], tree_dir: str, host_path: str, reason: str, where: str) -> None:
    """Attach a kubelet-pki or etcd-ssl directory to its node, or make it a node of its own."""
    if any(d.host_root is not None and tree_dir == join_path(d.host_root, host_path.lstrip("/")) for d in drafts):
        return  # already reached through a host root
    owners = [d for d in drafts if path_inside(tree_dir, d.root)]
    owner = max(owners, key=lambda d: len(d.root)) if owners else None
    if owner is None and len(drafts) == 1:
        # The only node in the tree owns it; its root widens to hold both (etc-kubernetes/ and
        # kubelet-pki/ side by side make one node rooted at their parent).
        owner = drafts[0]
        owner.root = _common_root(owner.root, tree_dir)
    if owner is None:
        root = _suffix_root(tree_dir, host_path)
        owner = _Draft(root if root is not None else tree_dir, root)
        drafts.append(owner)
    if owner.has(host_path):
        owner.notes.append(f"{where} also looks like {host_path}; ignored")
        return
    owner.mounts.append(Mount(host_path, tree_dir, reason))


# The data directories a copied directory is recognised as by its own files (each marker function
# names the files that gave it away), placed in this order.
_DATA_DIRS = (
    (_kubelet_pki_markers, KUBELET_PKI),
    (_kubespray_etcd_markers, KUBESPRAY_ETCD_SSL),
    (_rke2_data_markers, RKE2_DATA),
    (_tectonic_etcd_markers, TECTONIC_ETCD_SSL),
)


def find_nodes(tree: EvidenceTree, *, fallback_name: str | None = None) -> list[NodeEvidence]:
    """Every node whose host files the tree holds, found by content (rules in the module doc).

    ``fallback_name`` names a node the evidence does not name (default: the input's own name).
    """
    listing = _Listing(tree)
    directories = listing.dirs()
    drafts: list[_Draft] = []

    def where(tree_path: str) -> str:
        return tree_location(tree, tree_path)

    candidates = []
    for directory in directories:
        score, shown = _etc_kubernetes_markers(listing, directory)
        if score >= 2:
            host_root = _suffix_root(directory, ETC_KUBERNETES)
            if host_root is not None:
                root = host_root
            elif posixpath.basename(directory) == "kubernetes":
                root = posixpath.dirname(directory)
            else:
                root = directory
            candidates.append((root, host_root, directory, ", ".join(shown)))
    sos_roots = [d for d in directories if _is_sos_root(listing, d)]
    # Host-root candidates first, then by depth: the shallowest root of a branch is the node.
    candidates.sort(key=lambda c: (c[0].count("/") if c[0] else -1, c[1] is None, c[2]))
    for root, host_root, directory, reason in candidates:
        # A sosreport mirrors host paths, so its /etc/kubernetes is <sos root>/etc/kubernetes.
        sos_root = next((s for s in sos_roots if path_inside(directory, s)), None)
        holder = next((d for d in drafts if path_inside(root, d.root)), None)
        if holder is not None:
            holder.notes.append(f"{where(directory)} looks like another copy of /etc/kubernetes; ignored")
            continue
        draft = _Draft(root, host_root, sos=sos_root is not None)
        draft.mounts.append(Mount(ETC_KUBERNETES, directory, reason))
        draft.static_kuberesources = _is_static_kuberesources(listing, directory)
        drafts.append(draft)
    for sos_root in sos_roots:
        if not any(path_inside(sos_root, d.root) or path_inside(d.root, sos_root) for d in drafts):
            drafts.append(_Draft(sos_root, sos_root, sos=True))
    for directory in directories:
        for markers, host_dir in _DATA_DIRS:
            shown = markers(listing, directory)
            if shown:
                _place(drafts, directory, host_dir, ", ".join(shown), where(directory))
    for directory in directories:
        # After the data dirs, so that a tree of / holding both finds one node for them.
        shown = _rke2_config_markers(listing, directory)
        if shown and drafts:
            _place(drafts, directory, RKE2_CONFIG, ", ".join(shown), where(directory))
    return [_build(tree, listing, draft, fallback_name) for draft in sorted(drafts, key=lambda d: d.root)]


def _build(tree: EvidenceTree, listing: _Listing, draft: _Draft, fallback_name: str | None) -> NodeEvidence:
    mounts = list(draft.mounts)
    if draft.host_root is not None:
        # The well-known directories under a host root are listed as mounts too, for `ls`.
        for host_dir in (KUBELET_PKI, KUBESPRAY_ETCD_SSL, RKE2_DATA, RKE2_CONFIG):
            tree_dir = join_path(draft.host_root, host_dir.lstrip("/"))
            if not draft.has(host_dir) and tree_dir in listing.children and listing.names(tree_dir):
                mounts.append(Mount(host_dir, tree_dir, "below the host root"))
    exclusions: tuple[tuple[str, str], ...] = ()
    if draft.sos:
        exclusions = SOS_EXCLUSIONS
    elif draft.static_kuberesources:
        exclusions = ((HOST_ROOT, STATIC_KUBERESOURCES_NOTE),)
    node_input = tree_location(tree, draft.root)
    fallback = fallback_name or (input_stem(draft.root) if draft.root else input_stem(tree.source))
    return NodeEvidence(
        tree,
        input=node_input,
        base=draft.root,
        mounts=tuple(mounts),
        host_root=draft.host_root,
        scrubbed=draft.sos,
        exclusions=exclusions,
        notes=tuple(draft.notes),
        fallback_name=fallback,
    )
