"""analyzer.wiring.node_identity: who a node is, read from the files its evidence offers.

Trees are built in tmp_path from the cluster models, in the layouts customers send; the evidence
finds the node (``find_nodes``) and the wiring names it (``identify_node``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.evidence.node import find_nodes
from analyzer.evidence.tree import open_tree
from analyzer.model.nodes import UNNAMED, NodeIdentity
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.node_identity import identify_node
from tests.fixtures.archives import build
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.node_trees import build_node_tree, members_at, place
from tests.test_evidence_node import kubespray_files, rke_files

CURRENT = "/var/lib/kubelet/pki/kubelet-client-current.pem"
DATED = "/var/lib/kubelet/pki/kubelet-client-2025-01-01-00-00-00.pem"


def identified(path: Path) -> NodeIdentity:
    nodes = find_nodes(open_tree(path))
    assert len(nodes) == 1, nodes
    return identify_node(nodes[0])


@pytest.mark.parametrize("layout", ["host-root", "etc-kubernetes", "split"])
def test_every_layout_names_the_kubeadm_master(tmp_path, kubeadm, layout):
    node = identified(build_node_tree(tmp_path, kubeadm.files(), layout, "tar"))
    assert (node.name, node.distribution, node.label) == ("master-0", Distribution.KUBEADM, "node master-0 (kubeadm)")


def test_node_names_say_where_they_came_from(tmp_path, kubeadm):
    by_layout = {}
    for layout in ("host-root", "etc-kubernetes"):
        node = identified(build_node_tree(tmp_path / layout, kubeadm.files(), layout, "directory"))
        by_layout[layout] = node.name_source
    assert by_layout["host-root"].startswith("kubelet client certificate")
    assert by_layout["etc-kubernetes"] == 'user "system:node:master-0" of /etc/kubernetes/kubelet.conf'


def test_etcd_member_name_and_input_name_are_the_fallbacks(tmp_path, kubeadm):
    files = {p: v for p, v in kubeadm.files().items() if p != "/etc/kubernetes/kubelet.conf"}
    node = identified(build_node_tree(tmp_path / "a", files, "etc-kubernetes", "tar", name="whatever"))
    assert (node.name, node.name_source) == ("master-0", "etcd member name (--name) in /etc/kubernetes/manifests/etcd.yaml")
    files = {p: v for p, v in files.items() if not p.endswith("etcd.yaml")}
    node = identified(build_node_tree(tmp_path / "b", files, "etc-kubernetes", "tar.gz", name="master-7-etc"))
    assert node.name == "master-7-etc" and node.name_source.startswith("the input's name")


def test_dated_kubelet_pem_names_the_node_when_the_link_is_gone(tmp_path):
    cluster = KubeadmCluster(node="worker-3")
    files = {p: v for p, v in cluster.files().items() if p != CURRENT and p != "/etc/kubernetes/kubelet.conf"}
    node = identified(build_node_tree(tmp_path, files, "host-root", "zip"))
    assert node.name == "worker-3" and DATED in node.name_source


def test_sosreport_hostname_names_the_node_when_nothing_else_does(tmp_path, kubeadm):
    files = {p: v for p, v in kubeadm.files().items() if not p.endswith(("kubelet.conf", "etcd.yaml"))}
    node = identified(build_node_tree(tmp_path, files, "sosreport", "directory", host="cp-2"))
    assert (node.name, node.name_source) == ("cp-2", "the sosreport's hostname")


def test_openshift_etc_kubernetes_only_is_named_by_its_etcd_pod(tmp_path, openshift):
    node = identified(build_node_tree(tmp_path, openshift.files(), "etc-kubernetes", "zip"))
    assert node.name == "master-0"
    assert node.name_source == "etcd member name (--name) in /etc/kubernetes/manifests/etcd-pod.yaml"


def test_a_node_named_nowhere_keeps_its_inputs_name(tmp_path, kubeadm):
    files = {p: v for p, v in kubeadm.files().items() if p.startswith("/etc/kubernetes/pki/")}
    node = identified(build_node_tree(tmp_path, files, "etc-kubernetes", "tar", name="case-7"))
    assert (node.name, node.name_source, node.distribution) == ("case-7", UNNAMED, Distribution.KUBEADM)


def test_a_sosreport_is_a_kubeadm_node(tmp_path, kubeadm):
    node = identified(build_node_tree(tmp_path, kubeadm.files(), "sosreport", "tar.xz", host="master-0"))
    assert (node.name, node.distribution) == ("master-0", Distribution.KUBEADM)


def test_masters_side_by_side_are_named_each_by_its_own_files(tmp_path):
    placed = {}
    for name in ("master-0", "master-1"):
        placed.update({f"box-{name[-1]}/{path}": value for path, value in place(KubeadmCluster(node=name).files(), "host-root").items()})
    nodes = find_nodes(open_tree(build("tar.gz", tmp_path, members_at(placed))))
    assert [(n.fallback_name, identify_node(n).name) for n in nodes] == [("box-0", "master-0"), ("box-1", "master-1")]


def test_openshift_master(tmp_path, openshift):
    node = identified(build_node_tree(tmp_path, openshift.files(), "host-root", "tar.gz"))
    assert (node.name, node.distribution) == ("master-0", Distribution.OPENSHIFT)
    assert node.name_source.startswith("kubelet client certificate")


def test_static_kuberesources_tarball_is_openshift(tmp_path, openshift):
    node = identified(build_node_tree(tmp_path, openshift.files(), "static-kuberesources", "tar.gz"))
    assert node.distribution is Distribution.OPENSHIFT


@pytest.mark.parametrize(("files", "distribution"), [(kubespray_files, Distribution.KUBESPRAY), (rke_files, Distribution.RKE)])
def test_kubespray_and_rke_trees(tmp_path, kubeadm, files, distribution):
    assert identified(build_node_tree(tmp_path, files(kubeadm), "host-root", "tar")).distribution is distribution
