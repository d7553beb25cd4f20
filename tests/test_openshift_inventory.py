"""OpenShift's own inventory of a real cluster's TLS artifacts as the oracle (issue 12 item 4).

For every on-disk location in ``../shared/corpus/openshift-tls-inventory/control-plane.json``,
kforensic's path → object mapping (``wiring.openshift_paths.origins``) must yield the secret or
config map the inventory lists; where the inventory lists none, the mapping must not invent one
for the control plane's own directories. The usages and names kforensic expects for each role
are checked against what the inventory saw on the real certificates.
"""

from __future__ import annotations

import json
import re

import pytest

from analyzer.wiring.openshift_paths import origins
from tests.conftest import corpus_path

NODE = "master-0"
# Not the control plane's: the OS trust store and the image registry's CA, written by other operators
# from the same bundles (the inventory matches them by content, not by how they were written).
NOT_CONTROL_PLANE = ("/etc/pki/", "/etc/docker/")
LB_SERVING = ("external-loadbalancer-serving-certkey", "internal-loadbalancer-serving-certkey")


def _inventory() -> dict:
    return json.loads(corpus_path("openshift-tls-inventory", "control-plane.json").read_text())


def _concrete(path: str) -> str:
    """The inventory's <master-N> and <timestamp> placeholders as a real master would name them."""
    return re.sub(r"<master-\d+>", NODE, path).replace("<timestamp>", "2025-05-25-00-00-00")


def _normalised(name: str) -> str:
    return re.sub(r"<master-\d+>", NODE, name)


def _locations():
    inventory = _inventory()
    for pair in inventory["cert_key_pairs"]:
        for where in pair["on_disk_locations"] or []:
            for side in ("cert", "key"):
                path = (where.get(side) or {}).get("path")
                if path:
                    expected = {f"{s['namespace']}/{_normalised(s['name'])}" for s in pair["secret_locations"] or []}
                    yield "Secret", path, "client" if path.endswith(".kubeconfig") else "file", expected, pair
    for bundle in inventory["ca_bundles"]:
        for where in bundle["on_disk_locations"] or []:
            if where.get("path"):
                expected = {f"{c['namespace']}/{c['name']}" for c in bundle["configmap_locations"] or []}
                yield "ConfigMap", where["path"], "ca" if "kubeconfig" in where["path"] else "file", expected, bundle


def test_every_on_disk_location_maps_to_the_object_the_inventory_lists():
    checked = 0
    for kind, path, part, expected, _ in _locations():
        if path.startswith(NOT_CONTROL_PLANE):
            continue
        found = origins(_concrete(path), part=part)
        mine = {o.ref for o in found if o.kind == kind}
        if not expected:
            # Nothing in etcd behind it per the inventory (kubelet, multus, OVN pairs rotated on the node, the
            # bound SA key, csr-signer as a bundle): only objects of the other kind may be named.
            assert not mine or path.startswith("/etc/kubernetes/static-pod-resources/"), (path, mine)
            continue
        assert mine, f"{path}: kforensic maps it to nothing, the inventory lists {sorted(expected)}"
        # The object the bytes really come from (an aggregate's source, else the direct copy) is listed.
        authoritative = [o.ref for o in found if o.kind == kind][-1]
        assert authoritative in expected, f"{path}: kforensic says {authoritative}, the inventory lists {sorted(expected)}"
        checked += 1
    assert checked >= 30  # every static-pod-resources pair and bundle of the inventory, and the node files


def test_the_inventory_has_what_this_test_relies_on():
    paths = {path for _, path, *_ in _locations()}
    assert any("etcd-all-certs/etcd-peer-<master-0>.crt" in p for p in paths)
    assert any(p.endswith("etcd-all-bundles/metrics-ca-bundle.crt") for p in paths)
    assert any(p.endswith("node-kubeconfigs/localhost.kubeconfig") for p in paths)


@pytest.fixture(scope="module")
def openshift_wiring(tmp_path_factory):
    from analyzer.evidence.detect import detect_evidence
    from analyzer.wiring.build import build_wiring
    from analyzer.wiring.nodes import identify_nodes, join_nodes
    from tests.fixtures.node_trees import build_node_tree
    from tests.fixtures.openshift_case import OpenShiftCluster

    cluster = OpenShiftCluster(node=NODE)
    tree = build_node_tree(tmp_path_factory.mktemp("inventory"), cluster.files(), "host-root", "dir", name=NODE)
    with detect_evidence([tree]) as evidence:
        nodes, _conflicts = join_nodes(identify_nodes(evidence.nodes))
        wiring = build_wiring(nodes, None)
        yield wiring


def test_expected_usages_and_names_agree_with_the_real_certificates(openshift_wiring):
    from analyzer.checks.usage import required_usages

    names = {"serverAuth": "ExtKeyUsageServerAuth", "clientAuth": "ExtKeyUsageClientAuth"}
    by_path = {}
    for _, path, part, _, entry in _locations():
        if part == "file" and "certificates" not in entry:  # pairs only
            by_path[_concrete(path)] = entry
    compared = 0
    roles: set[str] = set()
    for load in openshift_wiring.iter_loads():
        material = load.certificate
        host = material.location.host_path if material is not None else None
        entry = by_path.get(host or "")
        if entry is None:
            continue
        needed = {names[u._name] for u in required_usages(load)}
        assert needed <= set(entry["extended_usages"] or []), (load.label, host, needed, entry["extended_usages"])
        expected = getattr(load.payload, "expected_names", ())
        if expected and not any(lb in host for lb in LB_SERVING):  # LB names are each cluster's own
            seen = set(entry["dns_names"] or []) | set(entry["ip_addresses"] or [])
            assert set(expected) <= seen, (load.label, expected, sorted(seen))
        compared += 1
        roles.add(load.role)
    assert compared >= 8, compared
    # etcd's metrics proxy too: its serving pair (etcd-serving-metrics-<node>) and its client pair to etcd.
    assert {"etcd-metrics-serving", "etcd-metrics-client"} <= roles, roles
