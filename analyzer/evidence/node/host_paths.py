"""Well-known host paths and file names, why a host file has no data, and host-path helpers."""

from __future__ import annotations

import posixpath
import re
from dataclasses import field
from datetime import datetime

from analyzer.errors import EvidenceError
from analyzer.evidence.node.mounts import path_under
from analyzer.evidence.tree import Entry, EvidenceTree, path_parts
from analyzer.records import datarecord


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


CONTROL_PLANE_MANIFEST = re.compile(r"^(kube-apiserver|kube-controller-manager|kube-scheduler|etcd)(-pod)?\.ya?ml$")
KUBEADM_PKI_FILES = frozenset({"ca.crt", "ca.key", "apiserver.crt", "sa.pub", "sa.key", "front-proxy-ca.crt"})
SSL_FILES = frozenset({"ca.crt", "apiserver.crt", "kube-ca.pem", "kube-apiserver.pem"})
RKE_KUBECONFIG = re.compile(r"^kubecfg-.+\.ya?ml$")
STATIC_POD_DIR = re.compile(r"^[a-z0-9-]+-(pod-\d+|certs)$")
REVISION_DIR = re.compile(r"^[a-z0-9-]+-pod-\d+$")
KUBECONFIG_NAMES = frozenset(
    {"admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf",
     "scheduler.conf", "kubeconfig"}
)  # fmt: skip
KUBELET_PEM = re.compile(r"^kubelet-(client|server)-(current|\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)\.pem$")
KUBELET_CLIENT_DATED = re.compile(r"^kubelet-client-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$")
KUBESPRAY_ETCD_PEM = re.compile(r"^(member|admin|node)-.+\.pem$")
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


@datarecord
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


@datarecord
class HostWalk:
    """Where a host path led: a tree entry, a directory only implied by deeper mounts, or nowhere."""

    tree_path: str | None
    entry: Entry | None
    virtual_dir: bool
    link_chain: tuple[str, ...]
    problem: str | None


def join_path(*parts: str) -> str:
    return "/".join(part for part in parts if part)


def clean_host_path(host_path: str) -> str:
    if not host_path.startswith("/"):
        raise ValueError(f"host paths are absolute: {host_path!r}")
    return "/" + "/".join(path_parts(host_path))


def excluded_by(host_path: str, pattern: str) -> bool:
    if pattern.endswith("/**"):
        return path_under(host_path, pattern[:-3]) is not None
    directory, _, glob = pattern.rpartition("/")
    parent, _, name = host_path.rpartition("/")
    return parent == directory and re.fullmatch(re.escape(glob).replace(r"\*", "[^/]*"), name) is not None


def tree_location(tree: EvidenceTree, tree_path: str) -> str:
    """A tree path as a person finds it: ``<directory>/<path>`` or ``<archive>!<member>``."""
    if not tree_path:
        return tree.source
    separator = "/" if tree.format == "directory" else "!"
    return f"{tree.source.rstrip('/')}{separator}{tree_path}"


def read_problem(exc: EvidenceError, tree: EvidenceTree) -> str:
    too_big = re.match(r"(\d+) bytes, more than the", exc.problem)
    if too_big:
        return f"larger than the {tree.limits.max_member_bytes} bytes read from one file ({too_big.group(1)} bytes)"
    return exc.problem


def path_inside(path: str, root: str) -> bool:
    """Whether a tree path is ``root`` or below it; the root "" holds everything."""
    return root == "" or path == root or path.startswith(root + "/")


def input_stem(source: str) -> str:
    """A name from an input path: ``case/master-1.tar.gz`` gives ``master-1``."""
    name = posixpath.basename(source.rstrip("/").rpartition("!")[2].rstrip("/")) or source
    lowered = name.lower()
    for suffix in _ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)] or name
    return name
