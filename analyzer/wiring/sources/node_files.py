"""Files on a node as ``Material``: followed through links inside the evidence; missing only where the evidence covers that part of the host."""

from __future__ import annotations

import posixpath

from analyzer.decode.manifest import StaticPod, load_static_pod
from analyzer.errors import DecodeError
from analyzer.evidence.tree import EntryKind
from analyzer.evidence.node import NOT_IN_EVIDENCE
from analyzer.wiring.nodes import Node
from analyzer.wiring.model import Location, Material, State
from analyzer.wiring.sources.material import classify_material


def node_file(node: Node, host_path: str) -> Material:
    """A host file of a node, followed through symlinks inside the evidence."""
    found = node.read_host_file(host_path)
    location = Location(
        input=node.input, host_path=host_path, tree_path=found.tree_path, node=node.name,
        via=tuple(found.link_chain),
    )
    if found.data is None:
        if found.problem in (None, NOT_IN_EVIDENCE) and covered_by_evidence(node, host_path):
            return Material(State.MISSING, location, detail=f"{host_path} does not exist on {node.name}")
        return Material(State.NOT_IN_EVIDENCE, location, detail=found.problem or NOT_IN_EVIDENCE)
    return classify_material(found.data, location)


def covered_by_evidence(node: Node, host_path: str) -> bool:
    """Whether the evidence holds the part of the host where this path would be.

    A copy of /var/lib/kubelet/pki says nothing about /var/lib/kubelet/kubeconfig, but a copy of
    /etc/kubernetes that lacks a file under it shows the file is really gone: a missing path is
    "missing" only below a directory of which the evidence holds regular files.
    """
    if node.partial:
        return False
    directory = posixpath.dirname(host_path)
    while directory not in ("", "/"):
        for child in node.list_host_dir(directory):
            entry = node.lstat_host(child)
            if entry is not None and entry.kind is EntryKind.FILE:
                return True
        directory = posixpath.dirname(directory)
    return False


def static_pod_of(manifest: Material, component: str) -> StaticPod | None:
    """A static pod from a manifest wherever it was read, or None when it is absent or does not parse."""
    if manifest.state is not State.PRESENT:
        return None
    try:
        return load_static_pod(manifest.data, component)
    except DecodeError:
        return None


def node_static_pod(node: Node, path: str, component: str) -> StaticPod | None:
    return static_pod_of(node_file(node, path), component)


def node_directory(node: Node, host_dir: str) -> list[Material]:
    """Every regular file of a host directory (service-account key directories on OpenShift)."""
    return [node_file(node, path) for path in sorted(node.list_host_dir(host_dir)) if node.read_host_file(path).data is not None]
