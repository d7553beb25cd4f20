"""One real case per failure class kforensic exists for: the headline names the right pair, and
no healthy pair is blamed. Evidence comes from a real etcd and real certificates (fixtures/scenarios.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures import scenarios

from tests.conftest import SCENARIOS


def failing(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["severity"] in ("critical", "error")]


def test_openshift_empty_user_key_is_the_headline(scenario_reports):
    code, report, stdout = scenario_reports("openshift_user_key")
    assert code == 1
    verdict = report["verdict"]
    assert verdict["status"] == "broken"
    headline = verdict["headline"]
    assert headline.startswith("kube-apiserver on master-0 cannot start: SNI pair 6 of 6, user-serving-cert-000")
    assert "/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key" in headline
    # Go 1.27 adds the PKCS#8 parser's error; the log (an older kube-apiserver) has the bare text.
    assert "`failed to load SNI cert and key: tls: failed to parse private key: asn1: " in headline
    assert "openshift-config/api-cert" in headline and "kubectl-edit" in headline and "2025-05-30T09:14:00Z" in headline
    # Only the broken pair is error-level; the five system pairs before it load.
    assert [f["label"] for f in failing(report)] == ["SNI pair 6 of 6, user-serving-cert-000"]
    top = failing(report)[0]
    assert top["blocks_start"] and top["subject"]["object"] == "openshift-kube-apiserver/user-serving-cert-000"
    assert any("oc create secret tls api-cert" in step for step in top["remediation"])
    loads = next(c for c in report["components"] if c["component"] == "kube-apiserver")["loads"]
    assert [l["status"] for l in loads if l["role"] == "sni"] == ["ok"] * 5 + ["fails"]
    # The log, read on its own, points at the same pair.
    log = next(f for f in report["findings"] if f["id"] == "logs.sni-failure")
    assert log["label"] == "SNI pair 6 of 6, user-serving-cert-000" and "same error" in log["detail"]
    assert "user-serving-cert-000" in stdout
    # The log names the release (Kubernetes 1.31, built with Go 1.22), which words the failure the older way.
    assert top["go_version"] == "1.27"
    [older] = top["go_error_older"]
    assert older["release"].startswith("Kubernetes v1.31.5+2a1b3c4 (") and older["go"] == "1.22"
    assert older["text"] == "failed to load SNI cert and key: tls: failed to parse private key"
    assert "same error" in log["detail"] and "older Go" in log["detail"]


@pytest.mark.parametrize("name", ["openshift_healthy", "kubeadm_healthy"])
def test_healthy_clusters_have_no_error_level_finding(scenario_reports, name):
    code, report, _ = scenario_reports(name)
    assert code == 0
    assert failing(report) == []
    assert report["verdict"]["status"] in ("healthy", "at-risk")
    assert all(c["starts"] is True for c in report["verdict"]["components"])
    statuses = {l["status"] for c in report["components"] for l in c["loads"]}
    assert statuses <= {"ok", "warning"}
    wired = {c["component"] for c in report["components"]}
    assert {"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kubelet"} <= wired


def test_kubeadm_expired_certificates(scenario_reports):
    code, report, _ = scenario_reports("kubeadm_expired")
    assert code == 1
    headline = report["verdict"]["headline"]
    # Storage first: without etcd kube-apiserver never becomes ready.
    assert headline.startswith("kube-apiserver on master-0 starts but cannot talk to etcd: etcd client pair: certificate expired")
    assert "x509: certificate has expired or is not yet valid: current time 2025-06-01T12:00:00Z is after" in headline
    expired = {f["label"] for f in failing(report) if f["id"] == "validity.expired"}
    assert {"etcd client pair", "etcd serving pair", "default serving pair", "kubelet client pair"} <= expired
    # The kubelet's own client certificate was rotated recently, and the CAs are fine.
    assert all("system:node" not in f["title"] for f in failing(report))
    assert all(f["role"] not in ("client-ca", "etcd-ca", "etcd-trusted-ca") for f in failing(report))
    assert any("kubeadm certs renew" in step for f in failing(report) for step in f["remediation"])


def test_kubeadm_kubelet_client_expired_only(scenario_reports):
    code, report, _ = scenario_reports("kubeadm_kubelet_client_expired")
    assert code == 1
    assert [(f["component"], f["id"]) for f in failing(report)] == [("kubelet", "validity.expired")]
    finding = failing(report)[0]
    assert finding["subject"]["cert"] == "/etc/kubernetes/kubelet.conf"
    assert "kubelet-client-current.pem" in finding["subject"]["source"]
    assert report["verdict"]["headline"].startswith("kubelet on master-0 starts but cannot talk to kube-apiserver")
    assert any("kubeadm kubeconfig user --org system:nodes" in step for step in finding["remediation"])


def test_kubeadm_new_ca_with_old_kubeconfigs(scenario_reports):
    code, report, _ = scenario_reports("kubeadm_new_ca")
    assert code == 1
    stale = [f for f in failing(report) if f["id"] == "kubeconfig.ca-does-not-trust-server"]
    # A person's admin.conf fails as surely as a component's kubeconfig: error-level too (issue 13).
    assert {f["component"] for f in stale} == {"kube-controller-manager", "kube-scheduler", "kubelet", "admin kubeconfigs"}
    assert all('candidate authority certificate \\"kubernetes\\"' in json.dumps(f["go_error"]) for f in stale)
    tokens = [f for f in failing(report) if f["id"] == "service-account.token-ca-stale"]
    # One grouped finding for every stale copy pods trust kube-apiserver with, naming the source.
    assert len(tokens) == 1
    assert "2 service-account token secret(s) and 3 kube-root-ca.crt config map(s)" in tokens[0]["title"]
    assert "Pods in 3 namespace(s) (default, kube-public, kube-system)" in tokens[0]["detail"]
    assert "the source is right: kube-controller-manager's --root-ca-file /etc/kubernetes/pki/ca.crt" in tokens[0]["detail"]
    assert "serves to pods (serving pair" in tokens[0]["detail"] or "serves to pods (" in tokens[0]["detail"]
    assert not any("Fix the source first" in step for step in tokens[0]["remediation"])
    # The certificates under the CAs that were kept (etcd, front-proxy) are not blamed.
    assert not any(f["component"] == "etcd" or f["role"] in ("etcd-client", "proxy-client") for f in failing(report))


@pytest.mark.parametrize(
    ("name", "finding_id", "go_error"),
    [
        ("missing_san", "names.missing", "x509: certificate is valid for"),
        ("no_server_auth", "usage.incompatible", "x509: certificate specifies an incompatible key usage"),
        ("not_yet_valid", "validity.not-yet-valid", "is before 2025-08-01T08:00:00Z"),
    ],
)
def test_serving_certificate_defects(scenario_reports, name, finding_id, go_error):
    code, report, _ = scenario_reports(name)
    assert code == 1
    errors = failing(report)
    assert [(f["id"], f["label"]) for f in errors] == [(finding_id, "default serving pair")]
    assert go_error in errors[0]["go_error"]
    assert "default serving pair" in report["verdict"]["headline"]


def test_identical_inputs_give_byte_identical_json(real_etcd, tmp_path):
    case = scenarios.openshift_user_key(tmp_path)
    outputs = []
    for run in range(2):
        target = tmp_path / f"run-{run}.json"
        subprocess.run([sys.executable, "-m", "analyzer", "scan", *case.evidence(), "--at", scenarios.REFERENCE, "--json", str(target)],
                       capture_output=True, timeout=300)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] and len(outputs[0]) > 1000


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_report_follows_the_schema(scenario_reports, name):
    import jsonschema

    from tests.conftest import REPO

    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    _, report, _ = scenario_reports(name)
    jsonschema.Draft202012Validator(schema).validate(report)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_private_key_or_secret_value_in_any_output(scenario_reports, name):
    _, report, stdout = scenario_reports(name)
    root = scenario_reports.root
    # Every format: the terminal, JSON, HTML and Markdown.
    text = stdout.encode() + b"".join((root / f"{name}.{suffix}").read_bytes() for suffix in ("json", "html", "md"))
    assert b"-----BEGIN" not in text
    secrets = scenario_reports.secrets[name]
    assert secrets, "the scenario should plant key material to look for"
    leaked = [fragment for fragment in secrets if fragment in text]
    assert not leaked, f"{len(leaked)} key or token fragments in the output"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_info_agrees_with_etcdutl_on_every_scenario_snapshot(scenario_reports, name):
    from tests.fixtures.etcd_server import etcdutl_status

    scenario_reports(name)
    snapshot = scenario_reports.cases[name].snapshot
    status = etcdutl_status(snapshot)
    result = subprocess.run([sys.executable, "-m", "analyzer", "info", str(snapshot), "-o", "json"], capture_output=True, text=True, timeout=120)
    info = json.loads(result.stdout)
    assert (info["revision"], info["total_keys"], info["size"]) == (status["revision"], status["totalKey"], status["totalSize"])
    assert info["integrity"] == "ok"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_finding_that_matters_says_what_to_do(scenario_reports, name):
    _, report, _ = scenario_reports(name)
    silent = [f["id"] for f in report["findings"] if f["severity"] != "info" and not f["remediation"]]
    assert silent == []
