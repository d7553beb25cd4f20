"""Where material comes from: etcd objects in a snapshot, and files on a node.

Wiring asks for "secret openshift-kube-apiserver/user-serving-cert-000, key tls.key" or "host
file /etc/kubernetes/pki/ca.crt on master-0" and gets ``Material`` back: the bytes, what state
they are in (present, empty, missing, scrubbed, encrypted without a key), where they were found,
and, for etcd objects, the history of that one data key across the surviving revisions.

Objects are decoded lazily and once: a scan decodes only what the wiring asks for.

Modules: ``material`` (bytes to Material), ``object_data`` (what a Secret or ConfigMap holds),
``etcd_objects`` (objects of one etcd with their histories), ``node_files`` (host files of a node)
and ``collected`` (objects of a must-gather or ``oc adm inspect``).
"""

from analyzer.wiring.sources.collected import COLLECTED_RESOURCES, CollectedObject, CollectedObjects
from analyzer.wiring.sources.etcd_objects import HISTORY_NAMESPACES, OPENSHIFT, REGISTRY, RESOURCES, EtcdObjects, StoredObject, configmap_files
from analyzer.wiring.sources.material import fingerprint
from analyzer.wiring.sources.node_files import node_directory, node_file, node_static_pod, static_pod_of
from analyzer.wiring.sources.object_data import last_writer, object_data

__all__ = [
    "COLLECTED_RESOURCES",
    "HISTORY_NAMESPACES",
    "OPENSHIFT",
    "REGISTRY",
    "RESOURCES",
    "CollectedObject",
    "CollectedObjects",
    "EtcdObjects",
    "StoredObject",
    "configmap_files",
    "fingerprint",
    "last_writer",
    "node_directory",
    "node_file",
    "node_static_pod",
    "object_data",
    "static_pod_of",
]
