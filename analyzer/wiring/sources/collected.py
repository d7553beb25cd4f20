"""Objects collected by ``oc adm inspect`` / must-gather, read with the interface of the etcd objects the wiring uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import yaml

from analyzer.evidence.mustgather import newer_copy
from analyzer.records import datarecord
from analyzer.wiring.model import Location, Material, State
from analyzer.wiring.sources.etcd_objects import OPENSHIFT
from analyzer.wiring.sources.material import classify_material
from analyzer.wiring.sources.object_data import annotations_of, object_data

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: secrets.yaml can be large


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


@datarecord
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
                document = yaml.load(data, Loader=YAML_LOADER)
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
        return replace(classify_material(value, location), annotations=annotations_of(stored.object))  # inspect keeps annotations
