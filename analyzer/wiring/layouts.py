"""Static-pod control planes other than kubeadm's own layout: Kubespray and RKE2.

Both run kube-apiserver, kube-controller-manager and kube-scheduler as static pods whose manifests
carry every certificate flag, so they are wired by the same code as kubeadm (wiring/kubeadm.py);
what differs is where the files are, and how etcd is configured.

Kubespray (kubernetes-sigs/kubespray, roles/kubespray_defaults/defaults/main/main.yml and the
templates named below):
* kubeadm underneath, with ``certificatesDir: /etc/kubernetes/ssl`` (kube_cert_dir); the kubelet's
  ``clientCAFile`` is ``/etc/kubernetes/ssl/ca.crt`` (roles/kubernetes/node/templates/kubelet-config.*).
* etcd by default is a systemd service (``etcd_deployment_type: host``) configured only by
  ``/etc/etcd.env`` (roles/etcd/templates/etcd.env.j2): member-<host>.pem as serving and peer pair,
  ca.pem as both trusted CAs, all under /etc/ssl/etcd/ssl; kube-apiserver dials it with
  node-<host>.pem (roles/kubernetes/control-plane/defaults/main/main.yml kube_etcd_cert_file).
  With ``etcd_deployment_type: kubeadm`` etcd is kubeadm's static pod and the kubeadm paths apply.

RKE2 (rancher/rke2 pkg/podtemplate, k3s pkg/daemons/control/deps FillRuntimeCerts; data dir
/var/lib/rancher/rke2):
* manifests in ``agent/pod-manifests``; certificates in ``server/tls`` (server-ca for serving
  certificates, client-ca for client certificates, request-header-ca, etcd/ for etcd's own CAs);
* etcd's static pod takes only ``--config-file=server/db/etcd/config`` (a YAML etcd config);
* the kubelet: ``agent/kubelet.kubeconfig`` (client-kubelet.crt, trusts agent/server-ca.crt), serving
  pair ``agent/serving-kubelet.crt``, client CA ``agent/client-ca.crt``;
* admin: ``/etc/rancher/rke2/rke2.yaml`` (embedded data) and ``server/cred/admin.kubeconfig``.
"""

from __future__ import annotations

from analyzer.decode.etcd_config import flags_from_config_file, flags_from_env
from analyzer.decode.flags import Flags
from analyzer.errors import DecodeError
from analyzer.evidence.node import RKE2_CONFIG, RKE2_DATA
from analyzer.wiring.nodes import Node
from analyzer.wiring.kubeadm import ADMIN_KUBECONFIGS, KUBELET_KUBECONFIG, MANIFESTS, Layout, kubelet_serving_paths
from analyzer.wiring.model import State
from analyzer.wiring.sources import node_file, node_static_pod
from analyzer.model.vocabulary import Distribution, Role

KUBESPRAY_CERT_DIR = "/etc/kubernetes/ssl"
KUBESPRAY_ETCD_ENV = "/etc/etcd.env"
RKE2_MANIFESTS = f"{RKE2_DATA}/agent/pod-manifests"
RKE2_TLS = f"{RKE2_DATA}/server/tls"


def _kubespray_etcd(node: Node) -> tuple[Flags, str] | None:
    env = node_file(node, KUBESPRAY_ETCD_ENV)
    if env.state is not State.PRESENT:
        return None
    return flags_from_env(env.data), f"{KUBESPRAY_ETCD_ENV} on {node.name} (etcd runs as a systemd service)"


def _rke2_etcd(node: Node) -> tuple[Flags, str] | None:
    """The file named by --config-file of RKE2's etcd static pod (it passes nothing else)."""
    pod = node_static_pod(node, f"{RKE2_MANIFESTS}/etcd.yaml", "etcd")
    path = pod.flags.find("config-file") if pod is not None else None
    path = path or f"{RKE2_DATA}/server/db/etcd/config"
    config = node_file(node, path)
    if config.state is not State.PRESENT:
        return None
    try:
        return flags_from_config_file(config.data, path), f"{path} on {node.name} (etcd --config-file)"
    except DecodeError:
        return None


def _rke2_kubelet_serving(node: Node) -> tuple[str, str]:
    return f"{RKE2_DATA}/agent/serving-kubelet.crt", f"{RKE2_DATA}/agent/serving-kubelet.key"


KUBESPRAY = Layout(
    distribution=Distribution.KUBESPRAY, manifests=MANIFESTS, kubelet_kubeconfig=KUBELET_KUBECONFIG,
    kubelet_client_ca=f"{KUBESPRAY_CERT_DIR}/ca.crt", cluster_ca=f"{KUBESPRAY_CERT_DIR}/ca.crt",
    admin_kubeconfigs=ADMIN_KUBECONFIGS, kubelet_serving=kubelet_serving_paths, etcd_flags=_kubespray_etcd,
)

RKE2 = Layout(
    distribution=Distribution.RKE2, manifests=RKE2_MANIFESTS, kubelet_kubeconfig=f"{RKE2_DATA}/agent/kubelet.kubeconfig",
    kubelet_client_ca=f"{RKE2_DATA}/agent/client-ca.crt", cluster_ca=f"{RKE2_TLS}/server-ca.crt",
    admin_kubeconfigs={Role.ADMIN: f"{RKE2_CONFIG}/rke2.yaml", Role.ADMIN_CRED: f"{RKE2_DATA}/server/cred/admin.kubeconfig"},
    kubelet_serving=_rke2_kubelet_serving, etcd_flags=_rke2_etcd,
)
