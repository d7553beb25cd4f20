"""The node model: one master's host filesystem, found inside whatever tree the customer sent.

The same host file ``/etc/kubernetes/pki/ca.crt`` reaches us at ``etc/kubernetes/pki/ca.crt`` (a
tar of ``/``), ``kubernetes/pki/ca.crt`` (``tar -C /etc kubernetes``), ``pki/ca.crt`` (a tar of
the directory's contents), ``sosreport-<host>-<date>/etc/kubernetes/pki/ca.crt`` or, for
OpenShift's ``static_kuberesources`` tarball (``tar -C /etc/kubernetes``, layouts §2.6),
``static-pod-resources/...``. ``find_nodes`` finds where each host directory lies by what it
holds (never by its name alone) and ``NodeEvidence`` maps host paths through those mount points,
so that the wiring layer asks for ``/etc/kubernetes/pki/ca.crt`` and never learns the layout.

Mount-point rules (layouts §1.1, §1.5, §1.8, §2.1):

* **/etc/kubernetes** is a directory holding at least two points of evidence: a ``manifests/``
  with a control-plane manifest (2), a ``pki/`` with kubeadm's CA or service-account files (2), an
  ``ssl/`` with Kubespray's or RKE's certificates (2), a ``static-pod-resources/`` with OpenShift's
  ``<component>-pod-<N>`` or ``<component>-certs`` directories (2), and one point per kubeconfig
  kubeadm or OpenShift writes there (``admin.conf``, ``kubelet.conf``, ``kubeconfig``, ...) or
  ``kubelet-ca.crt``.
* Where that directory is ``<P>/etc/kubernetes``, ``<P>`` is the node's host root: every host path
  maps below it. A sosreport root (``sos_commands/`` beside ``sos_reports/``, ``sos_logs/`` or
  ``version.txt``) is a host root too, and its node is scrubbed.
* **/var/lib/kubelet/pki** is a directory holding ``kubelet-client-current.pem``, a dated
  ``kubelet-(client|server)-YYYY-MM-DD-HH-MM-SS.pem``, or ``kubelet.crt`` with ``kubelet.key``;
  **/etc/ssl/etcd/ssl** (Kubespray's etcd) one holding ``ca.pem`` and ``member-``, ``admin-`` or
  ``node-<host>.pem``. Outside a host root they are attached to the node whose root contains them
  (or the only node), so a tree holding ``etc-kubernetes/`` and ``kubelet-pki/`` still resolves
  ``kubelet-client-current.pem``.
* A second ``/etc/kubernetes`` inside a node (``etc/kubernetes.bak`` made before a renewal) is a
  copy, named in ``notes`` and ignored; separate node roots side by side (``case/master-0/``,
  ``case/master-1/``) are separate nodes.

Symbolic links found inside the evidence are followed with their targets read as *host* paths
(an absolute target starts again from the host's ``/``), one component at a time as the kernel
does, so ``kubelet-client-current.pem → /var/lib/kubelet/pki/kubelet-client-<date>.pem`` resolves
through whichever mount holds the dated file. A target no mount covers "leaves the evidence".

Node names come, in this order, from the kubelet's client certificate (``CN=system:node:<name>``,
the node's identity), the ``system:node:<name>`` user of ``kubelet.conf`` (sos keeps user names),
the etcd member name (``--name`` of the kubeadm or OpenShift etcd manifest), the sosreport's
``hostname`` or ``/etc/hostname``, and last the input's own name. ``name_source`` says which.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cryptography.x509.oid import NameOID

from analyzer.decode.kubeconfig import load_kubeconfig
from analyzer.decode.manifest import load_static_pod
from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.keys import load_certificates
from analyzer.gomodel.pem import inspect_material
from analyzer.errors import DecodeError, EvidenceError
from analyzer.evidence.tree import Entry, EntryKind, EvidenceTree, path_parts

ETC_KUBERNETES = "/etc/kubernetes"
KUBELET_PKI = "/var/lib/kubelet/pki"
KUBESPRAY_ETCD_SSL = "/etc/ssl/etcd/ssl"
# Tectonic's etcd nodes (etcd-member.service, tectonic-installer modules/ignition dropins/40-etcd-cluster.conf):
# the TLS assets unpacked straight into /etc/ssl/etcd (ca.crt, server.*, peer.*, client.*).
TECTONIC_ETCD_SSL = "/etc/ssl/etcd"
# RKE2 keeps nothing in /etc/kubernetes: its data dir and its config dir (rancher/rke2 docs and
# pkg/podtemplate/spec.go; k3s pkg/daemons/control/deps FillRuntimeCerts for the file names).
RKE2_DATA = "/var/lib/rancher/rke2"
RKE2_CONFIG = "/etc/rancher/rke2"
HOST_ROOT = "/"

# Why a HostFile has no data.
NOT_IN_EVIDENCE = "not in the evidence"
MAYBE_MISSING = "the evidence is partial: the file may be missing"
LEAVES_EVIDENCE = "symlink leaves the evidence"
IS_DIRECTORY = "is a directory, not a file"
LINK_LOOP = "too many levels of symbolic links"

_CONTROL_PLANE_MANIFEST = re.compile(r"^(kube-apiserver|kube-controller-manager|kube-scheduler|etcd)(-pod)?\.ya?ml$")
_KUBEADM_PKI_FILES = frozenset({"ca.crt", "ca.key", "apiserver.crt", "sa.pub", "sa.key", "front-proxy-ca.crt"})
_SSL_FILES = frozenset({"ca.crt", "apiserver.crt", "kube-ca.pem", "kube-apiserver.pem"})
_RKE_KUBECONFIG = re.compile(r"^kubecfg-.+\.ya?ml$")
_STATIC_POD_DIR = re.compile(r"^[a-z0-9-]+-(pod-\d+|certs)$")
_REVISION_DIR = re.compile(r"^[a-z0-9-]+-pod-\d+$")
_KUBECONFIG_NAMES = frozenset(
    {"admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf",
     "scheduler.conf", "kubeconfig"}
)  # fmt: skip
_KUBELET_PEM = re.compile(r"^kubelet-(client|server)-(current|\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)\.pem$")
_KUBELET_CLIENT_DATED = re.compile(r"^kubelet-client-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$")
_KUBESPRAY_ETCD_PEM = re.compile(r"^(member|admin|node)-.+\.pem$")
_SHELL_VARIABLE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
_NODE_USER = "system:node:"
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar", ".zip")

# Where sos does not collect key material (sosreport/sos: report/plugins/kubernetes.py
# add_forbidden_path("/etc/kubernetes/pki"); openshift.py forbids /etc/kubernetes/*.crt and *.key,
# read here as one directory level, as a shell glob).
SOS_EXCLUSIONS: tuple[tuple[str, str], ...] = (
    ("/etc/kubernetes/pki/**", "sos's kubernetes plugin does not collect /etc/kubernetes/pki"),
    ("/etc/kubernetes/*.crt", "sos's openshift plugin does not collect /etc/kubernetes/*.crt"),
    ("/etc/kubernetes/*.key", "sos's openshift plugin does not collect /etc/kubernetes/*.key"),
)
STATIC_KUBERESOURCES_NOTE = (
    "cluster-backup.sh's static_kuberesources tarball holds only static-pod-resources/<component>-pod-<N>"
)


class Distribution(StrEnum):
    KUBEADM = "kubeadm"
    OPENSHIFT = "openshift"
    KUBESPRAY = "kubespray"
    RKE = "rke"
    RKE2 = "rke2"
    SELF_HOSTED = "self-hosted"  # bootkube / Tectonic
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Mount:
    """Host directory ``host_path`` lies at ``tree_path`` in the evidence (``""`` is its root)."""

    host_path: str
    tree_path: str
    reason: str  # what in the directory showed it: "manifests/, pki/, admin.conf"


@dataclass(frozen=True)
class HostFile:
    """One file as the node's own host sees it.

    ``tree_path`` is where it lies in the evidence tree after every link was followed (None when
    it is not there); ``link_chain`` the host paths of the links followed, in order. ``data`` is
    None exactly when ``problem`` says why.
    """

    host_path: str
    tree_path: str | None
    link_chain: tuple[str, ...]
    data: bytes | None = field(repr=False)
    problem: str | None
    mtime_utc: datetime | None
    size: int | None = None

    @property
    def readable(self) -> bool:
        return self.data is not None


@dataclass(frozen=True)
class _Walk:
    """Where a host path led: a tree entry, a directory only implied by deeper mounts, or nowhere."""

    tree_path: str | None
    entry: Entry | None
    virtual_dir: bool
    link_chain: tuple[str, ...]
    problem: str | None


def _join(*parts: str) -> str:
    return "/".join(part for part in parts if part)


def _clean_host_path(host_path: str) -> str:
    if not host_path.startswith("/"):
        raise ValueError(f"host paths are absolute: {host_path!r}")
    return "/" + "/".join(path_parts(host_path))


def _under(path: str, prefix: str) -> str | None:
    """The rest of ``path`` below ``prefix`` ("" when equal), or None when it is not below it."""
    if prefix in ("", "/"):
        return path.lstrip("/")
    if path == prefix:
        return ""
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return None


def _excluded(host_path: str, pattern: str) -> bool:
    if pattern.endswith("/**"):
        return _under(host_path, pattern[:-3]) is not None
    directory, _, glob = pattern.rpartition("/")
    parent, _, name = host_path.rpartition("/")
    return parent == directory and re.fullmatch(re.escape(glob).replace(r"\*", "[^/]*"), name) is not None


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
        self.mounts = tuple(sorted(mounts, key=lambda m: (-len(m.host_path), m.host_path)))
        self.host_root = host_root
        self.scrubbed = scrubbed
        self.exclusions = exclusions
        self.notes = notes
        self.name, self.name_source = _find_name(self, fallback_name)
        self.distribution = _find_distribution(self)

    @property
    def partial(self) -> bool:
        return self.tree.partial

    def __repr__(self) -> str:
        return f"<NodeEvidence {self.name!r} {self.distribution.value} input={self.input!r}>"

    # ---- mapping

    def tree_path_for(self, host_path: str) -> str | None:
        """The tree path a host path maps to through the mounts, without following any link."""
        host_path = _clean_host_path(host_path)
        for mount in self.mounts:
            rest = _under(host_path, mount.host_path)
            if rest is not None:
                return _join(mount.tree_path, rest)
        if self.host_root is not None:
            return _join(self.host_root, host_path.lstrip("/"))
        return None

    def where(self, tree_path: str) -> str:
        """A tree path as a person finds it: ``<dir>/<path>`` or ``<archive>!<member>``."""
        return tree_location(self.tree, tree_path)

    def _implied_children(self, host_path: str) -> set[str]:
        """Names below ``host_path`` that exist only because a deeper mount does (``/var/lib``)."""
        names = set()
        for mount in self.mounts:
            rest = _under(mount.host_path, host_path)
            if rest:
                names.add(rest.split("/")[0])
        return names

    def _stat(self, tree_path: str) -> Entry | None:
        try:
            return self.tree.stat(tree_path)
        except EvidenceError:
            return None

    def _walk(self, host_path: str, *, follow_last: bool) -> _Walk:
        # Component by component, like the kernel: a link's target is pushed back onto the pending
        # components and read as a host path, so it may lead into another mount.
        asked = _clean_host_path(host_path)
        pending = list(reversed(path_parts(asked)))
        done: list[str] = []
        chain: list[str] = []
        while pending:
            name = pending.pop()
            if name == "..":
                if done:  # "/.." is "/"
                    done.pop()
                continue
            host = "/" + "/".join([*done, name])
            tree_path = self.tree_path_for(host)
            entry = self._stat(tree_path) if tree_path is not None else None
            if entry is None:
                if self._implied_children(host):
                    done.append(name)
                    continue
                return _Walk(None, None, False, tuple(chain), self._missing(asked, host, tree_path, chain))
            if entry.kind is EntryKind.SYMLINK and (pending or follow_last):
                chain.append(host)
                if len(chain) > self.tree.limits.max_link_hops:
                    return _Walk(None, None, False, tuple(chain), LINK_LOOP)
                target = entry.link_target or ""
                if not target:
                    return _Walk(None, None, False, tuple(chain), NOT_IN_EVIDENCE)
                if target.startswith("/"):
                    done = []
                pending.extend(reversed(path_parts(target)))
                continue
            if pending and entry.kind is not EntryKind.DIR:
                return _Walk(None, None, False, tuple(chain), NOT_IN_EVIDENCE)
            done.append(name)
        final = "/" + "/".join(done)
        tree_path = self.tree_path_for(final)
        entry = self._stat(tree_path) if tree_path is not None else None
        if entry is None:  # "/" itself, or a directory only implied by deeper mounts
            return _Walk(None, None, True, tuple(chain), None)
        return _Walk(tree_path, entry, False, tuple(chain), None)

    def _missing(self, asked: str, host: str, tree_path: str | None, chain: list[str]) -> str:
        """Why ``asked`` is not readable, the walk having found nothing at ``host``."""
        if tree_path is None and chain:
            return f"{LEAVES_EVIDENCE}: {chain[-1]} leads to {host}, which the evidence does not hold"
        for pattern, reason in self.exclusions:
            if pattern == HOST_ROOT or _excluded(asked, pattern) or _excluded(host, pattern):
                return f"{NOT_IN_EVIDENCE} ({reason})"
        return MAYBE_MISSING if self.tree.partial else NOT_IN_EVIDENCE

    # ---- the contract

    def read_host_file(self, host_path: str, limit: int | None = None) -> HostFile:
        """The bytes of a host file (its first ``limit`` bytes), following links as host paths;
        ``problem`` says why there are none."""
        host_path = _clean_host_path(host_path)
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
            data, problem = None, _read_problem(exc, self.tree)
        return HostFile(host_path, walk.tree_path, walk.link_chain, data, problem, entry.mtime_utc, entry.size)

    def list_host_dir(self, host_path: str) -> list[str]:
        """Host paths of the entries (files, directories, links) directly in a host directory."""
        host_path = _clean_host_path(host_path)
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
            deeper = [m.tree_path for m in self.mounts if len(m.tree_path) > len(mount.tree_path)]
            try:
                entries = list(self.tree.iter_entries(mount.tree_path))
            except (EvidenceError, ValueError):
                continue
            for entry in entries:
                if any(path_inside(entry.path, other) for other in deeper):
                    continue
                rest = _under(entry.path, mount.tree_path)
                host = posixpath.join(mount.host_path, rest) if rest else mount.host_path
                if host not in seen:
                    seen.add(host)
                    found.append((host, entry))
        yield from sorted(found, key=lambda item: item[0])


def tree_location(tree: EvidenceTree, tree_path: str) -> str:
    """A tree path as a person finds it: ``<directory>/<path>`` or ``<archive>!<member>``."""
    if not tree_path:
        return tree.source
    separator = "/" if tree.format == "directory" else "!"
    return f"{tree.source.rstrip('/')}{separator}{tree_path}"


def _read_problem(exc: EvidenceError, tree: EvidenceTree) -> str:
    too_big = re.match(r"(\d+) bytes, more than the", exc.problem)
    if too_big:
        return f"larger than the {tree.limits.max_member_bytes} bytes read from one file ({too_big.group(1)} bytes)"
    return exc.problem


# --------------------------------------------------------------------------- names


def _certificate_node_name(data: bytes | None) -> str | None:
    if data is None or inspect_material(data).state is not MaterialState.PRESENT:
        return None
    try:
        certificate = load_certificates(data)[0]
        attributes = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (DecodeError, ValueError):
        return None
    for attribute in attributes:
        value = attribute.value if isinstance(attribute.value, str) else ""
        if value.startswith(_NODE_USER) and len(value) > len(_NODE_USER):
            return value[len(_NODE_USER) :]
    return None


def _name_from_kubelet_pem(node: NodeEvidence) -> tuple[str, str] | None:
    current = node.read_host_file(f"{KUBELET_PKI}/kubelet-client-current.pem")
    candidates = [current] if current.readable else []
    dated = [p for p in node.list_host_dir(KUBELET_PKI) if _KUBELET_CLIENT_DATED.match(p.rpartition("/")[2])]
    candidates += [node.read_host_file(path) for path in sorted(dated, reverse=True)]  # newest first
    for found in candidates:
        name = _certificate_node_name(found.data)
        if name:
            return name, f"kubelet client certificate {found.host_path} (CN {_NODE_USER}{name})"
    return None


def _name_from_rke2_agent(node: NodeEvidence) -> tuple[str, str] | None:
    """RKE2's kubelet client certificate (agent/client-kubelet.crt, CN system:node:<name>)."""
    found = node.read_host_file(f"{RKE2_DATA}/agent/client-kubelet.crt")
    name = _certificate_node_name(found.data)
    return (name, f"kubelet client certificate {found.host_path} (CN {_NODE_USER}{name})") if name else None


def _name_from_kubelet_conf(node: NodeEvidence) -> tuple[str, str] | None:
    # kubeadm's kubelet.conf; bootkube/Tectonic nodes keep the kubelet's kubeconfig as /etc/kubernetes/kubeconfig.
    found = node.read_host_file(f"{ETC_KUBERNETES}/kubelet.conf")
    if found.data is None:
        found = node.read_host_file(f"{ETC_KUBERNETES}/kubeconfig")
    if found.data is None:
        return None
    try:
        config = load_kubeconfig(found.data, found.host_path)
    except DecodeError:
        return None
    if config.user is None:
        return None
    client = config.user.client_certificate
    name = _certificate_node_name(client.data) if client.data_state is MaterialState.PRESENT else None
    if name:
        return name, f"client certificate in {found.host_path} (CN {_NODE_USER}{name})"
    if config.user.name.startswith(_NODE_USER) and len(config.user.name) > len(_NODE_USER):
        return config.user.name[len(_NODE_USER) :], f'user "{config.user.name}" of {found.host_path}'
    return None


def _etcd_manifests(node: NodeEvidence) -> list[str]:
    paths = [f"{ETC_KUBERNETES}/manifests/etcd.yaml", f"{ETC_KUBERNETES}/manifests/etcd-pod.yaml"]
    revisions = [
        p for p in node.list_host_dir(f"{ETC_KUBERNETES}/static-pod-resources")
        if re.fullmatch(r"etcd-pod-\d+", p.rpartition("/")[2])
    ]  # fmt: skip
    revisions.sort(key=lambda p: int(p.rpartition("-")[2]), reverse=True)
    return paths + [f"{p}/etcd-pod.yaml" for p in revisions]


def _name_from_etcd_manifest(node: NodeEvidence) -> tuple[str, str] | None:
    for path in _etcd_manifests(node):
        found = node.read_host_file(path)
        if found.data is None:
            continue
        try:
            pod = load_static_pod(found.data, "etcd")
            env = _container_env(found.data, "etcd")
        except DecodeError:
            continue
        name = pod.flags.find("name")
        variable = _SHELL_VARIABLE.match(name or "")
        if variable:  # OpenShift: --name=${NODE_<node>_ETCD_NAME}, set in the container's env
            name = env.get(variable.group(1))
        if name:
            return name, f"etcd member name (--name) in {path}"
        if env.get("NODE_NAME"):
            return env["NODE_NAME"], f"NODE_NAME of the etcd container in {path}"
    return None


def _container_env(data: bytes, container: str) -> dict[str, str]:
    document = load_yaml_mapping(data, "static pod manifest")
    containers = (document.get("spec") or {}).get("containers") or []
    for entry in containers if isinstance(containers, list) else []:
        if isinstance(entry, dict) and entry.get("name") == container:
            env = entry.get("env") or []
            return {
                str(item["name"]): str(item["value"])
                for item in (env if isinstance(env, list) else [])
                if isinstance(item, dict) and "name" in item and isinstance(item.get("value"), str | int)
            }
    return {}


def _name_from_hostname(node: NodeEvidence) -> tuple[str, str] | None:
    candidates = []
    if node.scrubbed:
        candidates.append("/hostname")  # sos writes `hostname` at the report's root
    candidates.append("/etc/hostname")
    for path in candidates:
        found = node.read_host_file(path)
        if found.data is None or len(found.data) > 256:
            continue
        text = found.data.decode("utf-8", "replace").strip()
        if text and re.fullmatch(r"[A-Za-z0-9._-]+", text):
            label = "the sosreport's hostname" if path == "/hostname" else "/etc/hostname"
            return text, label
    return None


def input_stem(source: str) -> str:
    """A name from an input path: ``case/master-1.tar.gz`` gives ``master-1``."""
    name = posixpath.basename(source.rstrip("/").rpartition("!")[2].rstrip("/")) or source
    lowered = name.lower()
    for suffix in _ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def _find_name(node: NodeEvidence, fallback: str) -> tuple[str, str]:
    for finder in (_name_from_kubelet_pem, _name_from_rke2_agent, _name_from_kubelet_conf, _name_from_etcd_manifest,
                   _name_from_hostname):
        found = finder(node)
        if found:
            return found
    return fallback, "the input's name (no node name found in the evidence)"


# --------------------------------------------------------------------------- distribution


def _find_distribution(node: NodeEvidence) -> Distribution:
    def names(host_dir: str) -> set[str]:
        return {path.rpartition("/")[2] for path in node.list_host_dir(host_dir)}

    if node.host_exists(f"{RKE2_DATA}/server") or node.host_exists(f"{RKE2_DATA}/agent"):
        return Distribution.RKE2
    if node.host_exists(f"{ETC_KUBERNETES}/checkpoint-secrets") or node.host_exists(f"{ETC_KUBERNETES}/bootstrap-manifests"):
        return Distribution.SELF_HOSTED
    kubernetes = names(ETC_KUBERNETES)
    manifests = names(f"{ETC_KUBERNETES}/manifests")
    ssl = names(f"{ETC_KUBERNETES}/ssl")
    if "static-pod-resources" in kubernetes or any(name.endswith("-pod.yaml") for name in manifests):
        return Distribution.OPENSHIFT
    if "kube-ca.pem" in ssl or any(_RKE_KUBECONFIG.match(name) for name in ssl):
        return Distribution.RKE
    if ssl & {"ca.crt", "apiserver.crt"} or node.host_exists(KUBESPRAY_ETCD_SSL):
        return Distribution.KUBESPRAY
    if manifests or "pki" in kubernetes or kubernetes & {"admin.conf", "kubelet.conf", "super-admin.conf"}:
        return Distribution.KUBEADM
    return Distribution.UNKNOWN


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
        return set(listing.names(_join(directory, name))) if listing.is_dir(directory, name) else set()

    if any(_CONTROL_PLANE_MANIFEST.match(name) for name in sub("manifests")):
        score, shown = score + 2, [*shown, "manifests/"]
    if sub("pki") & _KUBEADM_PKI_FILES:
        score, shown = score + 2, [*shown, "pki/"]
    ssl = sub("ssl")
    if ssl & _SSL_FILES or any(_RKE_KUBECONFIG.match(name) for name in ssl):
        score, shown = score + 2, [*shown, "ssl/"]
    if any(_STATIC_POD_DIR.match(name) for name in sub("static-pod-resources")):
        score, shown = score + 2, [*shown, "static-pod-resources/"]
    # bootkube/Tectonic: the pod-checkpointer's secrets, and the bootstrap control plane's manifests.
    for marker in ("checkpoint-secrets", "bootstrap-manifests"):
        if listing.is_dir(directory, marker):
            score, shown = score + 2, [*shown, f"{marker}/"]
    for name in sorted(names):
        if (name in _KUBECONFIG_NAMES or name == "kubelet-ca.crt") and names[name].kind is not EntryKind.DIR:
            score, shown = score + 1, [*shown, name]
    return score, shown


def _kubelet_pki_markers(listing: _Listing, directory: str) -> list[str]:
    names = listing.names(directory)
    shown = sorted(name for name in names if _KUBELET_PEM.match(name))[:2]
    if not shown and {"kubelet.crt", "kubelet.key"} <= set(names):
        shown = ["kubelet.crt", "kubelet.key"]
    return shown


def _kubespray_etcd_markers(listing: _Listing, directory: str) -> list[str]:
    names = listing.names(directory)
    members = sorted(name for name in names if _KUBESPRAY_ETCD_PEM.match(name))
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
    tls = _join(directory, "server/tls")
    if tls in listing.children and set(listing.names(tls)) & {"server-ca.crt", "client-ca.crt"}:
        shown.append("server/tls/")
    manifests = _join(directory, "agent/pod-manifests")
    if manifests in listing.children and any(_CONTROL_PLANE_MANIFEST.match(n) for n in listing.names(manifests)):
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
    revisions = set(listing.names(_join(directory, "static-pod-resources")))
    return names == {"static-pod-resources"} and bool(revisions) and all(_REVISION_DIR.match(n) for n in revisions)


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


def path_inside(path: str, root: str) -> bool:
    """Whether a tree path is ``root`` or below it; the root "" holds everything."""
    return root == "" or path == root or path.startswith(root + "/")


@dataclass
class _Draft:
    """A node while its mounts are being collected."""

    root: str
    host_root: str | None
    mounts: list[Mount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sos: bool = False
    static_kuberesources: bool = False

    def has(self, host_path: str) -> bool:
        return any(mount.host_path == host_path for mount in self.mounts)


def _place(drafts: list[_Draft], tree_dir: str, host_path: str, reason: str, where: str) -> None:
    """Attach a kubelet-pki or etcd-ssl directory to its node, or make it a node of its own."""
    if any(d.host_root is not None and tree_dir == _join(d.host_root, host_path.lstrip("/")) for d in drafts):
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
        shown = _kubelet_pki_markers(listing, directory)
        if shown:
            _place(drafts, directory, KUBELET_PKI, ", ".join(shown), where(directory))
        shown = _kubespray_etcd_markers(listing, directory)
        if shown:
            _place(drafts, directory, KUBESPRAY_ETCD_SSL, ", ".join(shown), where(directory))
        shown = _rke2_data_markers(listing, directory)
        if shown:
            _place(drafts, directory, RKE2_DATA, ", ".join(shown), where(directory))
        shown = _tectonic_etcd_markers(listing, directory)
        if shown:
            _place(drafts, directory, TECTONIC_ETCD_SSL, ", ".join(shown), where(directory))
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
            tree_dir = _join(draft.host_root, host_dir.lstrip("/"))
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


# ---------------------------------------------------------------------------- one node, several inputs

# Files compared when two inputs describe one node; a bigger one is compared by size alone.
COMPARE_LIMIT = 4 << 20


class MergedNode:
    """One node described by several inputs that agree wherever they overlap (a copy of
    /etc/kubernetes and a copy of /var/lib/kubelet/pki, or the same tarball sent twice).

    Reads go to the members in the order of their input names, so the answer never depends on the
    order of the command line; as the members agree, only provenance could differ, and the merged
    node names every input.
    """

    def __init__(self, members: list[NodeEvidence]) -> None:
        self.members = sorted(members, key=lambda n: n.input)
        first = self.members[0]
        self.name, self.name_source = first.name, first.name_source
        known = [m.distribution for m in self.members if m.distribution is not Distribution.UNKNOWN]
        self.distribution = known[0] if known else Distribution.UNKNOWN
        self.input = " + ".join(m.input for m in self.members)
        self.scrubbed = any(m.scrubbed for m in self.members)
        self.notes = tuple(dict.fromkeys(note for m in self.members for note in m.notes))
        self.mounts = tuple(dict.fromkeys(mount for m in self.members for mount in m.mounts))

    @property
    def partial(self) -> bool:
        return any(m.partial for m in self.members)

    def __repr__(self) -> str:
        return f"<MergedNode {self.name!r} {self.distribution.value} input={self.input!r}>"

    def read_host_file(self, host_path: str, limit: int | None = None) -> HostFile:
        answers = [m.read_host_file(host_path, limit) for m in self.members]
        return next((a for a in answers if a.data is not None), None) or next(
            (a for a in answers if a.problem not in (None, NOT_IN_EVIDENCE)), answers[0])

    def list_host_dir(self, host_path: str) -> list[str]:
        return sorted({path for m in self.members for path in m.list_host_dir(host_path)})

    def host_exists(self, host_path: str) -> bool:
        return any(m.host_exists(host_path) for m in self.members)

    def lstat_host(self, host_path: str) -> Entry | None:
        return next((entry for m in self.members if (entry := m.lstat_host(host_path)) is not None), None)

    def iter_host_entries(self) -> Iterator[tuple[str, Entry]]:
        seen: set[str] = set()
        for member in self.members:
            for host_path, entry in member.iter_host_entries():
                if host_path not in seen:
                    seen.add(host_path)
                    yield host_path, entry


@dataclass(frozen=True)
class NodeConflict:
    """Two or more inputs describe one node and disagree: both are kept, under distinct names."""

    node: str
    inputs: tuple[str, ...]
    differing: tuple[str, ...]  # host paths whose content differs between the inputs
    renamed: tuple[str, ...]  # the names the members are analysed under

    def describe(self) -> str:
        shown = ", ".join(self.differing[:8]) + (f" and {len(self.differing) - 8} more" if len(self.differing) > 8 else "")
        return (f"{' and '.join(self.inputs)} both describe node {self.node} but disagree on {shown}; "
                f"each is analysed on its own, as {' and '.join(self.renamed)}")


def _contents(node: NodeEvidence) -> dict[str, str]:
    digests = {}
    for host_path, entry in node.iter_host_entries():
        if entry.kind is EntryKind.SYMLINK:
            digests[host_path] = "link:" + (entry.link_target or "")
        elif entry.kind is EntryKind.FILE:
            if (entry.size or 0) > COMPARE_LIMIT:
                digests[host_path] = f"size:{entry.size}"
                continue
            found = node.read_host_file(host_path, COMPARE_LIMIT)
            digests[host_path] = hashlib.sha256(found.data).hexdigest() if found.data is not None else f"unreadable:{found.problem}"
    return digests


def join_nodes(nodes: Iterable[NodeEvidence]) -> tuple[list[NodeEvidence | MergedNode], list[NodeConflict]]:
    """Nodes by name, whatever the order of the inputs: inputs naming the same node are merged
    when they agree on every file both hold, and kept apart under distinct names (reported as a
    conflict) when they do not, so that neither silently wins."""
    by_name: dict[str, list[NodeEvidence]] = {}
    for node in nodes:
        by_name.setdefault(node.name, []).append(node)
    joined: list[NodeEvidence | MergedNode] = []
    conflicts: list[NodeConflict] = []
    for name in sorted(by_name):
        members = sorted(by_name[name], key=lambda n: n.input)
        if len(members) == 1:
            joined.append(members[0])
            continue
        contents = [_contents(m) for m in members]
        differing = sorted({path for i, mine in enumerate(contents) for other in contents[i + 1:]
                            for path in mine.keys() & other.keys() if mine[path] != other[path]})
        kinds = {m.distribution for m in members} - {Distribution.UNKNOWN}
        if not differing and len(kinds) <= 1:
            joined.append(MergedNode(members))
            continue
        labels = [posixpath.basename(m.input.rstrip("/")) or m.input for m in members]
        if len(set(labels)) < len(labels):
            labels = [m.input for m in members]
        for member, label in zip(members, labels, strict=True):
            member.name = f"{name} ({label})"
        conflicts.append(NodeConflict(name, tuple(m.input for m in members), tuple(differing) or ("the distribution",),
                                      tuple(m.name for m in members)))
        joined.extend(members)
    return joined, conflicts
