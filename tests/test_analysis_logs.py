"""analyzer.analysis.logs: a log's start-up failure tied to the load that caused it (for SNI, the one
after the last pair it loaded; otherwise what the error names), and verification errors tied to a
certificate by its validity end."""

from __future__ import annotations

import json

import pytest

from analyzer.analysis.logs import correlate_logs
from analyzer.gomodel.klog import iter_log_events
from analyzer.analysis.inventory import build_inventory
from analyzer.model.findings import Severity
from analyzer.wiring.model import State
from tests.fixtures.models import CTX, bundle_load, component, on_node, pair_load, sni_load, wiring
from tests.fixtures.pki import DAY, REFERENCE_UTC, YEAR, make_ca, make_leaf

CA = make_ca("kubernetes")
DEFAULT = make_leaf(CA, "kube-apiserver", server=True)
SNI = [make_leaf(CA, f"sni-{n}.example.com", server=True) for n in (1, 2, 3)]
BASE = "/etc/kubernetes/static-pod-certs/secrets"


def name(number: int) -> str:
    return f"sni-serving-cert::{BASE}/sni-{number}/tls.crt::{BASE}/sni-{number}/tls.key"


SERVING = "serving-cert::/etc/kubernetes/pki/apiserver.crt::/etc/kubernetes/pki/apiserver.key"
EMPTY_KEY_ERROR = f'failed to load SNI cert and key: missing content for serving cert "{name(3)}"'


def apiserver(third_key: bytes | None | object = b""):
    """Three SNI pairs; the third one's key is empty unless told otherwise."""
    loads = [pair_load(DEFAULT.cert_pem, DEFAULT.key_pem)]
    loads += [sni_load(pair, n) for n, pair in enumerate(SNI[:2], start=1)]
    loads.append(sni_load(None, 3, cert=SNI[2].cert_pem, key=SNI[2].key_pem if third_key is None else third_key))
    return component("kube-apiserver", *loads)


def events(*lines: str):
    return list(iter_log_events("\n".join(lines).encode(), "kube-apiserver.log", REFERENCE_UTC))


def klog_new(loaded: int, error: str) -> list[str]:
    lines = [f'I0601 11:58:01.000001       1 dynamic_serving_content.go:113] "Loaded a new cert/key pair" name="{SERVING}"']
    lines += [f'I0601 11:58:01.00000{n + 1}       1 dynamic_serving_content.go:113] "Loaded a new cert/key pair" name="{name(n)}"'
              for n in range(1, loaded + 1)]
    quoted = json.dumps(error)
    return lines + [f'E0601 11:58:02.000000       1 run.go:74] "command failed" err={quoted}']


def klog_old(loaded: int, error: str) -> list[str]:
    lines = [f'I0601 11:58:01.000001       1 dynamic_serving_content.go:130] Loaded a new cert/key pair for "{SERVING}"']
    lines += [f'I0601 11:58:01.00000{n + 1}       1 dynamic_serving_content.go:130] Loaded a new cert/key pair for "{name(n)}"'
              for n in range(1, loaded + 1)]
    return lines + [f"Error: {error}"]


def cri(lines: list[str]) -> list[str]:
    return [f"2025-06-01T11:58:0{i}.123456789Z stderr F {line}" for i, line in enumerate(lines)]


def journal(lines: list[str]) -> list[str]:
    return [f"Jun 01 11:58:02 master-0 hyperkube[4242]: {line}" for line in lines]


def json_klog(loaded: int, error: str) -> list[str]:
    lines = [json.dumps({"ts": 1748779081.0, "caller": "x.go:1", "msg": "Loaded a new cert/key pair", "v": 2, "name": SERVING})]
    lines += [json.dumps({"ts": 1748779081.0 + n, "caller": "x.go:1", "msg": "Loaded a new cert/key pair", "v": 2, "name": name(n)})
              for n in range(1, loaded + 1)]
    return lines + [json.dumps({"ts": 1748779082.0, "caller": "x.go:1", "msg": "command failed", "err": error})]


FORMS = {
    "klog-1.22": lambda loaded, error: klog_new(loaded, error),
    "klog-1.21": lambda loaded, error: klog_old(loaded, error),
    "cri": lambda loaded, error: cri(klog_new(loaded, error)),
    "journal": lambda loaded, error: journal(klog_old(loaded, error)),
    "json": lambda loaded, error: json_klog(loaded, error),
}


def sni_findings(found):
    return [f for f in found if f.id == "logs.sni-failure"]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_the_pair_after_the_last_one_loaded_is_named_and_agrees_with_the_files(form):
    found = sni_findings(correlate_logs(events(*FORMS[form](2, EMPTY_KEY_ERROR)), wiring(apiserver()), [], CTX))
    [finding] = found
    assert finding.label == "SNI pair 3 of 3, sni-3"
    assert finding.go_error == EMPTY_KEY_ERROR
    assert "the last SNI pair it loaded was " + name(2).split("::", 1)[1] in finding.detail
    assert "The files in the evidence give the same error." in finding.detail
    assert (finding.severity, finding.blocks_start) == (Severity.INFO, False)  # the pair check carries the verdict


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_failure_on_the_first_sni_pair(form):
    w = wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, DEFAULT.key_pem), sni_load(None, 1, cert=SNI[0].cert_pem, key=b""),
                         sni_load(SNI[1], 2)))
    error = f'failed to load SNI cert and key: missing content for serving cert "{name(1)}"'
    [finding] = sni_findings(correlate_logs(events(*FORMS[form](0, error)), w, [], CTX))
    assert finding.label == "SNI pair 1 of 3, sni-1"
    assert "no SNI pair was loaded before it, so the first one failed" in finding.detail
    assert "same error" in finding.detail


def test_files_the_evidence_cannot_show_make_the_log_the_witness():
    scrubbed = on_node(f"{BASE}/sni-3/tls.key", b"", state=State.SCRUBBED)
    [finding] = sni_findings(correlate_logs(events(*klog_new(2, "failed to load SNI cert and key: tls: failed to parse private key")),
                                            wiring(apiserver(scrubbed)), [], CTX))
    assert (finding.severity, finding.blocks_start) == (Severity.CRITICAL, True)
    assert finding.label == "SNI pair 3 of 3, sni-3"
    assert "the log is the witness" in finding.detail


def test_files_that_load_now_were_fixed_after_the_log():
    [finding] = sni_findings(correlate_logs(events(*klog_new(2, EMPTY_KEY_ERROR)), wiring(apiserver(None)), [], CTX))
    assert finding.severity is Severity.WARNING
    assert "load fine now" in finding.detail


def test_files_that_fail_differently_say_how():
    logged = "failed to load SNI cert and key: tls: failed to parse private key"
    [finding] = sni_findings(correlate_logs(events(*klog_new(2, logged)), wiring(apiserver()), [], CTX))
    assert finding.go_error == logged
    assert f"The files in the evidence give `{EMPTY_KEY_ERROR}` today." in finding.detail


def test_the_last_start_of_a_crash_looping_log_counts():
    first = klog_new(0, f'failed to load SNI cert and key: missing content for serving cert "{name(1)}"')
    second = klog_new(2, EMPTY_KEY_ERROR)
    [finding] = sni_findings(correlate_logs(events(*first, *second), wiring(apiserver()), [], CTX))
    assert finding.label == "SNI pair 3 of 3, sni-3"


def test_without_a_wired_kube_apiserver_the_log_alone_speaks():
    [finding] = sni_findings(correlate_logs(events(*klog_new(2, EMPTY_KEY_ERROR)), wiring(), [], CTX))
    assert (finding.severity, finding.component, finding.go_error) == (Severity.CRITICAL, "kube-apiserver", EMPTY_KEY_ERROR)
    assert f"the last SNI pair it loaded was {name(2)}" in finding.detail


def test_a_log_without_failures_says_nothing():
    assert correlate_logs(events(*klog_new(3, "x")[:-1]), wiring(apiserver()), [], CTX) == []
    assert correlate_logs([], wiring(apiserver()), [], CTX) == []


# -- verification errors -------------------------------------------------------------------------

EXPIRED_LEAF = make_leaf(CA, "system:node:worker-1", client=True, not_before=REFERENCE_UTC - YEAR - 10 * DAY)
FUTURE_LEAF = make_leaf(CA, "etcd-peer", server=True, not_before=REFERENCE_UTC + 2 * DAY)


def inventory():
    loads = [pair_load(p.cert_pem, p.key_pem, role="kubelet-client", component="kubelet", purpose=None, label=label, order=i)
             for i, (p, label) in enumerate(((EXPIRED_LEAF, "kubelet client pair"), (FUTURE_LEAF, "etcd peer pair")), start=1)]
    return build_inventory(wiring(component("kubelet", *loads)), CTX)


def handshake(detail: str, at: str = "11:59:00.000000") -> str:
    return (f'E0601 {at}       1 authentication.go:73] "Unable to authenticate the request" '
            f'err="verifying certificate SN=1, SKID=, AKID= failed: x509: certificate has expired or is not yet valid{detail}"')


def test_an_expiry_error_is_matched_to_a_certificate_by_its_not_after():
    lines = [handshake(": current time 2025-06-01T11:59:00Z is after 2025-05-22T12:00:00Z", at) for at in ("11:59:00.000000", "11:59:30.000000")]
    [found] = correlate_logs(events(*lines), wiring(), inventory(), CTX)
    assert (found.id, found.severity) == ("logs.x509-expired", Severity.ERROR)
    assert found.title == "2 handshake(s) refused a certificate expired at 2025-05-22T12:00:00Z"
    assert "CN=system:node:worker-1 (kubelet on master-0: kubelet client pair)" in found.detail
    assert found.go_error == "x509: certificate has expired or is not yet valid: current time 2025-06-01T11:59:00Z is after 2025-05-22T12:00:00Z"
    assert found.fingerprint == next(e.fingerprint for e in inventory() if e.certificate == EXPIRED_LEAF.cert)
    assert found.evidence == ("log: kube-apiserver.log line 1 at 2025-06-01T11:59:00Z", "log: kube-apiserver.log line 2 at 2025-06-01T11:59:30Z")


def test_a_not_yet_valid_error_is_matched_by_its_not_before():
    [found] = correlate_logs(events(handshake(": current time 2025-06-01T11:59:00Z is before 2025-06-03T12:00:00Z")), wiring(), inventory(), CTX)
    assert found.severity is Severity.ERROR and "CN=etcd-peer" in found.detail
    assert "not valid before 2025-06-03T12:00:00Z" in found.title


def test_an_expiry_no_certificate_in_evidence_explains_is_a_warning():
    [found] = correlate_logs(events(handshake(": current time 2025-06-01T11:59:00Z is after 2025-05-01T00:00:00Z")), wiring(), inventory(), CTX)
    assert (found.severity, found.fingerprint) == (Severity.WARNING, None)
    assert "belongs to a peer not in the evidence" in found.detail


def test_older_go_prints_no_dates():
    [found] = correlate_logs(events(handshake(""), handshake("")), wiring(), inventory(), CTX)
    assert (found.id, found.severity, found.go_error) == ("logs.x509-expired", Severity.WARNING, "x509: certificate has expired or is not yet valid")
    assert found.title.startswith("2 handshake(s)")


def test_unknown_authority_errors_are_counted():
    line = 'E0601 11:59:00.000000       1 authentication.go:73] "Unable to authenticate the request" err="x509: certificate signed by unknown authority"'
    [found] = correlate_logs(events(line, line), wiring(), [], CTX)
    assert (found.id, found.severity) == ("logs.unknown-authority", Severity.WARNING)
    assert found.title == "2 handshake(s) failed with an unknown authority"


def test_a_wrapped_error_is_read_to_its_closing_quote():
    line = 'E0601 11:58:02.000000       1 run.go:74] "command failed" err="start: ' + json.dumps(EMPTY_KEY_ERROR)[1:] + " other=1"
    [finding] = sni_findings(correlate_logs(events(*klog_new(2, "x")[:-1], line), wiring(apiserver()), [], CTX))
    assert finding.go_error == EMPTY_KEY_ERROR


# -- start failures outside the SNI list ---------------------------------------------------------

BAD_KEY = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"


def start_findings(found):
    return [f for f in found if f.id == "logs.start-failure"]


def test_the_default_pair_fails_with_a_bare_tls_error_before_anything_is_loaded():
    w = wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, BAD_KEY), sni_load(SNI[0], 1)))
    line = 'E0601 11:58:02.000000       1 run.go:74] "command failed" err="tls: failed to parse private key"'
    [finding] = start_findings(correlate_logs(events(line), w, [], CTX))
    assert finding.label == "default serving pair"
    assert finding.go_error == "tls: failed to parse private key"
    # The log's kube-apiserver was built with a Go older than 1.27, which does not add the PKCS#8 error.
    assert "The files in the evidence give the same error: Go 1.27 words it `tls: failed to parse private key: asn1: " in finding.detail
    assert "older Go, which words it as Go 1.25 does" in finding.detail


def test_a_bare_tls_error_after_the_default_pair_loaded_names_nothing():
    """Once the default pair is loaded, a bare X509KeyPair error could come from any later load: say nothing rather than guess."""
    w = wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, BAD_KEY), sni_load(SNI[0], 1)))
    lines = klog_new(0, "tls: failed to parse private key")
    assert start_findings(correlate_logs(events(*lines), w, [], CTX)) == []


def test_an_open_error_names_the_load_by_its_path():
    ca = bundle_load(None)
    w = wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, DEFAULT.key_pem), ca))
    error = f"open {ca.payload.path}: no such file or directory"  # kube-apiserver does not wrap its client CA's error
    [finding] = start_findings(correlate_logs(events(*klog_new(0, error)), w, [], CTX))
    assert finding.label == ca.label
    assert finding.go_error == error
    assert "the error names what failed" in finding.detail
    assert "The files in the evidence give the same error." in finding.detail


def test_an_error_naming_a_dynamic_pair_is_tied_to_it():
    w = wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, b"")))
    error = f'missing content for serving cert "{SERVING}"'
    [finding] = start_findings(correlate_logs(events(*klog_old(0, error)), w, [], CTX))
    assert finding.label == "default serving pair"
    assert "same error" in finding.detail


def test_without_a_wired_kube_apiserver_any_start_failure_is_reported():
    error = "open /etc/kubernetes/pki/ca.crt: no such file or directory"
    [finding] = start_findings(correlate_logs(events(*klog_new(0, error)), wiring(), [], CTX))
    assert (finding.severity, finding.component, finding.go_error) == (Severity.ERROR, "logs", error)
    assert "no kube-apiserver configuration" in finding.detail


def test_an_error_the_evidence_cannot_place_says_nothing():
    error = "unable to create storage backend: dial tcp 127.0.0.1:2379: connect: connection refused"
    assert start_findings(correlate_logs(events(*klog_new(3, error)), wiring(apiserver()), [], CTX)) == []
