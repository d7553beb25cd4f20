"""Recovery forecasts and deadlines on real evidence (tests/fixtures/scenarios.py): each fixture's
findings carry the recovery the mechanism behind them gives, and the deadlines are computed at --at."""

from __future__ import annotations

import pytest


def by_label(report: dict, id_: str) -> dict[str, str]:
    return {f["label"]: f["recovery"] for f in report["findings"] if f["id"] == id_}


def test_openshift_started_after_its_short_lived_certificates_expired_offline(scenario_reports):
    _, report, _ = scenario_reports("openshift_offline_expired")
    expired = by_label(report, "validity.expired")
    assert expired == {
        "default serving pair": "heals-on-restart",
        "SNI pair 1 of 6, localhost-serving-cert-certkey": "heals-on-restart",
        "SNI pair 2 of 6, service-network-serving-certkey": "heals-on-restart",
        "SNI pair 6 of 6, user-serving-cert-000": "needs-reissue",
        "kubelet client pair": "needs-csr-approval",
    }
    kubelet = next(f for f in report["findings"] if f["id"] == "validity.expired" and f["component"] == "kubelet")
    assert "bootstrap" in kubelet["recovery_detail"] and "oc adm certificate approve" in kubelet["recovery_detail"]
    operator = next(f for f in report["findings"] if f["label"] == "SNI pair 1 of 6, localhost-serving-cert-certkey")
    assert "cert-regeneration controller" in operator["recovery_detail"]
    # The kubelet's client certificate ran out first among what does not heal: the deadline has passed.
    shutdown = report["verdict"]["safe_shutdown"]
    assert shutdown["passed"] is True and shutdown["time"] == "2025-05-17T12:00:00Z" and "kubelet client pair" in shutdown["label"]


def test_kubeadm_kubelet_client_expired_needs_a_new_kubeconfig(scenario_reports):
    _, report, _ = scenario_reports("kubeadm_kubelet_client_expired")
    (finding,) = [f for f in report["findings"] if f["id"] == "validity.expired"]
    assert finding["recovery"] == "needs-reissue"
    assert "kubeadm deletes after joining" in finding["recovery_detail"]


def test_openshift_annotations_that_outlive_the_certificate(scenario_reports):
    _, report, _ = scenario_reports("openshift_annotation_drift")
    drift = [f for f in report["findings"] if f["id"] == "annotations.drift"]
    assert drift and {f["subject"]["object"] for f in drift} == {"openshift-kube-apiserver/service-network-serving-certkey"}
    assert all(f["severity"] == "warning" and f["recovery"] == "needs-reissue" for f in drift)
    assert "2025-12-24T00:00:00Z" in drift[0]["detail"] and "2025-06-24T00:00:00Z" in drift[0]["detail"]
    # The operator will not rotate it: it is now both the next outage and the safe-shutdown bound.
    for key in ("next_outage", "safe_shutdown"):
        deadline = report["verdict"][key]
        assert deadline["time"] == "2025-06-24T00:00:00Z" and "service-network-serving-certkey" in deadline["label"], key


def test_healthy_openshift_has_no_drift_and_the_kubelet_bounds_the_shutdown(scenario_reports):
    _, report, _ = scenario_reports("openshift_healthy")
    assert not [f for f in report["findings"] if f["id"] == "annotations.drift"]
    shutdown = report["verdict"]["safe_shutdown"]
    assert shutdown["passed"] is False and shutdown["time"] == "2025-06-24T00:00:00Z"
    assert "kubelet" in shutdown["label"]


@pytest.mark.parametrize("name", ["openshift_user_key", "openshift_offline_expired", "kubeadm_kubelet_client_expired", "kubeadm_expired"])
def test_every_certificate_and_pair_finding_has_a_forecast(scenario_reports, name):
    _, report, _ = scenario_reports(name)
    prefixes = ("pair.", "validity.", "names.", "usage.", "trust.", "annotations.", "kubeconfig.")
    concerned = [f for f in report["findings"] if f["id"].startswith(prefixes)]
    assert concerned
    for finding in concerned:
        assert finding["recovery"] in ("heals-on-restart", "needs-csr-approval", "needs-reissue", "unknown"), finding["id"]
        assert finding["recovery_detail"], finding["id"]


@pytest.mark.parametrize("name", ["openshift_offline_expired", "openshift_healthy", "kubeadm_kubelet_client_expired"])
def test_deadline_and_next_outage_in_every_headline(scenario_reports, name):
    _, report, stdout = scenario_reports(name)
    root = scenario_reports.root
    shutdown, outage = report["verdict"]["safe_shutdown"], report["verdict"]["next_outage"]
    html, markdown = (root / f"{name}.html").read_text(), (root / f"{name}.md").read_text()
    headline_md = markdown.split("| component |")[0]  # the headline area: before the tables
    headline_html = html.split('<h2 id="evidence">')[0]
    for text in (stdout, headline_md, headline_html):
        assert "Safe-shutdown deadline: " in text and "Next outage if it keeps running: " in text
        assert shutdown["time"] in text
        assert ("passed at " in text) == shutdown["passed"]
        if outage is not None:
            assert outage["time"] in text
    # Findings show their forecast in every format, not only in the JSON.
    forecasts = [f["recovery"] for f in report["findings"] if f["recovery"] and f["severity"] in ("critical", "error")]
    if forecasts:
        assert f"On restart: {forecasts[0]}" in html and forecasts[0] in markdown and forecasts[0] in stdout
