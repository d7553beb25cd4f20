"""analyzer.analysis.verdict: the one sentence a support engineer reads first, and each component's
verdict, from the findings of a small wiring."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from analyzer.checks.registry import run_checks
from analyzer.analysis.verdict import build_verdict
from analyzer.wiring.model import Change, Copy, Loader, State
from tests.fixtures.models import CTX, bundle_load, component, in_etcd, on_node, pair_load, peer_trusting, sni_load, synced, wiring
from tests.fixtures.pki import REFERENCE_UTC, make_ca, make_leaf

CA = make_ca("kubernetes")
ETCD_CA = make_ca("etcd-ca")
DEFAULT = make_leaf(CA, "kube-apiserver", server=True)
SNI = make_leaf(CA, "api.example.com", server=True)
ETCD_CLIENT = make_leaf(ETCD_CA, "kube-apiserver-etcd-client", client=True)
KUBELET_CLIENT = make_leaf(CA, "kube-apiserver-kubelet-client", client=True)
NEXT = {"label": "CN=kube-apiserver (kube-apiserver on master-0: default serving pair)", "not_after": "2026-01-01T00:00:00Z"}


def verdict(w, next_expiry=None):
    return build_verdict(w, run_checks(w, CTX), REFERENCE_UTC, next_expiry)


def apiserver(*extra, sni_key=SNI.key_pem, sni_copies=()):
    sni = sni_load(None, 2, of=2, cert=SNI.cert_pem, key=sni_key)
    sni = replace(sni, copies=sni_copies)
    return component("kube-apiserver", pair_load(DEFAULT.cert_pem, DEFAULT.key_pem), sni_load(SNI, 1, of=2), sni, *extra)


def etcd_client(trusted_by: bytes):
    return pair_load(ETCD_CLIENT.cert_pem, ETCD_CLIENT.key_pem, role="etcd-client", purpose=None, label="etcd client pair", order=10,
                     flag="--etcd-certfile/--etcd-keyfile", peer=peer_trusting(trusted_by))


def test_a_blocked_start_names_the_pair_its_files_and_gos_error():
    result = verdict(wiring(apiserver(sni_key=b"")))
    base = "/etc/kubernetes/static-pod-certs/secrets/sni-2"
    assert result.status == "broken"
    assert result.headline == (
        f"kube-apiserver on master-0 cannot start: SNI pair 2 of 2, sni-2 (cert {base}/tls.crt, key {base}/tls.key): "
        f"tls.key is empty (0 bytes) — Go reports `failed to load SNI cert and key: missing content for serving cert "
        f'"sni-serving-cert::{base}/tls.crt::{base}/tls.key"`'
    )
    [apiserver_verdict] = result.components
    assert (apiserver_verdict.starts, apiserver_verdict.blocked_by) == (False, "pair.file-empty")
    assert apiserver_verdict.summary == "does not start: SNI pair 2 of 2, sni-2: tls.key is empty (0 bytes)"


def test_the_headline_tells_who_changed_the_source_of_a_blocked_pair():
    t0 = REFERENCE_UTC - timedelta(days=2)
    history = (Change(10, "put", "a", 1704, "cluster-kube-apiserver-operator", t0),
               Change(20, "put", "e", 0, "kubectl-edit", t0 + timedelta(hours=3)))
    source = in_etcd("openshift-config", "api-cert", "tls.key", b"", history=history)
    result = verdict(wiring(apiserver(sni_key=b"", sni_copies=(synced(Copy.USER_SOURCE, None, source),))))
    assert result.headline.endswith(
        "; its source openshift-config/api-cert tls.key was emptied from 1704 to 0 bytes at 2025-05-30T15:00:00Z by kubectl-edit (etcd revision 20)")


def test_the_first_blocking_load_in_start_up_order_is_the_headline():
    result = verdict(wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, None), sni_load(None, 1, of=1, cert=SNI.cert_pem, key=b""))))
    assert result.headline.startswith("kube-apiserver on master-0 cannot start: default serving pair")
    assert "`open /etc/kubernetes/pki/apiserver.key: no such file or directory`" in result.headline


def test_a_refused_storage_connection_is_broken_but_starts():
    result = verdict(wiring(apiserver(etcd_client(make_ca("etcd-ca").cert_pem))))
    assert result.status == "broken"  # critical: without etcd kube-apiserver is never ready
    assert result.headline == (
        "kube-apiserver on master-0 starts but cannot talk to etcd: etcd client pair: not trusted by etcd — Go reports "
        '`x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying '
        'to verify candidate authority certificate "etcd-ca")`'
    )
    [apiserver_verdict] = result.components
    assert (apiserver_verdict.starts, apiserver_verdict.cannot_reach) == (True, ("etcd",))
    assert apiserver_verdict.summary == "starts, but cannot talk to etcd"


def test_a_refused_kubelet_connection_is_degraded():
    kubelet_client = pair_load(KUBELET_CLIENT.cert_pem, KUBELET_CLIENT.key_pem, role="kubelet-client", purpose=None, fatal=False,
                               label="kubelet client pair", order=11, peer=peer_trusting(make_ca("other").cert_pem, name="kubelets"))
    result = verdict(wiring(apiserver(etcd_client(ETCD_CA.cert_pem), kubelet_client)))
    assert result.status == "degraded"
    assert result.headline.startswith("kube-apiserver on master-0 starts but cannot talk to kubelets: kubelet client pair: not trusted by kubelets")


def test_a_healthy_control_plane():
    result = verdict(wiring(apiserver(etcd_client(ETCD_CA.cert_pem))), NEXT)
    assert result.status == "healthy"
    assert result.headline == (
        "No certificate problem found at 2025-06-01T12:00:00Z: every pair checked loads, is valid and is trusted by its peers. "
        "The next certificate to expire is CN=kube-apiserver (kube-apiserver on master-0: default serving pair) on 2026-01-01T00:00:00Z."
    )
    assert result.components[0].summary == "starts and every connection checked is accepted"
    assert result.counts == {"critical": 0, "error": 0, "warning": 0, "info": 0}


def test_warnings_alone_put_the_cluster_at_risk():
    expiring = make_leaf(CA, "kube-apiserver", server=True, not_before=REFERENCE_UTC - timedelta(days=350))
    result = verdict(wiring(component("kube-apiserver", pair_load(expiring.cert_pem, expiring.key_pem))))
    assert result.status == "at-risk"
    assert result.headline == "No component is blocked at 2025-06-01T12:00:00Z; 1 warning(s) need attention."


def test_an_unverifiable_fatal_load_leaves_the_start_unknown():
    scrubbed = on_node("/etc/kubernetes/pki/apiserver.key", b"", state=State.SCRUBBED)
    result = verdict(wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, scrubbed))))
    [apiserver_verdict] = result.components
    assert apiserver_verdict.starts is None
    assert apiserver_verdict.summary == "cannot tell whether it starts: some of what it loads is not in this evidence"


def test_when_no_component_can_be_judged_the_status_is_unknown_not_healthy():
    scrubbed = on_node("/etc/kubernetes/pki/apiserver.key", b"", state=State.SCRUBBED)
    result = verdict(wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, scrubbed))))
    assert result.status == "unknown"
    assert result.headline.startswith("Nothing failing was found at 2025-06-01T12:00:00Z, but this evidence cannot show whether "
                                      "kube-apiserver on master-0 starts")


def test_a_component_whose_every_load_is_unreadable_is_not_called_fine():
    """Even when nothing it loads is fatal: 'every connection checked is accepted' would be vacuous."""
    scrubbed = on_node("/etc/kubernetes/scheduler.key", b"", state=State.SCRUBBED)
    scheduler = component("kube-scheduler", pair_load(DEFAULT.cert_pem, scrubbed, component="kube-scheduler", fatal=False,
                                                      role="kubeconfig-client", purpose=None, label="kubeconfig"))
    result = verdict(wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, DEFAULT.key_pem)), scheduler))
    assert [(c.component, c.starts) for c in result.components] == [("kube-apiserver", True), ("kube-scheduler", None)]
    assert result.status == "at-risk"  # one component is judged fine, the other cannot be
    assert "cannot show whether kube-scheduler on master-0 starts" in result.headline


def test_nothing_wired():
    w = wiring()
    w.notes.append("no kubeadm static pod manifests or mirror pods were found")
    result = verdict(w)
    assert result.status == "unknown"
    assert result.headline == "No control-plane component could be wired from this evidence: no kubeadm static pod manifests or mirror pods were found."
    assert verdict(wiring()).headline == "No control-plane component could be wired from this evidence: nothing recognised."


def test_kube_apiserver_leads_when_several_components_are_blocked():
    etcd = component("etcd", pair_load(ETCD_CLIENT.cert_pem, b"", role="etcd-server", component="etcd", purpose=None,
                                       label="etcd serving pair", loader=Loader.TLS_PAIR))
    result = verdict(wiring(etcd, apiserver(sni_key=b"")))
    assert result.headline.startswith("kube-apiserver on master-0 cannot start")
    assert [(c.component, c.starts) for c in result.components] == [("kube-apiserver", False), ("etcd", False)]


def test_a_blocking_ca_bundle_is_named_as_a_file_with_its_own_problem():
    result = verdict(wiring(component("kube-apiserver", pair_load(DEFAULT.cert_pem, DEFAULT.key_pem), bundle_load(b""))))
    assert result.headline == (
        "kube-apiserver on master-0 cannot start: client CA bundle (file /etc/kubernetes/pki/ca.crt): ca.crt is empty (0 bytes) — "
        'Go reports `missing content for CA bundle "client-ca-bundle::/etc/kubernetes/pki/ca.crt"`'
    )
