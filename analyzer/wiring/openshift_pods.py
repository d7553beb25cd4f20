"""The static pods OpenShift's operators write, read back from etcd: ``<component>-pod-<revision>``
configmaps, the kubelet's mirror pods, and the operators' standard mounts."""

from __future__ import annotations

import json
from dataclasses import replace

from analyzer.decode.manifest import StaticPod, load_static_pod
from analyzer.errors import DecodeError
from analyzer.wiring.model import State
from analyzer.wiring.openshift_releases import (
    STANDARD_MOUNTS,
    standard_host_path,
    substitute_placeholders,
)
from analyzer.evidence.node import Mount
from analyzer.wiring.sources import EtcdObjects, static_pod_of

TARGET = "openshift-kube-apiserver"
ETCD_NAMESPACE = "openshift-etcd"
KCM_NAMESPACE = "openshift-kube-controller-manager"
SCHEDULER_NAMESPACE = "openshift-kube-scheduler"
KCM_POD = "/etc/kubernetes/manifests/kube-controller-manager-pod.yaml"
SCHEDULER_POD = "/etc/kubernetes/manifests/kube-scheduler-pod.yaml"
APISERVER_POD = "/etc/kubernetes/manifests/kube-apiserver-pod.yaml"
ETCD_POD = "/etc/kubernetes/manifests/etcd-pod.yaml"
CONFIG_IN_POD = "/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml"
SERVER_CA_IN_POD = "/etc/kubernetes/static-pod-resources/configmaps/kube-apiserver-server-ca/ca-bundle.crt"
NODE_KUBECONFIGS = "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/node-kubeconfigs"
KUBELET_KUBECONFIG = "/var/lib/kubelet/kubeconfig"
KUBELET_CLIENT_CA = "/etc/kubernetes/kubelet-ca.crt"
# machine-config-operator templates/*/01-*-kubelet/_base/units/kubelet.service.yaml: --bootstrap-kubeconfig.
KUBELET_BOOTSTRAP_KUBECONFIG = "/etc/kubernetes/kubeconfig"
# The names each system serving pair is minted for (certrotationcontroller, layouts §2.4).
SYSTEM_SERVING_NAMES = {
    "localhost-serving-cert-certkey": ("localhost", "127.0.0.1"),
    "localhost-recovery-serving-certkey": ("localhost-recovery",),
}


def pod_from_etcd(objects: EtcdObjects, revision: int | None, component: str = "kube-apiserver",
                   namespace: str = TARGET, node: str | None = None, container: str | None = None) -> StaticPod | None:
    """The static pod the installer writes from ``<component>-pod-<revision>`` (or the latest copy),
    with the installer's placeholders replaced as it replaces them on the node."""
    name = f"{component}-pod-{revision}" if revision else f"{component}-pod"
    material = objects.data("configmaps", namespace, name, "pod.yaml")
    if material.state is State.PRESENT and (revision is not None or node):
        text = substitute_placeholders(material.data.decode("utf-8", "replace"), revision, node)
        material = replace(material, data=text.encode())
    return static_pod_of(material, container or component)


def mirror_pod(objects: EtcdObjects, node: str | None, component: str = "kube-apiserver", namespace: str = TARGET,
               container: str | None = None) -> StaticPod | None:
    """The kubelet's mirror of the static pod (``<component>-<node>``): the node's manifest as the kubelet
    saw it, every container included (kubernetes pkg/kubelet/pod/mirror_client.go CreateMirrorPod copies
    the static pod, adding the config.mirror annotation and, in newer kubelets, an owner reference
    to the Node; the containers are the static pod's), loaded for ``container`` (default: the component's)."""
    if not node:
        return None
    stored = objects.find("pods", namespace, f"{component}-{node}")
    if stored is None or stored.object is None:
        return None
    try:
        return load_static_pod(json.dumps(stored.object).encode(), container or component)
    except DecodeError:
        return None


def standard_mounts(component: str, revision: int | None) -> tuple[Mount, ...]:
    """The operator's own resource-dir and cert-dir mounts, for a revision (the revisioned one only when it is known)."""
    mounts = []
    for mount in STANDARD_MOUNTS[component]:
        host = standard_host_path(mount.source, revision)
        if host is not None:
            mounts.append(Mount(mount.target, host, mount.reason))
    return tuple(mounts)
