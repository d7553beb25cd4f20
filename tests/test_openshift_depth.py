"""Issue 12's leftovers: etcd's metrics pairs and the metrics-signer bundle, the release read from
ClusterVersion (and the standard layout it selects), the auth.openshift.io / owning-component
annotations a must-gather keeps, and a must-gather with more than one root."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import yaml

from analyzer.wiring.openshift_etcd import standard_etcd_flags, standard_metrics_flags
from analyzer.wiring.openshift_pods import ETCD_POD
from analyzer.wiring.openshift_releases import release_fact, release_from_cluster_version
from tests.fixtures import scenarios
from tests.fixtures.archives import File, build
from tests.fixtures.must_gather import (
    IMAGE_DIR,
    build_multi_root_must_gather,
    build_must_gather,
    must_gather_members,
    pod_member,
)
from tests.fixtures.openshift_case import ETCD_NS, OpenShiftCluster
from tests.fixtures.pki import DAY, REFERENCE_UTC, make_leaf

REFERENCE = REFERENCE_UTC.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scan(paths, out) -> tuple[int, dict]:
    return scenarios.scan_json(paths, out)


def _component(report: dict, name: str) -> dict:
    return next(c for c in report["components"] if c["component"] == name)


def _loads(report: dict, name: str) -> dict[str, dict]:
    return {load["role"]: load for load in _component(report, name)["loads"]}


def _notes(report: dict) -> str:
    return " | ".join(f["detail"] for f in report["findings"] if f["id"] == "wiring.note")


# -- ClusterVersion -------------------------------------------------------------------------------


def _cluster_version(history: list[dict], desired: str | None = None) -> dict:
    return {"kind": "ClusterVersion", "metadata": {"name": "version"},
            "status": {"history": history, **({"desired": {"version": desired}} if desired else {})}}


def test_release_is_the_newest_completed_update_and_an_upgrade_in_flight_is_said():
    obj = _cluster_version([{"state": "Partial", "version": "4.15.2"}, {"state": "Completed", "version": "4.14.9"},
                            {"state": "Completed", "version": "4.13.30"}], desired="4.15.2")
    release = release_from_cluster_version(obj)
    assert (release.release, release.version, release.upgrading_to) == ("4.14", "4.14.9", "4.15")
    assert "4.15.2 is in progress" in release.detail
    installing = release_from_cluster_version(_cluster_version([{"state": "Partial", "version": "4.16.0"}], desired="4.16.0"))
    assert installing.release == "4.16" and "installation may not have finished" in installing.detail
    for unknown in (None, _cluster_version([]), {"status": "garbage"}):
        told = release_from_cluster_version(unknown)
        assert told.release is None and told.detail.startswith("cannot tell the OpenShift release")


@pytest.mark.parametrize("release", ["4.7", "4.14", "4.18"])
def test_standard_etcd_layout_follows_the_release_table(release):
    flags, source = standard_etcd_flags(release, "master-0")
    aggregates = release_fact("etcd.cert-aggregates", release).value.split(",")
    assert flags.find("peer-cert-file").split("/")[-2] in aggregates
    assert flags.find("trusted-ca-file").endswith(release_fact("etcd.ca-bundles", release).value.split(",")[0])
    assert "cluster-etcd-operator" in source
    metrics = standard_metrics_flags(release, "master-0")
    assert metrics.find("cert-file").endswith("/etcd-serving-metrics-master-0.crt")
    assert metrics.find("trusted-ca-file").endswith(release_fact("etcd.metrics-ca-bundles", release).value.split(",")[1])
    assert standard_etcd_flags("3.11", "master-0") is None and standard_etcd_flags(None, "master-0") is None


def _without_etcd_pod(cluster: OpenShiftCluster, dest, *, cluster_version: bool = True, mirror: bytes | None = None,
                      etcd_pod_containers: tuple[str, ...] | None = None):
    """A must-gather whose openshift-etcd config maps lost etcd-pod (``etcd_pod_containers``: kept, with
    only those containers); the kubelet's mirror pod etcd-<node> is collected only when given (``mirror``:
    its etcd value)."""
    patched = []
    for member in must_gather_members(cluster):
        if member.name.endswith(f"namespaces/{ETCD_NS}/core/configmaps.yaml"):
            document = yaml.safe_load(member.data)
            items = [i for i in document["items"] if etcd_pod_containers is not None or not i["metadata"]["name"].startswith("etcd-pod")]
            for item in items:
                if item["metadata"]["name"].startswith("etcd-pod"):
                    pod = json.loads(item["data"]["pod.yaml"])
                    pod["spec"]["containers"] = [c for c in pod["spec"]["containers"] if c["name"] in (etcd_pod_containers or ())]
                    item["data"]["pod.yaml"] = json.dumps(pod)
            document["items"] = items
            member = File(member.name, yaml.safe_dump(document).encode())
        if not cluster_version and "clusterversions" in member.name:
            continue
        patched.append(member)
    if mirror is not None:
        patched.append(pod_member(f"/kubernetes.io/pods/{ETCD_NS}/etcd-{cluster.node}", mirror))
    dest.mkdir(parents=True, exist_ok=True)
    return build("directory", dest, patched, name="must-gather.local.1")


@pytest.mark.parametrize("release", ["4.7", "4.18"])
def test_without_an_etcd_pod_the_release_from_cluster_version_wires_etcd(tmp_path, release):
    cluster = OpenShiftCluster(release=release)
    _, report = _scan([_without_etcd_pod(cluster, tmp_path / "gather")], tmp_path / "r.json")
    notes = _notes(report)
    assert f"OpenShift {release}.3 from ClusterVersion version" in notes
    assert f"wired from the operator's standard layout for OpenShift {release}" in notes
    etcd = _loads(report, "etcd")
    assert etcd["etcd-peer"]["object"] == f"{ETCD_NS}/etcd-peer-master-0"
    assert etcd["etcd-peer"]["materials"][0]["state"] == "present"
    assert etcd["etcd-trusted-ca"]["status"] == "ok"
    metrics = _loads(report, "etcd-metrics")
    assert metrics["etcd-metrics-serving"]["object"] == f"{ETCD_NS}/etcd-serving-metrics-master-0"
    assert metrics["etcd-metrics-client-ca"]["status"] == "ok"


def test_without_an_etcd_pod_or_a_release_etcd_cannot_be_told(tmp_path):
    _, report = _scan([_without_etcd_pod(OpenShiftCluster(), tmp_path / "gather", cluster_version=False)], tmp_path / "r.json")
    notes = _notes(report)
    assert "cannot tell how etcd on master-0 is configured" in notes and "no ClusterVersion in the evidence" in notes
    assert not [c for c in report["components"] if c["component"].startswith("etcd")]


# -- etcd's metrics pairs -------------------------------------------------------------------------


@pytest.mark.parametrize("release", ["4.7", "4.14", "4.18"])
def test_etcd_metrics_pairs_are_wired_from_the_node_and_checked(tmp_path, release):
    cluster = OpenShiftCluster(release=release)
    _, report = _scan([scenarios._tree(tmp_path, "node", cluster.files())], tmp_path / "r.json")
    metrics = _loads(report, "etcd-metrics")
    assert set(metrics) == {"etcd-metrics-serving", "etcd-metrics-client-ca", "etcd-metrics-client", "etcd-metrics-etcd-ca"}
    assert all(load["status"] == "ok" for load in metrics.values()), {r: l["status"] for r, l in metrics.items()}
    assert metrics["etcd-metrics-serving"]["cert"].endswith(f"/{cluster.etcd_aggregate('etcd-serving-metrics-')}/etcd-serving-metrics-master-0.crt")
    assert metrics["etcd-metrics-client-ca"]["ca"].endswith(release_fact("etcd.metrics-ca-bundles", release).value.split(",")[1])
    # The proxy dials etcd with the node's peer pair, verified by etcd's --trusted-ca-file.
    assert metrics["etcd-metrics-client"]["cert"].endswith("/etcd-peer-master-0.crt")


def test_metrics_pair_from_the_wrong_signer_is_refused_by_prometheus(tmp_path):
    """etcd-serving-metrics re-issued by the etcd signer instead of the metric signer: Prometheus, trusting
    the metric signer's bundle, refuses it; the etcd pairs themselves stay fine."""
    cluster = OpenShiftCluster()
    name = f"etcd-serving-metrics-{cluster.node}"
    wrong = make_leaf(cluster.signers["etcd-signer"], cluster.node_ip, ips=(cluster.node_ip,), server=True, client=True,
                      not_before=datetime(2024, 6, 2, tzinfo=UTC))
    cluster.etcd_pairs[name] = wrong
    _, report = _scan([scenarios._tree(tmp_path, "node", cluster.files())], tmp_path / "r.json")
    refused = [f for f in report["findings"] if f["component"] == "etcd-metrics" and f["role"] == "etcd-metrics-serving"
               and f["severity"] in ("critical", "error")]
    assert refused and "unknown authority" in (refused[0]["go_error"] or "") and "Prometheus" in refused[0]["detail"], refused
    assert not [f for f in report["findings"] if f["component"] == "etcd" and f["severity"] in ("critical", "error")]


def test_expired_metrics_pair_in_a_must_gather_is_named_with_its_owner(tmp_path):
    cluster = OpenShiftCluster()
    name = f"etcd-serving-metrics-{cluster.node}"
    issued = REFERENCE_UTC - 400 * DAY
    cluster.etcd_pairs[name] = make_leaf(cluster.signers["etcd-metric-signer"], cluster.node_ip, ips=(cluster.node_ip,),
                                         server=True, client=True, not_before=issued, lifetime=390 * DAY)
    code, report = _scan([build_must_gather(tmp_path, cluster)], tmp_path / "r.json")
    expired = [f for f in report["findings"] if f["id"] == "validity.expired" and f["component"] == "etcd-metrics"]
    assert expired and expired[0]["subject"]["object"] == f"{ETCD_NS}/{name}", [f["title"] for f in report["findings"]]
    assert "owned by 'Etcd' (openshift.io/owning-component)" in expired[0]["detail"]
    assert code == 1


def _expired_metrics_pair(cluster: OpenShiftCluster) -> str:
    name = f"etcd-serving-metrics-{cluster.node}"
    cluster.etcd_pairs[name] = make_leaf(cluster.signers["etcd-metric-signer"], cluster.node_ip, ips=(cluster.node_ip,),
                                         server=True, client=True, not_before=REFERENCE_UTC - 400 * DAY, lifetime=390 * DAY)
    return name


def _without_etcd_pod_snapshot(cluster: OpenShiftCluster, dest, mirror: bytes):
    objects = {key: value for key, value in cluster.etcd_objects().items()
               if not key.startswith(f"/kubernetes.io/configmaps/{ETCD_NS}/etcd-pod")}
    objects[f"/kubernetes.io/pods/{ETCD_NS}/etcd-{cluster.node}"] = mirror
    return scenarios._save(dest, "snapshot", [objects])


@pytest.mark.parametrize("evidence", ["must-gather", "snapshot"])
def test_without_an_etcd_pod_the_mirror_pod_wires_the_metrics_proxy(tmp_path, evidence):
    """No etcd-pod ConfigMap, the kubelet's mirror pod etcd-<node> in the evidence: etcd and its metrics
    proxy are both read from the mirror pod (it carries the static pod's containers), and the expired
    metrics pair is found."""
    cluster = OpenShiftCluster()
    name = _expired_metrics_pair(cluster)
    mirror = cluster.etcd_mirror_pod()
    path = (_without_etcd_pod(cluster, tmp_path / "gather", mirror=mirror) if evidence == "must-gather"
            else _without_etcd_pod_snapshot(cluster, tmp_path, mirror))
    code, report = _scan([path], tmp_path / "r.json")
    metrics = _component(report, "etcd-metrics")
    assert metrics["configured_by"].startswith(f"mirror pod {ETCD_NS}/etcd-master-0"), metrics["configured_by"]
    assert "container etcd-metrics" in metrics["configured_by"]
    loads = _loads(report, "etcd-metrics")
    assert loads["etcd-metrics-serving"]["cert"].endswith(f"/{cluster.etcd_aggregate(name)}/{name}.crt")
    assert loads["etcd-metrics-client"]["cert"].endswith("/etcd-peer-master-0.crt")
    assert loads["etcd-metrics-client-ca"]["status"] == "ok"
    # Named by the per-node secret or by the aggregate the node's file is written from.
    owners = {f"{ETCD_NS}/{name}", f"{ETCD_NS}/{cluster.etcd_aggregate(name)}"}
    assert loads["etcd-metrics-serving"]["object"] in owners
    expired = [f for f in report["findings"] if f["id"] == "validity.expired" and f["component"] == "etcd-metrics"]
    assert expired and expired[0]["subject"]["object"] in owners, [f["title"] for f in report["findings"]]
    assert loads["etcd-metrics-serving"]["status"] == "refused"
    assert "standard layout" not in _notes(report)
    assert code == 1


def test_a_mirror_pod_without_the_metrics_container_says_the_proxy_cannot_be_told(tmp_path):
    cluster = OpenShiftCluster()
    _expired_metrics_pair(cluster)
    path = _without_etcd_pod(cluster, tmp_path / "gather", mirror=cluster.etcd_mirror_pod(("etcd",)))
    _, report = _scan([path], tmp_path / "r.json")
    assert _component(report, "etcd")["configured_by"].startswith(f"mirror pod {ETCD_NS}/etcd-master-0")
    assert not [c for c in report["components"] if c["component"] == "etcd-metrics"]
    notes = _notes(report)
    assert f"cannot tell which pairs etcd's metrics proxy on master-0 loads: mirror pod {ETCD_NS}/etcd-master-0" in notes, notes
    assert "has no etcd-metrics container" in notes


@pytest.mark.parametrize("mirror_containers", [("etcd", "etcd-metrics"), ("etcd",)])
def test_an_etcd_pod_configmap_without_the_metrics_container_falls_back_to_the_mirror_pod(tmp_path, mirror_containers):
    """etcd-pod holds etcd but not etcd-metrics: the proxy comes from the mirror pod when it holds the
    container, else the note says what each source lacks."""
    cluster = OpenShiftCluster()
    path = _without_etcd_pod(cluster, tmp_path / "gather", etcd_pod_containers=("etcd",),
                             mirror=cluster.etcd_mirror_pod(mirror_containers))
    _, report = _scan([path], tmp_path / "r.json")
    assert _component(report, "etcd")["configured_by"].startswith(f"ConfigMap {ETCD_NS}/etcd-pod")
    metrics = [c for c in report["components"] if c["component"] == "etcd-metrics"]
    if "etcd-metrics" in mirror_containers:
        assert metrics and metrics[0]["configured_by"].startswith(f"mirror pod {ETCD_NS}/etcd-master-0"), metrics
        assert all(load["status"] == "ok" for load in metrics[0]["loads"] if load["role"].endswith("-ca"))
    else:
        notes = _notes(report)
        assert not metrics
        assert (f"ConfigMap {ETCD_NS}/etcd-pod in etcd has no etcd-metrics container, "
                f"mirror pod {ETCD_NS}/etcd-master-0 in etcd has no etcd-metrics container") in notes, notes


def test_a_node_etcd_pod_without_the_metrics_proxy_says_it_cannot_be_told(tmp_path):
    """The node's etcd-pod.yaml whose etcd-metrics container no longer starts `etcd grpc-proxy start`."""
    cluster = OpenShiftCluster()
    files = cluster.files()
    pod = yaml.safe_load(files[ETCD_POD])
    metrics = next(c for c in pod["spec"]["containers"] if c["name"] == "etcd-metrics")
    metrics["command"] = ["/bin/sh", "-c", "exec sleep infinity"]
    files[ETCD_POD] = yaml.safe_dump(pod).encode()
    _, report = _scan([scenarios._tree(tmp_path, "node", files)], tmp_path / "r.json")
    assert not [c for c in report["components"] if c["component"] == "etcd-metrics"]
    notes = _notes(report)
    assert f"cannot tell which pairs etcd's metrics proxy on master-0 loads: {ETCD_POD} on master-0" in notes, notes
    assert "etcd grpc-proxy start" in notes


# -- annotations in a must-gather -----------------------------------------------------------------


def test_must_gather_annotations_describe_the_certificates_whose_keys_are_elided(tmp_path):
    cluster = OpenShiftCluster()
    cluster.annotation_overrides[("openshift-kube-apiserver", "aggregator-client")] = {
        "openshift.io/description": "Client certificate kube-apiserver presents to aggregated API servers"}
    _, report = _scan([build_must_gather(tmp_path, cluster)], tmp_path / "r.json")
    elided = {f["label"]: f for f in report["findings"] if f["id"] == "evidence.elided"}
    aggregator = elided["aggregator proxy client pair"]
    assert "openshift-kube-apiserver/aggregator-client's annotations: owned by 'kube-apiserver'" in aggregator["detail"]
    assert "described as 'Client certificate kube-apiserver presents to aggregated API servers'" in aggregator["detail"]
    signer = cluster.signers["aggregator-client-signer"].cert.subject.rfc4514_string().removeprefix("CN=")
    assert f"issued by '{signer}' (auth.openshift.io/certificate-issuer)" in aggregator["detail"]


def test_must_gather_rotation_annotations_are_checked(tmp_path):
    """The annotations a must-gather keeps feed library-go's rotation check like a snapshot's do."""
    cluster = OpenShiftCluster()
    cluster.annotation_overrides[("openshift-kube-apiserver", "aggregator-client")] = {
        "auth.openshift.io/certificate-not-after": "2030-01-01T00:00:00Z"}
    _, report = _scan([build_must_gather(tmp_path, cluster)], tmp_path / "r.json")
    drift = [f for f in report["findings"] if f["id"] == "annotations.drift"]
    assert drift and drift[0]["label"] == "aggregator proxy client pair", [f["id"] for f in report["findings"]]


# -- several roots --------------------------------------------------------------------------------


def test_every_must_gather_root_is_read(tmp_path):
    """Two image directories: the default one without openshift-etcd, a second one collecting only it."""
    cluster = OpenShiftCluster()
    namespaces = tuple(sorted({key.split("/")[3] for key in cluster.etcd_objects() if key.split("/")[2] in ("secrets", "configmaps")}
                              - {ETCD_NS}))
    first = must_gather_members(cluster, namespaces=namespaces)
    second = must_gather_members(cluster, namespaces=(ETCD_NS,), image_dir="quay-io-openshift-etcd-must-gather-sha256-77aa",
                                 cluster_scoped=False)
    path = build_multi_root_must_gather(tmp_path, [first, second])
    code, report = _scan([path], tmp_path / "r.json")
    assert code in (0, 4), code
    etcd = _loads(report, "etcd")
    assert etcd["etcd-peer"]["materials"][0]["state"] == "present"
    assert "quay-io-openshift-etcd-must-gather-sha256-77aa" in etcd["etcd-peer"]["materials"][0]["location"]
    assert _loads(report, "kube-apiserver")["sni"]["materials"][0]["state"] == "present"
    roots = [f for f in report["findings"] if f["id"] == "evidence.must-gather-roots"]
    assert roots and "2 must-gather roots" in roots[0]["title"]
    assert not [f for f in report["findings"] if f["id"] == "evidence.snapshot-ignored"]


def test_an_object_in_two_roots_is_taken_from_the_newest_copy(tmp_path):
    """The user's named certificate renewed between two collections: the newer root's copy is judged."""
    old = OpenShiftCluster()
    user = old.user_certs[0]
    expired = make_leaf(old.customer_ca, user.names[0], dns=user.names, server=True, not_before=REFERENCE_UTC - 400 * DAY,
                        lifetime=390 * DAY)
    old.user_certs = [replace(user, pair=expired)]
    new = OpenShiftCluster(signers=old.signers, targets=old.targets, customer_ca=old.customer_ca, etcd_pairs=old.etcd_pairs,
                           kubelet_client=old.kubelet_client, kubelet_serving=old.kubelet_serving, sa_key=old.sa_key,
                           bound_sa_key=old.bound_sa_key, user_certs=[user])
    newer = must_gather_members(new, image_dir="quay-io-second-run", resource_version=900)
    older = must_gather_members(old, image_dir=IMAGE_DIR, resource_version=100)
    for run, order in enumerate(([older, newer], [newer, older])):  # whichever root is read first
        dest = tmp_path / f"run{run}"
        dest.mkdir()
        _, report = _scan([build_multi_root_must_gather(dest, order)], tmp_path / f"r{run}.json")
        user_expired = [f for f in report["findings"] if f["id"] == "validity.expired" and "user-serving-cert-000" in f["label"]]
        assert not user_expired, [f["title"] for f in user_expired]
        sni = [load for load in _component(report, "kube-apiserver")["loads"] if load["role"] == "sni"][-1]
        assert "quay-io-second-run" in sni["materials"][0]["location"]
