"""analyzer.wiring.components and analyzer.wiring.peers: each component's loads in start-up order,
named the way klog names them, and who verifies each one with what."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.decode.flags import parse_flags
from analyzer.checks.bundles import predict_bundle_error
from analyzer.checks.pairs import predict_load_error
from analyzer.wiring.components import (
    controller_manager, etcd, kube_apiserver, kubeconfig_load, kubelet, object_hint, server_host, url_hosts,
)
from analyzer.wiring import openshift
from analyzer.wiring.kubeadm import endpoint_host
from analyzer.model.vocabulary import Role
from analyzer.wiring.model import Component, Loader, Location, Material, State, Wiring
from analyzer.wiring.peers import link_peers
from analyzer.wiring.resolve import Resolved
from tests.fixtures.kubeadm_case import kubeconfig
from tests.fixtures.pki import REFERENCE_UTC
from tests.fixtures.models import NODE, PKI, bundle_load, on_node, pair_load
from tests.fixtures.models import kubeconfig_load as kubeconfig_fixture
from tests.fixtures.pki import make_ca, make_leaf

CA = make_ca("kubernetes")
CLIENT = make_leaf(CA, "system:kube-controller-manager", client=True)


class FilesResolver:
    """Host paths to bytes; anything else is missing on the node."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = files or {}

    def file(self, path: str) -> Resolved:
        return Resolved(on_node(path, self.files.get(path)))

    def directory(self, path: str) -> list[Material]:
        return [on_node(p, data) for p, data in sorted(self.files.items()) if p.startswith(path.rstrip("/") + "/")]


APISERVER_FLAGS = [
    f"--tls-cert-file={PKI}/apiserver.crt", f"--tls-private-key-file={PKI}/apiserver.key",
    "--tls-sni-cert-key=/sni/a/tls.crt,/sni/a/tls.key",
    "--tls-sni-cert-key=/sni/b/tls.crt,/sni/b/tls.key:api.example.com,*.apps.example.com",
    "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt", "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
    f"--etcd-cafile={PKI}/etcd/ca.crt",
    f"--client-ca-file={PKI}/ca.crt", f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt",
    f"--proxy-client-cert-file={PKI}/front-proxy-client.crt", f"--proxy-client-key-file={PKI}/front-proxy-client.key",
    "--requestheader-allowed-names=front-proxy-client,aggregator",
    f"--service-account-key-file={PKI}/sa.pub", f"--service-account-signing-key-file={PKI}/sa.key",
    f"--kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt", f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key",
]


def apiserver(flags=APISERVER_FLAGS, files=None) -> Component:
    return kube_apiserver(parse_flags(flags), FilesResolver(files), node=NODE, distribution="kubeadm", configured_by="test")


def test_kube_apiserver_loads_in_start_up_order():
    loads = apiserver().loads
    assert [(l.order, l.role, l.loader, l.fatal) for l in loads] == [
        (1, "serving", Loader.DYNAMIC_PAIR, True),
        (2, "sni", Loader.DYNAMIC_PAIR, True),
        (3, "sni", Loader.DYNAMIC_PAIR, True),
        (4, "client-ca", Loader.CA_BUNDLE, True),
        (5, "requestheader-ca", Loader.CA_BUNDLE, True),
        (6, "proxy-client", Loader.DYNAMIC_PAIR, True),
        (7, "service-account-keys", Loader.PUBLIC_KEYS, True),
        (8, "service-account-signing-key", Loader.PRIVATE_KEY, True),
        (9, "etcd-ca", Loader.CA_BUNDLE, True),
        (10, "etcd-client", Loader.TLS_PAIR, True),
        (11, "kubelet-client", Loader.TLS_PAIR, False),
    ]


def test_dynamic_names_are_what_klog_prints():
    names = {l.role + str(l.order): l.dynamic_name for l in apiserver().loads}
    assert names["serving1"] == f"serving-cert::{PKI}/apiserver.crt::{PKI}/apiserver.key"
    assert names["sni2"] == "sni-serving-cert::/sni/a/tls.crt::/sni/a/tls.key"
    assert names["client-ca4"] == f"client-ca-bundle::{PKI}/ca.crt"
    assert names["requestheader-ca5"] == f"request-header::{PKI}/front-proxy-ca.crt"
    assert names["proxy-client6"] == f"aggregator-proxy-cert::{PKI}/front-proxy-client.crt::{PKI}/front-proxy-client.key"
    assert names["etcd-client10"] is None and names["etcd-ca9"] is None  # not dynamiccertificates


def test_sni_entries_keep_their_flag_order_labels_and_names():
    snis = [l for l in apiserver().loads if l.role == "sni"]
    assert [(l.label, l.flag, l.payload.sni_names) for l in snis] == [
        ("SNI pair 1 of 2, tls.crt", "--tls-sni-cert-key #1", ()),
        ("SNI pair 2 of 2, tls.crt", "--tls-sni-cert-key #2", ("api.example.com", "*.apps.example.com")),
    ]


def test_the_proxy_client_carries_requestheader_allowed_names():
    proxy = next(l for l in apiserver().loads if l.role == "proxy-client")
    assert proxy.payload.allowed_names == ("front-proxy-client", "aggregator") and proxy.payload.sni_names == ()


def test_without_a_serving_flag_the_self_signed_pair_is_noted():
    component = apiserver([f"--client-ca-file={PKI}/ca.crt"])
    assert [l.role for l in component.loads] == ["client-ca"]
    assert "self-signed" in component.notes[0]


def test_paths_resolve_through_the_resolver():
    component = apiserver(files={f"{PKI}/apiserver.crt": CLIENT.cert_pem, f"{PKI}/apiserver.key": b""})
    serving = component.loads[0].payload
    assert (serving.cert.state, serving.key.state) == (State.PRESENT, State.EMPTY)
    assert component.loads[1].payload.cert.state is State.MISSING


def test_a_malformed_sni_flag_is_recorded_not_raised():
    component = apiserver([*APISERVER_FLAGS, "--tls-sni-cert-key=/only/one/path"])
    assert component.flag_errors == [
        'invalid argument "/only/one/path" for "--tls-sni-cert-key" flag: expected comma separated certificate and key file paths'
    ]
    # The pairs configured before it are still shown; the finding says the process never got to them.
    assert len([load for load in component.loads if load.role == "sni"]) == 2


def test_a_malformed_flag_blocks_the_start_before_any_load():
    from analyzer.checks.configuration import check_flags
    from analyzer.checks.context import CheckContext
    from analyzer.wiring.model import Wiring

    component = apiserver([*APISERVER_FLAGS, "--tls-sni-cert-key=/a.crt,/a.key:"])
    (found,) = check_flags(Wiring("kubeadm", [component]), CheckContext(REFERENCE_UTC))
    assert found.blocks_start and found.order == 0 and found.severity.value == "critical"
    assert found.go_error == 'invalid argument "/a.crt,/a.key:" for "--tls-sni-cert-key" flag: empty names list is not allowed'



def test_etcd_loads():
    component = etcd(parse_flags([f"--cert-file={PKI}/etcd/server.crt", f"--key-file={PKI}/etcd/server.key",
                                  f"--peer-cert-file={PKI}/etcd/peer.crt", f"--peer-key-file={PKI}/etcd/peer.key",
                                  f"--trusted-ca-file={PKI}/etcd/ca.crt", f"--peer-trusted-ca-file={PKI}/etcd/ca.crt"]),
                     FilesResolver(), node=NODE, distribution="kubeadm", configured_by="test",
                     expected_server=("127.0.0.1",), expected_peer=("10.0.0.1",))
    assert [(l.role, l.loader, getattr(l.payload, "expected_names", ())) for l in component.loads] == [
        ("etcd-server", Loader.TLS_PAIR, ("127.0.0.1",)),
        ("etcd-peer", Loader.TLS_PAIR, ("10.0.0.1",)),
        ("etcd-trusted-ca", Loader.CA_BUNDLE, ()),
        ("etcd-peer-trusted-ca", Loader.CA_BUNDLE, ()),
    ]


# -- kubeconfigs ---------------------------------------------------------------------------------

CONF = "/etc/kubernetes/controller-manager.conf"


def load_kubeconfig_at(document: Material, files=None):
    owner = Component("kube-controller-manager", NODE, "kubeadm", "test")
    return kubeconfig_load(owner, 1, "kubeconfig", "kubeconfig", CONF, document, FilesResolver(files), fatal=False, flag="--kubeconfig")


def test_a_kubeconfig_with_embedded_data():
    load = load_kubeconfig_at(on_node(CONF, kubeconfig("https://10.0.0.1:6443", CA.cert_pem, "system:kube-controller-manager", CLIENT)))
    config = load.payload
    assert (load.loader, load.label, config.server) == (Loader.KUBECONFIG, "kubeconfig (user system:kube-controller-manager)", "https://10.0.0.1:6443")
    assert (config.cert.data, config.key.data, config.ca.data) == (CLIENT.cert_pem, CLIENT.key_pem, CA.cert_pem)
    assert config.key.location.data_key == "client-key-data" and config.key.location.host_path == CONF
    assert (config.path, config.cert_file, config.key_file, config.ca_file) == (CONF, None, None, None)


def test_a_kubeconfig_naming_files_reads_them_relative_to_itself():
    document = kubeconfig("https://10.0.0.1:6443", CA.cert_pem, "system:node:master-0", cert_file="pki/kubelet.pem")
    load = load_kubeconfig_at(on_node(CONF, document), files={"/etc/kubernetes/pki/kubelet.pem": CLIENT.combined_pem})
    config = load.payload
    assert config.cert.location.host_path == "/etc/kubernetes/pki/kubelet.pem" and config.cert.data == CLIENT.combined_pem
    assert config.key_file == config.cert_file == "/etc/kubernetes/pki/kubelet.pem"


@pytest.mark.parametrize(("document", "state"), [
    (on_node(CONF, None), State.MISSING),
    (on_node(CONF, b""), State.EMPTY),
    (on_node(CONF, b"{{{ not yaml"), State.UNREADABLE),
])
def test_a_kubeconfig_that_cannot_be_read_passes_its_state_on(document, state):
    load = load_kubeconfig_at(document)
    assert load.payload.cert.state is load.payload.key.state is load.payload.ca.state is state


@pytest.mark.parametrize(("path", "hint"), [
    ("/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.crt", "user-serving-cert-000"),
    ("/etc/kubernetes/static-pod-resources/configmaps/client-ca/ca-bundle.crt", "client-ca"),
    ("/etc/kubernetes/pki/apiserver.crt", "apiserver.crt"),
])
def test_object_hint(path, hint):
    assert object_hint(path) == hint


def test_server_host_prefers_tls_server_name():
    load = load_kubeconfig_at(on_node(CONF, kubeconfig("https://[fd00::1]:6443", CA.cert_pem, "u", CLIENT)))
    assert server_host(load.payload) == "fd00::1"
    assert server_host(replace(load.payload, tls_server_name="kubernetes")) == "kubernetes"


def test_url_hosts_skip_wildcard_listeners():
    assert list(url_hosts(("https://127.0.0.1:2379,https://10.0.0.1:2379", "https://0.0.0.0:2379"))) == ["127.0.0.1", "10.0.0.1"]


# -- peers ---------------------------------------------------------------------------------------


def test_each_load_is_verified_with_the_bundle_its_peer_is_configured_with():
    files = {f"{PKI}/ca.crt": CA.cert_pem, f"{PKI}/front-proxy-ca.crt": CA.cert_pem, f"{PKI}/etcd/ca.crt": CA.cert_pem}
    server = apiserver(files=files)
    store = etcd(parse_flags([f"--cert-file={PKI}/etcd/server.crt", f"--key-file={PKI}/etcd/server.key", f"--trusted-ca-file={PKI}/etcd/ca.crt"]),
                 FilesResolver(files), node=NODE, distribution="kubeadm", configured_by="test", expected_server=("127.0.0.1",), expected_peer=())
    wiring = Wiring("kubeadm", [server, store])
    wiring.serving_trust[NODE] = (on_node(f"{PKI}/ca.crt", CA.cert_pem), "the cluster CA")
    link_peers(wiring)
    peers = {l.role + str(l.order): l.peer for l in wiring.iter_loads()}
    assert peers["serving1"].name == "clients of kube-apiserver" and peers["serving1"].ca_ref == "the cluster CA"
    assert peers["sni2"] is not None and peers["sni3"] is None  # entries with their own names are the user's
    assert (peers["etcd-client10"].name, peers["etcd-client10"].ca_ref) == ("etcd", f"etcd --trusted-ca-file={PKI}/etcd/ca.crt")
    assert peers["proxy-client6"].allowed_names == ("front-proxy-client", "aggregator")
    assert (peers["etcd-server1"].name, peers["etcd-server1"].ca_ref) == ("kube-apiserver", f"kube-apiserver --etcd-cafile={PKI}/etcd/ca.crt")
    assert peers["etcd-server1"].names == ("127.0.0.1",)
    assert peers["kubelet-client11"] is None  # no kubelet in this evidence


def test_a_second_component_of_the_same_name_on_a_node_is_linked_too():
    """Two inputs for one master (its /etc/kubernetes and its kubelet pki) give two components of a name."""
    files = {f"{PKI}/ca.crt": CA.cert_pem, f"{PKI}/front-proxy-ca.crt": CA.cert_pem, f"{PKI}/etcd/ca.crt": CA.cert_pem}
    first, second = apiserver(files=files), apiserver(files=files)
    store = etcd(parse_flags([f"--cert-file={PKI}/etcd/server.crt", f"--key-file={PKI}/etcd/server.key", f"--trusted-ca-file={PKI}/etcd/ca.crt"]),
                 FilesResolver(files), node=NODE, distribution="kubeadm", configured_by="test", expected_server=(), expected_peer=())
    wiring = Wiring("kubeadm", [first, store, second])
    link_peers(wiring)
    for component in (first, second):
        etcd_client = next(l for l in component.loads if l.role == "etcd-client")
        assert etcd_client.peer is not None and etcd_client.peer.name == "etcd"


@pytest.mark.parametrize(("endpoint", "host"), [
    ("api.example.com", "api.example.com"), ("api.example.com:6443", "api.example.com"),
    ("192.0.2.10:6443", "192.0.2.10"), ("[fd00::1]:6443", "fd00::1"), ("fd00::1", "fd00::1"),
])
def test_the_control_plane_endpoint_host(endpoint, host):
    assert endpoint_host(endpoint) == host


def test_a_location_describes_an_etcd_copy_precisely():
    location = Location(input="snapshot.db", etcd_key="/kubernetes.io/secrets/ns/name", object="ns/name", kind="Secret",
                        data_key="tls.key", revision=42)
    assert location.describe() == "Secret ns/name key tls.key (etcd /kubernetes.io/secrets/ns/name @ revision 42)"
    assert Location(input="x", host_path="/a", node="n", via=("/l1", "/l2")).describe() == "/a on n via /l1 -> /l2"


def test_sni_names_are_names_the_pair_must_cover():
    component = kube_apiserver(parse_flags(["--tls-sni-cert-key=/p/a.crt,/p/a.key:api.example.com,*.apps.example.com"]),
                               FilesResolver(), node="m", distribution="kubeadm", configured_by="test")
    (sni,) = [load for load in component.loads if load.role == "sni"]
    assert sni.payload.expected_names == ("api.example.com",)  # the wildcard is a pattern, not a host to dial
    assert sni.payload.sni_names == ("api.example.com", "*.apps.example.com")
    # OpenShift's own naming of its serving pairs keeps it so.
    assert openshift._with_names(sni, {}, None).payload.expected_names == ("api.example.com",)


KCM_FLAGS = [
    "--kubeconfig=/etc/kubernetes/controller-manager.conf", f"--client-ca-file={PKI}/ca.crt",
    f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt", f"--root-ca-file={PKI}/ca.crt",
    f"--service-account-private-key-file={PKI}/sa.key",
    f"--cluster-signing-cert-file={PKI}/ca.crt", f"--cluster-signing-key-file={PKI}/ca.key",
]


def kcm(files=None) -> Component:
    return controller_manager(parse_flags(KCM_FLAGS), FilesResolver(files), node=NODE, distribution="kubeadm", configured_by="test")


def test_kube_controller_manager_loads_in_start_up_order():
    """A controller that cannot initialise stops the process: the token controller's key and root CA, the CSR signer's pair."""
    assert [(l.order, l.role, l.loader, l.fatal) for l in kcm().loads] == [
        (1, "kubeconfig", Loader.KUBECONFIG, False),
        (2, "client-ca", Loader.CA_BUNDLE, True),
        (3, "requestheader-ca", Loader.CA_BUNDLE, True),
        (4, "service-account-private-key", Loader.PRIVATE_KEY, True),
        (5, "root-ca", Loader.CA_BUNDLE, True),
        (6, "cluster-signing", Loader.DYNAMIC_PAIR, True),
    ]


def test_kube_controller_manager_errors_carry_its_own_wrapping():
    loads = {l.role: l for l in kcm({f"{PKI}/ca.crt": b"", f"{PKI}/ca.key": CA.key_pem, f"{PKI}/front-proxy-ca.crt": b""}).loads}
    assert predict_bundle_error(loads["client-ca"])[1] == (
        f'unable to load client CA provider: missing content for CA bundle "client-ca-bundle::{PKI}/ca.crt"')
    assert predict_bundle_error(loads["requestheader-ca"])[1] == (
        f'unable to create request header authentication config: missing content for CA bundle "request-header::{PKI}/front-proxy-ca.crt"')
    assert predict_bundle_error(loads["root-ca"])[1] == (
        f"error parsing root-ca-file at {PKI}/ca.crt: data does not contain any valid RSA or ECDSA certificates")
    assert predict_load_error(loads["cluster-signing"])[2] == (
        f'error reading CA cert file "{PKI}/ca.crt": missing content for serving cert "csr-controller::{PKI}/ca.crt::{PKI}/ca.key"')


def test_the_kubelet_stops_on_its_client_ca():
    component = kubelet(FilesResolver({"/etc/kubernetes/pki/ca.crt": b""}), node=NODE, distribution="kubeadm", configured_by="test",
                        kubeconfig=None, serving_cert="/var/lib/kubelet/pki/kubelet.crt", serving_key="/var/lib/kubelet/pki/kubelet.key",
                        client_ca="/etc/kubernetes/pki/ca.crt")
    (client_ca,) = [l for l in component.loads if l.role == "kubelet-client-ca"]
    assert client_ca.fatal
    assert predict_bundle_error(client_ca)[1] == (
        'failed to run Kubelet: missing content for CA bundle "client-ca-bundle::/etc/kubernetes/pki/ca.crt"')



def test_delegated_kubeconfigs_are_loads_when_they_are_other_files():
    main = "--kubeconfig=/etc/kubernetes/controller-manager.conf"
    same = [main, "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
            "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf"]
    other = [main, "--authentication-kubeconfig=/etc/kubernetes/authn.conf", "--authorization-kubeconfig=/etc/kubernetes/authz.conf"]

    def labels(flags: list[str]) -> list[str]:
        component = controller_manager(parse_flags(flags), FilesResolver(), node=NODE, distribution="kubeadm", configured_by="test")
        return [load.label for load in component.loads]

    assert labels(same) == ["kubeconfig"]
    assert labels(other) == ["kubeconfig", "authentication kubeconfig", "authorization kubeconfig"]


def test_a_component_finds_its_first_load_of_a_role_and_that_load_s_bundle():
    serving = pair_load(CLIENT.cert_pem, CLIENT.key_pem)
    client_ca = bundle_load(CA.cert_pem, order=2)
    later_ca = bundle_load(CA.cert_pem, order=3, path=f"{PKI}/other-ca.crt", label="second client CA bundle")
    kubeconfig_ca = replace(kubeconfig_fixture(CLIENT, CA.cert_pem, "https://127.0.0.1:6443", component="kube-apiserver"), role=Role.REQUESTHEADER_CA, order=4)
    wired = Component("kube-apiserver", NODE, "kubeadm", "test", [serving, client_ca, later_ca, kubeconfig_ca])

    assert wired.find_load(Role.CLIENT_CA) is client_ca  # the first in start-up order, not a later one
    assert wired.find_load(Role.ETCD_CLIENT, Role.CLIENT_CA, Role.SERVING) is serving  # the first of either role
    assert wired.find_load(Role.ETCD_CLIENT) is None
    assert wired.find_bundle(Role.CLIENT_CA) is client_ca.payload
    assert wired.find_bundle(Role.SERVING) is None  # a pair is not a bundle
    assert wired.find_bundle(Role.REQUESTHEADER_CA) is None  # nor is a kubeconfig's CA
    assert wired.find_bundle(Role.ETCD_CA) is None
