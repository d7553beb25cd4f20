"""kubeadm's procedures: what ``kubeadm`` can re-issue, what it cannot, and how the pods see it.

Upstream facts, all from kubernetes/kubernetes ``cmd/kubeadm/app``:
- ``kubeadm certs renew <name>`` exists for each leaf of ``phases/certs/certlist.go`` (by its Name,
  stored at its BaseName under certificatesDir) and for admin.conf, super-admin.conf,
  controller-manager.conf and scheduler.conf (``phases/certs/renewal/manager.go`` NewManager); never
  for a CA ("we are not offering support for renewing CAs") nor for kubelet.conf ("management of
  this certificate is delegated to kubelet").
- A renewal copies CN, O, SANs and extended key usages from the old certificate
  (``renewal/manager.go`` certToConfig; ``cmd/certs.go``: "extra attributes such as SANs will be
  based on the existing file") but makes a new private key with the cluster's encryption algorithm,
  RSA 2048 by default (``renewal/filerenewer.go`` Renew -> ``pkiutil.NewCertAndKey``).
- New SANs or usages therefore need ``kubeadm init phase certs <Name> --config``, which issues from
  the configuration (``phases/certs/certlist.go`` configMutators) and only when the files are absent.
- Nothing is reloaded: "You must restart the kube-apiserver, kube-controller-manager, kube-scheduler
  and etcd" (``cmd/certs.go``, renew all).
"""

from __future__ import annotations

import posixpath

from analyzer.wiring.model import load_files
from analyzer.checks.remedies.common import (
    BUNDLE_IDS, NAMES_IDS, PAIR_IDS, SIGNING_KEY_IDS, TIME_IDS, Procedure, Row, is_kubelet_client,
    is_kubelet_serving,
)
from analyzer.model.vocabulary import Component, Distribution, Role
from analyzer.wiring.model import KubeconfigPayload, Load

PKI = "/etc/kubernetes/pki"
RESTART_STATIC_PODS = (
    "Restart the control-plane static pods so they read the new files: "
    "mkdir -p /root/manifests-off && mv /etc/kubernetes/manifests/*.yaml /root/manifests-off/ && sleep 20 && "
    "mv /root/manifests-off/*.yaml /etc/kubernetes/manifests/"
)

# kubeadm certs renew <Name>, by the file's BaseName under certificatesDir (phases/certs/certlist.go)
# or the kubeconfig's file name (renewal/manager.go).
KUBEADM_RENEW_NAMES = {
    "apiserver": "apiserver",
    "apiserver-kubelet-client": "apiserver-kubelet-client",
    "apiserver-etcd-client": "apiserver-etcd-client",
    "front-proxy-client": "front-proxy-client",
    "etcd/server": "etcd-server",
    "etcd/peer": "etcd-peer",
    "etcd/healthcheck-client": "etcd-healthcheck-client",
    "admin.conf": "admin.conf",
    "super-admin.conf": "super-admin.conf",
    "controller-manager.conf": "controller-manager.conf",
    "scheduler.conf": "scheduler.conf",
}
# The roles whose material is a CA kubeadm made: restored or rotated, never renewed.
CA_ROLES = (Role.CLIENT_CA, Role.ETCD_CA, Role.REQUESTHEADER_CA, Role.ETCD_TRUSTED_CA, Role.ROOT_CA, Role.CLUSTER_SIGNING)

# kubernetes/website content/en/docs/setup/production-environment/tools/kubeadm/troubleshooting-kubeadm.md,
# "Kubelet client certificate rotation fails": kubeadm leaves kubelet.conf to the kubelet's own rotation.
KUBELET_CLIENT_RECOVERY = (
    "On a working control-plane node: kubeadm kubeconfig user --org system:nodes --client-name system:node:<node> > kubelet.conf",
    "On the broken node: back up and remove /etc/kubernetes/kubelet.conf and /var/lib/kubelet/pki/kubelet-client*, copy the new kubelet.conf to /etc/kubernetes/kubelet.conf",
    "systemctl restart kubelet, and wait for /var/lib/kubelet/pki/kubelet-client-current.pem to appear",
    "Point kubelet.conf at the rotating pem: replace client-certificate-data/client-key-data with client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem and client-key: /var/lib/kubelet/pki/kubelet-client-current.pem, then systemctl restart kubelet",
)
# kubelet (cmd/kubelet/app/server.go InitializeTLS) writes a self-signed kubelet.crt/kubelet.key only
# when neither exists; with serverTLSBootstrap it files a kubernetes.io/kubelet-serving CSR instead,
# which kube-controller-manager never approves by itself (kubernetes/website
# .../kubeadm/kubeadm-certs.md, "Enabling signed kubelet serving certificates").
KUBELET_SERVING = (
    "Remove /var/lib/kubelet/pki/kubelet.crt and kubelet.key (or kubelet-server-*.pem) and systemctl restart kubelet: it makes a new serving pair",
    "With serverTLSBootstrap the new pair comes from a CSR that nothing approves automatically: "
    "kubectl get csr, then kubectl certificate approve <the node's kubernetes.io/kubelet-serving CSR>",
)
# phases/certs/certs.go CreateServiceAccountKeyAndPublicKeyFiles writes sa.key and sa.pub once; every
# control-plane node must hold the same pair (joining nodes copy it, phases/copycerts).
SERVICE_ACCOUNT = (
    "sa.key and sa.pub must be the same pair on every control-plane node: copy both from the first control-plane node",
    "Rebuild sa.pub from sa.key if needed: openssl pkey -in /etc/kubernetes/pki/sa.key -pubout -out /etc/kubernetes/pki/sa.pub",
    RESTART_STATIC_PODS,
)
CA_RESTORE = (
    "Restore the CA certificate from a backup of /etc/kubernetes/pki: a CA cannot be re-created without re-issuing every certificate it signed",
    RESTART_STATIC_PODS,
)
# A backup holds the same dates and the same key, so an expired or weak CA is replaced: kubeadm has no
# command for it (kubernetes/website .../kubeadm/kubeadm-certs.md, "Certificate authority (CA)
# rotation") and points to content/en/docs/tasks/tls/manual-rotation-of-ca-certificates.md.
CA_ROTATION = (
    "replace the CA by the manual rotation (kubernetes.io/docs/tasks/tls/manual-rotation-of-ca-certificates): "
    "trust old and new CA side by side, re-issue every certificate the old one signed, then drop the old CA"
)
CA_EXPIRED = ("kubeadm does not renew CAs (kubeadm certs renew skips them): " + CA_ROTATION, RESTART_STATIC_PODS)
CA_EXPIRED_IN_BUNDLE = (
    "kubeadm does not renew CAs (kubeadm certs renew skips them): if the bundle still holds a valid CA, remove the "
    "expired one from it; otherwise " + CA_ROTATION,
    RESTART_STATIC_PODS,
)
CA_WEAK = ("A CA's key cannot be swapped in place, every certificate it signed depends on it: " + CA_ROTATION, RESTART_STATIC_PODS)
# Which configuration field feeds which certificate's SANs (cmd/kubeadm/app/util/pkiutil/pki_helpers.go
# GetAPIServerAltNames, GetEtcdAltNames, GetEtcdPeerAltNames), by role.
SAN_FIELDS = {
    Role.ETCD_SERVER: ("etcd.local.serverCertSANs", "etcd-server"),
    Role.ETCD_PEER: ("etcd.local.peerCertSANs", "etcd-peer"),
}
GET_CONFIG = ("kubectl -n kube-system get cm kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' > kubeadm.yaml "
              "(or your saved config), then edit it")


def renew_name(load: Load) -> str | None:
    """The name ``kubeadm certs renew`` knows this file by: its BaseName under certificatesDir."""
    path = load_files(load).cert or ""
    base = posixpath.basename(path)
    stem = base.rsplit(".", 1)[0] if base.endswith((".crt", ".key")) else base
    parent = posixpath.basename(posixpath.dirname(path))
    return KUBEADM_RENEW_NAMES.get(f"etcd/{stem}" if parent == "etcd" else stem)


def _kubelet(load: Load) -> tuple[str, ...] | None:
    """The kubelet's own pairs are not kubeadm's to renew, whatever is wrong with them."""
    if is_kubelet_client(load):
        # The node's name is known from the evidence: the command is ready to copy.
        return tuple(step.replace("<node>", load.node) for step in KUBELET_CLIENT_RECOVERY) if load.node else KUBELET_CLIENT_RECOVERY
    if is_kubelet_serving(load):
        return KUBELET_SERVING
    return None


def renew(load: Load) -> tuple[str, ...]:
    """A leaf kubeadm issued: renew it by name (same names and usages, a new key)."""
    name = renew_name(load)
    steps = ["kubeadm certs check-expiration", f"kubeadm certs renew {name}" if name else "kubeadm certs renew all", RESTART_STATIC_PODS]
    if load.component == Component.ADMIN_KUBECONFIGS:
        steps.append("cp /etc/kubernetes/admin.conf ~/.kube/config")
    return tuple(steps)


def regenerate_kubeconfig(load: Load) -> tuple[str, ...]:
    # phases/init/kubeconfig.go: one phase per file (admin, super-admin, kubelet, controller-manager,
    # scheduler); it refuses an existing file whose CA differs, hence the move first.
    conf = posixpath.basename(load_files(load).cert or "")
    return (
        f"Back up and regenerate the kubeconfig from the current CA: mv /etc/kubernetes/{conf} /root/{conf}.bak && kubeadm init phase kubeconfig {conf.removesuffix('.conf')}",
        RESTART_STATIC_PODS,
    )


def repair(load: Load) -> tuple[str, ...]:
    """Broken, untrusted or weak material: issue it again from the CA on disk."""
    if (kubelet := _kubelet(load)) is not None:
        return kubelet
    if load.role in CA_ROLES:
        return CA_RESTORE
    return renew(load)


def repair_kubeconfig(load: Load) -> tuple[str, ...]:
    """A kubeconfig that does not trust its server (or whose CA does not load) is rebuilt from the current CA."""
    if isinstance(load.payload, KubeconfigPayload) and _kubelet(load) is None:
        return regenerate_kubeconfig(load)
    return repair(load)


def expired(load: Load) -> tuple[str, ...]:
    return CA_EXPIRED if load.role in CA_ROLES else repair(load)


def weak_key(load: Load) -> tuple[str, ...]:
    # renew makes a new key (renewal/filerenewer.go), so a weak leaf key goes the way of an expired leaf.
    return CA_WEAK if load.role in CA_ROLES else repair(load)


def ca_expired(load: Load) -> tuple[str, ...]:
    return CA_EXPIRED_IN_BUNDLE


def restore_ca(load: Load) -> tuple[str, ...]:
    return CA_RESTORE


def service_account(load: Load) -> tuple[str, ...]:
    return SERVICE_ACCOUNT


def names(load: Load) -> tuple[str, ...]:
    """Renewal keeps the old SANs: the names go into the configuration and the pair is issued from it."""
    if (kubelet := _kubelet(load)) is not None:
        return kubelet
    field, phase = SAN_FIELDS.get(load.role, ("apiServer.certSANs", "apiserver"))
    files = load_files(load)
    cert = files.cert or f"{PKI}/{phase}.crt"
    key = files.key or f"{PKI}/{phase}.key"
    return (
        f"Add the missing names to {field}: {GET_CONFIG}",
        f"mv {cert} {key} /root/",
        f"kubeadm init phase certs {phase} --config kubeadm.yaml",
        RESTART_STATIC_PODS,
    )


def usages(load: Load) -> tuple[str, ...]:
    """Renewal copies the old extended key usages: the pair is issued again from certlist.go's definition."""
    if (kubelet := _kubelet(load)) is not None:
        return kubelet
    if isinstance(load.payload, KubeconfigPayload):
        return regenerate_kubeconfig(load)
    name = renew_name(load)
    if name is None:
        return renew(load)
    files = load_files(load)
    return (
        f"kubeadm certs renew would keep the old usages; issue {name} again from kubeadm's definition instead: {GET_CONFIG}",
        f"mv {files.cert} {files.key or 'its key'} /root/",
        f"kubeadm init phase certs {name} --config kubeadm.yaml",
        RESTART_STATIC_PODS,
    )


def not_allowed(load: Load) -> tuple[str, ...]:
    # phases/certs/certlist.go KubeadmCertFrontProxyClient: CN front-proxy-client, which kubeadm also
    # puts in --requestheader-allowed-names (phases/controlplane/manifests.go).
    return (
        f"Re-issue {load_files(load).cert or 'the proxy client certificate'} with CN front-proxy-client (kubeadm certs renew front-proxy-client), "
        "or add its CN to --requestheader-allowed-names in the kube-apiserver manifest",
        RESTART_STATIC_PODS,
    )


def drift(load: Load) -> tuple[str, ...]:
    """Which copy should win decides the fix: the checks say whether the loaded one is the good one."""
    return ("Copy the good version over the other on every control-plane node, then restart the static pods: " + RESTART_STATIC_PODS,)


PROCEDURES: dict[str, Procedure] = {
    **dict.fromkeys(PAIR_IDS, repair),
    "trust.unknown-authority": repair_kubeconfig,
    "kubeconfig.ca-unloadable": repair_kubeconfig,
    "kubeconfig.ca-does-not-trust-server": repair_kubeconfig,
    **dict.fromkeys(TIME_IDS, expired),
    "policy.rsa-key-size": weak_key,
    "validity.ca-expired": ca_expired,
    **dict.fromkeys(BUNDLE_IDS, restore_ca),
    **dict.fromkeys(SIGNING_KEY_IDS, service_account),
    **dict.fromkeys(NAMES_IDS, names),
    "names.not-allowed": not_allowed,
    "usage.incompatible": usages,
    "drift.copies-differ": drift,
}
TABLE: dict[Row, Procedure] = {(finding_id, Distribution.KUBEADM): procedure for finding_id, procedure in PROCEDURES.items()}
