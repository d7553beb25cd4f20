"""The shared vocabulary: where a control plane comes from, what its components are called, the role
each loaded certificate plays, and the state of any piece of content.

All are StrEnums, so a member is its own string in JSON, f-strings and comparisons: reports stay
byte-identical whether a value was written as a member or as the plain string.
"""

from __future__ import annotations

from enum import StrEnum


class Distribution(StrEnum):
    KUBEADM = "kubeadm"
    OPENSHIFT = "openshift"
    KUBESPRAY = "kubespray"
    RKE = "rke"
    RKE2 = "rke2"
    SELF_HOSTED = "self-hosted"  # bootkube / Tectonic
    UNKNOWN = "unknown"


class Component(StrEnum):
    """What loads certificates (the kubeconfig groups stand for the people and tools holding them)."""

    KUBE_APISERVER = "kube-apiserver"
    ETCD = "etcd"
    ETCD_METRICS = "etcd-metrics"  # OpenShift's metrics proxy beside etcd
    KUBE_CONTROLLER_MANAGER = "kube-controller-manager"
    KUBE_SCHEDULER = "kube-scheduler"
    KUBELET = "kubelet"
    ADMIN_KUBECONFIGS = "admin kubeconfigs"  # kubeadm's admin.conf, super-admin.conf, ...
    NODE_KUBECONFIGS = "node kubeconfigs"  # OpenShift's break-glass localhost, lb-ext, ... kubeconfigs
    EVIDENCE = "evidence"  # findings about the input itself, not about a component
    SERVICE_ACCOUNT_TOKENS = "service-account tokens"  # the cluster-wide copies of the pod-facing CA
    LOGS = "logs"  # findings read from a log that no component's load can be tied to


class Role(StrEnum):
    """What one load is for, within its component (wiring/components.py builds them)."""

    SERVING = "serving"
    SNI = "sni"
    CLIENT_CA = "client-ca"
    REQUESTHEADER_CA = "requestheader-ca"
    PROXY_CLIENT = "proxy-client"
    KUBELET_CLIENT = "kubelet-client"
    KUBELET_CA = "kubelet-ca"
    KUBELET_CLIENT_CA = "kubelet-client-ca"
    KUBELET_SERVING = "kubelet-serving"
    KUBELET_KUBECONFIG = "kubelet-kubeconfig"
    KUBELET_BOOTSTRAP_KUBECONFIG = "kubelet-bootstrap-kubeconfig"
    KUBECONFIG = "kubeconfig"
    # Stand-alone kubeconfigs (their component is a group): kubeadm's admin.conf and super-admin.conf,
    # RKE2's rke2.yaml and server/cred/admin.kubeconfig, and the files of OpenShift's node-kubeconfigs
    # secret (cluster-kube-apiserver-operator's node-kubeconfig controller), one role per file.
    ADMIN = "admin"
    SUPER_ADMIN = "super-admin"
    ADMIN_CRED = "admin-cred"
    NODE_KUBECONFIG_LOCALHOST = "node-kubeconfig localhost.kubeconfig"
    NODE_KUBECONFIG_LOCALHOST_RECOVERY = "node-kubeconfig localhost-recovery.kubeconfig"
    NODE_KUBECONFIG_LB_EXT = "node-kubeconfig lb-ext.kubeconfig"
    NODE_KUBECONFIG_LB_INT = "node-kubeconfig lb-int.kubeconfig"
    NODE_KUBECONFIG = "node-kubeconfig"  # another file in that secret: its path is in the load's label
    ETCD_CLIENT = "etcd-client"
    ETCD_CA = "etcd-ca"
    ETCD_SERVER = "etcd-server"
    ETCD_PEER = "etcd-peer"
    ETCD_TRUSTED_CA = "etcd-trusted-ca"
    ETCD_PEER_TRUSTED_CA = "etcd-peer-trusted-ca"
    ETCD_METRICS_SERVING = "etcd-metrics-serving"
    ETCD_METRICS_CLIENT = "etcd-metrics-client"
    ETCD_METRICS_CLIENT_CA = "etcd-metrics-client-ca"
    ETCD_METRICS_ETCD_CA = "etcd-metrics-etcd-ca"
    SERVICE_ACCOUNT_KEYS = "service-account-keys"
    SERVICE_ACCOUNT_SIGNING_KEY = "service-account-signing-key"
    SERVICE_ACCOUNT_PRIVATE_KEY = "service-account-private-key"
    CLUSTER_SIGNING = "cluster-signing"
    ROOT_CA = "root-ca"
    TOKEN_CA = "token-ca"
    FLAGS = "flags"  # a finding about the component's command line, before any load
    INPUT = "input"  # a finding about the evidence
    # Log findings (analysis.logs) that judge no load: a failed start-up, x509 errors in handshakes,
    # kube-apiserver not reaching etcd at all.
    START_UP = "start-up"
    X509 = "x509"
    ETCD = "etcd"


class ContentState(StrEnum):
    """What is at a location, or what some bytes hold: the one state every room uses.

    ``gomodel`` classifies bytes (present, empty, scrubbed, elided, malformed); ``wiring`` adds where
    the bytes are not (missing, not in the evidence, encrypted without a key, unreadable).
    """

    PRESENT = "present"
    EMPTY = "empty"  # zero bytes, or only whitespace
    MISSING = "missing"  # the evidence covers the location and it is not there
    NOT_IN_EVIDENCE = "not-in-evidence"  # the evidence does not cover the location
    SCRUBBED = "scrubbed"  # sos replaced the content with a marker
    ELIDED = "elided"  # must-gather replaced the content with "<N> bytes long"
    ENCRYPTED = "encrypted"  # encrypted at rest, no key to open it
    UNREADABLE = "unreadable"  # damaged, undecodable, over a limit
    MALFORMED = "malformed"  # bytes that neither Go's PEM decoder nor a DER reader accepts

    @property
    def verifiable(self) -> bool:
        """Whether a verdict can be drawn: the content (or its absence) is known."""
        return self in _VERIFIABLE


_VERIFIABLE = frozenset({ContentState.PRESENT, ContentState.EMPTY, ContentState.MISSING, ContentState.MALFORMED})
