"""The objects of one etcd (a snapshot or a running one) that certificate wiring can need, decoded on demand, with each data key's history."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from analyzer.decode.encryption import EncryptionConfig
from analyzer.decode.values import DecodedValue, decode_value
from analyzer.evidence.etcd import KeyIndex, KeyValue, unpack_revision
from analyzer.evidence.store import EtcdStore, IndexQuery
from analyzer.records import datarecord
from analyzer.wiring.model import Change, Location, Material, State
from analyzer.wiring.sources.material import classify_material
from analyzer.wiring.sources.object_data import annotations_of, data_digests, last_writer, object_data


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
# Service-account token Secrets carry a copy of the cluster CA (wiring/root_ca.py). A cluster holds
# tens of thousands of Secrets and few are tokens: the index pass screens each Secret's bytes for
# the type while it has them (IndexQuery.screen), so only the possible tokens are read again.
# kubernetes pkg/apis/core/types.go SecretTypeServiceAccountToken.
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
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


@datarecord
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


def wiring_index_query() -> IndexQuery:
    """What the wiring reads of an etcd: the live objects of ``RESOURCES``, the history of Secrets
    and ConfigMaps in ``HISTORY_NAMESPACES``, and every Secret screened for the token type."""
    roots = (REGISTRY, OPENSHIFT)
    return IndexQuery(
        prefixes=tuple(f"{root}/{resource}".encode() for root in roots for resource in RESOURCES),
        history_prefixes=tuple(
            f"{root}/{resource}/{namespace}/".encode()
            for root in roots
            for resource in ("secrets", "configmaps")
            for namespace in HISTORY_NAMESPACES
        ),
        screen=tuple(f"{root}/secrets/".encode() for root in roots),
        needle=TOKEN_SECRET_TYPE.encode(),
    )


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
        self.index_query = wiring_index_query()
        self.index: KeyIndex = snapshot.index(self.index_query, progress)
        openshift = snapshot.count_under(self.index, OPENSHIFT.encode() + b"/")
        self.root = OPENSHIFT if openshift > len(self.index.live) - openshift else REGISTRY
        self._decoded: dict[str, StoredObject | None] = {}
        self._revisions: dict[str, tuple[tuple[ObjectRevision, ...], bool]] = {}

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
        for key in self.snapshot.iter_keys_under(self.index, prefix.encode()):
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
        for key in self.snapshot.iter_keys_under(self.index, prefix):
            if key.endswith(suffix):
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
        return replace(classify_material(value, location, history, complete), annotations=annotations_of(stored.object))

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

    def _object_revisions(self, key: str) -> tuple[tuple[ObjectRevision, ...], bool]:
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
                revisions.append(ObjectRevision(record.revision.main, True, {}, None, None))
                continue
            decoded = decode_value(record.value, etcd_key=record.key, mod_revision=record.mod_revision, encryption=self.encryption)
            if decoded.object is None:
                revisions.append(ObjectRevision(record.mod_revision, False, {}, None, None))
                continue
            manager, time_utc = last_writer(decoded.object)
            revisions.append(ObjectRevision(record.mod_revision, False, data_digests(decoded.object), manager, time_utc))
        compaction = self.snapshot.compaction.finished or 0
        # Only a key created after the last compaction is known to have its whole history here.
        complete = first is not None and first.create_revision > compaction
        self._revisions[key] = (tuple(revisions), complete)
        return self._revisions[key]


@datarecord
class ObjectRevision:
    """One surviving revision of an object, as its data keys' histories need it: digests, not values."""

    revision: int
    deleted: bool
    data: dict[str, tuple[str, int]]  # data key -> (SHA-256, size)
    manager: str | None
    time_utc: datetime | None


def configmap_files(objects: EtcdObjects, namespace: str, name: str) -> list[Material]:
    """Every key of a ConfigMap as if it were a directory of files (what the installer writes)."""
    stored = objects.find("configmaps", namespace, name)
    if stored is None or stored.object is None:  # absent, encrypted without a key, unreadable: data() says which
        return [objects.data("configmaps", namespace, name, "")]
    keys = sorted({*(stored.object.get("data") or {}), *(stored.object.get("binaryData") or {})})
    return [objects.data("configmaps", namespace, name, key) for key in keys]
