"""analyzer.wiring.resolve and analyzer.wiring.sources: from a path as a component sees it to the
bytes it reads (on the node, or in the etcd object the file is written from), and when a file
that is not there counts as missing rather than simply not sent."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from analyzer.evidence.tree import open_tree
from analyzer.evidence.node import find_nodes
from analyzer.wiring.node_identity import identify_node
from analyzer.wiring.nodes import Node
from analyzer.wiring.model import Copy, Material, State
from analyzer.evidence.node import Mount
from analyzer.wiring.resolve import HostResolver, StaticPodResolver
from analyzer.wiring.sources import node_file
from analyzer.wiring.sources.node_files import covered_by_evidence
from tests.fixtures.archives import build
from tests.fixtures.models import in_etcd
from tests.fixtures.node_trees import members_at

NAMESPACE = "openshift-kube-apiserver"
MOUNTS = (
    Mount("/etc/kubernetes/static-pod-resources", "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7"),
    Mount("/etc/kubernetes/static-pod-certs", "/etc/kubernetes/static-pod-resources/kube-apiserver-certs"),
)


class FakeObjects:
    """The part of EtcdObjects the resolver uses: data keys of secrets, by name."""

    def __init__(self, secrets: dict[str, dict[str, bytes]]) -> None:
        self.secrets = secrets

    def data(self, resource: str, namespace: str, name: str, data_key: str):
        return in_etcd(namespace, name, data_key, self.secrets.get(name, {}).get(data_key))

    def find(self, resource: str, namespace: str, name: str):
        data = self.secrets.get(name)
        return None if data is None else SimpleNamespace(object={"kind": "ConfigMap", "data": {k: v.decode() for k, v in data.items()}})


def resolver(*, revision: int | None = 7, objects=None, user_sources=None) -> StaticPodResolver:
    return StaticPodResolver(None, objects, NAMESPACE, revision, MOUNTS, user_sources or {})


@pytest.mark.parametrize(("path", "expected"), [
    ("/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key",
     ("secrets", "user-serving-cert-000", "tls.key", Copy.SYNCED_FROM)),
    ("/etc/kubernetes/static-pod-certs/configmaps/client-ca/ca-bundle.crt",
     ("configmaps", "client-ca", "ca-bundle.crt", Copy.SYNCED_FROM)),
    ("/etc/kubernetes/static-pod-resources/secrets/etcd-client/tls.crt",
     ("secrets", "etcd-client-7", "tls.crt", Copy.REVISIONED)),  # revisioncontroller: "<name>-<revision>"
    ("/etc/kubernetes/static-pod-resources/configmaps/etcd-serving-ca/ca-bundle.crt",
     ("configmaps", "etcd-serving-ca-7", "ca-bundle.crt", Copy.REVISIONED)),
    ("/etc/kubernetes/static-pod-resources/secrets/etcd-client", None),  # a directory, not a file
    ("/etc/kubernetes/static-pod-resources/secrets/a/b/tls.crt", None),
    ("/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/secrets/etcd-client/tls.crt", None),
    ("/etc/kubernetes/static-pod-certs/other/x/tls.crt", None),
    ("/etc/kubernetes/static-pod-certsX/secrets/x/tls.crt", None),
    ("/etc/kubernetes/pki/ca.crt", None),
])
def test_etcd_source_of_a_synced_file(path, expected):
    assert resolver().etcd_source(path) == expected


def test_a_revisioned_file_without_a_known_revision_has_no_source():
    assert resolver(revision=None).etcd_source("/etc/kubernetes/static-pod-resources/secrets/etcd-client/tls.crt") is None
    assert resolver(revision=None).etcd_source("/etc/kubernetes/static-pod-certs/secrets/x/tls.crt")[3] is Copy.SYNCED_FROM


@pytest.mark.parametrize(("path", "host"), [
    ("/etc/kubernetes/static-pod-certs/secrets/x/tls.crt", "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/x/tls.crt"),
    ("/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml",
     "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/configmaps/config/config.yaml"),
    ("/etc/kubernetes/static-pod-resources", "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7"),
    ("/etc/kubernetes/static-pod-resourcesX/y", None),
    ("/var/log/kube-apiserver/audit.log", None),
])
def test_in_pod_paths_map_through_the_mounts(path, host):
    assert resolver().host_path(path) == host


def test_without_the_node_the_etcd_object_is_what_the_component_will_read():
    objects = FakeObjects({"user-serving-cert-000": {"tls.key": b""}, "api-cert": {"tls.key": b"user"}})
    found = resolver(objects=objects, user_sources={"user-serving-cert-000": "openshift-config/api-cert"}).file(
        "/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key")
    assert found.material.state is State.EMPTY
    assert found.material.location.object == f"{NAMESPACE}/user-serving-cert-000"
    assert (found.object, found.source_object) == (f"{NAMESPACE}/user-serving-cert-000", "openshift-config/api-cert")
    [(copy, user)] = found.copies
    assert copy is Copy.USER_SOURCE and user.location.object == "openshift-config/api-cert" and user.data == b"user"


def test_without_node_or_snapshot_a_file_is_not_in_evidence():
    found = resolver().file("/etc/kubernetes/static-pod-resources/secrets/etcd-client/tls.crt")
    assert found.material.state is State.NOT_IN_EVIDENCE
    assert found.material.location.host_path == "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/secrets/etcd-client/tls.crt"
    assert found.object == f"{NAMESPACE}/etcd-client-7"


def test_a_revisioned_directory_without_the_node_is_the_config_map_of_the_revision():
    objects = FakeObjects({"sa-token-signing-certs-7": {"service-account-001.pub": b"k1", "service-account-002.pub": b"k2"}})
    found = resolver(objects=objects).directory("/etc/kubernetes/static-pod-resources/configmaps/sa-token-signing-certs")
    assert [(m.location.object, m.location.data_key) for m in found] == [
        (f"{NAMESPACE}/sa-token-signing-certs-7", "service-account-001.pub"), (f"{NAMESPACE}/sa-token-signing-certs-7", "service-account-002.pub"),
    ]


def test_a_directory_outside_the_revisioned_resources_is_not_read_from_etcd():
    objects = FakeObjects({"sa-token-signing-certs-7": {"service-account-001.pub": b"k1"}})
    [found] = resolver(objects=objects).directory("/etc/kubernetes/static-pod-resourcesX/configmaps/sa-token-signing-certs")
    assert found.state is State.NOT_IN_EVIDENCE


def test_a_key_directory_flag_naming_a_file_keeps_the_file_state():
    """serviceAccountPublicKeyFiles may name a file; an empty one must stay visible, not vanish from the load."""
    objects = FakeObjects({"sa-7": {"sa.pub": b""}})
    [found] = resolver(objects=objects).directory("/etc/kubernetes/static-pod-resources/secrets/sa/sa.pub")
    assert (found.state, found.location.object) == (State.EMPTY, f"{NAMESPACE}/sa-7")


def test_a_config_map_that_cannot_be_decoded_is_a_directory_in_that_state():
    class Encrypted(FakeObjects):
        def find(self, resource, namespace, name):
            return SimpleNamespace(object=None)

        def data(self, resource, namespace, name, data_key):
            return Material(State.ENCRYPTED, in_etcd(namespace, name, data_key, b"").location)

    [found] = resolver(objects=Encrypted({})).directory("/etc/kubernetes/static-pod-resources/configmaps/sa-token-signing-certs")
    assert found.state is State.ENCRYPTED


def test_a_host_resolver_without_a_node_is_not_in_evidence():
    found = HostResolver(None).file("/etc/kubernetes/pki/ca.crt")
    assert found.material.state is State.NOT_IN_EVIDENCE and found.copies == ()
    assert [m.state for m in HostResolver(None).directory("/etc/kubernetes/pki")] == [State.NOT_IN_EVIDENCE]


# -- node files: missing or not in the evidence ---------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """/etc/kubernetes with manifests and a pki holding ca.crt, and the kubelet's pki: no file directly in /var/lib/kubelet."""
    files = {
        "etc/kubernetes/manifests/kube-apiserver.yaml": b"apiVersion: v1\nkind: Pod\n",
        "etc/kubernetes/pki/ca.crt": b"-----BEGIN CERTIFICATE-----\n",
        "etc/kubernetes/pki/empty.crt": b"",
        "var/lib/kubelet/pki/kubelet.crt": b"-----BEGIN CERTIFICATE-----\n",
    }
    path = build("directory", tmp_path_factory.mktemp("node"), members_at(files))
    [found] = find_nodes(open_tree(path))
    return Node([found], identify_node(found))


@pytest.mark.parametrize(("path", "state"), [
    ("/etc/kubernetes/pki/ca.crt", State.PRESENT),
    ("/etc/kubernetes/pki/empty.crt", State.EMPTY),
    ("/etc/kubernetes/pki/apiserver.crt", State.MISSING),  # its directory holds files: it is really gone
    ("/etc/kubernetes/pki/etcd/ca.crt", State.MISSING),  # a parent up the tree holds files
    ("/etc/kubernetes/admin.conf", State.NOT_IN_EVIDENCE),  # /etc/kubernetes holds only directories here
    ("/var/lib/kubelet/config.yaml", State.NOT_IN_EVIDENCE),  # /var/lib/kubelet holds only pki/: not sent
    ("/var/lib/kubelet/pki/kubelet.key", State.MISSING),
    ("/opt/cni/bin/flannel", State.NOT_IN_EVIDENCE),
])
def test_a_file_is_missing_only_below_a_directory_the_evidence_holds_files_of(node, path, state):
    assert node_file(node, path).state is state


def test_covered_walks_up_to_a_directory_with_files(node):
    assert covered_by_evidence(node, "/etc/kubernetes/pki/apiserver.crt")
    assert not covered_by_evidence(node, "/var/lib/kubelet/config.yaml")


def test_nothing_is_covered_in_partial_evidence(node):
    partial = SimpleNamespace(partial=True, list_host_dir=node.list_host_dir, lstat_host=node.lstat_host)
    assert not covered_by_evidence(partial, "/etc/kubernetes/pki/apiserver.crt")  # type: ignore[arg-type]  # a stand-in with only what _covered reads


def test_a_missing_file_names_where_it_should_be(node):
    material = node_file(node, "/etc/kubernetes/pki/apiserver.crt")
    assert material.detail == f"/etc/kubernetes/pki/apiserver.crt does not exist on {node.name}"
    assert material.location.describe() == f"/etc/kubernetes/pki/apiserver.crt on {node.name}"
