"""What heals itself and what needs a hand: a recovery forecast per certificate
(the deadlines it implies are in ``analysis.deadlines``).

Every certificate a component loads is managed by one mechanism, and the mechanism decides what a
restart does with it. Each is modelled from its upstream source:

- OpenShift's operators (openshift/library-go ``pkg/operator/certrotation``, read at 93ac9206):
  signers and target pairs are rotated while the operator runs, at 80 % of the validity the
  *annotations* claim or after the configured refresh (``needNewSigningCertKeyPair``,
  ``needNewTargetCertKeyPairForTime``). The decision never looks at the certificate itself, nor
  at whether the key matches it: a broken pair with sound annotations is never replaced.
- kube-apiserver's cert-regeneration controller (openshift/cluster-kube-apiserver-operator
  ``pkg/cmd/certregenerationcontroller/cmd.go``, read at c813e820) runs in the kube-apiserver pod
  and starts the same rotation controllers with ``NewCertRotationControllerOnlyWhenExpired``:
  after an offline expiry it re-issues exactly the pairs of ``certrotationcontroller.go`` (the
  serving pairs of kube-apiserver, its aggregator and kubelet client pairs, the control-plane
  client pairs of kube-controller-manager and kube-scheduler, and their signers), once
  kube-apiserver itself starts. origin's inventory (corpus ``openshift-tls-inventory/
  autoregenerate.json``) lists no artifact with the ``auto-regenerate-after-offline-expiry``
  claim: the claim is not annotated anywhere, so the list above comes from the code, not from it.
- The kubelet's client certificate (kubernetes ``staging/src/k8s.io/client-go/util/certificate/
  certificate_manager.go``: a new CSR at a jittered 70–90 % of the lifetime while it is valid;
  ``pkg/kubelet/certificate/bootstrap/bootstrap.go``: ``isClientConfigStillValid`` fails for an
  expired certificate and the kubelet falls back to its bootstrap kubeconfig and files a new CSR).
  OpenShift keeps the bootstrap kubeconfig, so an expired kubelet needs its CSR approved; kubeadm
  deletes ``bootstrap-kubelet.conf`` after the TLS bootstrap and its bootstrap tokens live 24 h, so
  an expired kubelet on kubeadm needs a new kubeconfig.
- kubeadm renews nothing by itself: ``kubeadm certs renew`` and ``kubeadm upgrade apply`` (which
  renews the certificates it manages) are run by people. Only the kubelet's rotating client
  certificate renews itself, while still valid.
- k3s and RKE2 rotate on start: ``pkg/daemons/control/deps/deps.go`` ``expired()`` re-issues a
  leaf that is expired or within ``config.CertificateRenewDays`` (90 days in
  ``pkg/daemons/config/types.go``; 120 in newer releases) whenever the server starts. Their CAs
  (10 years) are never renewed. Nothing rotates while they run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from analyzer.checks.annotations import rotation_annotations
from analyzer.model.findings import Finding
from analyzer.records import datarecord
from analyzer.reftime import format_utc
from analyzer.wiring.components import object_hint
from analyzer.checks.context import subject_of
from analyzer.wiring.model import BundlePayload, Copy, KubeconfigPayload, Load, Material, State, Wiring
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Distribution, Role


class Recovery(StrEnum):
    HEALS = "heals-on-restart"
    CSR = "needs-csr-approval"
    REISSUE = "needs-reissue"
    UNKNOWN = "unknown"


CERTROTATION = "openshift/library-go pkg/operator/certrotation"
REGENERATION = "cluster-kube-apiserver-operator pkg/cmd/certregenerationcontroller (NewCertRotationControllerOnlyWhenExpired)"
KUBELET_ROTATION = "client-go util/certificate certificate_manager.go and kubelet pkg/kubelet/certificate/bootstrap"
K3S_RENEW_DAYS = 90  # k3s pkg/daemons/config/types.go CertificateRenewDays (120 in releases from 2025)

# The secrets certrotationcontroller.go manages and the cert-regeneration controller re-issues after
# an offline expiry (RefreshOnlyWhenExpired), by name: the names are unique across their namespaces.
REGENERATED_TARGETS = frozenset({
    "aggregator-client", "kubelet-client", "localhost-serving-cert-certkey", "service-network-serving-certkey",
    "external-loadbalancer-serving-certkey", "internal-loadbalancer-serving-certkey", "localhost-recovery-serving-certkey",
    "check-endpoints-client-cert-key", "control-plane-node-admin-client-cert-key", "kube-controller-manager-client-cert-key",
    "kube-scheduler-client-cert-key", "node-system-admin-client",
})
REGENERATED_SIGNERS = frozenset({
    "aggregator-client-signer", "localhost-serving-signer", "service-network-serving-signer", "loadbalancer-serving-signer",
    "localhost-recovery-serving-signer", "kube-control-plane-signer", "node-system-admin-signer",
})
# Re-issued too, but its CA reaches the kubelets' --client-ca-file (/etc/kubernetes/kubelet-ca.crt)
# only through machine-config, which needs a working cluster: after it expires offline kube-apiserver
# cannot talk to any kubelet by itself. With the kubelets' client certificates it bounds how long an
# OpenShift cluster may stay off.
KUBELET_SIGNER = "kube-apiserver-to-kubelet-signer"
# Rotated by the etcd operator while it runs (cluster-etcd-operator's cert signer); not in the
# regeneration controller's list, and an etcd that cannot start keeps the operator from running.
ETCD_SECRETS = re.compile(r"^(etcd-(serving|peer|serving-metrics)-.+|etcd-all-certs|etcd-client|etcd-signer|etcd-metric-.+)$")
_REVISION_SUFFIX = re.compile(r"-\d+$")


@datarecord
class Mechanism:
    """Who keeps one certificate current, and what a restart does once it has expired."""

    name: str
    rotates_while_running: bool
    after_expiry: Recovery  # what a (re)start does for it once it is past its end
    detail: str  # why, naming the mechanism and its source
    renews_on_start_within: timedelta | None = None  # k3s/RKE2: re-issued at start when this close to its end
    annotated: Material | None = None  # OpenShift: the secret whose annotations drive rotation


def secret_name(load: Load) -> str | None:
    """The etcd secret a load's files are synced from, without a revision suffix."""
    if load.object:
        name = load.object.split("/", 1)[-1]
        revisioned = any(copy.copy is Copy.REVISIONED for copy in load.copies)
        return _REVISION_SUFFIX.sub("", name) if revisioned or _REVISION_SUFFIX.sub("", name) in REGENERATED_TARGETS else name
    material = load.certificate or (load.payload.ca if isinstance(load.payload, BundlePayload | KubeconfigPayload) else None)
    paths = subject_of(load)
    path = (material.location.host_path if material is not None else None) or paths.cert or paths.ca
    if path and "/secrets/" in path:
        return object_hint(path)
    return None


def _annotated_copy(load: Load) -> Material | None:
    for material in (load.certificate, *(copy.cert for copy in load.copies)):
        if material is not None and material.state is State.PRESENT and material.annotations:
            return material
    return None


def _kubelet_client_rotates(load: Load) -> bool:
    """Whether the kubelet's client pair is the rotating kubelet-client-current.pem (not data embedded in kubelet.conf)."""
    material = load.certificate
    where = " ".join(filter(None, (material.location.host_path if material else None, *(material.location.via if material else ()),
                                   subject_of(load).cert)))
    return "kubelet-client-current.pem" in where or "kubelet-client-" in where


def mechanism(load: Load, distribution: Distribution) -> Mechanism:
    if distribution == Distribution.OPENSHIFT:
        return _openshift(load)
    if distribution in (Distribution.KUBEADM, Distribution.KUBESPRAY):
        return _kubeadm(load)
    if distribution in ("k3s", "rke2"):
        return _k3s(load)
    return Mechanism("unknown", False, Recovery.UNKNOWN, f"kforensic does not model how {distribution} renews its certificates")


def _openshift(load: Load) -> Mechanism:
    if load.component == ComponentName.KUBELET and load.role in (Role.KUBELET_CLIENT, Role.KUBELET_KUBECONFIG):
        return Mechanism(
            "kubelet client rotation", True, Recovery.CSR,
            "the kubelet renews its client certificate by CSR while it is valid; once expired it falls back to the bootstrap "
            "kubeconfig and files a new CSR that the machine approver does not approve for a node that already exists: "
            f"approve it with oc adm certificate approve ({KUBELET_ROTATION})",
        )
    if load.component == ComponentName.KUBELET and load.role == Role.KUBELET_SERVING:
        return Mechanism(
            "kubelet serving rotation", True, Recovery.CSR,
            "the kubelet requests its serving certificate by CSR (serverTLSBootstrap); an expired one is replaced only after "
            f"a new CSR is approved, which needs a working client certificate first ({KUBELET_ROTATION})",
        )
    name = secret_name(load)
    annotated = _annotated_copy(load)
    if load.source_object:
        return Mechanism(
            "user-provided certificate", False, Recovery.REISSUE,
            f"{load.source_object} is the user's own certificate (spec.servingCerts): no operator renews it; "
            "issue a new one from its CA and replace the secret",
        )
    if (name is not None and ETCD_SECRETS.match(name)) or load.component == ComponentName.ETCD or load.role in (Role.ETCD_CLIENT, Role.ETCD_CA):
        return Mechanism(
            "etcd operator", True, Recovery.REISSUE,
            "the etcd operator rotates etcd's certificates while the cluster runs; the cert-regeneration controller does not "
            "re-issue them after an offline expiry, and etcd refusing them keeps the operator down: re-issue by hand",
        )
    if name == KUBELET_SIGNER or load.role == Role.KUBELET_CLIENT_CA:
        return Mechanism(
            "certrotation signer", True, Recovery.REISSUE,
            f"the operator rotates {KUBELET_SIGNER} while it runs ({CERTROTATION}); after an offline expiry the cert-regeneration "
            "controller makes a new signer, but the kubelets trust it only once machine-config writes the new "
            "/etc/kubernetes/kubelet-ca.crt, which needs a working cluster", annotated=annotated,
        )
    if name in REGENERATED_TARGETS or name in REGENERATED_SIGNERS:
        return Mechanism(
            "certrotation", True, Recovery.HEALS,
            f"the operator rotates {name} while it runs, and the cert-regeneration controller re-issues it at start "
            f"once it has expired, judged from its auth.openshift.io/certificate-not-after annotation ({REGENERATION}; {CERTROTATION}); "
            "both need kube-apiserver to start", annotated=annotated,
        )
    if name == "csr-signer":
        return Mechanism(
            "certrotation", True, Recovery.HEALS,
            "the kube-controller-manager operator rotates csr-signer while it runs and its recovery controller re-issues it after "
            "an offline expiry (openshift/enhancements kube-apiserver/auto-cert-recovery.md)", annotated=annotated,
        )
    if isinstance(load.payload, BundlePayload) and load.object:
        return Mechanism(
            "certrotation CA bundle", True, Recovery.HEALS,
            "the operators keep their CA bundles in step with their signers (certrotation cabundle.go), and the "
            "cert-regeneration controller's CA bundle syncer does so at start (cabundlesyncer.go)",
        )
    return Mechanism("unknown", False, Recovery.UNKNOWN,
                     f"kforensic does not know which OpenShift controller manages {name or load.label}")


def _kubeadm(load: Load) -> Mechanism:
    if load.component == ComponentName.KUBELET and load.role in (Role.KUBELET_CLIENT, Role.KUBELET_KUBECONFIG) and _kubelet_client_rotates(load):
        return Mechanism(
            "kubelet client rotation", True, Recovery.REISSUE,
            "the kubelet renews kubelet-client-current.pem by CSR while it is valid (rotateCertificates, approved by "
            "kube-controller-manager's csrapproving controller); once expired it can only fall back to a bootstrap kubeconfig, "
            "which kubeadm deletes after joining (its bootstrap tokens live 24 h): make a new kubelet.conf "
            f"({KUBELET_ROTATION})",
        )
    if load.component == ComponentName.KUBELET and load.role == Role.KUBELET_SERVING:
        return Mechanism(
            "kubelet self-signed serving pair", False, Recovery.REISSUE,
            "the kubelet makes kubelet.crt/kubelet.key only when they are absent and never renews them: remove both and restart it",
        )
    return Mechanism(
        "kubeadm", False, Recovery.REISSUE,
        "kubeadm renews nothing by itself: run kubeadm certs renew (kubeadm upgrade apply renews too) and restart the static pods",
    )


def _k3s(load: Load) -> Mechanism:
    if isinstance(load.payload, BundlePayload) or load.role.endswith("-ca") or load.role in (Role.CLIENT_CA, Role.CLUSTER_SIGNING, Role.ROOT_CA):
        return Mechanism("k3s CA", False, Recovery.REISSUE, "k3s and RKE2 never renew their CAs (10 years): k3s certificate rotate-ca")
    return Mechanism(
        "k3s start-up renewal", False, Recovery.HEALS,
        f"k3s and RKE2 re-issue a leaf certificate at start when it is expired or within {K3S_RENEW_DAYS} days of its end "
        "(pkg/daemons/control/deps/deps.go expired(), config.CertificateRenewDays); nothing renews it while they run",
        renews_on_start_within=timedelta(days=K3S_RENEW_DAYS),
    )


# -- per finding -------------------------------------------------------------------------------------


TIME_FINDINGS = ("validity.expired", "validity.expiring", "validity.ca-expired")
# Findings about the evidence or the story rather than a certificate carry no forecast.
NO_FORECAST = ("evidence.", "wiring.", "history.", "logs.", "configuration.")


def _annotation_holds(m: Mechanism, at: datetime) -> datetime | None:
    """When the annotations of an operator-managed secret still claim validity at ``at``: until when."""
    if m.annotated is None:
        return None
    annotated = rotation_annotations(m.annotated)
    if annotated is None or annotated.problem is not None or annotated.not_after_utc is None:
        return None
    return annotated.not_after_utc if annotated.not_after_utc > at else None


def forecast(finding: Finding, load: Load, distribution: Distribution, at: datetime) -> tuple[Recovery, str]:
    m = mechanism(load, distribution)
    if finding.id.startswith("annotations.drift"):
        if finding.severity.rank <= 2:  # the annotation claims a later end: nothing rotates it in time
            return Recovery.REISSUE, f"{m.name}: the operator reads the annotations, not the certificate, so it will not re-issue it in time ({CERTROTATION})"
        return Recovery.HEALS, f"{m.name}: the annotations end first, so the operator rotates it early ({CERTROTATION})"
    if finding.id in TIME_FINDINGS:
        if finding.id == "validity.expiring":
            if m.rotates_while_running:
                return Recovery.HEALS, f"{m.name} renews it before it ends if the cluster keeps running: {m.detail}"
            if m.renews_on_start_within is not None:
                return Recovery.HEALS, m.detail
            return m.after_expiry, m.detail
        until = _annotation_holds(m, at)
        if m.after_expiry is Recovery.HEALS and until is not None:
            return Recovery.REISSUE, (
                f"{m.name} would re-issue it, but its auth.openshift.io/certificate-not-after annotation says {format_utc(until)}: "
                f"the cert-regeneration controller waits for that time, not the certificate's ({CERTROTATION})"
            )
        return m.after_expiry, m.detail
    if finding.id == "validity.not-yet-valid":
        return Recovery.UNKNOWN, "issued for a later time: fix the clock that made it or the one that reads it; no controller replaces it"
    if finding.id.startswith("drift."):
        return Recovery.UNKNOWN, "which copy wins depends on which one is good: the next sync or rollout writes the etcd copy over the file"
    if finding.id.startswith("pair.file-") or finding.id == "pair.from-log":
        return Recovery.REISSUE, f"{m.name}: {_content_detail(m)}"
    if finding.id.startswith(("evidence.", "presence.")) or "unverifiable" in finding.id:
        return Recovery.UNKNOWN, "the evidence does not show the material"
    return Recovery.REISSUE, f"{m.name}: {_content_detail(m)}"


def _content_detail(m: Mechanism) -> str:
    if m.name.startswith("certrotation"):
        return ("the operator decides from the secret's annotations and issuer only (needNewTargetCertKeyPair), never from "
                "the certificate or key themselves, so a broken pair with sound annotations is never replaced: delete the secret "
                f"and it is created again ({CERTROTATION})")
    if m.name == "user-provided certificate":
        return m.detail
    return "no controller replaces material that is wrong rather than old: " + m.detail


def with_recovery(wiring: Wiring, findings: Iterable[Finding], at: datetime) -> list[Finding]:
    """Every certificate and pair finding with its forecast; the others unchanged."""
    loads = wiring.loads_by_ref()
    result = []
    for item in findings:
        load = loads.get(item.load) if item.load is not None else None
        if load is None or item.id.startswith(NO_FORECAST):
            result.append(item)
            continue
        recovery, detail = forecast(item, load, wiring.distribution, at)
        result.append(replace(item, recovery=recovery.value, recovery_detail=detail))
    return result
