"""Exit codes that mean what they say, and answers that do not depend on the order of the inputs,
on real evidence (snapshots from a real etcd, node trees as archives)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import scenarios
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.node_trees import build_node_tree

REPO = Path(__file__).resolve().parents[1]


def scan(*evidence: str | Path, out: Path) -> tuple[int, bytes, dict]:
    env = {key: value for key, value in os.environ.items() if key != "KFORENSIC_DEBUG"}
    result = subprocess.run([sys.executable, "-m", "analyzer", "scan", *map(str, evidence), "--at", scenarios.REFERENCE, "--json", str(out), "-q"],
                            capture_output=True, text=True, timeout=300, cwd=REPO, env={**env, "PYTHONPATH": str(REPO)})
    assert "Traceback" not in result.stderr, result.stderr
    raw = out.read_bytes()
    return result.returncode, raw, json.loads(raw)


def failing(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["severity"] in ("critical", "error")]


def split_tree(root: Path, files: dict, name: str, prefix: str) -> Path:
    """A node tree holding only the host files under ``prefix`` (what one `tar` of one directory gives)."""
    return build_node_tree(root, {path: value for path, value in files.items() if path.startswith(prefix)}, "host-root", "tar.gz", name=name)


@pytest.fixture(scope="module")
def broken_openshift(real_etcd, tmp_path_factory):
    return scenarios.openshift_user_key(tmp_path_factory.mktemp("order"))


def test_any_order_gives_the_same_exit_code_and_byte_identical_json(broken_openshift, tmp_path):
    evidence = broken_openshift.evidence()
    assert len(evidence) == 3  # snapshot, node tree, log
    answers = set()
    for index, order in enumerate([evidence, evidence[::-1], [evidence[1], evidence[2], evidence[0]]]):
        code, raw, _ = scan(*order, out=tmp_path / f"{index}.json")
        answers.add((code, raw))
    assert len(answers) == 1
    ((code, _),) = answers
    assert code == 1


def test_two_snapshots_are_ordered_by_revision_not_by_the_command_line(broken_openshift, tmp_path):
    # The same cluster before and after the bad edit: the later revision is the one analysed.
    before = tmp_path / "before.db"
    from analyzer.evidence.etcd import Snapshot

    with Snapshot(broken_openshift.snapshot) as snapshot:
        latest = snapshot.revision
    # An older copy is the same file cut to an earlier state by etcd itself: write a second snapshot.
    from tests.fixtures.etcd_server import EtcdServer
    from tests.fixtures.openshift_case import OpenShiftCluster

    with EtcdServer() as etcd:
        etcd.put_many(sorted(OpenShiftCluster().etcd_objects().items()))
        etcd.snapshot(before)
    codes = set()
    analysed = set()
    for index, order in enumerate([(before, broken_openshift.snapshot), (broken_openshift.snapshot, before)]):
        code, raw, report = scan(*order, broken_openshift.node_tree, out=tmp_path / f"{index}.json")
        codes.add((code, raw))
        [ignored] = [f for f in report["findings"] if f["id"] == "evidence.snapshot-ignored"]
        analysed.add(ignored["detail"])
    assert len(codes) == 1 and len(analysed) == 1
    with Snapshot(before) as snapshot:
        earlier = snapshot.revision
    assert earlier != latest
    newer = str(broken_openshift.snapshot) if latest > earlier else str(before)
    assert f"only the newest snapshot ({newer}) is analysed" in analysed.pop()


@pytest.fixture(scope="module")
def kubeadm_split(real_etcd, tmp_path_factory):
    """One healthy kubeadm master sent as two archives: /etc/kubernetes and /var/lib/kubelet."""
    root = tmp_path_factory.mktemp("split")
    cluster = KubeadmCluster()
    files = cluster.files()
    snapshot = scenarios._save(root, "kubeadm", [cluster.etcd_objects()])
    whole = build_node_tree(root / "whole", files, "host-root", "tar.gz", name="master-0")
    etc = split_tree(root / "etc", files, "master-0-etc", "/etc/")
    kubelet = split_tree(root / "kubelet", files, "master-0-kubelet", "/var/lib/kubelet/")
    return snapshot, whole, etc, kubelet


def test_two_inputs_for_one_node_are_merged(kubeadm_split, tmp_path):
    snapshot, whole, etc, kubelet = kubeadm_split
    code, _, report = scan(snapshot, whole, out=tmp_path / "whole.json")
    results = {}
    for index, order in enumerate([(snapshot, etc, kubelet), (kubelet, etc, snapshot)]):
        results[index] = scan(*order, out=tmp_path / f"split-{index}.json")
    assert results[0][:2] == results[1][:2]  # same exit code, byte-identical JSON
    split_code, _, split = results[0]
    components = [(c["component"], c["node"]) for c in split["verdict"]["components"]]
    assert len(components) == len(set(components)), components  # one kube-apiserver on master-0, not two
    assert components == [(c["component"], c["node"]) for c in report["verdict"]["components"]]
    assert split_code == code == 0
    assert [c["starts"] for c in split["verdict"]["components"]] == [c["starts"] for c in report["verdict"]["components"]]
    assert not [f for f in split["findings"] if f["id"] == "evidence.node-conflict"]


def test_two_inputs_that_disagree_about_a_node_are_a_conflict_not_a_choice(real_etcd, tmp_path):
    # Two healthy masters of two different clusters, both called master-0: each is judged, and the
    # report says they disagree instead of picking one.
    first, second = KubeadmCluster(), KubeadmCluster()
    a = build_node_tree(tmp_path / "a", first.files(), "host-root", "tar.gz", name="case-a")
    b = build_node_tree(tmp_path / "b", second.files(), "host-root", "tar.gz", name="case-b")
    answers = {scan(*order, out=tmp_path / f"{i}.json")[:2] for i, order in enumerate(itertools.permutations((a, b)))}
    assert len(answers) == 1
    code, raw = answers.pop()
    report = json.loads(raw)
    [conflict] = [f for f in report["findings"] if f["id"] == "evidence.node-conflict"]
    assert "disagree on /etc/kubernetes/" in conflict["detail"] and "as master-0 (case-a.tar.gz) and master-0 (case-b.tar.gz)" in conflict["detail"]
    nodes = {c["node"] for c in report["verdict"]["components"]}
    assert nodes == {"master-0 (case-a.tar.gz)", "master-0 (case-b.tar.gz)"}
    assert failing(report) == []
    assert code == 4  # nothing error-level, but which copy is the node is not known


def test_a_truncated_snapshot_is_never_exit_0(kubeadm_split, tmp_path):
    snapshot, whole, _, _ = kubeadm_split
    cut = tmp_path / "cut.db"
    data = snapshot.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    code, _, report = scan(cut, whole, out=tmp_path / "cut.json")
    assert report["partial"]
    assert code == (1 if failing(report) else 4)
    assert code != 0
