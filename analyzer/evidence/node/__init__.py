"""The node model: one master's host filesystem, found inside whatever tree the customer sent.

The same host file ``/etc/kubernetes/pki/ca.crt`` reaches us at ``etc/kubernetes/pki/ca.crt`` (a
tar of ``/``), ``kubernetes/pki/ca.crt`` (``tar -C /etc kubernetes``), ``pki/ca.crt`` (a tar of
the directory's contents), ``sosreport-<host>-<date>/etc/kubernetes/pki/ca.crt`` or, for
OpenShift's ``static_kuberesources`` tarball (``tar -C /etc/kubernetes``, layouts §2.6),
``static-pod-resources/...``. ``find_nodes`` finds where each host directory lies by what it
holds (never by its name alone) and ``NodeEvidence`` maps host paths through those mount points,
so that the wiring layer asks for ``/etc/kubernetes/pki/ca.crt`` and never learns the layout.

Mount-point rules (layouts §1.1, §1.5, §1.8, §2.1):

* **/etc/kubernetes** is a directory holding at least two points of evidence: a ``manifests/``
  with a control-plane manifest (2), a ``pki/`` with kubeadm's CA or service-account files (2), an
  ``ssl/`` with Kubespray's or RKE's certificates (2), a ``static-pod-resources/`` with OpenShift's
  ``<component>-pod-<N>`` or ``<component>-certs`` directories (2), and one point per kubeconfig
  kubeadm or OpenShift writes there (``admin.conf``, ``kubelet.conf``, ``kubeconfig``, ...) or
  ``kubelet-ca.crt``.
* Where that directory is ``<P>/etc/kubernetes``, ``<P>`` is the node's host root: every host path
  maps below it. A sosreport root (``sos_commands/`` beside ``sos_reports/``, ``sos_logs/`` or
  ``version.txt``) is a host root too, and its node is scrubbed.
* **/var/lib/kubelet/pki** is a directory holding ``kubelet-client-current.pem``, a dated
  ``kubelet-(client|server)-YYYY-MM-DD-HH-MM-SS.pem``, or ``kubelet.crt`` with ``kubelet.key``;
  **/etc/ssl/etcd/ssl** (Kubespray's etcd) one holding ``ca.pem`` and ``member-``, ``admin-`` or
  ``node-<host>.pem``. Outside a host root they are attached to the node whose root contains them
  (or the only node), so a tree holding ``etc-kubernetes/`` and ``kubelet-pki/`` still resolves
  ``kubelet-client-current.pem``.
* A second ``/etc/kubernetes`` inside a node (``etc/kubernetes.bak`` made before a renewal) is a
  copy, named in ``notes`` and ignored; separate node roots side by side (``case/master-0/``,
  ``case/master-1/``) are separate nodes.

Symbolic links found inside the evidence are followed with their targets read as *host* paths
(an absolute target starts again from the host's ``/``), one component at a time as the kernel
does, so ``kubelet-client-current.pem → /var/lib/kubelet/pki/kubelet-client-<date>.pem`` resolves
through whichever mount holds the dated file. A target no mount covers "leaves the evidence".

Who a node is (its name and distribution) is not decided here: naming a node means decoding its
certificates and manifests, which the wiring does (``wiring/node_identity.py``), and one node
described by several inputs is joined there too (``wiring/nodes.py``). A ``NodeEvidence`` offers
files, and the name its input gives it (``fallback_name``).

Modules: ``mounts`` (the one mount model, shared with the wiring's pod mounts), ``host_paths``
(well-known host paths, why a file is missing), ``host`` (``NodeEvidence``: the one host-path
walker and the read contract) and ``discovery`` (``find_nodes``).
"""

from analyzer.evidence.node.discovery import find_nodes
from analyzer.evidence.node.host import NodeEvidence
from analyzer.evidence.node.host_paths import (
    ETC_KUBERNETES,
    HOST_ROOT,
    IS_DIRECTORY,
    KUBELET_PKI,
    KUBESPRAY_ETCD_SSL,
    LEAVES_EVIDENCE,
    LINK_LOOP,
    MAYBE_MISSING,
    NOT_IN_EVIDENCE,
    RKE2_CONFIG,
    RKE2_DATA,
    STATIC_KUBERESOURCES_NOTE,
    TECTONIC_ETCD_SSL,
    HostFile,
    path_inside,
    input_stem,
    tree_location,
)
from analyzer.evidence.node.mounts import Mount, map_through

__all__ = [
    "ETC_KUBERNETES",
    "HOST_ROOT",
    "IS_DIRECTORY",
    "KUBELET_PKI",
    "KUBESPRAY_ETCD_SSL",
    "LEAVES_EVIDENCE",
    "LINK_LOOP",
    "MAYBE_MISSING",
    "NOT_IN_EVIDENCE",
    "RKE2_CONFIG",
    "RKE2_DATA",
    "STATIC_KUBERESOURCES_NOTE",
    "TECTONIC_ETCD_SSL",
    "HostFile",
    "Mount",
    "NodeEvidence",
    "find_nodes",
    "input_stem",
    "map_through",
    "path_inside",
    "tree_location",
]
