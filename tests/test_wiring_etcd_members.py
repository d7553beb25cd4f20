"""analyzer.wiring.etcd_members: which etcd members a kube-apiserver talks to, the one answer the
peers (wiring/peers.py), the trust check and the dropped-CA check (checks/etcd_trust.py) share."""

from __future__ import annotations

import pytest

from analyzer.model.findings import Severity
from analyzer.checks.etcd_trust import check_etcd_dropped_ca
from analyzer.checks.trust import check_trust
from analyzer.checks.unseen_peers import check_unseen_peers
from analyzer.decode.flags import parse_flags
from analyzer.model.vocabulary import Role
from analyzer.wiring.components import etcd, kube_apiserver
from analyzer.wiring.etcd_members import etcd_members_for
from analyzer.wiring.model import Component, Load, Material, Wiring
from analyzer.wiring.peers import link_peers
from analyzer.wiring.resolve import Resolved
from tests.fixtures import scenarios
from tests.fixtures.kubeadm_case import KubeadmCluster
from tests.fixtures.models import CTX, PKI, on_node
from tests.fixtures.node_trees import build_node_tree
from tests.fixtures.pki import Pair, make_ca, make_leaf

ETCD_CA = make_ca("etcd-ca")
NEW_ETCD_CA = make_ca("etcd-ca")  # the same name, another key: a re-generated CA
CLIENT = make_leaf(ETCD_CA, "kube-apiserver-etcd-client", client=True)


class NodeFiles:
    """One node's files by host path (anything else is missing there)."""

    def __init__(self, node: str, files: dict[str, bytes]) -> None:
        self.node, self.files = node, files

    def file(self, path: str) -> Resolved:
        return Resolved(on_node(path, self.files.get(path), node=self.node))

    def directory(self, path: str) -> list[Material]:
        return []


def apiserver(node: str | None, *servers: str, etcd_ca: bytes = ETCD_CA.cert_pem) -> Component:
    files = {f"{PKI}/etcd/ca.crt": etcd_ca, f"{PKI}/apiserver-etcd-client.crt": CLIENT.cert_pem,
             f"{PKI}/apiserver-etcd-client.key": CLIENT.key_pem}
    flags = [f"--etcd-cafile={PKI}/etcd/ca.crt", f"--etcd-certfile={PKI}/apiserver-etcd-client.crt",
             f"--etcd-keyfile={PKI}/apiserver-etcd-client.key"] + ([f"--etcd-servers={','.join(servers)}"] if servers else [])
    return kube_apiserver(parse_flags(flags), NodeFiles(node or "?", files), node=node, distribution="kubeadm", configured_by="test")


def member(node: str, *urls: str, trusted: bytes = ETCD_CA.cert_pem, serving: Pair | None = None) -> Component:
    flags = [f"--trusted-ca-file={PKI}/etcd/ca.crt"] + [f"--advertise-client-urls={url}" for url in urls]
    files = {f"{PKI}/etcd/ca.crt": trusted}
    if serving is not None:
        flags += [f"--cert-file={PKI}/etcd/server.crt", f"--key-file={PKI}/etcd/server.key"]
        files |= {f"{PKI}/etcd/server.crt": serving.cert_pem, f"{PKI}/etcd/server.key": serving.key_pem}
    return etcd(parse_flags(flags), NodeFiles(node, files), node=node, distribution="kubeadm",
                configured_by="test", expected_server=(), expected_peer=())


def nodes(members: list[Component]) -> list[str | None]:
    return [m.node for m in members]


# -- the rule ---------------------------------------------------------------------------------------


def test_kubeadm_loopback_is_the_member_on_the_same_node():
    """kubeadm's --etcd-servers=https://127.0.0.1:2379 on every master: each is tied to its own member."""
    masters = [f"master-{i}" for i in range(3)]
    wiring = Wiring("kubeadm", [apiserver(n, "https://127.0.0.1:2379") for n in masters]
                    + [member(n, f"https://10.0.0.{i}:2379") for i, n in enumerate(masters)])
    for server in wiring.components[:3]:
        assert nodes(etcd_members_for(wiring, server)) == [server.node]


@pytest.mark.parametrize("loopback", ["https://localhost:2379", "https://[::1]:2379", "https://127.0.0.2:2379"])
def test_every_loopback_spelling_is_the_local_member(loopback):
    wiring = Wiring("kubeadm", [member("a", "https://10.0.0.1:2379"), apiserver("b", loopback), member("b", "https://10.0.0.2:2379")])
    assert nodes(etcd_members_for(wiring, wiring.components[1])) == ["b"]


def test_listed_endpoints_are_tied_by_advertised_url_or_node_name_in_listed_order():
    """Tectonic lists its etcd nodes: only the listed ones are asked, in the order they are listed."""
    wiring = Wiring("self-hosted", [
        apiserver("master-0", "https://etcd-2.example:2379", "https://etcd-0:2379"),
        member("etcd-0", "https://etcd-0.example:2379"), member("etcd-1", "https://etcd-1.example:2379"),
        member("etcd-2", "https://ETCD-2.example:2379"),
    ])
    assert nodes(etcd_members_for(wiring, wiring.components[0])) == ["etcd-2", "etcd-0"]


def test_endpoints_that_cannot_be_tied_are_left_out_and_the_others_count():
    """OpenShift lists every master's IP and localhost; masters not in the evidence cannot be asked."""
    wiring = Wiring("openshift", [
        apiserver("master-0", "https://10.0.0.10:2379", "https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://localhost:2379"),
        member("master-0", "https://10.0.0.10:2379"), member("master-1", "https://10.0.0.11:2379"),
    ])
    assert nodes(etcd_members_for(wiring, wiring.components[0])) == ["master-0", "master-1"]


def test_without_the_flag_the_local_member():
    wiring = Wiring("kubeadm", [member("etcd-0"), apiserver("master-0"), member("master-0")])
    assert nodes(etcd_members_for(wiring, wiring.components[1])) == ["master-0"]


def test_without_the_flag_or_a_local_member_the_etcd_nodes_then_every_member():
    apart = Wiring("self-hosted", [apiserver("master-0"), apiserver("master-1"), member("master-1"), member("etcd-0"), member("etcd-1")])
    assert nodes(etcd_members_for(apart, apart.components[0])) == ["etcd-0", "etcd-1"]
    stacked = Wiring("kubeadm", [apiserver("master-0"), apiserver("master-1"), member("master-1"), apiserver("master-2"), member("master-2")])
    assert nodes(etcd_members_for(stacked, stacked.components[0])) == ["master-1", "master-2"]
    link_peers(stacked)
    assert [load.unseen_peers for load in stacked.iter_loads() if load.role == Role.ETCD_CLIENT] == [(), (), ()]


# A member at 10.0.0.9 beside each loopback spelling: main tied only that one (the spelling read as no
# host, or as a remote one), so the local member must be tied by the spelling itself.
AT_9 = "https://10.0.0.9:2379"


@pytest.mark.parametrize(("servers", "members", "expected"), [
    (("https://m1.example.com:2379",), ("m1", "m2"), ["m1"]),  # node identity keeps the short name
    (("https://M1.Example.COM.:2379",), ("M1", "m2"), ["M1"]),  # DNS names are case-insensitive
    (("https://m1.example.com:2379",), ("m1", "m1.other.example"), []),  # two nodes share the label: no guess
    (("https://[fd00::2]:2379",), ("m1=https://[fd00:0:0::2]:2379", "m2"), ["m1"]),  # one address, two spellings
    (("https://[::ffff:10.0.0.1]:2379",), ("m1=https://10.0.0.1:2379", "m2"), ["m1"]),  # IPv4-mapped
    (("https://[::ffff:127.0.0.1]:2379", AT_9), ("master-0", f"m2={AT_9}"), ["master-0", "m2"]),  # a mapped loopback
    (("127.0.0.1:2379", AT_9), ("master-0", f"m2={AT_9}"), ["master-0", "m2"]),  # no scheme: etcd's client takes host:port
    (("m1:2379",), ("m1", "m2"), ["m1"]),
])
def test_hosts_are_compared_as_addresses_and_names(servers, members, expected):
    built = [member(node, *([url] if url else [])) for node, _, url in (spec.partition("=") for spec in members)]
    wiring = Wiring("self-hosted", [apiserver("master-0", *servers), *built])
    assert nodes(etcd_members_for(wiring, wiring.components[0])) == expected


def _unseen_finding(wiring: Wiring) -> tuple[Load, list]:
    link_peers(wiring)
    (client,) = [load for load in wiring.iter_loads() if load.role == Role.ETCD_CLIENT]
    return client, check_unseen_peers(client, CTX)


def test_only_loopback_and_no_local_member_is_no_member_and_cannot_tell():
    """kubeadm's stacked etcd: the member it dials is its own node's; another master's would be a guess."""
    stacked = Wiring("kubeadm", [apiserver("master-0", "https://127.0.0.1:2379", "https://[::1]:2379"),
                                 member("master-1", trusted=NEW_ETCD_CA.cert_pem), member("etcd-0")])
    assert etcd_members_for(stacked, stacked.components[0]) == []
    assert _etcd_client_findings(stacked) == ([], [])  # master-1's member would have refused it
    client, (told,) = _unseen_finding(stacked)
    assert client.unseen_peers == ("127.0.0.1:2379 (the member on master-0)", "[::1]:2379 (the member on master-0)")
    assert (told.id, told.severity, told.load) == ("trust.peer-not-in-evidence", Severity.WARNING, client.ref)
    assert told.detail == ("kube-apiserver dials etcd at 127.0.0.1:2379 (the member on master-0), [::1]:2379 (the member on master-0) "
                           "(--etcd-servers), and no etcd in the evidence is known to serve there: whether they accept its etcd "
                           "client pair, this evidence cannot tell")
    assert stacked.notes == [] and not [n for n in stacked.components[0].notes if "etcd" in n]  # said once, by the finding


@pytest.mark.parametrize(("servers", "local", "unseen"), [
    # an address nothing in the evidence is known by, beside its own node's member (main asked that one)
    (("https://192.0.2.1:2379",), True, ("192.0.2.1:2379",)),
    # its own node's member and a name not in the evidence (main asked the etcd-only node's member)
    (("https://127.0.0.1:2379", "https://etcd-9.example:2379"), False, ("127.0.0.1:2379 (the member on master-0)", "etcd-9.example:2379")),
])
def test_a_known_flag_that_ties_to_nothing_is_no_member_and_cannot_tell(servers, local, unseen):
    """The flag names where kube-apiserver dials: no other member stands in for the ones it dials."""
    refusing = [member("master-0", trusted=NEW_ETCD_CA.cert_pem)] if local else []
    wiring = Wiring("kubeadm", [apiserver("master-0", *servers), *refusing, member("etcd-0", trusted=NEW_ETCD_CA.cert_pem)])
    assert etcd_members_for(wiring, wiring.components[0]) == []
    assert _etcd_client_findings(wiring) == ([], [])  # either member would have refused it
    client, (told,) = _unseen_finding(wiring)
    assert client.unseen_peers == unseen and told.severity is Severity.WARNING and told.load == client.ref


def test_a_tied_member_leaves_nothing_unseen():
    """OpenShift: masters not in the evidence are left out, the others still judge it; nothing is said."""
    wiring = Wiring("openshift", [apiserver("master-0", "https://10.0.0.10:2379", "https://10.0.0.11:2379"),
                                  member("master-0", "https://10.0.0.10:2379")])
    client, told = _unseen_finding(wiring)
    assert client.peer is not None and client.unseen_peers == () and told == []


def test_no_etcd_in_the_evidence_links_nothing():
    wiring = Wiring("kubeadm", [apiserver("master-0", "https://127.0.0.1:2379")])
    assert etcd_members_for(wiring, wiring.components[0]) == []
    client, told = _unseen_finding(wiring)
    assert client.peer is None and check_trust(client, CTX) == []
    assert [f.id for f in told] == ["trust.peer-not-in-evidence"] and wiring.notes == []


# -- the peers and both checks read it --------------------------------------------------------------


def _etcd_client_findings(wiring: Wiring) -> tuple[list, list]:
    link_peers(wiring)
    (client,) = [load for load in wiring.iter_loads() if load.role == Role.ETCD_CLIENT]
    return check_trust(client, CTX), check_etcd_dropped_ca(wiring, CTX)


def test_a_listed_member_that_dropped_the_ca_is_refused_by_both_checks():
    wiring = Wiring("self-hosted", [
        apiserver("master-0", "https://etcd-0.example:2379", "https://etcd-1.example:2379"),
        member("etcd-0", "https://etcd-0.example:2379"),
        member("etcd-1", "https://etcd-1.example:2379", trusted=NEW_ETCD_CA.cert_pem),
    ])
    trust, dropped = _etcd_client_findings(wiring)
    assert [f.id for f in trust] == ["trust.unknown-authority"]
    assert f"it verifies clients with etcd on etcd-1 --trusted-ca-file={PKI}/etcd/ca.crt" in trust[0].detail
    assert [f.id for f in dropped] == ["etcd.ca-no-longer-trusted"] and "etcd on etcd-1 no longer trusts" in dropped[0].title


def test_a_member_the_apiserver_does_not_list_is_asked_by_neither_check():
    wiring = Wiring("self-hosted", [
        apiserver("master-0", "https://etcd-0.example:2379"),
        member("etcd-0", "https://etcd-0.example:2379"),
        member("etcd-1", "https://etcd-1.example:2379", trusted=NEW_ETCD_CA.cert_pem),
    ])
    assert _etcd_client_findings(wiring) == ([], [])


def test_every_refusing_member_is_named_in_one_finding():
    wiring = Wiring("self-hosted", [
        apiserver("master-0"),
        member("etcd-0"), member("etcd-1", trusted=NEW_ETCD_CA.cert_pem), member("etcd-2", trusted=NEW_ETCD_CA.cert_pem),
    ])
    (trust,), (dropped,) = _etcd_client_findings(wiring)
    assert f"with etcd on etcd-1 --trusted-ca-file={PKI}/etcd/ca.crt" in trust.detail
    assert f"It is refused by etcd on etcd-2 --trusted-ca-file={PKI}/etcd/ca.crt too." in trust.detail
    assert f"etcd on etcd-0 --trusted-ca-file={PKI}/etcd/ca.crt accepts it" in trust.detail and len(trust.evidence) == 2
    # One cause, one finding; an error, since etcd-0 still serves kube-apiserver's storage.
    assert dropped.title.split(": ")[1] == "etcd on etcd-1, etcd on etcd-2 no longer trust the CA that issued it"
    assert trust.severity == dropped.severity == Severity.ERROR


# -- end to end: three kubeadm masters --------------------------------------------------------------


def test_three_kubeadm_masters_are_each_tied_to_their_own_member(tmp_path):
    """Each master has its own PKI here: tying an apiserver to another master's etcd would be refused."""
    trees = [build_node_tree(tmp_path / f"m{i}", KubeadmCluster(node=f"master-{i}").files(), "host-root", "tar.gz", name=f"master-{i}")
             for i in range(3)]
    _, report = scenarios.scan_json(trees, tmp_path / "report.json")
    apiservers = [c for c in report["components"] if c["component"] == "kube-apiserver"]
    assert sorted(c["node"] for c in apiservers) == ["master-0", "master-1", "master-2"]
    for component in apiservers:
        (client,) = [load for load in component["loads"] if load["role"] == "etcd-client"]
        assert client["peer"] == {"name": "etcd", "trusts_with": f"etcd --trusted-ca-file={PKI}/etcd/ca.crt"}
    assert not [f for f in report["findings"] if f["role"] in ("etcd-client", "etcd-server") and f["severity"] in ("critical", "error")]


def test_a_kubeadm_master_without_its_etcd_is_not_checked_against_another_masters(tmp_path):
    """master-0's etcd manifest is not in the evidence; master-1's etcd trusts only master-1's etcd CA (each
    master has its own PKI here). kube-apiserver on master-0 dials 127.0.0.1:2379, never master-1's
    member: no refusal by it, and a warning that it cannot be told instead."""
    first = {path: data for path, data in KubeadmCluster(node="master-0").files().items() if path != "/etc/kubernetes/manifests/etcd.yaml"}
    trees = [build_node_tree(tmp_path / "m0", first, "host-root", "tar.gz", name="master-0"),
             build_node_tree(tmp_path / "m1", KubeadmCluster(node="master-1").files(), "host-root", "tar.gz", name="master-1")]
    _, report = scenarios.scan_json(trees, tmp_path / "report.json")
    assert sorted((c["component"], c["node"]) for c in report["components"] if c["component"] in ("etcd", "kube-apiserver")) == [
        ("etcd", "master-1"), ("kube-apiserver", "master-0"), ("kube-apiserver", "master-1")]
    assert not [f for f in report["findings"] if f["role"] == "etcd-client" and f["severity"] in ("critical", "error")]
    (client,) = [load for c in report["components"] if c["component"] == "kube-apiserver" and c["node"] == "master-0"
                 for load in c["loads"] if load["role"] == "etcd-client"]
    # Cannot tell (severity rule 3): a warning on that load, so its status is not "ok"; no wiring note says it again.
    assert client["peer"] is None and client["status"] == "warning"
    told = [(f["severity"], f["subject"]["node"], f["role"]) for f in report["findings"] if f["id"] == "trust.peer-not-in-evidence"]
    assert told == [("warning", "master-0", "etcd-client")]
    assert not [f for f in report["findings"] if f["id"] == "wiring.note" and "etcd" in f["detail"]]


# -- the other way: who verifies a member's serving pair ---------------------------------------------

SERVING = make_leaf(ETCD_CA, "etcd-0", server=True, dns=("etcd-0.example",))


def test_a_members_serving_pair_is_verified_by_every_apiserver_that_dials_it():
    """Both masters dial etcd-0; master-1's --etcd-cafile holds only a re-generated CA: it refuses etcd-0's
    serving pair, and the finding on that pair names master-1 (the old peers asked only one apiserver)."""
    wiring = Wiring("self-hosted", [
        apiserver("master-0", "https://etcd-0.example:2379"),
        apiserver("master-1", "https://etcd-0.example:2379", etcd_ca=NEW_ETCD_CA.cert_pem),
        member("etcd-0", "https://etcd-0.example:2379", serving=SERVING),
    ])
    link_peers(wiring)
    (serving,) = [load for load in wiring.iter_loads() if load.role == Role.ETCD_SERVER]
    assert serving.peer is not None and [ref for _, ref in serving.peer.bundles()] == [
        f"kube-apiserver on master-0 --etcd-cafile={PKI}/etcd/ca.crt", f"kube-apiserver on master-1 --etcd-cafile={PKI}/etcd/ca.crt"]
    (refused,) = check_trust(serving, CTX)
    assert refused.id == "trust.unknown-authority" and f"kube-apiserver on master-1 --etcd-cafile={PKI}/etcd/ca.crt" in refused.detail


def test_a_member_no_apiserver_dials_is_verified_by_none():
    """kube-apiserver lists only etcd-1: etcd-0's serving pair is not judged by its --etcd-cafile (a guess)."""
    wiring = Wiring("self-hosted", [
        apiserver("master-0", "https://etcd-1.example:2379", etcd_ca=NEW_ETCD_CA.cert_pem),
        member("etcd-0", "https://etcd-0.example:2379", serving=SERVING),
        member("etcd-1", "https://etcd-1.example:2379"),
    ])
    link_peers(wiring)
    (serving,) = [load for load in wiring.iter_loads() if load.role == Role.ETCD_SERVER]
    assert serving.peer is None and check_trust(serving, CTX) == []


# -- OpenShift: etcd's URLs come from its container's environment -----------------------------------

OPENSHIFT_ETCD_POD = b"""
apiVersion: v1
kind: Pod
metadata: {name: etcd-master-1, namespace: openshift-etcd, labels: {app: etcd, etcd: "true"}}
spec:
  containers:
  - name: etcd
    command: [/bin/sh, -c]
    args:
    - |
      #!/bin/sh
      set -euo pipefail
      exec nice -n -19 ionice -c2 -n0 etcd \\
        --trusted-ca-file=/etc/kubernetes/static-pod-certs/configmaps/etcd-serving-ca/ca-bundle.crt \\
        --advertise-client-urls=https://${NODE_master_1_IP}:2379 \\
        --listen-client-urls=https://${LISTEN_ON_ALL_IPS}:2379,unixs://${NODE_master_1_IP}:0
    env:
    - {name: NODE_master_1_IP, value: "10.0.0.6"}
    - {name: LISTEN_ON_ALL_IPS, value: "0.0.0.0"}
    - name: NODE_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
"""


def test_openshift_etcd_urls_are_expanded_from_the_container_env_and_tied():
    """cluster-etcd-operator's pod.yaml starts etcd from a shell script whose URLs name env variables
    (NODE_<node>_IP, set in the container's env); kube-apiserver lists every member's IP: expanded, the
    other master's member is tied too, not dropped."""
    from analyzer.decode.manifest import load_static_pod

    pod = load_static_pod(OPENSHIFT_ETCD_POD, "etcd")
    assert dict(pod.env) == {"NODE_master_1_IP": "10.0.0.6", "LISTEN_ON_ALL_IPS": "0.0.0.0"}  # valueFrom is not known here
    remote = etcd(pod.flags, NodeFiles("master-1", {}), node="master-1", distribution="kubeadm", configured_by="test",
                  expected_server=(), expected_peer=(), env=pod.env)
    assert remote.endpoints == ("10.0.0.6",)
    wiring = Wiring("openshift", [apiserver("master-0", "https://localhost:2379", "https://10.0.0.5:2379", "https://10.0.0.6:2379"),
                                  member("master-0", "https://10.0.0.5:2379"), remote])
    assert nodes(etcd_members_for(wiring, wiring.components[0])) == ["master-0", "master-1"]
