"""The wiring of a whole case: pick the distribution, wire each component, link the peers."""

from __future__ import annotations

from analyzer.wiring.nodes import Node
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.kubeadm import wire_kubeadm, wire_static_pods
from analyzer.wiring.layouts import KUBESPRAY, RKE2
from analyzer.wiring.model import Wiring
from analyzer.wiring.openshift import wire_openshift
from analyzer.wiring.peers import link_peers
from analyzer.wiring.root_ca import attach_root_ca_copies
from analyzer.wiring.selfhosted import is_self_hosted, wire_self_hosted
from analyzer.wiring.sources import OPENSHIFT, EtcdObjects


def distribution_of(nodes: list[Node], objects: EtcdObjects | None) -> Distribution:
    kinds = {node.distribution for node in nodes} - {Distribution.UNKNOWN}
    if Distribution.OPENSHIFT in kinds or (objects is not None and objects.root == OPENSHIFT):
        return Distribution.OPENSHIFT
    if Distribution.SELF_HOSTED in kinds or is_self_hosted(objects, []):
        return Distribution.SELF_HOSTED
    if Distribution.RKE2 in kinds:
        return Distribution.RKE2
    if Distribution.RKE in kinds:
        return Distribution.RKE
    if Distribution.KUBESPRAY in kinds:
        return Distribution.KUBESPRAY
    return Distribution.KUBEADM


def build_wiring(nodes: list[Node], objects: EtcdObjects | None) -> Wiring:
    distribution = distribution_of(nodes, objects)
    if distribution is Distribution.OPENSHIFT:
        wiring = wire_openshift([n for n in nodes if n.distribution in (Distribution.OPENSHIFT, Distribution.UNKNOWN)], objects)
    elif distribution is Distribution.RKE:
        wiring = Wiring(Distribution.RKE)
        wiring.notes.append("RKE node trees are recognised, but RKE's wiring (containers, not static pods) is not modelled yet")
    elif distribution is Distribution.SELF_HOSTED:
        wiring = wire_self_hosted(nodes, objects)
    elif distribution is Distribution.KUBESPRAY:
        wiring = wire_static_pods(nodes, objects, KUBESPRAY)
    elif distribution is Distribution.RKE2:
        wiring = wire_static_pods(nodes, objects, RKE2)
    else:
        wiring = wire_kubeadm(nodes, objects, distribution)
    attach_root_ca_copies(wiring, objects, nodes)
    link_peers(wiring)
    source = getattr(objects, "evidence_kind", "etcd snapshot")
    wiring.given = tuple(kind for kind, have in ((source, objects is not None), ("node files", bool(nodes))) if have)
    return wiring
