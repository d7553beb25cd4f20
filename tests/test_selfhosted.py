"""A bootkube/Tectonic self-hosted control plane (issue 13): wired from its DaemonSet, Deployments and
Secrets in etcd and from the pod-checkpointer's copies on the node."""

from __future__ import annotations

from analyzer.scan import ScanOptions, run_scan
from tests.fixtures.pki import REFERENCE_UTC


def failing(report):
    return [f for f in report["findings"] if f["severity"] in ("critical", "error")]


def test_the_checkpointed_control_plane_is_wired_on_the_node(scenario_reports):
    code, report, _ = scenario_reports("self_hosted_tectonic")
    assert code == 1 and report["distribution"] == "self-hosted"
    apiserver = next(c for c in report["components"] if c["component"] == "kube-apiserver")
    assert apiserver["node"] == "master-0"  # the kubelet's identity, never the pod's suffix x7k2p
    assert apiserver["configured_by"].startswith("checkpointed pod /etc/kubernetes/manifests/kube-system-kube-apiserver-x7k2p.json")


def test_the_expired_etcd_client_pair_is_named_from_the_checkpoint(scenario_reports):
    _, report, _ = scenario_reports("self_hosted_tectonic")
    etcd = [f for f in failing(report) if f["role"] == "etcd-client"]
    assert [f["id"] for f in etcd] == ["validity.expired"] and etcd[0]["severity"] == "critical"
    assert etcd[0]["subject"]["cert"] == "/etc/kubernetes/secrets/etcd-client.crt"
    assert "checkpoint-secrets/kube-system/kube-apiserver-x7k2p/kube-apiserver/etcd-client.crt" in etcd[0]["subject"]["source"]


def test_stale_service_account_cas_and_their_source_are_named(scenario_reports):
    _, report, _ = scenario_reports("self_hosted_tectonic")
    [stale] = [f for f in failing(report) if f["id"] == "service-account.token-ca-stale"]
    assert stale["title"].startswith("3 service-account token secret(s) and 3 kube-root-ca.crt config map(s)")
    assert "tectonic-system/tectonic-console-token-abcde" in stale["detail"]
    assert "the source is stale too: kube-controller-manager's --root-ca-file /etc/kubernetes/secrets/ca.crt" in stale["detail"]
    assert "for the next restart" in stale["detail"]  # judged against the re-rendered Secret as well
    assert stale["remediation"][0].startswith("Fix the source first")
    assert "Secret kube-system/kube-controller-manager" in stale["remediation"][0]


def test_the_stale_checkpoint_is_said_to_keep_restarting(scenario_reports):
    _, report, _ = scenario_reports("self_hosted_tectonic")
    drift = [f for f in report["findings"] if f["id"] == "drift.copies-differ" and f["component"] == "kube-apiserver"]
    assert drift and all("keep restarting the stale checkpoint" in f["detail"] for f in drift)
    assert any("checkpoint-secrets" in step for f in drift for step in f["remediation"])


def test_with_the_snapshot_alone_nodes_come_from_the_daemonset_pods(scenario_reports):
    scenario_reports("self_hosted_tectonic")
    case = scenario_reports.cases["self_hosted_tectonic"]
    result = run_scan(ScanOptions(evidence=[case.snapshot], reference_utc=REFERENCE_UTC))
    assert result.wiring.distribution == "self-hosted"
    nodes = {c.node for c in result.wiring.components}
    assert nodes == {"master-0"}, nodes
    assert any("spec.nodeName" in note for note in result.wiring.notes)
    assert any(f.id == "service-account.token-ca-stale" for f in result.findings)


def test_the_node_tree_alone_is_evidence(scenario_reports):
    scenario_reports("self_hosted_tectonic")
    case = scenario_reports.cases["self_hosted_tectonic"]
    result = run_scan(ScanOptions(evidence=[case.node_tree], reference_utc=REFERENCE_UTC))
    assert result.wiring.distribution == "self-hosted"
    assert {c.name for c in result.wiring.components} >= {"kube-apiserver", "kubelet"}
    assert any(f.role == "etcd-client" and f.id == "validity.expired" for f in result.findings)
