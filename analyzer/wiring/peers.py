"""Who verifies each load, and with what: the other half of every TLS connection.

A client pair is only good if the server it talks to trusts its issuer; a serving pair only if its
clients' CA bundle chains to it. The bundle used is the one the peer is configured with, read from
the same evidence (layouts §4 (d)): kube-apiserver's etcd client pair against the
``--trusted-ca-file`` of every etcd member it talks to (wiring/etcd_members.py), etcd's serving pair
against kube-apiserver's ``--etcd-cafile``, every kubeconfig's client pair against kube-apiserver's
``--client-ca-file``, and so on.
"""

from __future__ import annotations

from dataclasses import replace

from analyzer.wiring.etcd_members import apiservers_dialing, etcd_members_for, unseen_members
from analyzer.wiring.model import BundlePayload, Component, KubeconfigPayload, Material, PairPayload, Peer, Wiring
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Role


def _bundle(component: Component | None, role: Role) -> tuple[Material | None, str | None]:
    load = component.find_load(role) if component is not None else None
    if component is None or load is None:
        return None, None
    match load.payload:
        case BundlePayload(path=path, ca=ca):
            return ca, f"{component.name} {load.flag}={path}"
    return None, None


def _verified_by(verifiers: list[Component], role: Role, name: str, usage: str, names: tuple[str, ...] = ()) -> Peer | None:
    """A connection verified by several components, each with its own bundle (``role``): kube-apiserver's
    etcd client pair by every member it may dial, a member's serving pair by every kube-apiserver that
    dials it (wiring/etcd_members.py). The first with a bundle is the peer, the others its ``also``;
    with several, each reference names its component's node, so that a refusal says who refuses."""
    found = [(verifier, ca, ref) for verifier in verifiers for ca, ref in [_bundle(verifier, role)]
             if ca is not None and ref is not None]
    if not found:
        return None
    if len(found) > 1:
        found = [(verifier, ca, verifier.label + ref.removeprefix(verifier.name)) for verifier, ca, ref in found]
    (_, ca, ref), *also = found
    return Peer(name, usage, ca, ref, names, also=tuple((more, more_ref) for _, more, more_ref in also))


def link_peers(wiring: Wiring) -> None:
    """Attach a Peer to every load whose counterpart is in the evidence.

    kube-apiserver's serving pairs are verified with ``wiring.serving_trust`` (kubeadm: the
    cluster CA; OpenShift: kube-apiserver-server-ca). User-provided serving pairs are verified by
    clients' own trust stores, which no evidence holds, so they get no peer.
    """
    by_node: dict[str | None, dict[ComponentName, Component]] = {}
    for component in wiring.components:
        by_node.setdefault(component.node, {})[component.name] = component
    any_apiserver = next((c for c in wiring.components if c.name == ComponentName.KUBE_APISERVER), None)

    # Every component is linked, also a second one of the same name on a node (two inputs for one
    # master); its peers are looked up among the node's components.
    for component in wiring.components:
        node = component.node
        components = by_node[node]
        apiserver = components.get(ComponentName.KUBE_APISERVER) or any_apiserver
        # etcd's metrics proxy runs beside etcd and dials its node's member (the only layout that has one,
        # OpenShift's, wires it next to that member); no other member stands in.
        etcd = components.get(ComponentName.ETCD)
        kubelet = components.get(ComponentName.KUBELET)
        client_ca = _bundle(apiserver, Role.CLIENT_CA)
        linked = []
        for load in component.loads:
            peer = None
            match load.payload:
                case PairPayload(sni_names=sni_names, allowed_names=allowed_names, expected_names=expected):
                    pass
                case _:
                    sni_names = allowed_names = expected = ()
            if component.name == ComponentName.KUBE_APISERVER:
                # SNI entries that carry their own names are the user's (the observer gives the
                # system ones none, layouts §2.3): clients trust those through their own stores.
                if load.role in (Role.SERVING, Role.SNI) and not load.source_object and not (load.role == Role.SNI and sni_names):
                    ca, ref = wiring.serving_trust.get(node, (None, None))
                    peer = Peer("clients of kube-apiserver", "server", ca, ref, expected) if ca else None
                elif load.role == Role.ETCD_CLIENT:
                    peer = _verified_by(etcd_members_for(wiring, component), Role.ETCD_TRUSTED_CA, "etcd", "client")
                    # The members it dials are known and absent: kept on the load, for a "cannot tell"
                    # finding on it (checks/unseen_peers.py), rather than left as a silent missing peer.
                    if unseen := unseen_members(wiring, component):
                        load = replace(load, unseen_peers=unseen)
                elif load.role == Role.KUBELET_CLIENT:
                    ca, ref = _bundle(kubelet, Role.KUBELET_CLIENT_CA)
                    peer = Peer("kubelets", "client", ca, ref) if ca else None
                elif load.role == Role.PROXY_CLIENT:
                    ca, ref = _bundle(component, Role.REQUESTHEADER_CA)
                    peer = Peer("aggregated API servers", "client", ca, ref, allowed_names=allowed_names) if ca else None
            elif component.name == ComponentName.ETCD:
                if load.role == Role.ETCD_SERVER:
                    peer = _verified_by(apiservers_dialing(wiring, component), Role.ETCD_CA, "kube-apiserver", "server", expected)
                elif load.role == Role.ETCD_PEER:
                    ca, ref = _bundle(component, Role.ETCD_PEER_TRUSTED_CA)
                    peer = Peer("etcd peers", "server", ca, ref, expected) if ca else None
            elif component.name == ComponentName.ETCD_METRICS and load.role in (Role.ETCD_METRICS_CLIENT, Role.ETCD_METRICS_SERVING):
                # The proxy dials etcd's metrics listener, which verifies clients with --trusted-ca-file;
                # its own serving pair is verified by Prometheus with the etcd-metric-signer's bundle, the
                # same bundle the proxy is given as --trusted-ca-file (cluster-etcd-operator etcd-metrics-ca-bundle).
                ca, ref = (_bundle(etcd, Role.ETCD_TRUSTED_CA) if load.role == Role.ETCD_METRICS_CLIENT
                           else _bundle(component, Role.ETCD_METRICS_CLIENT_CA))
                peer = (Peer("etcd" if load.role == Role.ETCD_METRICS_CLIENT else "Prometheus (etcd-metric-signer bundle)",
                             "client" if load.role == Role.ETCD_METRICS_CLIENT else "server", ca, ref) if ca else None)
            elif isinstance(load.payload, KubeconfigPayload) or load.role == Role.KUBELET_CLIENT:
                ca, ref = client_ca
                peer = Peer("kube-apiserver", "client", ca, ref) if ca else None
            elif load.role == Role.KUBELET_SERVING:
                ca, ref = _bundle(apiserver, Role.KUBELET_CA)
                peer = Peer("kube-apiserver", "server", ca, ref) if ca else None
            linked.append(replace(load, peer=peer) if peer else load)
        component.loads = linked
