"""What to do about a finding, as commands fit for the distribution.

The control plane is down when kforensic is used, so every procedure starts with what works
without the API (files on the masters, kubeadm on the node) and only then uses ``oc``/``kubectl``
to make the fix stick (OpenShift's operators copy secrets back over files; kubeadm's renewals
must be picked up by restarting the static pods).
"""

from __future__ import annotations

import posixpath

from analyzer.checks.context import CheckContext
from analyzer.wiring.model import Load, Loader

RESTART_STATIC_PODS = (
    "Restart the control-plane static pods so they read the new files: "
    "mkdir -p /root/manifests-off && mv /etc/kubernetes/manifests/*.yaml /root/manifests-off/ && sleep 20 && "
    "mv /root/manifests-off/*.yaml /etc/kubernetes/manifests/"
)

# kubeadm certs renew <name>, by the file kubeadm writes (control-plane-layouts §1.2, §1.7).
KUBEADM_RENEW_NAMES = {
    "apiserver": "apiserver",
    "apiserver-kubelet-client": "apiserver-kubelet-client",
    "apiserver-etcd-client": "apiserver-etcd-client",
    "front-proxy-client": "front-proxy-client",
    "server": "etcd-server",
    "peer": "etcd-peer",
    "healthcheck-client": "etcd-healthcheck-client",
    "admin.conf": "admin.conf",
    "super-admin.conf": "super-admin.conf",
    "controller-manager.conf": "controller-manager.conf",
    "scheduler.conf": "scheduler.conf",
}

KUBELET_CLIENT_RECOVERY = (
    "On a working control-plane node: kubeadm kubeconfig user --org system:nodes --client-name system:node:<node> > kubelet.conf",
    "On the broken node: back up and remove /etc/kubernetes/kubelet.conf and /var/lib/kubelet/pki/kubelet-client*, copy the new kubelet.conf to /etc/kubernetes/kubelet.conf",
    "systemctl restart kubelet, and wait for /var/lib/kubelet/pki/kubelet-client-current.pem to appear",
    "Point kubelet.conf at the rotating pem: replace client-certificate-data/client-key-data with client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem and client-key: /var/lib/kubelet/pki/kubelet-client-current.pem, then systemctl restart kubelet",
)


def _renew_name(load: Load) -> str | None:
    path = load.cert_path or ""
    base = posixpath.basename(path)
    stem = base.rsplit(".", 1)[0] if base.endswith((".crt", ".key")) else base
    return KUBEADM_RENEW_NAMES.get(stem)


def remedies(load: Load, finding_id: str, ctx: CheckContext) -> tuple[str, ...]:
    if finding_id.startswith("drift.") and ctx.distribution != "self-hosted":
        return _drift(load, ctx.distribution)
    if finding_id == "names.not-allowed":
        return _not_allowed(load, ctx.distribution)
    if ctx.distribution == "openshift":
        return _openshift(load, finding_id)
    if ctx.distribution == "self-hosted":
        return _self_hosted(load, finding_id)
    if ctx.distribution == "rke2":
        return _rke2(load, finding_id)
    if ctx.distribution == "kubespray":
        return _kubespray(load, finding_id)
    return _kubeadm(load, finding_id)


def _not_allowed(load: Load, distribution: str) -> tuple[str, ...]:
    if distribution == "openshift":
        return (
            "The operator issues the aggregator client pair as CN system:openshift-aggregator: delete the replaced pair so it re-issues it: "
            "oc -n openshift-kube-apiserver delete secret aggregator-client",
            "Roll out a new revision: oc patch kubeapiserver cluster --type=merge -p '{\"spec\":{\"forceRedeploymentReason\":\"recover-aggregator-client\"}}'",
        )
    return (
        f"Re-issue {load.cert_path or 'the proxy client certificate'} with CN front-proxy-client (kubeadm certs renew front-proxy-client), "
        "or add its CN to --requestheader-allowed-names in the kube-apiserver manifest",
        RESTART_STATIC_PODS,
    )


def _kubeadm(load: Load, finding_id: str) -> tuple[str, ...]:
    if load.component == "kubelet" and load.role in ("kubelet-kubeconfig", "kubelet-client"):
        # The node's name is known from the evidence: the command is ready to copy.
        return tuple(step.replace("<node>", load.node) for step in KUBELET_CLIENT_RECOVERY) if load.node else KUBELET_CLIENT_RECOVERY
    if load.role == "kubelet-serving":
        return ("Remove /var/lib/kubelet/pki/kubelet.crt and kubelet.key (or kubelet-server-*.pem) and systemctl restart kubelet: it makes a new serving pair",)
    if finding_id.startswith("service-account"):
        return (
            "sa.key and sa.pub must be the same pair on every control-plane node: copy both from the first control-plane node",
            "Rebuild sa.pub from sa.key if needed: openssl pkey -in /etc/kubernetes/pki/sa.key -pubout -out /etc/kubernetes/pki/sa.pub",
            RESTART_STATIC_PODS,
        )
    if finding_id.startswith("bundle.") or load.role in ("client-ca", "etcd-ca", "requestheader-ca", "etcd-trusted-ca", "root-ca",
                                                         "cluster-signing"):
        return (
            "Restore the CA certificate from a backup of /etc/kubernetes/pki: a CA cannot be re-created without re-issuing every certificate it signed",
            RESTART_STATIC_PODS,
        )
    if load.loader is Loader.KUBECONFIG and finding_id.startswith(("kubeconfig.ca", "trust.")):
        conf = posixpath.basename(load.cert_path or "")
        return (
            f"Back up and regenerate the kubeconfig from the current CA: mv /etc/kubernetes/{conf} /root/{conf}.bak && kubeadm init phase kubeconfig {conf.removesuffix('.conf')}",
            RESTART_STATIC_PODS,
        )
    name = _renew_name(load)
    renew = f"kubeadm certs renew {name}" if name else "kubeadm certs renew all"
    steps = ["kubeadm certs check-expiration", renew]
    if finding_id.startswith("names."):
        steps = [
            "Add the missing names to apiServer.certSANs: kubectl -n kube-system get cm kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' > kubeadm.yaml (or your saved config), then edit it",
            "mv /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.key /root/",
            "kubeadm init phase certs apiserver --config kubeadm.yaml",
        ]
    steps.append(RESTART_STATIC_PODS)
    if load.component == "admin kubeconfigs":
        steps.append("cp /etc/kubernetes/admin.conf ~/.kube/config")
    return tuple(steps)


# RKE2's own procedure (docs.rke2.io "Certificate Rotation"): the service must be stopped while the
# leaf certificates under /var/lib/rancher/rke2/server/tls are re-issued; CAs are not touched by it.
RKE2_ROTATE = (
    "systemctl stop rke2-server",
    "rke2 certificate rotate   # re-issues every leaf certificate under /var/lib/rancher/rke2/server/tls; "
    "--service <name> limits it to one component",
    "systemctl start rke2-server",
)
# Kubespray runs kubeadm with certificatesDir /etc/kubernetes/ssl and keeps its kubeadm config on the
# node (roles/kubernetes/control-plane/tasks/kubeadm-setup.yml); its etcd certificates are its own
# (roles/etcd/tasks/check_certs.yml regenerates them when force_etcd_cert_refresh is set).
KUBESPRAY_KUBEADM_CONFIG = "/etc/kubernetes/kubeadm-config.yaml"


def _rke2(load: Load, finding_id: str) -> tuple[str, ...]:
    if finding_id.startswith("bundle.") or load.role.endswith("-ca") or load.role in ("client-ca", "root-ca", "token-ca"):
        return (
            "RKE2 does not re-create its CAs: restore /var/lib/rancher/rke2/server/tls/*-ca.crt and *-ca.key from a backup "
            "(or an etcd snapshot's bootstrap data), or replace them deliberately with `rke2 certificate rotate-ca --path <new CA dir>`",
            "systemctl restart rke2-server",
        )
    if load.component == "admin kubeconfigs":
        return (
            "rke2-server rewrites /etc/rancher/rke2/rke2.yaml from its current CA and admin certificate at every start: systemctl restart rke2-server",
            "cp /etc/rancher/rke2/rke2.yaml ~/.kube/config",
        )
    if load.component == "kubelet":
        return ("systemctl restart rke2-server (rke2-agent on workers): the agent requests new kubelet certificates from the server at start",)
    return RKE2_ROTATE


def _kubespray(load: Load, finding_id: str) -> tuple[str, ...]:
    if any((path or "").startswith("/etc/ssl/etcd/ssl/") for path in (load.cert_path, load.key_path, load.ca_path)):
        if finding_id.startswith("bundle.") or load.role.endswith("trusted-ca") or load.role == "etcd-ca":
            return ("Restore /etc/ssl/etcd/ssl/ca.pem and ca-key.pem from a backup: every etcd certificate is signed by that CA",)
        return (
            "Kubespray's etcd certificates are not kubeadm's: re-issue them from the inventory with "
            "ansible-playbook -i <inventory> cluster.yml --tags etcd -e force_etcd_cert_refresh=true",
            "systemctl restart etcd on every etcd host, then restart the kube-apiserver static pods",
        )
    steps = list(_kubeadm(load, finding_id))
    # kubeadm defaults to /etc/kubernetes/pki; Kubespray's certificates live in /etc/kubernetes/ssl.
    return tuple(
        step.replace("kubeadm certs renew", f"kubeadm certs renew --config {KUBESPRAY_KUBEADM_CONFIG}", 1)
            .replace("kubeadm certs check-expiration", f"kubeadm certs check-expiration --config {KUBESPRAY_KUBEADM_CONFIG}")
            .replace("/etc/kubernetes/pki", "/etc/kubernetes/ssl")
        for step in steps
    ) + ("Kubespray can renew these monthly by itself: set auto_renew_certificates: true (k8s-certs-renew.timer)",)


def _openshift(load: Load, finding_id: str) -> tuple[str, ...]:
    hint = posixpath.basename(posixpath.dirname(load.cert_path or load.key_path or load.ca_path or ""))
    if load.source_object:
        namespace, secret = load.source_object.split("/", 1)
        # user-serving-cert-NNN is entry NNN of spec.servingCerts.namedCertificates.
        index = hint.rsplit("-", 1)[-1] if hint.startswith("user-serving-cert-") else "<index>"
        index = str(int(index)) if index.isdigit() else index
        directory = posixpath.dirname(load.cert_path or "").replace("/etc/kubernetes/static-pod-certs", "/etc/kubernetes/static-pod-resources/kube-apiserver-certs")
        return (
            f"kube-apiserver reads the files at start-up and cannot fetch secrets while it is down: on every master, put a matching pair in {directory}/ "
            f"(install -m 600 tls.crt tls.key {directory}/), or restore both files from the last working revision",
            f"Once kube-apiserver answers, fix the source so the operator does not copy the broken pair back: oc create secret tls {secret} --cert=tls.crt --key=tls.key -n {namespace} --dry-run=client -o yaml | oc replace -f -",
            "Or stop serving it: oc patch apiserver cluster --type=json -p '[{\"op\":\"remove\",\"path\":\"/spec/servingCerts/namedCertificates/" + index + "\"}]'",
            "Roll out a new revision to every master: oc patch kubeapiserver cluster --type=merge -p '{\"spec\":{\"forceRedeploymentReason\":\"recover-" + secret + "\"}}'",
        )
    if load.component == "kubelet":
        return (
            "Restart the kubelet; with an expired client certificate it falls back to the bootstrap kubeconfig and files a CSR",
            "Approve the node's pending CSRs once kube-apiserver answers: oc get csr -o name | xargs oc adm certificate approve",
        )
    if load.component == "etcd":
        return (
            f"Have the etcd operator re-issue it: oc -n openshift-etcd delete secret {hint or 'etcd-serving-<node>'}",
            "Roll out a new etcd revision: oc patch etcd cluster --type=merge -p '{\"spec\":{\"forceRedeploymentReason\":\"recover-etcd-certs\"}}'",
        )
    if finding_id.startswith("validity."):
        return (
            "Start the masters and let kube-apiserver's cert-regeneration controller re-mint its operator-managed certificates; watch oc get co kube-apiserver",
            f"Re-issue one leaf explicitly: oc adm ocp-certificates regenerate-leaf -n openshift-kube-apiserver secrets/{hint or '<secret>'}",
            "Approve pending node CSRs: oc get csr -o name | xargs oc adm certificate approve",
        )
    return (
        f"Restore {hint or 'the file'} from the revision that worked, or have the operator re-issue it: oc -n openshift-kube-apiserver delete secret {hint or '<secret>'}",
        "Roll out a new revision: oc patch kubeapiserver cluster --type=merge -p '{\"spec\":{\"forceRedeploymentReason\":\"recover-certs\"}}'",
    )


def _self_hosted(load: Load, finding_id: str) -> tuple[str, ...]:
    """bootkube/Tectonic: the API is down, so the pod-checkpointer's files on each master are what to fix first."""
    secret = (load.object or "kube-system/<secret>").split("/", 1)[1]
    return (
        f"On every master, replace the checkpointed copies the kubelet runs from: "
        f"/etc/kubernetes/checkpoint-secrets/kube-system/<pod>/{secret}/ (the file names are the Secret's keys) with "
        "re-issued material signed by the CA the cluster should use",
        "Or start a temporary control plane from re-rendered assets: bootkube render, copy its bootstrap-manifests to "
        "/etc/kubernetes/manifests with its tls/ in /etc/kubernetes/bootstrap-secrets, and let it come up",
        f"Once kube-apiserver answers, update the Secret so the next rollout mounts the same: "
        f"kubectl -n kube-system edit secret {secret} (or kubectl apply the re-rendered manifests/{secret}-secret.yaml)",
    )


def _drift(load: Load, distribution: str) -> tuple[str, ...]:
    """Which copy should win decides the fix: the checks say whether the loaded one is the good one."""
    if distribution == "openshift":
        return (
            "If the file on the node is the good copy, put the same bytes back into the etcd object it is synced from "
            "(oc -n openshift-kube-apiserver edit secret <name>, or fix the user's source secret in openshift-config), "
            "or the cert-syncer will overwrite the file",
            "If the etcd copy is the good one, let it win: oc patch kubeapiserver cluster --type=merge -p "
            "'{\"spec\":{\"forceRedeploymentReason\":\"resync-certs\"}}'",
        )
    return ("Copy the good version over the other on every control-plane node, then restart the static pods: " + RESTART_STATIC_PODS,)
