"""OpenShift's etcd and its metrics proxy: from the node's pod, the etcd-pod ConfigMap, the kubelet's
mirror pod, or the release's standard layout when none is in the evidence."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence

from analyzer.decode.flags import Flags, parse_flags
from analyzer.decode.manifest import StaticPod
from analyzer.wiring.components import etcd, etcd_metrics
from analyzer.wiring.model import Component
from analyzer.wiring.openshift_releases import (
    CERTS_IN_POD,
    ClusterRelease,
    release_fact,
    release_from_cluster_version,
)
from analyzer.wiring.openshift_pods import ETCD_NAMESPACE, mirror_pod, pod_from_etcd, standard_mounts
from analyzer.wiring.resolve import Resolver, StaticPodResolver
from analyzer.wiring.sources import EtcdObjects
from analyzer.model.vocabulary import Distribution

# OpenShift's etcd pod runs etcd's metrics behind `etcd grpc-proxy start` in the etcd-metrics container,
# beside etcdctl, etcd and etcd-readyz (cluster-etcd-operator bindata/etcd/pod.yaml up to release-4.17,
# pod.gotpl.yaml on main): `exec nice -n -18 etcd grpc-proxy start` serves with --cert-file/--key-file
# etcd-serving-metrics-NODE_NAME to clients of the etcd-metric-signer (--trusted-ca-file, the
# etcd-metrics-proxy-serving-ca bundle), and dials etcd's metrics listener (:9978) with the node's
# etcd-peer-NODE_NAME pair (--cert/--key) trusting --cacert etcd-peer-client-ca.
METRICS_CONTAINER = "etcd-metrics"

# A source of the etcd pod (the node's manifest, the etcd-pod ConfigMap, the kubelet's mirror pod):
# the pod loaded for a container name, None when the source or that container is absent.
PodSource = Callable[[str], StaticPod | None]


def cluster_release(objects: EtcdObjects | None) -> ClusterRelease:
    """The release the cluster runs, from ``clusterversions/version`` (an etcd snapshot's
    ``config.openshift.io/clusterversions/version``, a must-gather's
    ``cluster-scoped-resources/config.openshift.io/clusterversions/version.yaml``)."""
    stored = objects.find("config.openshift.io/clusterversions", None, "version") if objects is not None else None
    return release_from_cluster_version(stored.object if stored is not None else None)


def _standard_layout(release: str | None, bundles_fact: str) -> tuple[dict[str, str], list[str], str] | None:
    """For a release: where each per-node etcd pair lives in the cert-dir (etcd.cert-aggregates: one
    aggregate from 4.8, one per kind before), the CA bundle files of ``bundles_fact``, and the sources."""
    aggregates, bundles = release_fact("etcd.cert-aggregates", release), release_fact(bundles_fact, release)
    if aggregates is None or bundles is None:
        return None
    names = aggregates.value.split(",")
    secrets = {kind: f"{CERTS_IN_POD}/secrets/{f'etcd-all-{kind}' if f'etcd-all-{kind}' in names else names[0]}/etcd-{kind}-"
               for kind in ("peer", "serving", "serving-metrics")}
    return secrets, [f"{CERTS_IN_POD}/{path}" for path in bundles.value.split(",")], f"{aggregates.source}; {bundles.source}"


def standard_metrics_flags(release: str | None, node: str) -> Flags | None:
    """The etcd-metrics grpc-proxy's certificate flags for a release (etcd.cert-aggregates, etcd.metrics-ca-bundles)."""
    layout = _standard_layout(release, "etcd.metrics-ca-bundles")
    if layout is None:
        return None
    secrets, (cacert, trusted), _ = layout
    metrics, peer = secrets["serving-metrics"] + node, secrets["peer"] + node
    return parse_flags([f"--cert-file={metrics}.crt", f"--key-file={metrics}.key", f"--trusted-ca-file={trusted}",
                        f"--cert={peer}.crt", f"--key={peer}.key", f"--cacert={cacert}"])


def standard_etcd_flags(release: str | None, node: str) -> tuple[Flags, str] | None:
    """etcd's certificate flags as the operator writes them for a release, when no etcd pod is in the
    evidence: the per-node pairs in their aggregate (etcd.cert-aggregates) and the trusted CA bundles
    (etcd.ca-bundles) of ``RELEASE_FACTS``. None when the release is unknown or outside the table."""
    layout = _standard_layout(release, "etcd.ca-bundles")
    if layout is None:
        return None
    secrets, (trusted, peer_trusted), sources = layout
    serving, peer = secrets["serving"] + node, secrets["peer"] + node
    return parse_flags([f"--cert-file={serving}.crt", f"--key-file={serving}.key", f"--trusted-ca-file={trusted}",
                        "--client-cert-auth=true", f"--peer-cert-file={peer}.crt", f"--peer-key-file={peer}.key",
                        f"--peer-trusted-ca-file={peer_trusted}", "--peer-client-cert-auth=true"]), sources


def etcd_from_objects(objects: EtcdObjects, node: str | None, release: ClusterRelease, notes: list[str]) -> list[Component]:
    """etcd on a master known only from etcd: its static pod from ``etcd-pod`` in openshift-etcd (the
    installer's NODE_NAME placeholder replaced), else the kubelet's mirror pod, else the operator's
    standard layout for the release ClusterVersion names; its files through the objects they are
    written from (cluster-etcd-operator bindata/etcd/pod.gotpl.yaml; etcd-all-certs takes
    etcd-serving-<node> and etcd-peer-<node>, etcd-all-bundles takes etcd-ca-bundle). Both sources hold
    every container of the pod: the metrics proxy is read from etcd's, else from the other."""
    if not node:
        return []
    sources: tuple[tuple[str, PodSource], ...] = (
        (f"ConfigMap {ETCD_NAMESPACE}/etcd-pod in etcd",
         lambda container: pod_from_etcd(objects, None, "etcd", ETCD_NAMESPACE, node=node, container=container)),
        (f"mirror pod {ETCD_NAMESPACE}/etcd-{node} in etcd",
         lambda container: mirror_pod(objects, node, "etcd", ETCD_NAMESPACE, container=container)),
    )
    present = [(source, load, pod) for source, load in sources if (pod := load("etcd")) is not None]
    if not present:
        return _standard_etcd(objects, node, release, notes)
    source, _, pod = present[0]
    mounts = ", the operator's standard mounts"

    def resolver(pod: StaticPod) -> StaticPodResolver:
        return StaticPodResolver(None, objects, ETCD_NAMESPACE, pod.revision, standard_mounts("etcd", pod.revision))

    return [etcd(pod.flags, resolver(pod), node=node, distribution=Distribution.OPENSHIFT, configured_by=source + mounts,
                 expected_server=("localhost", "127.0.0.1"), expected_peer=(), env=pod.env)] + metrics_proxy(
        [(where, load(METRICS_CONTAINER)) for where, load, _ in present], resolver, node=node, notes=notes, mounts=mounts)


def _standard_etcd(objects: EtcdObjects, node: str, release: ClusterRelease, notes: list[str]) -> list[Component]:
    """etcd and its metrics proxy from the operator's standard layout for the release, when no etcd pod is in the evidence."""
    standard = standard_etcd_flags(release.release, node)
    if standard is None:
        notes.append(f"cannot tell how etcd on {node} is configured: no etcd-pod ConfigMap or mirror pod in the evidence, "
                     f"and {'the release ' + str(release.version) + ' is outside the release table' if release.version else release.detail.split(': ', 1)[-1]}")
        return []
    flags, facts = standard
    notes.append(f"etcd on {node}: no etcd-pod ConfigMap or mirror pod in the evidence: wired from the operator's standard layout "
                 f"for OpenShift {release.release} ({facts})")
    resolver = StaticPodResolver(None, objects, ETCD_NAMESPACE, None, standard_mounts("etcd", None))
    how = f"the operator's standard layout for OpenShift {release.release} (no etcd pod in the evidence)"
    found = [etcd(flags, resolver, node=node, distribution=Distribution.OPENSHIFT, configured_by=how,
                  expected_server=("localhost", "127.0.0.1"), expected_peer=())]
    metrics = standard_metrics_flags(release.release, node)
    if metrics is None:
        notes.append(_metrics_unknown(node, f"the release table has no etcd.metrics-ca-bundles for OpenShift {release.release}"))
    else:
        found.append(etcd_metrics(metrics, resolver, node=node, distribution=Distribution.OPENSHIFT, configured_by=how))
    return found


def metrics_proxy(sources: Sequence[tuple[str, StaticPod | None]], resolver: Callable[[StaticPod], Resolver], *, node: str,
                  notes: list[str], mounts: str = "") -> list[Component]:
    """etcd's metrics proxy as the first of ``sources`` that starts it: (where, that source's pod loaded
    for the etcd-metrics container, None when it has none). When none does, a note says what each
    lacks: the metrics pairs are then not checked, and the report must say so."""
    lacks = []
    for source, pod in sources:
        flags = metrics_proxy_flags(pod)
        if pod is not None and flags is not None:
            return [etcd_metrics(flags, resolver(pod), node=node, distribution=Distribution.OPENSHIFT,
                                 configured_by=f"{source} (container {METRICS_CONTAINER}){mounts}")]
        lacks.append(f"{source} has " + (f"no {METRICS_CONTAINER} container" if pod is None
                                         else f"no `etcd grpc-proxy start` in its {METRICS_CONTAINER} container"))
    notes.append(_metrics_unknown(node, ", ".join(lacks)))
    return []


def _metrics_unknown(node: str, why: str) -> str:
    return (f"cannot tell which pairs etcd's metrics proxy on {node} loads: {why}; "
            f"etcd-serving-metrics-{node} and the etcd-metric-signer bundle are not checked")


def metrics_proxy_flags(pod: StaticPod | None) -> Flags | None:
    """The grpc-proxy flags of the etcd-metrics container (the pod loaded for that container), None
    when it has none. The command is a shell script; its ``etcd grpc-proxy start`` line is read as sh
    would split it (backslash-newlines joined)."""
    if pod is None:
        return None
    text = re.sub(r"\\\r?\n", "", pod.script) if pod.script else shlex.join(pod.command + pod.args)
    for line in text.splitlines():
        try:
            words = shlex.split(line, posix=True)
        except ValueError:
            continue
        for index in range(len(words) - 2):
            if words[index + 1 : index + 3] == ["grpc-proxy", "start"]:
                return parse_flags(words[index + 3 :])
    return None
