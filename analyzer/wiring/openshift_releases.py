"""What the OpenShift operators do the same in every 4.x release, and what changed between them.

The wiring reads the real configuration wherever the evidence holds it; these facts are the
fallbacks when it does not (a pruned ``kube-apiserver-pod-N``, a log on its own, a must-gather
without node files). Every fact names the operator repository, branch and file it was read from.

Release differences (``RELEASE_FACTS``) are a table, not ``if`` statements scattered in the wiring:
each row is one fact, the releases it holds for, and its source.
"""

from __future__ import annotations

import re

from analyzer.evidence.node.mounts import Mount
from analyzer.records import datarecord

KAS_OPERATOR = "openshift/cluster-kube-apiserver-operator"
ETCD_OPERATOR = "openshift/cluster-etcd-operator"
LIBRARY_GO = "openshift/library-go"

STATIC_POD_RESOURCES = "/etc/kubernetes/static-pod-resources"
RESOURCES_IN_POD = "/etc/kubernetes/static-pod-resources"  # volume resource-dir
CERTS_IN_POD = "/etc/kubernetes/static-pod-certs"  # volume cert-dir


# The operators' static pods mount the revisioned directory as resource-dir and the cert-synced one
# as cert-dir. Unchanged from release-4.6 to main in:
#   cluster-kube-apiserver-operator bindata/v4.1.0/kube-apiserver/pod.yaml (≤ 4.8) and
#   bindata/assets/kube-apiserver/pod.yaml (4.9 →) volumes resource-dir / cert-dir;
#   cluster-etcd-operator bindata/etcd/pod.yaml (pod.gotpl.yaml on main) volumes resource-dir / cert-dir;
#   cluster-kube-controller-manager-operator and cluster-kube-scheduler-operator bindata pod.yaml.
# In each mount the source's REVISION stands for the revision, as in the operator's bindata.
STANDARD_MOUNTS: dict[str, tuple[Mount, ...]] = {
    component: (
        Mount(RESOURCES_IN_POD, f"{STATIC_POD_RESOURCES}/{component}-pod-REVISION", "volume resource-dir"),
        Mount(CERTS_IN_POD, f"{STATIC_POD_RESOURCES}/{component}-certs", "volume cert-dir"),
    )
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
}
STANDARD_MOUNTS_SOURCE = f"{KAS_OPERATOR}:bindata/assets/kube-apiserver/pod.yaml (volumes resource-dir, cert-dir)"


def standard_host_path(host_path: str, revision: int | None) -> str | None:
    """A standard mount's host path for a revision; None for the revisioned one when the revision is unknown."""
    if "REVISION" in host_path:
        return host_path.replace("REVISION", str(revision)) if revision is not None else None
    return host_path


def substitute_placeholders(text: str, revision: int | None, node: str | None) -> str:
    """What the installer does to every revisioned config map and secret before writing it to the
    node: ``REVISION`` → the revision, ``NODE_NAME`` → the node, ``NODE_ENVVAR_NAME`` → the node with
    ``-`` and ``.`` as ``_`` (library-go pkg/operator/staticpod/installerpod/cmd.go substituteConfigMap).
    The copy in etcd keeps the placeholders; the node's copy has them replaced."""
    if revision is not None:
        text = text.replace("REVISION", str(revision))
    if node:
        text = text.replace("NODE_ENVVAR_NAME", node.replace("-", "_").replace(".", "_"))
        text = text.replace("NODE_NAME", node)
    return text


def openshift_host_path(pod_path: str, component: str = "kube-apiserver", revision: int | None = None) -> str | None:
    """Where an in-pod path lives on the master under the operator's standard mounts (``N`` for an
    unknown revision); None for a path outside them."""
    for mount in STANDARD_MOUNTS[component]:
        prefix = mount.target + "/"
        if pod_path.startswith(prefix):
            host = mount.source.replace("REVISION", str(revision) if revision is not None else "N")
            return host + "/" + pod_path[len(prefix):]
    return None


# kube-apiserver's default servingInfo.namedCertificates, in the order the config observer writes them
# (cluster-kube-apiserver-operator pkg/operator/configobservation/apiserver/observe_apiserver.go, the same
# on release-4.6, release-4.14, release-4.20 and main): four cert-synced pairs, the revisioned recovery
# pair, then one user-serving-cert-%03d per spec.servingCerts.namedCertificates entry.
SYSTEM_SNI_PAIRS = (
    f"{CERTS_IN_POD}/secrets/localhost-serving-cert-certkey",
    f"{CERTS_IN_POD}/secrets/service-network-serving-certkey",
    f"{CERTS_IN_POD}/secrets/external-loadbalancer-serving-certkey",
    f"{CERTS_IN_POD}/secrets/internal-loadbalancer-serving-certkey",
    f"{RESOURCES_IN_POD}/secrets/localhost-recovery-serving-certkey",
)
USER_SNI_PAIR = f"{CERTS_IN_POD}/secrets/user-serving-cert-%03d"
USER_SNI_LIMIT = 10  # the observer refuses more; starter.go lists user-serving-cert-000 … -009
SNI_ORDER_SOURCE = f"{KAS_OPERATOR}:pkg/operator/configobservation/apiserver/observe_apiserver.go"


def default_sni_order() -> tuple[str, ...]:
    """Directories of the SNI pairs in the operator's load order, user entries included (up to ten)."""
    return SYSTEM_SNI_PAIRS + tuple(USER_SNI_PAIR % index for index in range(USER_SNI_LIMIT))


# -- release differences ------------------------------------------------------------------------


@datarecord
class ReleaseFact:
    fact: str  # a stable key the wiring asks for
    first: tuple[int, int]  # the first 4.x release it holds for
    last: tuple[int, int] | None  # the last, None for "still true on main"
    value: str
    source: str  # repository@branch:path


def _v(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


RELEASE_FACTS: tuple[ReleaseFact, ...] = (
    # kubelet-client moved from RevisionSecrets to CertSecrets in 4.9; the argument followed it.
    ReleaseFact("kube-apiserver.kubelet-client", _v("4.6"), _v("4.8"), "revisioned",
                f"{KAS_OPERATOR}@release-4.8:pkg/operator/starter.go (RevisionSecrets kubelet-client); "
                "bindata/v4.1.0/config/defaultconfig.yaml kubelet-client-certificate=/etc/kubernetes/static-pod-resources/secrets/kubelet-client/tls.crt"),
    ReleaseFact("kube-apiserver.kubelet-client", _v("4.9"), None, "cert-synced",
                f"{KAS_OPERATOR}@release-4.9:pkg/operator/starter.go (CertSecrets kubelet-client); "
                "bindata/assets/config/defaultconfig.yaml kubelet-client-certificate=/etc/kubernetes/static-pod-certs/secrets/kubelet-client/tls.crt"),
    # etcd's per-node pairs: three aggregates up to 4.7, one from 4.8 (pod.yaml --cert-file/--peer-cert-file follow).
    ReleaseFact("etcd.cert-aggregates", _v("4.6"), _v("4.7"), "etcd-all-peer,etcd-all-serving,etcd-all-serving-metrics",
                f"{ETCD_OPERATOR}@release-4.7:pkg/operator/starter.go (CertSecrets); bindata/etcd/pod.yaml"),
    ReleaseFact("etcd.cert-aggregates", _v("4.8"), None, "etcd-all-certs",
                f"{ETCD_OPERATOR}@release-4.8:pkg/operator/starter.go (CertSecrets); bindata/etcd/pod.yaml"),
    # etcd's trusted CAs: the etcd-serving-ca and etcd-peer-client-ca config maps up to 4.17, etcd-all-bundles from 4.18.
    ReleaseFact("etcd.ca-bundles", _v("4.6"), _v("4.17"), "configmaps/etcd-serving-ca/ca-bundle.crt,configmaps/etcd-peer-client-ca/ca-bundle.crt",
                f"{ETCD_OPERATOR}@release-4.16:bindata/etcd/pod.yaml (--trusted-ca-file, --peer-trusted-ca-file); pkg/operator/starter.go CertConfigMaps"),
    ReleaseFact("etcd.ca-bundles", _v("4.18"), None, "configmaps/etcd-all-bundles/server-ca-bundle.crt,configmaps/etcd-all-bundles/server-ca-bundle.crt",
                f"{ETCD_OPERATOR}@release-4.18:bindata/etcd/pod.yaml; main:bindata/etcd/pod.gotpl.yaml; "
                "pkg/operator/etcdcertsigner/etcdcertsignercontroller.go (etcd-all-bundles)"),
    # The etcd-metrics grpc-proxy's --cacert (the etcd CA it dials etcd with) and --trusted-ca-file (the
    # etcd-metric-signer bundle its clients chain to): config maps up to 4.17, etcd-all-bundles from 4.18.
    ReleaseFact("etcd.metrics-ca-bundles", _v("4.6"), _v("4.17"),
                "configmaps/etcd-peer-client-ca/ca-bundle.crt,configmaps/etcd-metrics-proxy-serving-ca/ca-bundle.crt",
                f"{ETCD_OPERATOR}@release-4.16:bindata/etcd/pod.yaml (etcd-metrics: --cacert, --trusted-ca-file)"),
    ReleaseFact("etcd.metrics-ca-bundles", _v("4.18"), None,
                "configmaps/etcd-all-bundles/server-ca-bundle.crt,configmaps/etcd-all-bundles/metrics-ca-bundle.crt",
                f"{ETCD_OPERATOR}@release-4.18:bindata/etcd/pod.yaml; main:bindata/etcd/pod.gotpl.yaml (etcd-metrics: --cacert, --trusted-ca-file)"),
    # The bindata directory of the operator's assets.
    ReleaseFact("kube-apiserver.bindata", _v("4.6"), _v("4.8"), "bindata/v4.1.0",
                f"{KAS_OPERATOR}@release-4.8:bindata/v4.1.0/kube-apiserver/pod.yaml"),
    ReleaseFact("kube-apiserver.bindata", _v("4.9"), None, "bindata/assets",
                f"{KAS_OPERATOR}@release-4.9:bindata/assets/kube-apiserver/pod.yaml"),
    # The revisioned pod.yaml in kube-apiserver-pod-N is the operator's JSON encoding of the pod
    # (resourceread.WritePodV1OrDie, a JSON codec) with REVISION left for the installer to replace.
    ReleaseFact("kube-apiserver.pod-configmap", _v("4.6"), None, "json-with-REVISION",
                f"{KAS_OPERATOR}@release-4.6:pkg/operator/targetconfigcontroller/targetconfigcontroller.go "
                f"(Data[\"pod.yaml\"] = WritePodV1OrDie); {LIBRARY_GO}:pkg/operator/staticpod/installerpod/cmd.go substituteConfigMap"),
    # Kubernetes ≤ 1.21 (OpenShift ≤ 4.8) logs a loaded pair as `Loaded a new cert/key pair for "<name>"`,
    # 1.22 on (4.9 →) as structured `"Loaded a new cert/key pair" name="<name>"`.
    ReleaseFact("kube-apiserver.loaded-pair-log", _v("4.6"), _v("4.8"), "klog-printf",
                "kubernetes/apiserver@v0.21.0:pkg/server/dynamiccertificates/dynamic_serving_content.go"),
    ReleaseFact("kube-apiserver.loaded-pair-log", _v("4.9"), None, "klog-structured",
                "kubernetes/apiserver@v0.22.0:pkg/server/dynamiccertificates/dynamic_serving_content.go"),
)


def release_fact(fact: str, release: str | None) -> ReleaseFact | None:
    """The row that holds for a release ("4.8.12" or "4.8"); None when the release is unknown or outside the table."""
    if not release or not re.match(r"^\d+\.\d+", release):
        return None
    version = _v(release)
    for row in RELEASE_FACTS:
        if row.fact == fact and row.first <= version and (row.last is None or version <= row.last):
            return row
    return None


def parse_release(text: str | None) -> str | None:
    """``4.14.3`` from a ClusterVersion's version or a release image tag; None for anything else."""
    match = re.search(r"\b(4\.\d+)(?:\.\d+)?", text or "")
    return match.group(0) if match else None


@datarecord
class ClusterRelease:
    """The release a cluster runs, as its ClusterVersion says it."""

    release: str | None  # "4.14" (the table's key), None when the object does not tell
    version: str | None  # "4.14.3" as written
    detail: str  # where it was read and how sure it is, in words
    upgrading_to: str | None = None  # the release of a Partial update at the head of the history


# openshift/api config/v1/types_cluster_version.go: ClusterVersionStatus.history lists the updates
# newest first, each with state "Completed" or "Partial" (UpdateHistory.State); status.desired is the
# release the cluster-version operator is rolling towards. The newest Completed entry is what every
# operator finished rolling out; a Partial entry above it is an upgrade in flight.
CLUSTER_VERSION_SOURCE = "openshift/api:config/v1/types_cluster_version.go (ClusterVersionStatus.history, desired)"


def _minor(text: str) -> str | None:
    """``4.14`` of ``4.14.3``: the release table's key."""
    found = parse_release(text)
    return ".".join(found.split(".")[:2]) if found else None


def release_from_cluster_version(obj: dict[str, object] | None) -> ClusterRelease:
    """The release from a ClusterVersion object (``clusterversions/version``); "cannot tell" when it says nothing."""
    if not isinstance(obj, dict):
        return ClusterRelease(None, None, "cannot tell the OpenShift release: no ClusterVersion in the evidence")
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    assert isinstance(status, dict)
    history = [entry for entry in status.get("history") or [] if isinstance(entry, dict)]
    completed = next((entry for entry in history if entry.get("state") == "Completed" and parse_release(str(entry.get("version") or ""))), None)
    head_version = str(history[0].get("version") or "") if history and history[0].get("state") == "Partial" else ""
    partial = _minor(head_version)
    if completed is not None:
        version = str(completed["version"])
        detail = f"OpenShift {version} from ClusterVersion version (status.history: the newest Completed update)"
        if partial:
            detail += f"; an update to {head_version} is in progress (Partial), so some operators may already lay out files as {partial} does"
        return ClusterRelease(_minor(version), version, detail, partial)
    desired = status.get("desired") if isinstance(status.get("desired"), dict) else {}
    assert isinstance(desired, dict)
    version = str(desired.get("version") or "")
    if parse_release(version):
        return ClusterRelease(_minor(version), version,
                              f"OpenShift {version} from ClusterVersion version status.desired (no Completed update in its history: "
                              "the installation may not have finished)", partial)
    return ClusterRelease(None, None, "cannot tell the OpenShift release: the ClusterVersion names no version")
