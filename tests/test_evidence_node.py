"""analyzer.evidence.node: one master's host paths, wherever the evidence put them.

Every tree is built in tmp_path from the cluster models (``KubeadmCluster``, ``OpenShiftCluster``)
in each layout customers send, written as a directory and as archives; reading happens under
``forbid_writes``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.evidence.tree import EntryKind, Limits, open_tree
from analyzer.evidence.node import (
    LEAVES_EVIDENCE,
    LINK_LOOP,
    MAYBE_MISSING,
    NOT_IN_EVIDENCE,
    NodeEvidence,
    find_nodes,
    input_stem,
)
from tests.fixtures.archives import File, Symlink, build, forbid_writes, tar_bytes
from tests.fixtures.kubeadm_case import KubeadmCluster, Link
from tests.fixtures.node_trees import NODE_FORMATS, build_node_tree, members_at, place

CURRENT = "/var/lib/kubelet/pki/kubelet-client-current.pem"
DATED = "/var/lib/kubelet/pki/kubelet-client-2025-01-01-00-00-00.pem"
CA = "/etc/kubernetes/pki/ca.crt"

# Where each layout puts /etc/kubernetes/pki/ca.crt and the kubelet's dated client pem.
LAYOUT_PATHS = {
    "host-root": ("etc/kubernetes/pki/ca.crt", "var/lib/kubelet/pki/kubelet-client-2025-01-01-00-00-00.pem"),
    "etc-kubernetes": ("pki/ca.crt", None),
    "split": ("etc-kubernetes/pki/ca.crt", "kubelet-pki/kubelet-client-2025-01-01-00-00-00.pem"),
}


def only_node(path: Path, **tree_options: object) -> NodeEvidence:
    tree = open_tree(path, **tree_options)  # type: ignore[arg-type]  # the options are parametrized per case
    nodes = find_nodes(tree)
    assert len(nodes) == 1, nodes
    return nodes[0]


@pytest.mark.parametrize("fmt", NODE_FORMATS)
@pytest.mark.parametrize("layout", sorted(LAYOUT_PATHS))
def test_host_paths_map_through_every_layout(tmp_path, kubeadm, layout, fmt):
    path = build_node_tree(tmp_path, kubeadm.files(), layout, fmt)
    ca_at, dated_at = LAYOUT_PATHS[layout]
    with forbid_writes(tmp_path):
        node = only_node(path)
        ca = node.read_host_file(CA)
        current = node.read_host_file(CURRENT)
    assert (ca.tree_path, ca.data, ca.problem) == (ca_at, kubeadm.pki["ca"].cert_pem, None)
    assert ca.size == len(kubeadm.pki["ca"].cert_pem) and ca.mtime_utc is not None
    assert (node.input, node.base) == (str(path), "")
    if dated_at is None:  # only /etc/kubernetes was sent
        assert current.data is None and current.problem == NOT_IN_EVIDENCE
    else:
        # The link's absolute target is a host path, found through whichever mount holds it.
        assert current.tree_path == dated_at
        assert current.link_chain == (CURRENT,)
        assert current.data == kubeadm.kubelet_client.combined_pem


def test_listing_and_existence_include_directories_implied_by_mounts(tmp_path, kubeadm):
    node = only_node(build_node_tree(tmp_path, kubeadm.files(), "split", "tar.xz"))
    assert node.list_host_dir("/var/lib") == ["/var/lib/kubelet"]
    assert node.list_host_dir("/var/lib/kubelet") == ["/var/lib/kubelet/pki"]
    assert node.list_host_dir("/etc/kubernetes/manifests") == [
        f"/etc/kubernetes/manifests/{name}.yaml"
        for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    assert CURRENT in node.list_host_dir("/var/lib/kubelet/pki")
    assert node.host_exists("/var") and node.host_exists(CURRENT) and node.host_exists("/etc/kubernetes/pki/etcd")
    assert not node.host_exists("/etc/kubernetes/pki/nope.crt") and not node.host_exists("/opt")
    assert node.list_host_dir("/opt") == [] and node.list_host_dir(CA) == []
    assert node.lstat_host(CURRENT).kind is EntryKind.SYMLINK
    assert node.lstat_host(DATED).kind is EntryKind.FILE
    assert node.read_host_file("/etc/kubernetes/pki").problem == "is a directory, not a file"
    assert node.read_host_file("/var/lib").problem == "is a directory, not a file"


def test_iter_host_entries_lists_each_file_once_by_host_path(tmp_path, kubeadm):
    node = only_node(build_node_tree(tmp_path, kubeadm.files(), "split", "directory"))
    listed = {host: entry for host, entry in node.iter_host_entries() if entry.kind is not EntryKind.DIR}
    expected = {p for p in kubeadm.files() if p.startswith(("/etc/kubernetes/", "/var/lib/kubelet/pki/"))}
    assert set(listed) == expected
    assert listed[CURRENT].kind is EntryKind.SYMLINK


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("/opt/certs/kubelet.pem", LEAVES_EVIDENCE),  # no mount holds /opt
        ("/etc/kubernetes/pki/gone.pem", NOT_IN_EVIDENCE),  # covered, but absent
        ("../kubernetes/pki/ca.crt", None),  # relative: from the link's own directory, /etc/kubernetes
        ("loop-b", LINK_LOOP),
    ],
)
def test_links_are_followed_as_host_paths(tmp_path, kubeadm, target, problem):
    extra = {"/etc/kubernetes/link.pem": Link(target), "/etc/kubernetes/loop-b": Link("link.pem")}
    node = only_node(build_node_tree(tmp_path, {**kubeadm.files(), **extra}, "etc-kubernetes", "tar"))
    found = node.read_host_file("/etc/kubernetes/link.pem")
    if problem is None:
        assert found.data == kubeadm.pki["ca"].cert_pem and found.tree_path == "pki/ca.crt"
    else:
        assert found.data is None and found.problem.startswith(problem)
        assert found.link_chain[0] == "/etc/kubernetes/link.pem"


def test_missing_file_in_a_cut_archive_may_just_be_missing(tmp_path, kubeadm):
    whole = tar_bytes(members_at(place(kubeadm.files(), "host-root")), "gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    node = only_node(cut)
    assert node.partial
    missing = node.read_host_file("/var/lib/kubelet/pki/kubelet.key")
    assert (missing.data, missing.problem) == (None, MAYBE_MISSING)


def test_a_file_over_the_limit_is_named_not_read(tmp_path, kubeadm):
    path = build_node_tree(tmp_path, kubeadm.files(), "host-root", "tar")
    node = only_node(path, limits=Limits(max_member_bytes=600))
    found = node.read_host_file(CA)
    assert found.data is None and found.size == len(kubeadm.pki["ca"].cert_pem)
    assert found.problem.startswith("larger than the 600 bytes read from one file")


def test_sosreport_is_scrubbed_and_says_what_sos_leaves_out(tmp_path, kubeadm):
    node = only_node(build_node_tree(tmp_path, kubeadm.files(), "sosreport", "tar.xz", host="master-0"))
    assert node.scrubbed and node.host_root == "sosreport-master-0-2024-05-01-xyzabcd"
    ca = node.read_host_file(CA)
    assert ca.data is None and ca.problem == "not in the evidence (sos's kubernetes plugin does not collect /etc/kubernetes/pki)"
    admin = node.read_host_file("/etc/kubernetes/admin.conf")
    assert b"***** SCRUBBED BASE64 PEM *****" in admin.data
    # sos's top-level `hostname` is a relative link into sos_commands.
    assert node.read_host_file("/hostname").data == b"master-0\n"


def test_a_backup_copy_of_etc_kubernetes_is_noted_and_ignored(tmp_path, kubeadm):
    placed = place(kubeadm.files(), "host-root")
    placed["etc/kubernetes.bak/pki/ca.crt"] = b"old ca"
    placed["etc/kubernetes.bak/admin.conf"] = b"old admin"
    path = build("directory", tmp_path, members_at(placed))
    node = only_node(path)
    assert node.read_host_file(CA).data == kubeadm.pki["ca"].cert_pem
    assert any("etc/kubernetes.bak looks like another copy of /etc/kubernetes" in note for note in node.notes)


def test_masters_side_by_side_in_one_tree_are_separate_nodes(tmp_path):
    placed = {}
    for name in ("master-0", "master-1"):
        files = KubeadmCluster(node=name).files()
        placed.update({f"{name}/{path}": value for path, value in place(files, "host-root").items()})
    tree = open_tree(build("tar.gz", tmp_path, members_at(placed)))
    nodes = find_nodes(tree)
    # Named here after their directories; who each is, the wiring decides (test_wiring_node_identity.py).
    assert [(n.fallback_name, n.base, n.host_root) for n in nodes] == [("master-0", "master-0", "master-0"), ("master-1", "master-1", "master-1")]
    # Each node's absolute links stay inside its own host root.
    assert nodes[1].read_host_file(CURRENT).tree_path == "master-1/var/lib/kubelet/pki/kubelet-client-2025-01-01-00-00-00.pem"


def test_openshift_master(tmp_path, openshift):
    node = only_node(build_node_tree(tmp_path, openshift.files(), "host-root", "tar.gz"))
    resources = "/etc/kubernetes/static-pod-resources"
    assert {f"{resources}/kube-apiserver-pod-7", f"{resources}/kube-apiserver-certs"} <= set(node.list_host_dir(resources))
    serving = node.read_host_file(f"{resources}/kube-apiserver-certs/secrets/service-network-serving-certkey/tls.crt")
    assert serving.data == openshift.targets["service-network-serving-certkey"].cert_pem
    server = node.read_host_file("/var/lib/kubelet/pki/kubelet-server-current.pem")
    assert server.data == openshift.kubelet_serving.combined_pem and len(server.link_chain) == 1


def test_static_kuberesources_tarball_holds_only_revisions(tmp_path, openshift):
    node = only_node(build_node_tree(tmp_path, openshift.files(), "static-kuberesources", "tar.gz"))
    assert node.mounts[0].source == ""
    config = node.read_host_file("/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/configmaps/config/config.yaml")
    assert config.data == openshift.config_yaml()
    certs = node.read_host_file("/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/aggregator-client/tls.crt")
    assert "static_kuberesources tarball holds only" in certs.problem


def kubespray_files(cluster: KubeadmCluster) -> dict[str, bytes | Link]:
    files: dict[str, bytes | Link] = {
        f"/etc/kubernetes/ssl/{name}.crt": pair.cert_pem for name, pair in cluster.pki.items() if "/" not in name
    }
    files["/etc/kubernetes/manifests/kube-apiserver.yaml"] = cluster.manifests()["/etc/kubernetes/manifests/kube-apiserver.yaml"]
    etcd = cluster.pki["etcd/server"]
    files.update({
        "/etc/ssl/etcd/ssl/ca.pem": cluster.pki["etcd/ca"].cert_pem,
        "/etc/ssl/etcd/ssl/member-node1.pem": etcd.cert_pem,
        "/etc/ssl/etcd/ssl/member-node1-key.pem": etcd.key_pem,
        "/etc/ssl/etcd/ssl/node-node1.pem": etcd.cert_pem,
    })  # fmt: skip
    return files


def rke_files(cluster: KubeadmCluster) -> dict[str, bytes | Link]:
    return {
        "/etc/kubernetes/ssl/kube-ca.pem": cluster.pki["ca"].cert_pem,
        "/etc/kubernetes/ssl/kube-apiserver.pem": cluster.pki["apiserver"].cert_pem,
        "/etc/kubernetes/ssl/kube-apiserver-key.pem": cluster.pki["apiserver"].key_pem,
        "/etc/kubernetes/ssl/kubecfg-kube-node.yaml": cluster.kubeconfigs()["/etc/kubernetes/admin.conf"],
    }


@pytest.mark.parametrize("files", [kubespray_files, rke_files])
def test_kubespray_and_rke_trees(tmp_path, kubeadm, files):
    node = only_node(build_node_tree(tmp_path, files(kubeadm), "host-root", "tar"))
    some_path = next(iter(files(kubeadm)))
    assert node.read_host_file(some_path).data == files(kubeadm)[some_path]


def test_kubespray_etcd_certs_beside_etc_kubernetes_contents(tmp_path, kubeadm):
    placed = {}
    for path, value in kubespray_files(kubeadm).items():
        if path.startswith("/etc/kubernetes/"):
            placed["kubernetes/" + path.removeprefix("/etc/kubernetes/")] = value
        else:
            placed["etcd-ssl/" + path.rpartition("/")[2]] = value
    node = only_node(build("zip", tmp_path, members_at(placed)))
    member = node.read_host_file("/etc/ssl/etcd/ssl/member-node1.pem")
    assert member.tree_path == "etcd-ssl/member-node1.pem"
    assert node.read_host_file("/etc/kubernetes/ssl/ca.crt").tree_path == "kubernetes/ssl/ca.crt"


def test_a_tree_without_node_evidence_has_no_nodes(tmp_path):
    tree = open_tree(build("tar", tmp_path, [File("notes.txt", b"hello"), Symlink("x", "/etc/kubernetes")]))
    assert find_nodes(tree) == []


@pytest.mark.parametrize(
    ("source", "stem"),
    [("case/master-1.tar.gz", "master-1"), ("/x/node.TGZ", "node"), ("a.zip!b/master-2.tar.xz", "master-2"), ("dir/", "dir")],
)
def test_input_stem(source, stem):
    assert input_stem(source) == stem


def test_host_paths_must_be_absolute(tmp_path, kubeadm):
    node = only_node(build_node_tree(tmp_path, kubeadm.files(), "host-root", "directory"))
    with pytest.raises(ValueError, match="absolute"):
        node.read_host_file("etc/kubernetes/pki/ca.crt")
