"""OpenShift's procedures: files first (the API is down), then the operators' secrets so they stick.

Upstream facts:
- kube-apiserver's cert-dir is the host's /etc/kubernetes/static-pod-resources/kube-apiserver-certs,
  mounted as /etc/kubernetes/static-pod-certs (openshift/cluster-kube-apiserver-operator
  bindata/assets/kube-apiserver/pod.yaml); the cert-syncer copies the operator's secrets over it.
- Entry N of apiserver/cluster spec.servingCerts.namedCertificates is synced from the user's secret
  in openshift-config to secrets/user-serving-cert-<NNN> (pkg/operator/configobservation/apiserver/
  observe_apiserver.go, "user-serving-cert-%03d").
- The aggregator's client pair is secret aggregator-client in openshift-kube-apiserver, CN
  system:openshift-aggregator, re-issued by the cert rotation controller when missing
  (pkg/operator/certrotationcontroller/certrotationcontroller.go).
- A rollout is forced by a *new* spec.forceRedeploymentReason ("by providing a unique string",
  openshift/api operator/v1 types.go StaticPodOperatorSpec): a fixed string works once only, so the
  patches below add the time.
- etcd's per-node secrets are etcd-serving-<node>, etcd-peer-<node> and etcd-serving-metrics-<node>
  in openshift-etcd (openshift/cluster-etcd-operator pkg/tlshelpers/tlshelpers.go), re-issued by
  pkg/operator/etcdcertsigner when missing.
- ``oc adm ocp-certificates regenerate-leaf -n <ns> secrets/<name>`` makes the owning operator
  re-issue a leaf, with a new key (openshift/oc pkg/cli/admin/ocpcertificates/certregen).
"""

from __future__ import annotations

import posixpath

from analyzer.wiring.model import load_files
from analyzer.checks.remedies.common import (
    BUNDLE_IDS, NAMES_IDS, PAIR_IDS, SIGNING_KEY_IDS, TIME_IDS, Procedure, Row, rows, secret_dir,
)
from analyzer.model.vocabulary import Component, Distribution
from analyzer.wiring.model import Load

OPENSHIFT = Distribution.OPENSHIFT
CERT_DIR_IN_POD = "/etc/kubernetes/static-pod-certs"
CERT_DIR_ON_HOST = "/etc/kubernetes/static-pod-resources/kube-apiserver-certs"


def force_redeployment(resource: str, reason: str) -> str:
    """The patch that rolls out a new revision: the reason carries the time, so that it is new each time."""
    return (f"oc patch {resource} cluster --type=merge -p "
            "'{\"spec\":{\"forceRedeploymentReason\":\"" + reason + "-'\"$(date +%s)\"'\"}}'")


CSR_APPROVE = "oc get csr -o name | xargs oc adm certificate approve"
KUBELET = (
    "Restart the kubelet; with an expired client certificate it falls back to the bootstrap kubeconfig and files a CSR",
    f"Approve the node's pending CSRs once kube-apiserver answers: {CSR_APPROVE}",
)


def _user_serving(load: Load) -> tuple[str, ...]:
    """A pair synced from the user's secret: the files on every master, then the source and its entry."""
    namespace, secret = (load.source_object or "").split("/", 1)
    hint = secret_dir(load)
    index = hint.rsplit("-", 1)[-1] if hint.startswith("user-serving-cert-") else "<index>"
    index = str(int(index)) if index.isdigit() else index
    directory = posixpath.dirname(load_files(load).cert or "").replace(CERT_DIR_IN_POD, CERT_DIR_ON_HOST)
    return (
        f"kube-apiserver reads the files at start-up and cannot fetch secrets while it is down: on every master, put a matching pair in {directory}/ "
        f"(install -m 600 tls.crt tls.key {directory}/), or restore both files from the last working revision",
        f"Once kube-apiserver answers, fix the source so the operator does not copy the broken pair back: oc create secret tls {secret} --cert=tls.crt --key=tls.key -n {namespace} --dry-run=client -o yaml | oc replace -f -",
        "Or stop serving it: oc patch apiserver cluster --type=json -p '[{\"op\":\"remove\",\"path\":\"/spec/servingCerts/namedCertificates/" + index + "\"}]'",
        "Roll out a new revision to every master: " + force_redeployment("kubeapiserver", f"recover-{secret}"),
    )


def _by_owner(load: Load) -> tuple[str, ...] | None:
    """Who issues the pair decides the fix before what is wrong with it."""
    if load.source_object:
        return _user_serving(load)
    if load.component == Component.KUBELET:
        return KUBELET
    if load.component == Component.ETCD:
        return (
            f"Have the etcd operator re-issue it: oc -n openshift-etcd delete secret {secret_dir(load) or 'etcd-serving-<node>'}",
            "Roll out a new etcd revision: " + force_redeployment("etcd", "recover-etcd-certs"),
        )
    return None


def restore(load: Load) -> tuple[str, ...]:
    """Broken material: the last revision's files, or the operator's re-issue."""
    if (owned := _by_owner(load)) is not None:
        return owned
    hint = secret_dir(load)
    return (
        f"Restore {hint or 'the file'} from the revision that worked, or have the operator re-issue it: oc -n openshift-kube-apiserver delete secret {hint or '<secret>'}",
        "Roll out a new revision: " + force_redeployment("kubeapiserver", "recover-certs"),
    )


def regenerate(load: Load) -> tuple[str, ...]:
    """Dates or key size: the operators re-issue their leaves (kube-apiserver's cert-regeneration controller
    runs beside it, cluster-kube-apiserver-operator pkg/cmd/certregenerationcontroller)."""
    if (owned := _by_owner(load)) is not None:
        return owned
    hint = secret_dir(load)
    return (
        "Start the masters and let kube-apiserver's cert-regeneration controller re-mint its operator-managed certificates; watch oc get co kube-apiserver",
        f"Re-issue one leaf explicitly: oc adm ocp-certificates regenerate-leaf -n openshift-kube-apiserver secrets/{hint or '<secret>'}",
        f"Approve pending node CSRs: {CSR_APPROVE}",
    )


def weak_key(load: Load) -> tuple[str, ...]:
    """Nothing fails yet: the user replaces their own pair; an operator's pair is re-issued with a new key."""
    if load.source_object:
        return _user_serving(load)
    namespace, secret = (load.object or "").split("/", 1) if load.object else ("<namespace>", f"<secret holding {load_files(load).cert or 'it'}>")
    return (f"Have the operator issue a new key pair: oc adm ocp-certificates regenerate-leaf -n {namespace} secrets/{secret}",)


def not_allowed(load: Load) -> tuple[str, ...]:
    return (
        "The operator issues the aggregator client pair as CN system:openshift-aggregator: delete the replaced pair so it re-issues it: "
        "oc -n openshift-kube-apiserver delete secret aggregator-client",
        "Roll out a new revision: " + force_redeployment("kubeapiserver", "recover-aggregator-client"),
    )


def drift(load: Load) -> tuple[str, ...]:
    return (
        "If the file on the node is the good copy, put the same bytes back into the etcd object it is synced from "
        "(oc -n openshift-kube-apiserver edit secret <name>, or fix the user's source secret in openshift-config), "
        "or the cert-syncer will overwrite the file",
        "If the etcd copy is the good one, let it win: " + force_redeployment("kubeapiserver", "resync-certs"),
    )


TABLE: dict[Row, Procedure] = {
    **rows((*PAIR_IDS, *BUNDLE_IDS, *SIGNING_KEY_IDS, *NAMES_IDS, "trust.unknown-authority", "usage.incompatible",
            "kubeconfig.ca-unloadable", "kubeconfig.ca-does-not-trust-server"), OPENSHIFT, restore),
    **rows((*TIME_IDS, "validity.ca-expired"), OPENSHIFT, regenerate),
    ("policy.rsa-key-size", OPENSHIFT): weak_key,
    ("names.not-allowed", OPENSHIFT): not_allowed,
    ("drift.copies-differ", OPENSHIFT): drift,
}
