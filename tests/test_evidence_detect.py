"""analyzer.evidence.detect: every input classified by content, case directories split per node.

Each evidence kind is built in tmp_path (no committed blobs) and detected under ``forbid_writes``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.errors import EvidenceError, UnsupportedEvidence
from analyzer.evidence.bbolt import open_bolt
from analyzer.evidence.detect import detect_evidence
from analyzer.evidence.inputs import InputKind
from analyzer.evidence.node import NodeEvidence
from analyzer.evidence.sniff import is_bolt_head
from analyzer.gomodel.klog import LogFormat, sniff_log
from analyzer.model.nodes import NodeIdentity
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.node_identity import identify_node
from tests.fixtures.archives import Dir, File, Symlink, build, forbid_writes
from tests.fixtures.encryption import encryption_config_yaml
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.node_trees import (
    BACKUP_STAMP,
    NODE_FORMATS,
    build_node_tree,
    cluster_backup_members,
    members_at,
    place,
    tiny_bolt_bytes,
)
from tests.fixtures.openshift_case import RESOURCES, OpenShiftCluster

KLOG = (
    b"I0501 12:00:00.000000       1 flags.go:64] FLAG: --tls-cert-file=\"/etc/kubernetes/pki/apiserver.crt\"\n"
    b'I0501 12:00:00.100000       1 dynamic_serving_content.go:113] "Loaded a new cert/key pair" name="serving-cert::a::b"\n'
    b'E0501 12:00:00.200000       1 run.go:74] "command failed" err="tls: private key does not match public key"\n'
)
ENCRYPTION = encryption_config_yaml([("aescbc", "key1", b"k" * 32)]).encode()


def named(node: NodeEvidence | None) -> NodeIdentity:
    """Who a node is: the wiring's decision, from the files detection found (wiring/node_identity.py)."""
    assert node is not None
    return identify_node(node)


@pytest.fixture(scope="module")
def openshift() -> OpenShiftCluster:
    """A master whose revision holds an encryption config, and etcd-pod-4 as cluster-backup.sh tars it."""
    cluster = OpenShiftCluster()
    cluster.disk_overrides = {
        f"{RESOURCES}/kube-apiserver-pod-7/secrets/encryption-config/encryption-config": ENCRYPTION,
        f"{RESOURCES}/etcd-pod-4/etcd-pod.yaml": cluster.etcd_pod_yaml(),
    }
    return cluster


@pytest.fixture(scope="module")
def bolt(tmp_path_factory) -> bytes:
    return tiny_bolt_bytes(tmp_path_factory.mktemp("bolt"))


def detect(tmp_path: Path, *paths: Path):
    with forbid_writes(tmp_path):
        return detect_evidence(paths)


# --------------------------------------------------------------------------- single inputs


@pytest.mark.parametrize("fmt", NODE_FORMATS)
def test_kubeadm_node_tree(tmp_path, kubeadm, fmt):
    path = build_node_tree(tmp_path, kubeadm.files(), "host-root", fmt)
    with detect(tmp_path, path) as evidence:
        assert [(i.source, i.kind, i.format) for i in evidence.inputs] == [(str(path), InputKind.NODE_TREE, fmt)]
        assert [(named(n).name, named(n).distribution) for n in evidence.nodes] == [("master-0", Distribution.KUBEADM)]
        assert evidence.nodes[0].read_host_file("/var/lib/kubelet/pki/kubelet-client-current.pem").readable
        assert not evidence.snapshots and not evidence.problems


@pytest.mark.parametrize("fmt", ["directory", "tar.xz", "zip"])
def test_scrubbed_sosreport_is_marked_not_broken(tmp_path, kubeadm, fmt):
    path = build_node_tree(tmp_path, kubeadm.files(), "sosreport", fmt)
    with detect(tmp_path, path) as evidence:
        (item,) = evidence.inputs
        assert item.kind is InputKind.SOSREPORT and item.named(named).notes[0] == "node master-0 (kubeadm), scrubbed by sos"
        (node,) = evidence.nodes
        assert node.scrubbed and named(node).name == "master-0"
        manifest = node.read_host_file("/etc/kubernetes/manifests/kube-apiserver.yaml")
        assert manifest.data == kubeadm.manifests()["/etc/kubernetes/manifests/kube-apiserver.yaml"]


def test_openshift_master_with_revisioned_encryption_config(tmp_path, openshift):
    path = build_node_tree(tmp_path, openshift.files(), "host-root", "tar.gz")
    with detect(tmp_path, path) as evidence:
        (node,) = evidence.nodes
        assert (named(node).name, named(node).distribution) == ("master-0", Distribution.OPENSHIFT)
        (config,) = evidence.encryption_configs
        assert config.data == ENCRYPTION and config.node is node
        assert config.host_path == f"{RESOURCES}/kube-apiserver-pod-7/secrets/encryption-config/encryption-config"
        assert config.source == f"{path}!etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/secrets/encryption-config/encryption-config"


def test_kubeadm_encryption_provider_config_is_followed(tmp_path):
    cluster = KubeadmCluster(apiserver_extra_flags=["--encryption-provider-config=/etc/kubernetes/enc/enc.yaml"],
                             extra_files={"/etc/kubernetes/enc/enc.yaml": ENCRYPTION})
    with detect(tmp_path, build_node_tree(tmp_path, cluster.files(), "etc-kubernetes", "tar")) as evidence:
        (config,) = evidence.encryption_configs
        assert (config.host_path, config.data) == ("/etc/kubernetes/enc/enc.yaml", ENCRYPTION)


@pytest.mark.parametrize("dirty", [False, True])
def test_cluster_backup_directory(tmp_path, openshift, bolt, dirty):
    path = build("directory", tmp_path, cluster_backup_members(openshift.files(), bolt, dirty=dirty), name="backup")
    with detect(tmp_path, path) as evidence:
        kinds = [(i.kind, i.parent) for i in evidence.inputs]
        assert kinds == [(InputKind.CLUSTER_BACKUP, None), (InputKind.STATIC_KUBERESOURCES, str(path))]
        (snapshot,) = evidence.snapshots
        suffix = "__POSSIBLY_DIRTY__" if dirty else ""
        assert snapshot.path == path / f"snapshot_{BACKUP_STAMP}{suffix}.db" and snapshot.opens_in_place
        assert snapshot.possibly_dirty is dirty and snapshot.backup_stamp == BACKUP_STAMP
        assert snapshot.backup_utc.isoformat() == "2024-05-01T13:45:01+00:00"
        (node,) = evidence.nodes
        # The tarball names no node itself; its etcd pod does.
        assert (named(node).name, named(node).distribution) == ("master-0", Distribution.OPENSHIFT)
        assert named(node).name_source.endswith("static-pod-resources/etcd-pod-4/etcd-pod.yaml")
        (config,) = evidence.encryption_configs
        assert config.data == ENCRYPTION and "static_kuberesources" in config.source


def test_real_snapshot_in_a_cluster_backup_opens(tmp_path, openshift, small_snapshot):
    snapshot_path, _ = small_snapshot
    members = cluster_backup_members(openshift.files(), snapshot_path.read_bytes())
    with detect(tmp_path, build("directory", tmp_path, members, name="backup")) as evidence:
        (snapshot,) = evidence.snapshots
        with open_bolt(snapshot.path) as db:
            assert db.meta is not None and db.bucket(b"key") is not None


def test_snapshot_inside_a_plain_tar_is_exposed_by_offset(tmp_path, openshift, bolt):
    path = build("tar", tmp_path, cluster_backup_members(openshift.files(), bolt), name="backup")
    with detect(tmp_path, path) as evidence:
        assert evidence.inputs[0].kind is InputKind.CLUSTER_BACKUP
        (snapshot,) = evidence.snapshots
        assert snapshot.path == path and snapshot.offset > 0 and snapshot.problem is None
        assert not snapshot.opens_in_place
        with open(path, "rb") as archive:
            archive.seek(snapshot.offset)
            assert archive.read(snapshot.size) == bolt


@pytest.mark.parametrize(("fmt", "spilled"), [("tar.gz", True), ("tar.xz", True), ("zip", False)])
def test_snapshot_inside_a_compressed_archive_is_decompressed_not_held(tmp_path, openshift, bolt, fmt, spilled):
    """A compressed tar cannot be read again: its snapshot goes to an anonymous file as it streams past;
    a zip member is decompressed when the snapshot is opened. Neither is held in memory."""
    path = build(fmt, tmp_path, cluster_backup_members(openshift.files(), bolt, dirty=True), name="backup")
    with detect(tmp_path, path) as evidence:
        (snapshot,) = evidence.snapshots
        assert snapshot.path is None and snapshot.possibly_dirty and snapshot.problem is None
        assert (snapshot.tree_path in snapshot.tree.spilled) is spilled
        assert not evidence.problems
        with snapshot.open() as opened:
            assert opened.file_size == len(bolt) and opened.source == f"{path}!snapshot_{BACKUP_STAMP}__POSSIBLY_DIRTY__.db"
        assert [named(n).name for n in evidence.nodes] == ["master-0"]


def test_standalone_snapshot(tmp_path, bolt):
    path = tmp_path / "etcd.bin"
    path.write_bytes(bolt)
    with detect(tmp_path, path) as evidence:
        assert [(i.kind, i.size) for i in evidence.inputs] == [(InputKind.SNAPSHOT, len(bolt))]
        assert evidence.snapshots[0].opens_in_place and evidence.snapshots[0].backup_stamp is None


# --------------------------------------------------------------------------- cases


def test_multi_master_case_directory_is_split_per_node(tmp_path, bolt):
    case = tmp_path / "case"
    build_node_tree(case, KubeadmCluster(node="master-0").files(), "host-root", "directory", name="master-0")
    build_node_tree(case, KubeadmCluster(node="master-1").files(), "host-root", "tar.gz", name="master-1")
    build_node_tree(case, KubeadmCluster(node="master-2").files(), "sosreport", "directory", name="sos", host="master-2")
    (case / "snapshot.db").write_bytes(bolt)
    (case / "master-0" / "kube-apiserver.log").write_bytes(KLOG)
    (case / "encryption.yaml").write_bytes(ENCRYPTION)
    (case / "README.txt").write_bytes(b"collected by the customer on 2024-05-01\n")
    with detect(tmp_path, case) as evidence:
        assert sorted(named(n).name for n in evidence.nodes) == ["master-0", "master-1", "master-2"]
        top = evidence.inputs[0]
        assert (top.source, top.kind) == (str(case), InputKind.CASE)
        assert any("not recognised (1 files): README.txt" in note for note in top.notes)
        assert {i.kind for i in evidence.inputs[1:]} == {InputKind.NODE_TREE, InputKind.LOG, InputKind.ENCRYPTION_CONFIG}
        assert [s.path for s in evidence.snapshots] == [case / "snapshot.db"]
        (log,) = evidence.logs
        assert (named(log.node).name, log.format, log.read_bytes()) == ("master-0", LogFormat.KLOG, KLOG)
        assert [c.source for c in evidence.encryption_configs] == [str(case / "encryption.yaml")]
        sos = next(n for n in evidence.nodes if named(n).name == "master-2")
        assert sos.scrubbed and sos.input.endswith("case/sos/sosreport-master-2-2024-05-01-xyzabcd")


def test_case_archive_with_masters_inside_is_split(tmp_path, bolt):
    placed: dict = {}
    for name in ("master-0", "master-1"):
        cluster = OpenShiftCluster(node=name)
        placed.update({f"case/{name}/{p}": v for p, v in place(cluster.files(), "host-root").items()})
    placed["case/etcd-backup/snapshot.db"] = bolt
    path = build("tar.gz", tmp_path, members_at(placed), name="case")
    with detect(tmp_path, path) as evidence:
        assert evidence.inputs[0].kind is InputKind.CASE
        assert [(named(n).name, n.input) for n in evidence.nodes] == [(f"master-{i}", f"{path}!case/master-{i}") for i in (0, 1)]
        assert evidence.snapshots[0].source == f"{path}!case/etcd-backup/snapshot.db"


def test_logs_inside_a_node_are_found_by_host_path(tmp_path, kubeadm):
    cri = b"".join(b"2024-05-01T12:00:00.000000000Z stderr F " + line + b"\n" for line in KLOG.splitlines())
    files = {
        **kubeadm.files(),
        "/var/log/pods/kube-system_kube-apiserver-master-0_0f4e2b/kube-apiserver/0.log": cri,
        "/var/log/kube-apiserver/termination.log": KLOG,
        "/var/log/kube-apiserver/audit.log": b'{"kind":"Event","apiVersion":"audit.k8s.io/v1"}\n',
    }
    with detect(tmp_path, build_node_tree(tmp_path, files, "host-root", "tar.gz")) as evidence:
        found = sorted((log.source.rpartition("!")[2], log.format, named(log.node).name) for log in evidence.logs)
        assert found == [
            ("var/log/kube-apiserver/termination.log", LogFormat.KLOG, "master-0"),
            ("var/log/pods/kube-system_kube-apiserver-master-0_0f4e2b/kube-apiserver/0.log", LogFormat.CRI, "master-0"),
        ]
        assert evidence.logs[0].read_bytes(10) in (cri[:10], KLOG[:10])
        termination = next(log for log in evidence.logs if log.source.endswith("termination.log"))
        assert termination.read_tail(len(KLOG)) == KLOG
        with pytest.raises(EvidenceError, match=r"inside an archive is not read in place .*--log$"):
            termination.read_tail(len(KLOG) - 1)  # a member is read from its start only: say so, do not guess


def test_a_long_log_file_is_read_from_its_last_whole_line(tmp_path):
    path = tmp_path / "kube-apiserver.log"
    path.write_bytes(KLOG)
    last = KLOG.splitlines(keepends=True)[-1]
    with detect(tmp_path, path) as evidence:
        [log] = evidence.logs
        assert log.read_tail(len(last) + 5) == last  # five bytes of the line before are cut off
        assert log.read_tail(len(KLOG)) == KLOG


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (KLOG, LogFormat.KLOG),
        (b'{"ts":1714564800000.1,"caller":"app/server.go:1","msg":"command failed","v":0}\n' * 3, LogFormat.JSON),
        (b"May 01 12:00:00 master-0 kube-apiserver[123]: " + KLOG.splitlines()[0] + b"\n", LogFormat.JOURNAL),
        (b"2024-05-01T12:00:00+0000 master-0 kube-apiserver[123]: " + KLOG.splitlines()[0] + b"\n", LogFormat.JOURNAL),
        (b"__CURSOR=s=1\n__REALTIME_TIMESTAMP=1714564800000000\nMESSAGE\n" + len(KLOG.splitlines()[2]).to_bytes(8, "little")
         + KLOG.splitlines()[2] + b"\n\n", LogFormat.JOURNAL_EXPORT),
        (b"__CURSOR=s=1\n__REALTIME_TIMESTAMP=1714564800000000\nMESSAGE=" + KLOG.splitlines()[2] + b"\n\n",
         LogFormat.JOURNAL_EXPORT),
        (b"Flag --insecure-port has been deprecated\n" + KLOG, LogFormat.KLOG),  # crictl logs' first lines
        (b"hello\nworld\n" + KLOG.splitlines()[0], None),
        (b"apiVersion: v1\nkind: Pod\n", None),
        (b"\x00\x01" + KLOG, None),
    ],
)
def test_sniff_log(data, fmt):
    assert sniff_log(data) is fmt


def test_standalone_log_and_encryption_config(tmp_path):
    log, config = tmp_path / "kas.txt", tmp_path / "enc"
    log.write_bytes(KLOG)
    config.write_bytes(ENCRYPTION)
    with detect(tmp_path, log, config) as evidence:
        assert [i.kind for i in evidence.inputs] == [InputKind.LOG, InputKind.ENCRYPTION_CONFIG]
        assert evidence.logs[0].read_bytes() == KLOG and evidence.encryption_configs[0].data == ENCRYPTION


def test_hostile_members_are_problems_not_failures(tmp_path, kubeadm):
    members = [*members_at(place(kubeadm.files(), "host-root")), File("../escape.txt", b"x"), Symlink("etc/evil", "/../../etc/shadow")]
    with detect(tmp_path, build("tar", tmp_path, members)) as evidence:
        assert named(evidence.nodes[0]).name == "master-0"
        assert any("escape.txt" in problem and "'..'" in problem for problem in evidence.problems)


# --------------------------------------------------------------------------- refusals


def test_unknown_file_raises_one_line_naming_what_was_recognised(tmp_path, kubeadm):
    good = build_node_tree(tmp_path, kubeadm.files(), "host-root", "tar")
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"the cluster went down at noon\n")
    with forbid_writes(tmp_path), pytest.raises(UnsupportedEvidence) as raised:
        detect_evidence([good, junk])
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{junk}: ")
    assert "neither YAML kforensic reads nor a kube-apiserver log" in message
    assert f"recognised so far: node-tree {good}" in message and "expected an etcd snapshot" in message


@pytest.mark.parametrize("fmt", ["directory", "zip"])
def test_directory_or_archive_without_evidence_is_refused(tmp_path, fmt):
    path = build(fmt, tmp_path, [Dir("docs"), File("docs/a.md", b"# a"), File("b.bin", b"\x00\x01")], name="stuff")
    with pytest.raises(UnsupportedEvidence, match=r"with 2 files \(b.bin, docs/a.md\), none of them evidence"):
        detect_evidence([path])


def test_damaged_snapshot_named_like_one_suggests_salvage(tmp_path, bolt):
    path = tmp_path / "snapshot.db"
    path.write_bytes(b"\x00" * 16 + b"\xff" * 16 + bolt[32:])
    with pytest.raises(UnsupportedEvidence, match="--salvage"):
        detect_evidence([path])


def test_missing_path_is_an_evidence_error(tmp_path):
    with pytest.raises(EvidenceError, match=r": no such file$"):
        detect_evidence([tmp_path / "nope"])


def test_open_trees_are_closed_when_a_later_input_fails(tmp_path, kubeadm, monkeypatch):
    closed = []
    from analyzer.evidence import tree

    monkeypatch.setattr(tree.TarTree, "close", lambda self: closed.append(self.source))
    good = build_node_tree(tmp_path, kubeadm.files(), "host-root", "tar")
    with pytest.raises(EvidenceError):
        detect_evidence([good, tmp_path / "missing"])
    assert closed == [str(good)]


def test_is_bolt_head(bolt):
    assert is_bolt_head(bolt[:64])
    big_endian = bolt[:16] + bolt[16:20][::-1] + (2).to_bytes(4, "big") + (4096).to_bytes(4, "big")
    assert is_bolt_head(big_endian)
    assert not is_bolt_head(bolt[:16] + bolt[16:20] + (3).to_bytes(4, "little") + bolt[24:64])
    assert not is_bolt_head(b"\xed\xda\x0c\xed" * 2)
