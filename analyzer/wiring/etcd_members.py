"""Which etcd members a kube-apiserver talks to: the one answer the peers (wiring/peers.py) and the
checks (checks/etcd_trust.py) share.

kube-apiserver builds one etcd client over every endpoint of ``--etcd-servers`` (kubernetes
staging/src/k8s.io/apiserver/pkg/storage/storagebackend/factory/etcd3.go: ``clientv3.Config{Endpoints:
c.ServerList, TLS: tlsConfig}``, one client pair for all), and etcd's client balances its requests over
those endpoints (etcd client/v3 client.go: the round-robin balancer). Any listed member may get the
handshake, so a client pair refused by any one of them is a failure for that member, whichever the
others accept. The layouts differ in what they list: kubeadm ``https://127.0.0.1:2379`` (the member
on the same node), OpenShift every master's IP and localhost, Tectonic its separate etcd nodes.

``--etcd-servers-overrides`` (a separate etcd, with the same client pair, for some resources such as
events) is not modelled: only ``--etcd-servers`` is read.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from analyzer.model.vocabulary import Component as ComponentName
from analyzer.wiring.model import Component, Wiring

# A host as compared: an address (an IPv4-mapped IPv6 one unwrapped to its IPv4 address, so that
# [::ffff:10.0.0.1] is 10.0.0.1 and [fd00:0:0::2] is [fd00::2]) or a DNS name, lower case, without
# the root's trailing dot (DNS names are case-insensitive, RFC 4343).
HostKey = ipaddress.IPv4Address | ipaddress.IPv6Address | str


def _key(host: str) -> HostKey:
    name = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _loopback(key: HostKey) -> bool:
    return key == "localhost" if isinstance(key, str) else key.is_loopback


def _dialed(apiserver: Component) -> list[tuple[HostKey, str]]:
    """(host, host[:port] as written) of each endpoint of its --etcd-servers; empty when the flag is not in the evidence."""
    dialed = [(_key(host), address) for address in apiserver.dials if (host := urlsplit("//" + address).hostname)]
    return dialed or [(_key(host), host) for host in apiserver.endpoints]


def _named(etcds: list[Component], host: HostKey) -> list[Component]:
    """The members a DNS name ties to: a node of that name or a member serving at it (its
    --advertise-client-urls or --listen-client-urls, compared as keys on both sides); else, by a
    heuristic, the one node whose name is the name's first label (``m1`` for ``m1.example.com``: node
    identity often keeps the short name), only when no other member's node shares that first label."""
    exact = [etcd for etcd in etcds if _key(etcd.node or "") == host or host in {_key(served) for served in etcd.endpoints}]
    if exact or not isinstance(host, str) or "." not in host:
        return exact
    label = host.split(".", 1)[0]
    sharing = [etcd for etcd in etcds if isinstance(node := _key(etcd.node or ""), str) and node.split(".", 1)[0] == label]
    return sharing if sharing and all(_key(etcd.node or "") == label for etcd in sharing) else []


def _ties(etcds: list[Component], apiserver: Component) -> tuple[list[Component], list[str]]:
    """The members the endpoints of ``--etcd-servers`` can be tied to, in the order they are listed,
    and the endpoints (as written) tied to none: a loopback endpoint is the member on kube-apiserver's
    own node; another host a member found by ``_named``. Node identity gives names, not addresses, so
    an address ties only to a member serving at it."""
    found: list[Component] = []
    untied: list[str] = []
    for host, address in _dialed(apiserver):
        if _loopback(host):
            matches = [etcd for etcd in etcds if etcd.node == apiserver.node]
        else:
            matches = _named(etcds, host)
        if not matches:
            untied.append(f"{address} (the member on {apiserver.node})" if _loopback(host) and apiserver.node else address)
        found += [etcd for etcd in matches if not any(etcd is seen for seen in found)]
    return found, untied


def etcd_members_for(wiring: Wiring, apiserver: Component) -> list[Component]:
    """The etcd components in the evidence that verify ``apiserver``'s etcd client pair.

    When its ``--etcd-servers`` is in the evidence: the members its endpoints can be tied to (see
    ``_ties``), and only those. An endpoint that cannot be tied (a member not in the evidence, an
    address no member is known by) is left out and the others still count; when none can be tied,
    none: the members it dials are known not to be in the evidence, and any other would be a guess
    (``unseen_members`` names them). When the flag is not in the evidence: the etcd on its node, else
    the etcd on nodes without a kube-apiserver (Tectonic's etcd-member nodes), else every etcd (a
    master's own member is not in the evidence; the others are its cluster). Empty when the evidence
    holds no etcd: then no peer is linked and the trust of the pair cannot be told.
    """
    etcds = [c for c in wiring.components if c.name == ComponentName.ETCD]
    if _dialed(apiserver):
        return _ties(etcds, apiserver)[0]
    local = [etcd for etcd in etcds if etcd.node == apiserver.node]
    if local:
        return local
    masters = {c.node for c in wiring.components if c.name == ComponentName.KUBE_APISERVER}
    return [etcd for etcd in etcds if etcd.node not in masters] or etcds


def unseen_members(wiring: Wiring, apiserver: Component) -> tuple[str, ...]:
    """The endpoints of its ``--etcd-servers`` (as written, a loopback one with the node whose member
    it is) when none of them can be tied to an etcd in the evidence: whether the members it dials
    accept its etcd client pair cannot be told. Empty otherwise (some member is tied, or the flag is
    not in the evidence and ``etcd_members_for`` falls back)."""
    etcds = [c for c in wiring.components if c.name == ComponentName.ETCD]
    found, untied = _ties(etcds, apiserver)
    return () if found else tuple(untied)


def apiservers_dialing(wiring: Wiring, member: Component) -> list[Component]:
    """The kube-apiservers in the evidence that dial ``member`` (``etcd_members_for`` read the other
    way): each verifies the member's serving pair with its ``--etcd-cafile``. Empty when none is
    known to: then nobody in the evidence verifies that pair."""
    return [apiserver for apiserver in wiring.components
            if apiserver.name == ComponentName.KUBE_APISERVER and any(found is member for found in etcd_members_for(wiring, apiserver))]
