"""Which etcd members a kube-apiserver talks to: the one answer the peers (wiring/peers.py) and the
checks (checks/etcd_trust.py) share.

kube-apiserver builds one etcd client over every endpoint of ``--etcd-servers`` (kubernetes
staging/src/k8s.io/apiserver/pkg/storage/storagebackend/factory/etcd3.go: ``clientv3.Config{Endpoints:
c.ServerList, TLS: tlsConfig}``, one client pair for all), and etcd's client balances its requests over
those endpoints (etcd client/v3 client.go: the round-robin balancer). Any listed member may get the
handshake, so a client pair refused by any one of them is a failure for that member, whichever the
others accept. The layouts differ in what they list: kubeadm ``https://127.0.0.1:2379`` (the member
on the same node), OpenShift every master's IP and localhost, Tectonic its separate etcd nodes.
"""

from __future__ import annotations

import ipaddress

from analyzer.model.vocabulary import Component as ComponentName
from analyzer.wiring.model import Component, Wiring


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listed(etcds: list[Component], apiserver: Component) -> list[Component]:
    """The members the endpoints of ``--etcd-servers`` can be tied to, in the order they are listed: a
    loopback endpoint is the member on kube-apiserver's own node; another host names a member whose
    node has that name or which serves at that host (its --advertise-client-urls or
    --listen-client-urls). Node identity gives names, not addresses, so nothing else is matched."""
    found: list[Component] = []
    for host in apiserver.endpoints:
        if _loopback(host):
            matches = [etcd for etcd in etcds if etcd.node == apiserver.node]
        else:
            matches = [etcd for etcd in etcds if host == (etcd.node or "").lower() or host in etcd.endpoints]
        found += [etcd for etcd in matches if not any(etcd is seen for seen in found)]
    return found


def _loopback_only(apiserver: Component) -> bool:
    """Its --etcd-servers is in the evidence and names only the member on its own node (kubeadm's stacked etcd)."""
    return bool(apiserver.endpoints) and all(_loopback(host) for host in apiserver.endpoints)


def etcd_members_for(wiring: Wiring, apiserver: Component) -> list[Component]:
    """The etcd components in the evidence that verify ``apiserver``'s etcd client pair.

    The members its ``--etcd-servers`` can be tied to (see ``_listed``); an endpoint that cannot be
    tied (a member not in the evidence, an address no node is known by) is left out, the others
    still count. When the flag lists only loopback endpoints and its node's member is not in the
    evidence: none, the one member it dials is known and missing, and another master's would be a
    guess (``unseen_local_member`` says so). When nothing else can be tied, or the flag is not in the
    evidence: the etcd on its node, else the etcd on nodes without a kube-apiserver (Tectonic's
    etcd-member nodes), else every etcd (a master's own member is not in the evidence; the others are
    its cluster). Empty when the evidence holds no etcd: then no peer is linked and the trust of the
    pair cannot be told.
    """
    etcds = [c for c in wiring.components if c.name == ComponentName.ETCD]
    listed = _listed(etcds, apiserver)
    if listed or _loopback_only(apiserver):
        return listed
    local = [etcd for etcd in etcds if etcd.node == apiserver.node]
    if local:
        return local
    masters = {c.node for c in wiring.components if c.name == ComponentName.KUBE_APISERVER}
    return [etcd for etcd in etcds if etcd.node not in masters] or etcds


def unseen_local_member(wiring: Wiring, apiserver: Component) -> str | None:
    """The note for a kube-apiserver that dials only its node's etcd member when that member is not in
    the evidence: whether its etcd client pair is accepted cannot be told. None otherwise."""
    if not _loopback_only(apiserver) or etcd_members_for(wiring, apiserver):
        return None
    where = apiserver.node or "kube-apiserver's node"
    return (f"etcd on {where} is not in the evidence; kube-apiserver dials it at {', '.join(apiserver.dials or apiserver.endpoints)} "
            "(--etcd-servers): whether it accepts kube-apiserver's etcd client pair, this evidence cannot tell")
