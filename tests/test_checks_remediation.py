"""analyzer.checks.remediation: the steps fit the distribution, the component and the defect.

Each case is a defect whose generic fix would be wrong: renewing a CA with ``kubeadm certs
renew``, adding SANs for a CN problem, deleting a user's secret on OpenShift."""

from __future__ import annotations

from dataclasses import replace

from analyzer.checks.context import CheckContext
from analyzer.checks.remediation import KUBELET_CLIENT_RECOVERY, RESTART_STATIC_PODS, remedies
from tests.fixtures.models import PKI, bundle_load, pair_load, sni_load
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
    load = replace(sni_load(None, 6, cert=LEAF.cert_pem, key=b"", base="/etc/kubernetes/static-pod-certs/secrets"),
                   cert_path="/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-003/tls.crt",
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
    assert remedies(load, "drift.file-vs-etcd", OPENSHIFT)[0].startswith("If the file on the node is the good copy")
    assert RESTART_STATIC_PODS in remedies(load, "drift.file-vs-etcd", KUBEADM)[0]
