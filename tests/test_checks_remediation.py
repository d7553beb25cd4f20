"""analyzer.checks.remediation: the steps fit the distribution, the component and the defect.

Each case is a defect whose generic fix would be wrong: renewing a CA with ``kubeadm certs
renew``, adding SANs for a CN problem, deleting a user's secret on OpenShift."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from analyzer.checks import remediation
from analyzer.checks.context import CheckContext
from analyzer.checks.remediation import NO_PROCEDURE, REMEDIED_ELSEWHERE, REMEDIES, UNMODELLED, find_procedure, remedies
from analyzer.checks.remedies import kubeadm
from analyzer.checks.remedies.kubeadm import KUBELET_CLIENT_RECOVERY, RESTART_STATIC_PODS
from analyzer.model.catalogue import CATALOGUE, FindingKind
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.model import PrivateKeyPayload
from tests.fixtures.models import PKI, bundle_load, pair_load, sni_load, with_pair
from tests.fixtures.pki import REFERENCE_UTC, make_ca, make_leaf

CA = make_ca("kubernetes")
LEAF = make_leaf(CA, "kube-apiserver", server=True)
KUBEADM = CheckContext(REFERENCE_UTC)
OPENSHIFT = CheckContext(REFERENCE_UTC, distribution="openshift")


def test_an_expired_kubeadm_leaf_is_renewed_by_its_own_name():
    steps = remedies(pair_load(LEAF.cert_pem, LEAF.key_pem), "validity.expired", KUBEADM)
    assert steps == ("kubeadm certs check-expiration", "kubeadm certs renew apiserver", RESTART_STATIC_PODS)


def test_a_kubeadm_etcd_leaf_maps_to_its_renew_name():
    load = pair_load(LEAF.cert_pem, LEAF.key_pem, component="etcd", cert_path=f"{PKI}/etcd/peer.crt", key_path=f"{PKI}/etcd/peer.key")
    assert "kubeadm certs renew etcd-peer" in remedies(load, "validity.expired", KUBEADM)


def test_the_cluster_signing_pair_is_a_ca_and_is_restored_not_renewed():
    load = pair_load(CA.cert_pem, CA.key_pem, component="kube-controller-manager", role="cluster-signing",
                     cert_path=f"{PKI}/ca.crt", key_path=f"{PKI}/ca.key")
    steps = remedies(load, "pair.key-mismatch", KUBEADM)
    assert not any("kubeadm certs renew" in step for step in steps)
    assert steps[0].startswith("Restore the CA certificate from a backup")


def test_a_kubelet_client_follows_the_kubelet_recovery():
    load = pair_load(LEAF.cert_pem, LEAF.key_pem, component="kubelet", role="kubelet-client")
    steps = remedies(load, "validity.expired", KUBEADM)
    # The node's name is filled in: the command is ready to copy, no <node> placeholder left.
    assert steps[0].endswith(f"--client-name system:node:{load.node} > kubelet.conf") and "<node>" not in " ".join(steps)
    assert steps[1:] == KUBELET_CLIENT_RECOVERY[1:]
    unnamed = pair_load(LEAF.cert_pem, LEAF.key_pem, component="kubelet", role="kubelet-client", node=None)
    assert remedies(unnamed, "validity.expired", KUBEADM) == KUBELET_CLIENT_RECOVERY


def test_a_cn_problem_is_not_fixed_with_sans():
    load = pair_load(LEAF.cert_pem, LEAF.key_pem, role="proxy-client", cert_path=f"{PKI}/front-proxy-client.crt")
    kubeadm = remedies(load, "names.not-allowed", KUBEADM)
    assert "kubeadm certs renew front-proxy-client" in kubeadm[0] and not any("certSANs" in step for step in kubeadm)
    assert "oc -n openshift-kube-apiserver delete secret aggregator-client" in remedies(load, "names.not-allowed", OPENSHIFT)[0]


def test_missing_sans_are_added_to_the_kubeadm_config():
    steps = remedies(pair_load(LEAF.cert_pem, LEAF.key_pem), "names.missing", KUBEADM)
    assert "apiServer.certSANs" in steps[0] and "kubeadm init phase certs apiserver --config kubeadm.yaml" in steps


def test_a_user_sni_pair_on_openshift_is_fixed_at_its_source_and_entry():
    load = replace(with_pair(sni_load(None, 6, cert=LEAF.cert_pem, key=b"", base="/etc/kubernetes/static-pod-certs/secrets"),
                             cert_path="/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-003/tls.crt"),
                   source_object="openshift-config/api-cert")
    steps = remedies(load, "pair.file-empty", OPENSHIFT)
    assert steps[0].endswith("/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/user-serving-cert-003/ "
                             "(install -m 600 tls.crt tls.key /etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/user-serving-cert-003/), "
                             "or restore both files from the last working revision")
    assert "oc create secret tls api-cert --cert=tls.crt --key=tls.key -n openshift-config" in steps[1]
    assert "/spec/servingCerts/namedCertificates/3" in steps[2]


def test_a_ca_bundle_is_never_regenerated():
    steps = remedies(bundle_load(b""), "bundle.file-empty", KUBEADM)
    assert "a CA cannot be re-created without re-issuing every certificate it signed" in steps[0]


def test_drift_depends_on_which_copy_is_good():
    load = pair_load(LEAF.cert_pem, LEAF.key_pem)
    assert remedies(load, "drift.copies-differ", OPENSHIFT)[0].startswith("If the file on the node is the good copy")
    assert RESTART_STATIC_PODS in remedies(load, "drift.copies-differ", KUBEADM)[0]


# The table: every load finding has a row (or a deliberate fallback) on every distribution.

def _passed_to_the_table() -> set[str]:
    """The ids the source hands to remedies() by name: a log finding may ask for a load's procedure
    ("pair.from-log"), so load ids alone do not cover what reaches the table."""
    named = set()
    for path in Path(remediation.__file__).parents[1].rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "remedies"
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                named.add(node.args[1].value)
    return named


PASSED = _passed_to_the_table()


def _uncovered(catalogue: dict[str, frozenset[FindingKind]]) -> list[str]:
    """Load finding ids (and any id the source passes to remedies() by name) left to the generic step
    without a deliberate reason, as "id on distribution"."""
    missing = []
    for finding_id, kinds in sorted(catalogue.items()):
        if (FindingKind.LOAD not in kinds and finding_id not in PASSED) or finding_id in REMEDIED_ELSEWHERE:
            continue
        missing += [f"{finding_id} on {distribution}" for distribution in Distribution
                    if find_procedure(finding_id, distribution) is None
                    and distribution not in UNMODELLED and (finding_id, distribution) not in NO_PROCEDURE]
    return missing


def test_every_load_finding_has_a_remedy_or_a_deliberate_fallback_on_every_distribution():
    assert _uncovered(CATALOGUE) == [], (
        "these load findings have no remediation row: add one per distribution in analyzer/checks/remedies/ "
        "(or a reason in remediation.NO_PROCEDURE / REMEDIED_ELSEWHERE)")


def test_a_new_finding_id_without_a_row_fails_the_walk():
    # The walk above can fail: a catalogued load id nobody wrote a row for is named on every modelled distribution.
    uncovered = _uncovered({**CATALOGUE, "policy.new-check": frozenset({FindingKind.LOAD})})
    assert uncovered == [f"policy.new-check on {d}" for d in Distribution if d not in UNMODELLED]


def test_the_table_names_catalogued_load_ids_only():
    assert {finding_id for finding_id, _ in REMEDIES} <= {i for i, kinds in CATALOGUE.items() if FindingKind.LOAD in kinds} | PASSED


def test_the_walk_reads_the_ids_the_source_passes_by_name():
    assert {"pair.from-log", "usage.incompatible", "policy.rsa-key-size"} <= PASSED


@pytest.mark.parametrize("distribution", [d for d in Distribution if d not in UNMODELLED])
@pytest.mark.parametrize("make", [lambda: pair_load(None, None), lambda: bundle_load(b"")], ids=["pair", "bundle"])
def test_a_start_failure_seen_only_in_the_log_gets_the_distributions_procedure(distribution, make):
    # A sosreport scrubbed the key: the log is the only witness, and the repair is the one the files would get.
    steps = remedies(make(), "pair.from-log", CheckContext(REFERENCE_UTC, distribution=distribution))
    assert "no tested procedure" not in steps[0], steps
    assert all(FindingKind.LOAD in CATALOGUE[finding_id] and reason for finding_id, reason in REMEDIED_ELSEWHERE.items())
    assert not {finding_id for finding_id, _ in REMEDIES} & set(REMEDIED_ELSEWHERE)


def test_finding_ids_do_not_steer_by_prefix():
    sources = [Path(remediation.__file__), *Path(kubeadm.__file__).parent.glob("*.py")]
    assert [path.name for path in sources if "finding_id.startswith" in path.read_text()] == []


@pytest.mark.parametrize("distribution", ["rke", "unknown", "something-else"])
def test_without_a_known_procedure_the_step_says_so_and_what_to_check(distribution):
    load = pair_load(LEAF.cert_pem, LEAF.key_pem)
    [step] = remedies(load, "validity.expired", CheckContext(REFERENCE_UTC, distribution=distribution))
    shown = distribution if distribution != "something-else" else "unknown"
    assert step.startswith(f"kforensic knows no tested procedure for validity.expired on {shown}")
    assert f"{PKI}/apiserver.crt" in step and "restart kube-apiserver" in step


# Facts corrected against upstream (each test names what was wrong before).

def test_an_openshift_rollout_reason_is_new_each_time():
    # forceRedeploymentReason rolls out only when it changes (openshift/api StaticPodOperatorSpec: "a unique string");
    # the fixed "recover-certs" of before did nothing the second time.
    load = pair_load(LEAF.cert_pem, LEAF.key_pem, cert_path="/etc/kubernetes/static-pod-certs/secrets/aggregator-client/tls.crt")
    patches = [step for finding_id in ("pair.key-mismatch", "names.not-allowed", "drift.copies-differ")
               for step in remedies(load, finding_id, OPENSHIFT) if "forceRedeploymentReason" in step]
    assert len(patches) == 3
    assert all("\"forceRedeploymentReason\":\"" in step and "-'\"$(date +%s)\"'\"}}'" in step for step in patches)


def test_an_expired_kubeadm_ca_is_rotated_not_restored():
    # A backup holds the same expired CA; kubeadm renews no CA (renewal/manager.go).
    signing = pair_load(CA.cert_pem, CA.key_pem, component="kube-controller-manager", role="cluster-signing",
                        cert_path=f"{PKI}/ca.crt", key_path=f"{PKI}/ca.key")
    for steps in (remedies(signing, "validity.expired", KUBEADM), remedies(bundle_load(CA.cert_pem), "validity.ca-expired", KUBEADM)):
        assert "manual-rotation-of-ca-certificates" in steps[0] and not any("from a backup" in step for step in steps)


def test_etcd_names_go_to_etcds_own_sans():
    # pkiutil GetEtcdAltNames reads etcd.local.serverCertSANs; the apiserver's certSANs were named before.
    load = pair_load(LEAF.cert_pem, LEAF.key_pem, component="etcd", role="etcd-server",
                     cert_path=f"{PKI}/etcd/server.crt", key_path=f"{PKI}/etcd/server.key")
    steps = remedies(load, "names.missing", KUBEADM)
    assert "etcd.local.serverCertSANs" in steps[0] and "kubeadm init phase certs etcd-server --config kubeadm.yaml" in steps
    assert f"mv {PKI}/etcd/server.crt {PKI}/etcd/server.key /root/" in steps and not any("apiserver" in step for step in steps)


def test_wrong_usages_are_issued_again_not_renewed():
    # kubeadm certs renew copies the old extended key usages (renewal/manager.go certToConfig).
    steps = remedies(pair_load(LEAF.cert_pem, LEAF.key_pem), "usage.incompatible", KUBEADM)
    assert "kubeadm init phase certs apiserver --config kubeadm.yaml" in steps
    assert "kubeadm certs renew apiserver" not in steps and "kubeadm certs renew all" not in steps


@pytest.mark.parametrize("finding_id", ["key.unparseable", "keys.unparseable", "service-account.key-mismatch"])
def test_service_account_keys_are_copied_not_renewed(finding_id):
    # sa.key is not a certificate: "kubeadm certs renew all" (what key.unparseable got before) does not touch it.
    key_only = pair_load(b"", b"", role="service-account-private-key", component="kube-controller-manager", key_path=f"{PKI}/sa.key")
    load = replace(key_only, payload=PrivateKeyPayload(f"{PKI}/sa.key", key_only.payload.key))
    steps = remedies(load, finding_id, KUBEADM)
    assert steps[0].startswith("sa.key and sa.pub must be the same pair") and not any("certs renew" in step for step in steps)


def test_a_bootstrapped_kubelet_serving_pair_needs_its_csr_approved():
    # kubernetes.io/kubelet-serving CSRs are never approved by kube-controller-manager (kubeadm-certs.md).
    load = pair_load(LEAF.cert_pem, LEAF.key_pem, component="kubelet", role="kubelet-serving")
    assert any("kubectl certificate approve" in step for step in remedies(load, "validity.expired", KUBEADM))


def test_rke2_steps_are_rke2s_own():
    rke2 = CheckContext(REFERENCE_UTC, distribution="rke2")
    tls = "/var/lib/rancher/rke2/server/tls"
    proxy = pair_load(LEAF.cert_pem, LEAF.key_pem, role="proxy-client", cert_path=f"{tls}/client-auth-proxy.crt")
    # Before: kubeadm's front-proxy-client on an RKE2 node.
    not_allowed = remedies(proxy, "names.not-allowed", rke2)
    assert "rke2 certificate rotate --service auth-proxy" in not_allowed[1] and not any("kubeadm" in s for s in not_allowed)
    # Before: /etc/kubernetes/manifests, which RKE2 has not; a plain restart leaves static pods running (pkg/rke2/rke2_linux.go).
    assert "touch /var/lib/rancher/rke2/force-restart" in remedies(proxy, "drift.copies-differ", rke2)[0]
    # Before: rke2 certificate rotate, which never touches service.key (k3s pkg/util/services/services.go).
    assert "does not touch" in remedies(proxy, "service-account.key-mismatch", rke2)[0]
    # rotate deletes the leaves after a backup; rke2-server issues them at its next start (k3s pkg/cli/cert/cert.go).
    rotate = remedies(pair_load(LEAF.cert_pem, LEAF.key_pem, cert_path=f"{tls}/serving-kube-apiserver.crt"), "validity.expired", rke2)
    assert rotate[0] == "systemctl stop rke2-server" and "deletes the leaf certificates" in rotate[1]


def test_self_hosted_never_gets_kubeadm_steps():
    load = pair_load(LEAF.cert_pem, LEAF.key_pem, role="proxy-client", object="kube-system/kube-apiserver")
    steps = remedies(load, "names.not-allowed", CheckContext(REFERENCE_UTC, distribution="self-hosted"))
    assert "/etc/kubernetes/checkpoint-secrets/kube-system/<pod>/kube-apiserver/" in steps[0] and "kubeadm" not in " ".join(steps)


def test_kubespray_passes_its_kubeadm_config_and_keeps_its_own_etcd():
    kubespray = CheckContext(REFERENCE_UTC, distribution="kubespray")
    ssl = "/etc/kubernetes/ssl"
    leaf = remedies(pair_load(LEAF.cert_pem, LEAF.key_pem, cert_path=f"{ssl}/apiserver.crt"), "validity.expired", kubespray)
    assert "kubeadm certs renew --config /etc/kubernetes/kubeadm-config.yaml apiserver" in leaf and leaf[-1].startswith("Kubespray can renew")
    # The timer runs kubeadm certs renew all, which renews no CA: not offered after a CA restore.
    ca = remedies(bundle_load(b"", path=f"{ssl}/ca.crt"), "bundle.file-empty", kubespray)
    assert ca[0].startswith("Restore the CA certificate from a backup of /etc/kubernetes/ssl") and not ca[-1].startswith("Kubespray can renew")
    etcd = pair_load(LEAF.cert_pem, LEAF.key_pem, component="etcd", role="etcd-server", cert_path="/etc/ssl/etcd/ssl/member-n1.pem")
    assert "force_etcd_cert_refresh=true" in remedies(etcd, "validity.expired", kubespray)[0]


# A new check's remedy is table lines only: the RSA policy (checks/key_size.py) calls the table.

def test_a_weak_key_is_replaced_by_the_tool_that_made_it():
    weak = pair_load(LEAF.cert_pem, LEAF.key_pem, object="openshift-kube-apiserver/localhost-serving-cert-certkey")
    # kubeadm certs renew makes a new key (renewal/filerenewer.go), so renewal is the fix (before: "renew keeps the key").
    assert "kubeadm certs renew apiserver" in remedies(weak, "policy.rsa-key-size", KUBEADM)
    assert remedies(weak, "policy.rsa-key-size", OPENSHIFT) == (
        "Have the operator issue a new key pair: oc adm ocp-certificates regenerate-leaf -n openshift-kube-apiserver "
        "secrets/localhost-serving-cert-certkey",)
    signing = pair_load(CA.cert_pem, CA.key_pem, role="cluster-signing", cert_path=f"{PKI}/ca.crt")
    assert "manual-rotation-of-ca-certificates" in remedies(signing, "policy.rsa-key-size", KUBEADM)[0]
    assert all(("policy.rsa-key-size", d) in REMEDIES for d in Distribution if d not in UNMODELLED)
