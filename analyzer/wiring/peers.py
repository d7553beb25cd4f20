"""Who verifies each load, and with what: the other half of every TLS connection.

A client pair is only good if the server it talks to trusts its issuer; a serving pair only if its
clients' CA bundle chains to it. The bundle used is the one the peer is configured with, read from
the same evidence (layouts §4 (d)): kube-apiserver's etcd client pair against etcd's
``--trusted-ca-file``, etcd's serving pair against kube-apiserver's ``--etcd-cafile``, every
kubeconfig's client pair against kube-apiserver's ``--client-ca-file``, and so on.
"""

from __future__ import annotations

from dataclasses import replace

from analyzer.wiring.model import Component, Load, Loader, Material, Peer, Wiring


def _find(component: Component | None, role: str) -> Load | None:
    if component is None:
        return None
    return next((load for load in component.loads if load.role == role), None)


def _bundle(component: Component | None, role: str) -> tuple[Material | None, str | None]:
    load = _find(component, role)
    if component is None or load is None or load.ca is None:
        return None, None
    return load.ca, f"{component.name} {load.flag}={load.ca_path}"


def link_peers(wiring: Wiring) -> None:
    """Attach a Peer to every load whose counterpart is in the evidence.

    kube-apiserver's serving pairs are verified with ``wiring.serving_trust`` (kubeadm: the
    cluster CA; OpenShift: kube-apiserver-server-ca). User-provided serving pairs are verified by
    clients' own trust stores, which no evidence holds, so they get no peer.
    """
    by_node: dict[str | None, dict[str, Component]] = {}
    for component in wiring.components:
        by_node.setdefault(component.node, {})[component.name] = component
    any_apiserver = next((c for c in wiring.components if c.name == "kube-apiserver"), None)
    # etcd on nodes of its own (Tectonic's etcd-member nodes): a master has no etcd beside kube-apiserver.
    any_etcd = next((c for c in wiring.components if c.name == "etcd"), None)

    # Every component is linked, also a second one of the same name on a node (two inputs for one
    # master); its peers are looked up among the node's components.
    for component in wiring.components:
        node = component.node
        components = by_node[node]
        apiserver = components.get("kube-apiserver") or any_apiserver
        etcd = components.get("etcd") or any_etcd
        kubelet = components.get("kubelet")
        client_ca = _bundle(apiserver, "client-ca")
        linked = []
        for load in component.loads:
            peer = None
            if component.name == "kube-apiserver":
                # SNI entries that carry their own names are the user's (the observer gives the
                # system ones none, layouts §2.3): clients trust those through their own stores.
                if load.role in ("serving", "sni") and not load.source_object and not (load.role == "sni" and load.names):
                    ca, ref = wiring.serving_trust.get(node, (None, None))
                    peer = Peer("clients of kube-apiserver", "server", ca, ref, load.expected_names) if ca else None
                elif load.role == "etcd-client":
                    ca, ref = _bundle(etcd, "etcd-trusted-ca")
                    peer = Peer("etcd", "client", ca, ref) if ca else None
                elif load.role == "kubelet-client":
                    ca, ref = _bundle(kubelet, "kubelet-client-ca")
                    peer = Peer("kubelets", "client", ca, ref) if ca else None
                elif load.role == "proxy-client":
                    ca, ref = _bundle(component, "requestheader-ca")
                    peer = Peer("aggregated API servers", "client", ca, ref, allowed_names=load.names) if ca else None
            elif component.name == "etcd":
                if load.role == "etcd-server":
                    ca, ref = _bundle(apiserver, "etcd-ca")
                    peer = Peer("kube-apiserver", "server", ca, ref, load.expected_names) if ca else None
                elif load.role == "etcd-peer":
                    ca, ref = _bundle(component, "etcd-peer-trusted-ca")
                    peer = Peer("etcd peers", "server", ca, ref, load.expected_names) if ca else None
            elif component.name == "etcd-metrics" and load.role in ("etcd-metrics-client", "etcd-metrics-serving"):
                # The proxy dials etcd's metrics listener, which verifies clients with --trusted-ca-file;
                # its own serving pair is verified by Prometheus with the etcd-metric-signer's bundle, the
                # same bundle the proxy is given as --trusted-ca-file (cluster-etcd-operator etcd-metrics-ca-bundle).
                ca, ref = (_bundle(etcd, "etcd-trusted-ca") if load.role == "etcd-metrics-client"
                           else _bundle(component, "etcd-metrics-client-ca"))
                peer = (Peer("etcd" if load.role == "etcd-metrics-client" else "Prometheus (etcd-metric-signer bundle)",
                             "client" if load.role == "etcd-metrics-client" else "server", ca, ref) if ca else None)
            elif load.loader is Loader.KUBECONFIG or load.role == "kubelet-client":
                ca, ref = client_ca
                peer = Peer("kube-apiserver", "client", ca, ref) if ca else None
            elif load.role == "kubelet-serving":
                ca, ref = _bundle(apiserver, "kubelet-ca")
                peer = Peer("kube-apiserver", "server", ca, ref) if ca else None
            linked.append(replace(load, peer=peer) if peer else load)
        component.loads = linked
