"""Which etcd object an OpenShift master's certificate file is written from.

The installer and the cert-syncer write each data key of a Secret or ConfigMap to
``<dir>/secrets|configmaps/<name>/<key>`` (library-go pkg/operator/staticpod/installerpod/cmd.go
copySecretsAndConfigMaps, pkg/operator/staticpod/certsyncpod/certsync_controller.go): the
unrevisioned ``<component>-certs`` directory from ``<name>``, the revisioned ``<component>-pod-N``
from ``<name>-N``. Two objects are aggregates whose keys come from other objects
(cluster-etcd-operator pkg/operator/etcdcertsigner/etcdcertsignercontroller.go): ``etcd-all-certs``
holds each per-node secret's ``tls.crt``/``tls.key`` as ``<secret>.crt``/``<secret>.key``, and
``etcd-all-bundles`` holds ``etcd-ca-bundle`` as ``server-ca-bundle.crt`` and
``etcd-metrics-ca-bundle`` as ``metrics-ca-bundle.crt``. The node kubeconfigs embed the
``node-system-admin-client`` pair (cluster-kube-apiserver-operator
pkg/operator/nodekubeconfigcontroller/nodekubeconfigcontroller.go).

``origins`` is the one place that knows this; the resolver and the inventory test use it.
"""

from __future__ import annotations

import re

from analyzer.records import datarecord
from analyzer.wiring.openshift_releases import STATIC_POD_RESOURCES

NAMESPACES = {
    "kube-apiserver": "openshift-kube-apiserver",
    "kube-controller-manager": "openshift-kube-controller-manager",
    "kube-scheduler": "openshift-kube-scheduler",
    "etcd": "openshift-etcd",
}
_DIRECTORY = re.compile(
    rf"^{re.escape(STATIC_POD_RESOURCES)}/(?P<component>kube-apiserver|kube-controller-manager|kube-scheduler|etcd)"
    r"-(?:(?P<certs>certs)|pod-(?P<revision>\d+))/(?P<resource>secrets|configmaps)/(?P<name>[^/]+)/(?P<key>[^/]+)$"
)
# Files a master holds outside the operators' directories, and the object the inventory of a real
# cluster shows their content in (openshift/origin tls/raw-data; machine-config-operator writes them).
NODE_FILES = {
    ("/etc/kubernetes/kubelet-ca.crt", "file"): ("ConfigMap", "openshift-config-managed", "kube-apiserver-client-ca", "ca-bundle.crt"),
    # The kubelet's bootstrap kubeconfig trusts the kube-apiserver serving CAs; its client is a bootstrap
    # identity with no secret behind it.
    ("/etc/kubernetes/kubeconfig", "ca"): ("ConfigMap", "openshift-config-managed", "kube-apiserver-server-ca", "ca-bundle.crt"),
}
# etcd-all-certs from release-4.8; etcd-all-peer, etcd-all-serving and etcd-all-serving-metrics before
# (cluster-etcd-operator@release-4.7:pkg/operator/starter.go CertSecrets), filled the same way.
ETCD_CERT_AGGREGATES = ("etcd-all-certs", "etcd-all-peer", "etcd-all-serving", "etcd-all-serving-metrics")
_ETCD_BUNDLES = {"server-ca-bundle.crt": "etcd-ca-bundle", "metrics-ca-bundle.crt": "etcd-metrics-ca-bundle"}
NODE_KUBECONFIG_CLIENT = ("Secret", "openshift-kube-apiserver-operator", "node-system-admin-client", "tls.crt")
NODE_KUBECONFIG_CA = ("ConfigMap", "openshift-kube-apiserver", "kube-apiserver-server-ca", "ca-bundle.crt")


@datarecord
class Origin:
    kind: str  # Secret | ConfigMap
    namespace: str
    name: str
    data_key: str
    what: str  # "copy" (the object the file is written from) | "source" (where an aggregate took it from)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def origins(host_path: str, *, part: str = "file") -> tuple[Origin, ...]:
    """The objects a master's file is written from, the direct copy first. ``part`` picks, for a
    kubeconfig, what is asked about: ``client`` (its embedded pair) or ``ca`` (its CA data)."""
    if (host_path, part) in NODE_FILES:
        return (Origin(*NODE_FILES[host_path, part], "source"),)
    match = _DIRECTORY.match(host_path)
    if match is None:
        return ()
    component, resource, name, key = match.group("component", "resource", "name", "key")
    namespace = NAMESPACES[component]
    kind = "Secret" if resource == "secrets" else "ConfigMap"
    revision = match.group("revision")
    direct = Origin(kind, namespace, f"{name}-{revision}" if revision else name, key, "copy")
    found = [direct]
    if component == "etcd" and name in ETCD_CERT_AGGREGATES and key.endswith((".crt", ".key")):
        secret, _, suffix = key.rpartition(".")
        found.append(Origin("Secret", namespace, secret, f"tls.{suffix}", "source"))  # addCertSecretToMap strips "tls"
    elif component == "etcd" and name == "etcd-all-bundles" and key in _ETCD_BUNDLES:
        found.append(Origin("ConfigMap", namespace, _ETCD_BUNDLES[key], "ca-bundle.crt", "source"))
    elif component == "kube-apiserver" and name == "node-kubeconfigs" and part in ("client", "ca"):
        found.append(Origin(*(NODE_KUBECONFIG_CLIENT if part == "client" else NODE_KUBECONFIG_CA), "source"))
    return tuple(found)
