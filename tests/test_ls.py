"""``kforensic ls`` as a person runs it: ``python -m analyzer ls …`` in a subprocess.

Every run must leave the evidence untouched, never print key material, and turn unusable input
into one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.evidence.inputs import InputKind
from analyzer.report.listing import INPUT_KINDS
from tests.fixtures.archives import build
from tests.fixtures.archives import listing as tree_listing
from tests.fixtures.encryption import encryption_config_yaml
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.node_trees import BACKUP_STAMP, build_node_tree, cluster_backup_members, tiny_bolt_bytes
from tests.fixtures.openshift_case import OpenShiftCluster

REPO = Path(__file__).resolve().parents[1]
SECRET = b"s3cr3t-encryption-key-32-bytes!!"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer", "ls", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "KFORENSIC_DEBUG": "", "COLUMNS": "250"},
    )




def run_untouched(root: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    before = tree_listing(root)
    result = run(*args)
    assert tree_listing(root) == before, "ls changed the evidence directory"
    assert "Traceback" not in result.stdout + result.stderr
    return result


def key_lines(pem: bytes) -> list[str]:
    """Base64 lines of a PEM key: none of them may ever be printed."""
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


def test_ls_kubeadm_tree_shows_files_kinds_and_links(tmp_path, kubeadm):
    path = build_node_tree(tmp_path, kubeadm.files(), "host-root", "tar.gz", name="master-0")
    result = run_untouched(tmp_path, path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "node master-0" in out and "kubeadm" in out
    assert "/etc/kubernetes/pki/apiserver.crt" in out and "CN=kube-apiserver" in out
    assert "static-pod-manifest" in out and "kube-apiserver, 27 flags" in out
    assert "/var/lib/kubelet/pki/kubelet-client-current.pem →" in out and "certificate-and-key" in out
    assert "RSA 2048" in out and "ECDSA secp256r1" in out
    for pair in (kubeadm.pki["apiserver"], kubeadm.kubelet_client):
        assert not any(line in out for line in key_lines(pair.key_pem))


def test_ls_json_is_complete_and_secret_free(tmp_path, kubeadm):
    path = build_node_tree(tmp_path, kubeadm.files(), "split", "zip")
    result = run_untouched(tmp_path, path, "-o", "json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert [(i["kind"], i["format"]) for i in listing["inputs"]] == [("node-tree", "zip")]
    (node,) = listing["nodes"]
    files = {f["host_path"]: f for f in node["files"]}
    assert files["/etc/kubernetes/pki/ca.crt"]["tree_path"] == "etc-kubernetes/pki/ca.crt"
    assert files["/etc/kubernetes/pki/ca.crt"]["kind"] == "certificate"
    assert files["/etc/kubernetes/pki/ca.crt"]["first_subject_cn"] == "kubernetes"
    assert files["/etc/kubernetes/pki/ca.crt"]["not_after"] == "2034-12-30T00:00:00Z"
    current = files["/var/lib/kubelet/pki/kubelet-client-current.pem"]
    assert current["link_target"] == "/var/lib/kubelet/pki/kubelet-client-2025-01-01-00-00-00.pem"
    assert current["resolves_to"] == f"{path}!kubelet-pki/kubelet-client-2025-01-01-00-00-00.pem"
    assert current["kind"] == "certificate-and-key" and current["first_subject_cn"] == "system:node:master-0"
    key = files["/etc/kubernetes/pki/sa.key"]
    assert (key["kind"], key["key_algorithm"], len(key["public_key_sha256"])) == ("private-key", "RSA 2048", 64)
    assert not any(line in result.stdout for line in key_lines(kubeadm.pki["ca"].key_pem))
    assert {m["host_path"]: m["tree_path"] for m in node["mounts"]} == {
        "/etc/kubernetes": "etc-kubernetes", "/var/lib/kubelet/pki": "kubelet-pki"}


def test_ls_sosreport_marks_files_scrubbed(tmp_path, kubeadm):
    path = build_node_tree(tmp_path, kubeadm.files(), "sosreport", "tar.xz")
    result = run_untouched(tmp_path, path, "-o", "json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["inputs"][0]["kind"] == "sosreport"
    (node,) = listing["nodes"]
    assert node["scrubbed"] is True
    files = {f["host_path"]: f for f in node["files"]}
    admin = files["/etc/kubernetes/admin.conf"]
    assert (admin["kind"], admin["state"], admin["scrubbed"]) == ("kubeconfig", "scrubbed", True)
    assert "client certificate data scrubbed" in admin["summary"]
    assert files["/etc/kubernetes/manifests/etcd.yaml"]["state"] == "present"
    assert not any(path.startswith("/etc/kubernetes/pki/") for path in files)


def test_ls_openshift_sosreport_scrubbed_certificates_keep_their_kind(tmp_path):
    path = build_node_tree(tmp_path, OpenShiftCluster().files(), "sosreport", "directory")
    result = run_untouched(tmp_path, path, "-o", "json")
    files = {f["host_path"]: f for f in json.loads(result.stdout)["nodes"][0]["files"]}
    secret = "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/kubelet-client"
    assert (files[f"{secret}/tls.crt"]["kind"], files[f"{secret}/tls.crt"]["state"]) == ("certificate", "scrubbed")
    assert (files[f"{secret}/tls.key"]["kind"], files[f"{secret}/tls.key"]["state"]) == ("private-key", "scrubbed")


def test_ls_openshift_master_kinds(tmp_path):
    cluster = OpenShiftCluster()
    path = build_node_tree(tmp_path, cluster.files(), "host-root", "tar.xz")
    result = run_untouched(tmp_path, path, "-o", "json")
    assert result.returncode == 0, result.stderr
    (node,) = json.loads(result.stdout)["nodes"]
    assert (node["name"], node["distribution"]) == ("master-0", "openshift")
    files = {f["host_path"]: f for f in node["files"]}
    resources = "/etc/kubernetes/static-pod-resources"
    kinds = {
        f"{resources}/kube-apiserver-pod-7/configmaps/config/config.yaml": ("kube-apiserver-config", "6 named certificates"),
        f"{resources}/kube-apiserver-certs/configmaps/client-ca/ca-bundle.crt": ("ca-bundle", "5 certificates, first CN="),
        f"{resources}/kube-apiserver-pod-7/configmaps/sa-token-signing-certs/service-account-001.pub": ("public-key", "RSA 2048"),
        f"{resources}/kube-apiserver-certs/secrets/node-kubeconfigs/localhost.kubeconfig": ("kubeconfig", "client CN=system:admin"),
        f"{resources}/kube-apiserver-certs/secrets/kubelet-client/tls.key": ("private-key", "ECDSA secp256r1"),
        "/etc/kubernetes/manifests/kube-apiserver-pod.yaml": ("static-pod-manifest", "kube-apiserver, revision 7"),
    }
    for host_path, (kind, summary) in kinds.items():
        assert (files[host_path]["kind"], files[host_path]["state"]) == (kind, "present"), host_path
        assert summary in files[host_path]["summary"], files[host_path]["summary"]
    assert not any(line in result.stdout for line in key_lines(cluster.targets["kubelet-client"].key_pem))


def test_ls_cluster_backup_lists_snapshot_and_tarball(tmp_path):
    cluster = OpenShiftCluster()
    encryption = encryption_config_yaml([("aesgcm", "key-7", SECRET)]).encode()
    cluster.disk_overrides = {
        "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/secrets/encryption-config/encryption-config": encryption}
    members = cluster_backup_members(cluster.files(), tiny_bolt_bytes(tmp_path), dirty=True)
    path = build("directory", tmp_path, members, name="backup")
    result = run_untouched(tmp_path, path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert INPUT_KINDS[InputKind.CLUSTER_BACKUP] in out and INPUT_KINDS[InputKind.STATIC_KUBERESOURCES] in out
    assert f"snapshot_{BACKUP_STAMP}__POSSIBLY_DIRTY__.db" in out and "POSSIBLY_DIRTY" in out and "in place" in out
    assert "aesgcm key 'key-7'" in out
    assert "s3cr3t" not in out and encryption_config_yaml([("aesgcm", "key-7", SECRET)]).split("secret: ")[1][:20] not in out


def test_ls_multi_master_case(tmp_path):
    case = tmp_path / "case"
    for name in ("master-0", "master-1"):
        build_node_tree(case, KubeadmCluster(node=name).files(), "host-root", "tar", name=name)
    (case / "snapshot.db").write_bytes(tiny_bolt_bytes(tmp_path))
    result = run_untouched(tmp_path, case, "-o", "json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert [n["name"] for n in listing["nodes"]] == ["master-0", "master-1"]
    assert [(i["kind"], i["parent"]) for i in listing["inputs"]] == [
        ("case", None), ("node-tree", str(case)), ("node-tree", str(case))]
    assert listing["snapshots"][0]["path"] == str(case / "snapshot.db")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: tmp.joinpath("notes.txt").write_bytes(b"hello\n") and tmp / "notes.txt", "neither YAML kforensic reads"),
        (lambda tmp: tmp.joinpath("blob.bin").write_bytes(bytes(range(255, -1, -1)) * 3) and tmp / "blob.bin", "a binary file"),
        (lambda tmp: tmp / "does-not-exist", ": no such file"),
        (lambda tmp: tmp.joinpath("bad.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage") and tmp / "bad.tar.gz", "gzip"),
    ],
)
def test_ls_unusable_input_is_one_line_and_exit_2(tmp_path, kubeadm, make, expected):
    good = build_node_tree(tmp_path / "good", kubeadm.files(), "host-root", "tar")
    bad = make(tmp_path)
    result = run_untouched(tmp_path, good, bad)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kforensic: {bad}") and expected in lines[0]


def test_ls_unknown_input_lists_what_was_recognised(tmp_path, kubeadm):
    good = build_node_tree(tmp_path / "good", kubeadm.files(), "host-root", "tar")
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"hello\n")
    result = run_untouched(tmp_path, good, junk)
    assert result.returncode == 2
    assert f"(recognised so far: node-tree {good})" in result.stderr
    assert "expected an etcd snapshot, a node tree" in result.stderr


def test_ls_needs_an_argument():
    result = run()
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_every_input_kind_has_a_label():
    assert set(INPUT_KINDS) == set(InputKind)
