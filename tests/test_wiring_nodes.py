"""analyzer.wiring.nodes: one node described by several inputs, merged when they agree, kept apart when not."""

from __future__ import annotations


from analyzer.evidence.node import find_nodes
from analyzer.evidence.tree import open_tree
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.nodes import Node, identify_nodes, join_nodes
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.node_trees import build_node_tree

CA = "/etc/kubernetes/pki/ca.crt"


def _nodes(tmp_path, *trees):
    found = []
    for index, (files, fmt) in enumerate(trees):
        found += find_nodes(open_tree(build_node_tree(tmp_path / str(index), files, "host-root", fmt)))
    return found


def test_two_inputs_that_agree_are_one_node_read_in_input_order(tmp_path, kubeadm):
    members = _nodes(tmp_path, (kubeadm.files(), "tar"), (kubeadm.files(), "zip"))
    joined, conflicts = join_nodes(identify_nodes(reversed(members)))
    assert conflicts == [] and len(joined) == 1
    node = joined[0]
    assert (node.name, node.distribution) == ("master-0", Distribution.KUBEADM)
    assert node.members == tuple(sorted(members, key=lambda m: m.input)) and node.input == " + ".join(m.input for m in node.members)
    assert node.read_host_file(CA).tree_path == "etc/kubernetes/pki/ca.crt"


def test_two_inputs_that_disagree_are_kept_apart_and_named_a_conflict(tmp_path, kubeadm):
    changed = {**kubeadm.files(), CA: KubeadmCluster(node="master-0").pki["ca"].cert_pem}
    members = _nodes(tmp_path, (kubeadm.files(), "tar"), (changed, "tar"))
    joined, conflicts = join_nodes(identify_nodes(members))
    assert [type(n) for n in joined] == [Node, Node] and len(conflicts) == 1
    conflict = conflicts[0]
    assert conflict.node == "master-0" and CA in conflict.differing
    assert sorted(n.name for n in joined) == sorted(conflict.renamed) and all(n.name.startswith("master-0 (") for n in joined)
    assert "each is analysed on its own" in conflict.describe()


def test_one_input_is_one_node_with_its_own_identity(tmp_path, kubeadm):
    (member,) = _nodes(tmp_path, (kubeadm.files(), "directory"))
    joined, conflicts = join_nodes(identify_nodes([member]))
    assert conflicts == [] and joined[0].members == (member,) and joined[0].mounts == member.mounts
    assert joined[0].list_host_dir("/etc/kubernetes/pki") == member.list_host_dir("/etc/kubernetes/pki")
