"""From a path as a component sees it to the bytes it will read, and every other copy of them.

kubeadm mounts the host's cert directory at the same path, so a flag's path is a host path.
OpenShift mounts revisioned and cert-synced host directories at other paths, and the files there
are written from etcd objects (layouts §2.1, §2.2): ``static-pod-certs/secrets/N/K`` comes from
Secret ``openshift-kube-apiserver/N``, ``static-pod-resources/secrets/N/K`` from the revisioned
``N-<revision>``. The copy the component loads is the file on the node when the evidence has the
node, else the etcd object the file is written from (what the node will hold after the next sync).
"""

from __future__ import annotations

from dataclasses import field
from typing import Protocol

from analyzer.evidence.node import Mount, map_through
from analyzer.records import datarecord
from analyzer.wiring.nodes import Node
from analyzer.wiring.model import Copy, Location, Material, State
from analyzer.wiring.openshift_paths import origins
from analyzer.wiring.sources import EtcdObjects, configmap_files, node_directory, node_file


@datarecord
class Resolved:
    material: Material
    copies: tuple[tuple[Copy, Material], ...] = ()
    object: str | None = None  # namespace/name of the etcd object the file comes from
    source_object: str | None = None  # the user's secret behind a synced copy


class Resolver(Protocol):
    def file(self, path: str) -> Resolved: ...

    def directory(self, path: str) -> list[Material]: ...


def _absent(path: str, why: str, *, node: str | None = None, input_: str = "") -> Material:
    return Material(State.NOT_IN_EVIDENCE, Location(input=input_, host_path=path, node=node), detail=why)


@datarecord(frozen=False)
class HostResolver:
    """kubeadm, Kubespray: configured paths are host paths on the node."""

    node: Node | None

    def file(self, path: str) -> Resolved:
        if self.node is None:
            return Resolved(_absent(path, "the file lives on the node; this evidence has no copy of the node's files"))
        return Resolved(node_file(self.node, path))

    def directory(self, path: str) -> list[Material]:
        if self.node is None:
            return [_absent(path, "the directory lives on the node; this evidence has no copy of the node's files")]
        found = node_directory(self.node, path)
        return found or [node_file(self.node, path)]


@datarecord(frozen=False)
class StaticPodResolver:
    """OpenShift: in-pod paths through the pod's hostPath mounts, and to the etcd objects behind them."""

    node: Node | None
    objects: EtcdObjects | None
    namespace: str
    revision: int | None
    mounts: tuple[Mount, ...]  # target: the path in the pod, source: the host directory
    user_sources: dict[str, str] = field(default_factory=dict)  # user-serving-cert-000 -> openshift-config/api-cert
    certs_dir: str = "/etc/kubernetes/static-pod-certs"
    resources_dir: str = "/etc/kubernetes/static-pod-resources"

    def host_path(self, path: str) -> str | None:
        # The pod's hostPath volumes are mounts like a node's directories in the evidence: one model.
        return map_through(self.mounts, path)

    def etcd_source(self, path: str) -> tuple[str, str, str, Copy] | None:
        """(resource, name, data key, which copy) of the object a synced file is written from."""
        for base, copy in ((self.certs_dir, Copy.SYNCED_FROM), (self.resources_dir, Copy.REVISIONED)):
            prefix = base.rstrip("/") + "/"
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            if len(parts) != 3 or parts[0] not in ("secrets", "configmaps"):
                return None
            resource, name, data_key = parts
            if copy is Copy.REVISIONED:
                if self.revision is None:
                    return None
                name = f"{name}-{self.revision}"  # revisioncontroller nameFor: "%s-%d"
            return resource, name, data_key, copy
        return None

    def file(self, path: str) -> Resolved:
        host = self.host_path(path)
        disk = node_file(self.node, host) if self.node is not None and host else None
        source = self.etcd_source(path)
        stored = (
            self.objects.data(source[0], self.namespace, source[1], source[2])
            if self.objects is not None and source is not None
            else None
        )
        copies: list[tuple[Copy, Material]] = []
        object_ref = f"{self.namespace}/{source[1]}" if source else None
        user_source = self.user_sources.get(source[1]) if source else None
        if user_source and self.objects is not None and source is not None:
            namespace, name = user_source.split("/", 1)
            copies.append((Copy.USER_SOURCE, self.objects.data("secrets", namespace, name, source[2])))
        # An aggregate (etcd-all-certs, etcd-all-bundles) takes each key from another object: that object is
        # the source of the bytes, and stands in for the aggregate when the snapshot lacks it.
        objects = self.objects
        for origin in origins(host) if host else ():
            if origin.what != "source" or objects is None:
                continue
            resource = "secrets" if origin.kind == "Secret" else "configmaps"
            aggregated = objects.data(resource, origin.namespace, origin.name, origin.data_key)
            # A must-gather elides the aggregate's values (its keys are not tls.crt) but keeps the source's tls.crt.
            if (stored is None or stored.state in (State.MISSING, State.ELIDED, State.NOT_IN_EVIDENCE)) and aggregated.state is State.PRESENT:
                stored, object_ref = aggregated, origin.ref
            else:
                copies.append((Copy.AGGREGATED_FROM, aggregated))
        if disk is not None and disk.state is not State.NOT_IN_EVIDENCE:
            if stored is not None and source is not None:
                copies.insert(0, (source[3], stored))
            return Resolved(disk, tuple(copies), object_ref, user_source)
        if stored is not None:
            return Resolved(stored, tuple(copies), object_ref, user_source)
        why = "the file lives on the node and this evidence has neither the node's files nor the etcd object behind it"
        return Resolved(disk or _absent(host or path, why, node=self.node.name if self.node else None), tuple(copies), object_ref, user_source)

    def directory(self, path: str) -> list[Material]:
        """Every file of a directory; for a path that is a file (empty, scrubbed, missing), that file."""
        host = self.host_path(path)
        if self.node is not None and host and self.node.host_exists(host):
            return node_directory(self.node, host) or [node_file(self.node, host)]
        if self.objects is not None:
            parts = path[len(self.resources_dir.rstrip("/")) + 1 :].split("/") if path.startswith(self.resources_dir) else []
            if len(parts) == 2 and parts[0] == "configmaps" and self.revision is not None:
                return configmap_files(self.objects, self.namespace, f"{parts[1]}-{self.revision}")
        return [self.file(path).material]
