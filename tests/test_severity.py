"""Severity by consequence (analyzer/checks/severity.py), each rule tested, and the component table
agreeing with the findings in every scenario (issue 13)."""

from __future__ import annotations

import pytest

from analyzer.checks import severity
from analyzer.model.findings import Severity
from analyzer.scan import ScanOptions, run_scan
from analyzer.wiring.model import STORAGE_ROLES, Load, PairPayload
from tests.conftest import SCENARIOS
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.node_trees import build_node_tree
from tests.fixtures.pki import REFERENCE_UTC


def load(role: str = "serving", *, fatal: bool = False, component: str = "kube-apiserver") -> Load:
    return Load(component=component, node="master-0", role=role, order=1, fatal=fatal, label=role,
                payload=PairPayload(None, None, None, None, dynamic=False))


def test_a_load_that_stops_its_component_is_critical():
    assert severity.failure(load(fatal=True)) is Severity.CRITICAL


@pytest.mark.parametrize("role", sorted(STORAGE_ROLES))
def test_a_failing_storage_connection_is_critical_even_when_the_process_starts(role):
    assert severity.failure(load(role), stops_component=False) is Severity.CRITICAL


@pytest.mark.parametrize("component", ["kube-controller-manager", "kubelet", "admin kubeconfigs", "node kubeconfigs"])
def test_a_connection_that_will_fail_is_an_error_whoever_makes_it(component):
    assert severity.failure(load("kubeconfig", component=component), stops_component=False) is Severity.ERROR


def test_a_loaded_pair_that_peers_refuse_does_not_stop_the_component():
    assert severity.failure(load(fatal=True), stops_component=False) is Severity.ERROR


@pytest.mark.parametrize("rule", [severity.later, severity.unverified_by_peer, severity.partial_defect, severity.advised,
                                  severity.cannot_tell, severity.documented_consequence])
def test_what_is_not_certain_to_fail_now_is_a_warning(rule):
    assert rule() is Severity.WARNING and not rule().failing


def test_a_flag_the_component_refuses_stops_it():
    assert severity.component_stops() is Severity.CRITICAL


def _scan_tree(tmp_path, files):
    tree = build_node_tree(tmp_path, files, "host-root", "tar.gz", name="master-0")
    return run_scan(ScanOptions(evidence=[tree], reference_utc=REFERENCE_UTC))


def test_a_file_kubeadm_never_wrote_on_this_node_is_not_a_finding(tmp_path):
    """super-admin.conf exists only on the `kubeadm init` node of v1.29+; a joined master has none."""
    files = KubeadmCluster().files()
    del files["/etc/kubernetes/super-admin.conf"]
    result = _scan_tree(tmp_path, files)
    assert not [f for f in result.findings if "super-admin" in (f.subject.cert or "") + f.title + f.detail]
    admin = next(c for c in result.wiring.components if c.name == "admin kubeconfigs")
    assert [load.flag for load in admin.loads] == ["/etc/kubernetes/admin.conf"]
    assert any("super-admin.conf" in note and "kubeadm init" in note for note in admin.notes)


def test_a_missing_admin_conf_is_still_reported(tmp_path):
    """admin.conf is written on every control-plane node (init and join): its absence is a finding."""
    files = KubeadmCluster().files()
    del files["/etc/kubernetes/admin.conf"]
    result = _scan_tree(tmp_path, files)
    assert any(f.subject.cert == "/etc/kubernetes/admin.conf" for f in result.findings)


_AGREEING = "every connection checked is accepted"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_component_table_agrees_with_the_findings(scenario_reports, name):
    _, report, _ = scenario_reports(name)
    for component in report["verdict"]["components"]:
        mine = [f for f in report["findings"] if f["component"] == component["component"] and f["subject"]["node"] == component["node"]]
        failing = [f for f in mine if f["severity"] in ("critical", "error")]
        if failing:
            assert _AGREEING not in component["summary"], (component, [f["title"] for f in failing])
        if any(f["blocks_start"] for f in mine):
            assert component["starts"] is False, component
