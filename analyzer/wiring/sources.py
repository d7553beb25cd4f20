"""Where material comes from: etcd objects in a snapshot, and files on a node.

Wiring asks for "secret openshift-kube-apiserver/user-serving-cert-000, key tls.key" or "host
file /etc/kubernetes/pki/ca.crt on master-0" and gets ``Material`` back: the bytes, what state
they are in (present, empty, missing, scrubbed, encrypted without a key), where they were found,
and, for etcd objects, the history of that one data key across the surviving revisions.

Objects are decoded lazily and once: a scan decodes only what the wiring asks for.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import yaml

from analyzer.decode.encryption import EncryptionConfig
from analyzer.decode.objects import configmap_binary_data, configmap_data, managed_fields, secret_data
from analyzer.decode.manifest import StaticPod, load_static_pod
from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.pem import inspect_material
from analyzer.decode.values import DecodedValue, decode_value
from analyzer.evidence.etcd import KeyIndex, KeyValue, unpack_revision
from analyzer.evidence.store import EtcdStore
from analyzer.errors import DecodeError
from analyzer.evidence.tree import EntryKind
from analyzer.evidence.mustgather import newer_copy
from analyzer.evidence.node import NOT_IN_EVIDENCE, NodeEvidence
from analyzer.wiring.model import Change, Location, Material, State

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: secrets.yaml can be large
REGISTRY = "/registry"  # kubeadm and upstream (--etcd-prefix default)
OPENSHIFT = "/kubernetes.io"  # OpenShift's kube-apiserver --etcd-prefix

# What the wiring reads from etcd: the objects themselves, and the history of those in the
# namespaces where certificates live (everything else would cost memory for nothing).
RESOURCES = (
    "secrets/",
    "configmaps/",
    "pods/kube-system/",
    "daemonsets/kube-system/",  # a self-hosted control plane (wiring/selfhosted.py)
    "deployments/kube-system/",
    "pods/openshift-kube-apiserver/",
    "pods/openshift-etcd/",
    "config.openshift.io/apiservers/",
    "config.openshift.io/infrastructures/",
    "operator.openshift.io/kubeapiservers/",
)
HISTORY_NAMESPACES = (
    "kube-system",
    "kube-public",
    "openshift-config",
    "openshift-config-managed",
    "openshift-kube-apiserver",
    "openshift-kube-apiserver-operator",
    "openshift-etcd",
    "openshift-kube-controller-manager",
    "openshift-kube-scheduler",
)

_STATE_OF_PEM = {
    MaterialState.SCRUBBED: State.SCRUBBED,
    MaterialState.ELIDED: State.ELIDED,
}


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredObject:
    """One live etcd object, decoded (or the reason it could not be)."""

    key: str
    namespace: str | None
    name: str
    record: KeyValue
    decoded: DecodedValue

    @property
    def object(self) -> dict[str, Any] | None:
        return self.decoded.object

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class EtcdObjects:
    """The objects of one etcd (a snapshot or a running one) that certificate wiring can need, decoded on demand."""

    def __init__(
        self,
        snapshot: EtcdStore,
        encryption: EncryptionConfig | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.encryption = encryption
        roots = (REGISTRY, OPENSHIFT)
        self.index: KeyIndex = snapshot.build_index(
            [f"{root}/{resource}".encode() for root in roots for resource in RESOURCES],
            history_prefixes=[
                f"{root}/{resource}/{namespace}/".encode()
                for root in roots
                for resource in ("secrets", "configmaps")
                for namespace in HISTORY_NAMESPACES
            ],
            progress=progress,
        )
        openshift = sum(1 for key in self.index.live if key.startswith(OPENSHIFT.encode() + b"/"))
        self.root = OPENSHIFT if openshift > len(self.index.live) - openshift else REGISTRY
        self._decoded: dict[str, StoredObject | None] = {}
        self._revisions: dict[str, tuple[tuple[_Revision, ...], bool]] = {}

    @property
    def source(self) -> str:
        return self.snapshot.source

    def key_for(self, resource: str, namespace: str | None, name: str) -> str:
        return f"{self.root}/{resource}/{namespace}/{name}" if namespace else f"{self.root}/{resource}/{name}"

    def find(self, resource: str, namespace: str | None, name: str) -> StoredObject | None:
        key = self.key_for(resource, namespace, name)
        if key not in self._decoded:
            packed = self.index.live.get(key.encode())
            self._decoded[key] = self._load(key, packed) if packed is not None else None
        return self._decoded[key]

    def iter_objects(self, resource: str, namespace: str | None = None) -> Iterator[StoredObject]:
        prefix = f"{self.root}/{resource}/" + (f"{namespace}/" if namespace else "")
        for key in sorted(k for k in self.index.live if k.startswith(prefix.encode())):
            text = key.decode("utf-8", "replace")
            if text not in self._decoded:
                self._decoded[text] = self._load(text, self.index.live[key])
            stored = self._decoded[text]
            if stored is not None:
                yield stored

    def namespaces_with(self, resource: str, name: str) -> list[str]:
        """The namespaces holding an object of that name, read from the keys alone (nothing decoded)."""
        prefix, suffix = f"{self.root}/{resource}/".encode(), f"/{name}".encode()
        found = []
        for key in self.index.live:
            if key.startswith(prefix) and key.endswith(suffix):
                namespace = key[len(prefix) : -len(suffix)]
                if namespace and b"/" not in namespace:
                    found.append(namespace.decode("utf-8", "replace"))
        return sorted(found)

    def _load(self, key: str, packed: int) -> StoredObject | None:
        record = next(self.snapshot.iter_read([packed]), None)
        if record is None:
            return None
        parts = key[len(self.root) + 1 :].split("/")
        namespace, name = (parts[-2], parts[-1]) if len(parts) >= 3 and "." not in parts[0] else (None, parts[-1])
        decoded = decode_value(record.value, etcd_key=record.key, mod_revision=record.mod_revision, encryption=self.encryption)
        return StoredObject(key, namespace, name, record, decoded)

    # -- data keys of Secrets and ConfigMaps ----------------------------------------------------

    def data(self, resource: str, namespace: str, name: str, data_key: str) -> Material:
        """One data key of a Secret or ConfigMap, with the history of that key."""
        kind = "Secret" if resource == "secrets" else "ConfigMap"
        key = self.key_for(resource, namespace, name)
        location = Location(input=self.source, etcd_key=key, object=f"{namespace}/{name}", kind=kind, data_key=data_key)
        stored = self.find(resource, namespace, name)
        if stored is None:
            detail = f"{kind} {namespace}/{name} is not in etcd at revision {self.snapshot.revision}"
            if self.snapshot.partial:
                detail += " (the snapshot is damaged; it may be in the part that could not be read)"
            return Material(State.MISSING, location, detail=detail)
        location = replace(location, revision=stored.record.mod_revision)
        history, complete = self._history(key, data_key)
        if stored.object is None:
            state = State.ENCRYPTED if stored.decoded.encrypted_without_key else State.UNREADABLE
            return Material(state, location, detail=stored.decoded.error, history=history, history_complete=complete)
        value = object_data(stored.object, data_key)
        if value is None:
            return Material(State.MISSING, location, detail=f"{kind} {namespace}/{name} has no key {data_key!r}",
                            history=history, history_complete=complete)
        return replace(_classified(value, location, history, complete), annotations=_annotations(stored.object))

    def _history(self, key: str, data_key: str) -> tuple[tuple[Change, ...], bool]:
        revisions, complete = self._object_revisions(key)
        changes = []
        for revision in revisions:
            if revision.deleted:
                changes.append(Change(revision.revision, "delete", None, None, None, None))
                continue
            digest, size = revision.data.get(data_key, (None, None))
            changes.append(Change(revision.revision, "put", digest, size, revision.manager, revision.time_utc))
        return tuple(changes), complete

    def _object_revisions(self, key: str) -> tuple[tuple[_Revision, ...], bool]:
        """Every surviving revision of an object, read and decoded once for all its data keys (a pair's
        cert and key, each of its copies on each master ask for the same object)."""
        if key in self._revisions:
            return self._revisions[key]
        packed = self.index.history.get(key.encode())
        if not packed:
            self._revisions[key] = ((), False)
            return self._revisions[key]
        revisions = []
        first = None
        oldest = unpack_revision(packed[0]).main  # one key is written at most once per revision
        for record in self.snapshot.iter_read(packed):
            if record.revision.main == oldest:
                first = record
            if record.deleted:
                revisions.append(_Revision(record.revision.main, True, {}, None, None))
                continue
            decoded = decode_value(record.value, etcd_key=record.key, mod_revision=record.mod_revision, encryption=self.encryption)
            if decoded.object is None:
                revisions.append(_Revision(record.mod_revision, False, {}, None, None))
                continue
            manager, time_utc = last_writer(decoded.object)
            revisions.append(_Revision(record.mod_revision, False, _data_digests(decoded.object), manager, time_utc))
        compaction = self.snapshot.compaction.finished or 0
        # Only a key created after the last compaction is known to have its whole history here.
        complete = first is not None and first.create_revision > compaction
        self._revisions[key] = (tuple(revisions), complete)
        return self._revisions[key]


@dataclass(frozen=True)
class _Revision:
    """One surviving revision of an object, as its data keys' histories need it: digests, not values."""

    revision: int
    deleted: bool
    data: dict[str, tuple[str, int]]  # data key -> (SHA-256, size)
    manager: str | None
    time_utc: datetime | None


def _data_digests(obj: dict[str, Any]) -> dict[str, tuple[str, int]]:
    try:
        if obj.get("kind") == "Secret":
            names = set(secret_data(obj))
        elif obj.get("kind") == "ConfigMap":
            names = {*configmap_data(obj), *configmap_binary_data(obj)}
        else:
            return {}
    except DecodeError:
        names = set()
    found = {}
    for name in names:
        value = object_data(obj, name)
        if value is not None:
            found[name] = (fingerprint(value), len(value))
    return found


def object_data(obj: dict[str, Any], data_key: str) -> bytes | None:
    """The bytes of ``data_key`` in a Secret or a ConfigMap (text, else binaryData); None when absent."""
    try:
        if obj.get("kind") == "Secret":
            return secret_data(obj).get(data_key)
        if obj.get("kind") == "ConfigMap":
            text = configmap_data(obj).get(data_key)
            return text.encode() if text is not None else configmap_binary_data(obj).get(data_key)
    except DecodeError:
        return None  # a malformed data field is as good as absent for the key asked for
    return None


def last_writer(obj: dict[str, Any]) -> tuple[str | None, datetime | None]:
    """The manager and time of the most recent managedFields entry: who wrote the object last."""
    try:
        entries = managed_fields(obj)
    except Exception:  # a malformed managedFields list only costs us the attribution
        return None, None
    dated = [entry for entry in entries if entry.time_utc is not None]
    if not dated:
        return (entries[-1].manager if entries else None), None
    latest = max(dated, key=lambda entry: entry.time_utc or datetime.min.replace(tzinfo=UTC))  # all dated: see above
    return latest.manager, latest.time_utc


def _annotations(obj: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in annotations.items()))


def _classified(value: bytes, location: Location, history: tuple[Change, ...] = (), complete: bool = True) -> Material:
    if not value:
        return Material(State.EMPTY, location, value, detail="0 bytes", history=history, history_complete=complete)
    inspected = inspect_material(value)
    if inspected.state is MaterialState.EMPTY and inspected.original_size == 0:
        # must-gather's "0 bytes long": the value it replaced was empty, which is what the component reads.
        return Material(State.EMPTY, location, b"", detail="0 bytes (must-gather: \"0 bytes long\")", history=history,
                        history_complete=complete)
    state = _STATE_OF_PEM.get(inspected.state)
    if state is not None:
        return Material(state, location, value, detail=f"{state.value} in this evidence", history=history, history_complete=complete)
    return Material(State.PRESENT, location, value, history=history, history_complete=complete)


# -- files on a node -------------------------------------------------------------------------------


def node_file(node: NodeEvidence, host_path: str) -> Material:
    """A host file of a node, followed through symlinks inside the evidence."""
    found = node.read_host_file(host_path)
    location = Location(
        input=node.input, host_path=host_path, tree_path=found.tree_path, node=node.name,
        via=tuple(found.link_chain),
    )
    if found.data is None:
        if found.problem in (None, NOT_IN_EVIDENCE) and _covered(node, host_path):
            return Material(State.MISSING, location, detail=f"{host_path} does not exist on {node.name}")
        return Material(State.NOT_IN_EVIDENCE, location, detail=found.problem or NOT_IN_EVIDENCE)
    return _classified(found.data, location)


def _covered(node: NodeEvidence, host_path: str) -> bool:
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


def node_static_pod(node: NodeEvidence, path: str, component: str) -> StaticPod | None:
    return static_pod_of(node_file(node, path), component)


def node_directory(node: NodeEvidence, host_dir: str) -> list[Material]:
    """Every regular file of a host directory (service-account key directories on OpenShift)."""
    return [node_file(node, path) for path in sorted(node.list_host_dir(host_dir)) if node.read_host_file(path).data is not None]


def configmap_files(objects: EtcdObjects, namespace: str, name: str) -> list[Material]:
    """Every key of a ConfigMap as if it were a directory of files (what the installer writes)."""
    stored = objects.find("configmaps", namespace, name)
    if stored is None or stored.object is None:  # absent, encrypted without a key, unreadable: data() says which
        return [objects.data("configmaps", namespace, name, "")]
    keys = sorted({*(stored.object.get("data") or {}), *(stored.object.get("binaryData") or {})})
    return [objects.data("configmaps", namespace, name, key) for key in keys]


# -- objects collected by oc adm inspect / must-gather ------------------------------------------------

# The resources the wiring asks for, as inspect names their directories: core secrets, configmaps and
# pods, and the OpenShift config and operator objects (group/resource).
COLLECTED_RESOURCES = {
    ("core", "secrets"): "secrets",
    ("core", "configmaps"): "configmaps",
    ("core", "pods"): "pods",
    ("config.openshift.io", "apiservers"): "config.openshift.io/apiservers",
    ("config.openshift.io", "infrastructures"): "config.openshift.io/infrastructures",
    ("config.openshift.io", "clusterversions"): "config.openshift.io/clusterversions",
    ("operator.openshift.io", "kubeapiservers"): "operator.openshift.io/kubeapiservers",
}


@dataclass(frozen=True)
class CollectedObject:
    """One object of a must-gather, as the wiring reads it (the interface of StoredObject it uses)."""

    key: str
    namespace: str | None
    name: str
    object: dict[str, Any]
    tree_path: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class CollectedObjects:
    """A must-gather's objects behind the same questions EtcdObjects answers (``find``, ``data``,
    ``iter_objects``). What it does not hold is "not in the evidence", never "missing", unless the
    whole list of that resource in that namespace was collected: inspect writes every object of a
    list, so an object absent from it did not exist when the must-gather ran."""

    root = OPENSHIFT
    evidence_kind = "must-gather"

    def __init__(self, source: str, files: Iterator[tuple[str, str | None, str, str, bytes]]) -> None:
        self._source = source
        self._objects: dict[str, CollectedObject] = {}
        self.listed: set[tuple[str, str | None]] = set()  # (resource, namespace) collected whole
        self.problems: list[str] = []
        for tree_path, namespace, group, resource, data in files:
            kind_path = COLLECTED_RESOURCES.get((group, resource))
            if kind_path is None:
                continue
            try:
                document = yaml.load(data, Loader=_YAML_LOADER)
            except yaml.YAMLError as err:
                self.problems.append(f"{tree_path}: not YAML ({str(err).splitlines()[0]})")
                continue
            if not isinstance(document, dict):
                continue
            items = document.get("items") if str(document.get("kind", "")).endswith("List") else None
            if items is not None:
                self.listed.add((kind_path, namespace))
            item_kind = str(document.get("kind", "")).removesuffix("List")
            for item in items if items is not None else [document]:
                if not isinstance(item, dict):
                    continue
                item.setdefault("kind", item_kind)  # a typed list's items may carry no kind of their own
                item.setdefault("apiVersion", document.get("apiVersion"))
                metadata = item.get("metadata") or {}
                name = str(metadata.get("name") or "")
                ns = metadata.get("namespace") or namespace
                if name:
                    key = self.key_for(kind_path, ns, name)
                    previous = self._objects.get(key)
                    if previous is None or newer_copy(item, previous.object):  # several roots: the newest copy
                        self._objects[key] = CollectedObject(key, ns, name, item, tree_path)

    @property
    def source(self) -> str:
        return self._source

    def __len__(self) -> int:
        return len(self._objects)

    def key_for(self, resource: str, namespace: str | None, name: str) -> str:
        return f"{self.root}/{resource}/{namespace}/{name}" if namespace else f"{self.root}/{resource}/{name}"

    def find(self, resource: str, namespace: str | None, name: str) -> CollectedObject | None:
        return self._objects.get(self.key_for(resource, namespace, name))

    def namespaces_with(self, resource: str, name: str) -> list[str]:
        """The namespaces holding an object of that name among those collected."""
        return sorted({o.namespace for o in self._objects.values() if o.namespace and o.name == name
                       and o.key == self.key_for(resource, o.namespace, name)})

    def iter_objects(self, resource: str, namespace: str | None = None) -> Iterator[CollectedObject]:
        prefix = f"{self.root}/{resource}/" + (f"{namespace}/" if namespace else "")
        for key in sorted(k for k in self._objects if k.startswith(prefix)):
            yield self._objects[key]

    def data(self, resource: str, namespace: str, name: str, data_key: str) -> Material:
        kind = "Secret" if resource == "secrets" else "ConfigMap"
        stored = self.find(resource, namespace, name)
        location = Location(input=self.source, object=f"{namespace}/{name}", kind=kind, data_key=data_key,
                            tree_path=stored.tree_path if stored else None)
        if stored is None:
            if (resource, namespace) in self.listed:
                return Material(State.MISSING, location, detail=f"{kind} {namespace}/{name} did not exist when the must-gather collected {namespace}")
            return Material(State.NOT_IN_EVIDENCE, location, detail=f"the must-gather did not collect {kind}s of {namespace}")
        value = object_data(stored.object, data_key)
        if value is None:
            return Material(State.MISSING, location, detail=f"{kind} {namespace}/{name} has no key {data_key!r}")
        return replace(_classified(value, location), annotations=_annotations(stored.object))  # inspect keeps annotations
