"""analyzer.report.outputs and analyzer.report.json_report: every output format has a renderer, a
load's status word follows its findings, and the JSON is the same for the same inputs."""

from __future__ import annotations

import json

import pytest

from analyzer.checks.registry import run_checks
from analyzer.analysis.inventory import build_inventory, next_expiry
from analyzer.report.json_report import load_status, render_json
from analyzer.model.findings import Finding, LoadKey, Severity, Subject
from analyzer.report.outputs import RENDERERS, OutputFormat, render_outputs
from analyzer.analysis.verdict import build_verdict
from analyzer.analysis.result import ScanResult
from analyzer.wiring.model import Loader, State
from tests.fixtures.models import CTX, NODE, bundle_load, component, on_node, pair_load, sni_load, wiring
from tests.fixtures.pki import REFERENCE_UTC, make_ca, make_leaf

CA = make_ca("kubernetes")
LEAF = make_leaf(CA, "kube-apiserver", server=True)


def test_every_output_format_has_a_renderer():
    assert set(RENDERERS) == set(OutputFormat)
    assert all(callable(renderer) for renderer in RENDERERS.values())


def test_nothing_is_rendered_for_a_format_not_asked_for():
    assert render_outputs(None, {OutputFormat.JSON: None, OutputFormat.HTML: None}) == []  # type: ignore[arg-type]  # nothing is rendered, so no result is needed


LOAD = sni_load(LEAF, 2)


def about(load, finding_id: str, severity: Severity, *, blocks: bool = False, keyed: bool = True, **changes) -> Finding:
    """A finding as checks.context.finding makes one (``keyed``: naming its load by LoadKey), with ``changes``."""
    fields = dict(component=load.component, node=load.node, order=load.order, label=load.label)
    fields.update(changes)
    key = LoadKey(fields["component"], fields["node"], fields["order"], fields["label"]) if keyed else None
    return Finding(finding_id, severity, fields["component"], load.role, "title", "detail", Subject(node=fields["node"]),
                   label=fields["label"], order=fields["order"], blocks_start=blocks, load=key)


@pytest.mark.parametrize(("findings", "status"), [
    ([], "ok"),
    ([about(LOAD, "history.changed", Severity.INFO)], "ok"),
    ([about(LOAD, "validity.expiring", Severity.WARNING)], "warning"),
    ([about(LOAD, "evidence.scrubbed", Severity.WARNING), about(LOAD, "validity.expiring", Severity.WARNING)], "unverifiable"),
    ([about(LOAD, "trust.unknown-authority", Severity.ERROR), about(LOAD, "evidence.scrubbed", Severity.WARNING)], "refused"),
    ([about(LOAD, "validity.expired", Severity.CRITICAL)], "refused"),
    ([about(LOAD, "trust.unknown-authority", Severity.ERROR), about(LOAD, "pair.file-empty", Severity.CRITICAL, blocks=True)], "fails"),
], ids=["none", "info", "warning", "unverifiable", "refused", "critical-but-starts", "fails"])
def test_load_status_words(findings, status):
    assert load_status(LOAD, findings) == status


@pytest.mark.parametrize("other", [dict(node="master-1"), dict(order=4), dict(component="etcd"), dict(label="SNI pair 3 of 3, sni-3")])
def test_load_status_ignores_findings_about_other_loads(other):
    assert load_status(LOAD, [about(LOAD, "pair.file-empty", Severity.CRITICAL, blocks=True, **other)]) == "ok"


def test_load_status_ignores_findings_that_name_no_load():
    # Log and evidence findings name no load, even where their words match one's.
    assert load_status(LOAD, [about(LOAD, "logs.start-failure", Severity.CRITICAL, blocks=True, keyed=False)]) == "ok"


def scan_result():
    broken = sni_load(None, 2, cert=LEAF.cert_pem, key=b"")
    scrubbed = pair_load(LEAF.cert_pem, on_node("/etc/kubernetes/pki/apiserver.key", b"", state=State.SCRUBBED))
    w = wiring(component("kube-apiserver", scrubbed, sni_load(LEAF, 1), broken))
    findings = run_checks(w, CTX)
    inventory = build_inventory(w, CTX)
    verdict = build_verdict(w, findings, REFERENCE_UTC, next_expiry(inventory, REFERENCE_UTC))
    return ScanResult("0.0.0-test", REFERENCE_UTC, 30, [], w, findings, verdict, inventory)


def test_the_json_report_is_deterministic_and_carries_the_load_statuses():
    first, second = render_json(scan_result()), render_json(scan_result())
    assert first == second  # byte-identical for the same inputs and reference time
    report = json.loads(first)
    [apiserver] = report["components"]
    assert [(l["label"], l["status"]) for l in apiserver["loads"]] == [
        ("default serving pair", "unverifiable"), ("SNI pair 1 of 3, sni-1", "ok"), ("SNI pair 2 of 3, sni-2", "fails"),
    ]
    assert report["verdict"]["status"] == "broken" and report["reference_time"] == "2025-06-01T12:00:00Z"
    assert apiserver["node"] == NODE


def test_every_renderer_fixes_first_what_the_headline_names():
    """A component that does not start leads, even over a critical finding that sorts before it."""
    empty_pool = bundle_load(b"", role="etcd-ca", purpose=None, label="etcd CA bundle", flag="--etcd-cafile")
    etcd_serving = pair_load(LEAF.cert_pem, b"", component="etcd", role="etcd-server", loader=Loader.TLS_PAIR, purpose=None,
                             label="etcd serving pair")
    w = wiring(component("kube-apiserver", empty_pool), component("etcd", etcd_serving))
    findings = run_checks(w, CTX)
    assert [(f.component, f.severity, f.blocks_start) for f in findings][:2] == [
        ("kube-apiserver", Severity.CRITICAL, False), ("etcd", Severity.CRITICAL, True)]
    verdict = build_verdict(w, findings, REFERENCE_UTC, None)
    assert verdict.lead is not None and verdict.lead.label == "etcd serving pair" and "etcd serving pair" in verdict.headline
    result = ScanResult("0.0.0-test", REFERENCE_UTC, 30, [], w, findings, verdict, [])
    assert "**Fix first: etcd serving pair**" in RENDERERS[OutputFormat.MARKDOWN](result)
    assert "Fix first: etcd serving pair" in RENDERERS[OutputFormat.HTML](result)
