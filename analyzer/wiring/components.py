"""Each control-plane component's loads, from its effective flags, in the order it loads them.

Both distributions meet here: kubeadm gives flags from its manifests, OpenShift from
``config.yaml`` converted the way ``ConfigToFlags`` does; a ``Resolver`` turns each path into the
material. The order follows kube-apiserver's start-up (layouts §3.1): the default serving pair,
then every ``--tls-sni-cert-key`` in flag order, then the client CA, the request-header CA, the
aggregator's proxy client pair, the service-account keys, and the etcd connection.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit

from analyzer.decode.kubeconfig import KubeconfigMaterial, load_kubeconfig
from analyzer.decode.flags import Flags, sni_cert_keys
from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.material import RedactedMaterial
from analyzer.gomodel.wrappers import error_format as wrapper_format
from analyzer.errors import DecodeError
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Distribution, Role
from analyzer.wiring.model import (
    BundlePayload, Component, Copy, CopyOf, KubeconfigPayload, Load, Loader, Material, PairPayload, PrivateKeyPayload,
    PublicKeysPayload, State,
)
from analyzer.wiring.resolve import Resolved, Resolver

_DATA_STATE = {
    MaterialState.PRESENT: State.PRESENT,
    MaterialState.EMPTY: State.EMPTY,
    MaterialState.SCRUBBED: State.SCRUBBED,
    MaterialState.ELIDED: State.ELIDED,
    MaterialState.MALFORMED: State.PRESENT,  # malformed bytes are still what the component reads
}


def object_hint(path: str) -> str:
    """The secret or config map a synced path is named after (``user-serving-cert-000``), else the file name."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[-3] in ("secrets", "configmaps"):
        return parts[-2]
    return posixpath.basename(path)


def _copies(cert: Resolved, key: Resolved | None) -> tuple[CopyOf, ...]:
    kinds: dict[Copy, list[Material | None]] = {}
    for index, resolved in enumerate((cert, key)):
        if resolved is None:
            continue
        for copy, material in resolved.copies:
            kinds.setdefault(copy, [None, None])[index] = material
    return tuple(CopyOf(copy, pair[0], pair[1]) for copy, pair in kinds.items())


class _Builder:
    """Accumulates one component's loads, numbering them in start-up order."""

    def __init__(self, component: Component, resolver: Resolver) -> None:
        self.component = component
        self.resolver = resolver
        self.order = itertools.count(1)

    def pair(self, role: Role, label: str, cert_path: str | None, key_path: str | None, *, loader: Loader, fatal: bool,
             flag: str, purpose: str | None = None, sni_names: tuple[str, ...] = (), allowed_names: tuple[str, ...] = (),
             expected: tuple[str, ...] = (), error_format: str = "{}") -> Load | None:
        if not cert_path and not key_path:
            return None
        cert = self.resolver.file(cert_path) if cert_path else None
        key = self.resolver.file(key_path) if key_path else None
        anchor = cert or key
        assert anchor is not None
        payload = PairPayload(
            cert_path, key_path, cert.material if cert else None, key.material if key else None, dynamic=loader is Loader.DYNAMIC_PAIR,
            sni_names=sni_names, allowed_names=allowed_names, expected_names=expected,
        )
        load = Load(
            component=self.component.name, node=self.component.node, role=role, order=next(self.order), fatal=fatal, label=label,
            payload=payload, flag=flag, object=anchor.object, source_object=anchor.source_object,
            copies=_copies(cert, key) if cert else (),
            dynamic_name=f"{purpose}::{cert_path}::{key_path}" if purpose else None, error_format=error_format,
        )
        self.component.loads.append(load)
        return load

    def bundle(self, role: Role, label: str, path: str | None, *, fatal: bool, flag: str, purpose: str | None = None,
               error_format: str = "{}") -> Load | None:
        if not path:
            return None
        resolved = self.resolver.file(path)
        load = Load(
            component=self.component.name, node=self.component.node, role=role, order=next(self.order), fatal=fatal, label=label,
            payload=BundlePayload(path, resolved.material), flag=flag, object=resolved.object, copies=tuple(CopyOf(copy, material, None) for copy, material in resolved.copies),
            dynamic_name=f"{purpose}::{path}" if purpose else None, error_format=error_format,
        )
        self.component.loads.append(load)
        return load

    def private_key(self, role: Role, label: str, path: str | None, *, fatal: bool, flag: str) -> Load | None:
        if not path:
            return None
        resolved = self.resolver.file(path)
        load = Load(
            component=self.component.name, node=self.component.node, role=role, order=next(self.order), fatal=fatal, label=label,
            payload=PrivateKeyPayload(path, resolved.material), flag=flag, object=resolved.object,
        )
        self.component.loads.append(load)
        return load

    def public_keys(self, role: Role, label: str, paths: tuple[str, ...], *, fatal: bool, flag: str) -> Load | None:
        if not paths:
            return None
        materials: list[Material] = []
        for path in paths:
            single = self.resolver.file(path).material
            if single.state is State.PRESENT:
                materials.append(single)
            else:  # OpenShift passes directories of keys (serviceAccountPublicKeyFiles)
                materials.extend(self.resolver.directory(path))
        load = Load(
            component=self.component.name, node=self.component.node, role=role, order=next(self.order), fatal=fatal, label=label,
            payload=PublicKeysPayload(paths, tuple(materials)), flag=flag,
        )
        self.component.loads.append(load)
        return load

    def kubeconfig(self, role: Role, label: str, path: str | None, *, fatal: bool, flag: str) -> Load | None:
        if not path:
            return None
        document = self.resolver.file(path).material
        load = kubeconfig_load(self.component, next(self.order), role, label, path, document, self.resolver, fatal=fatal, flag=flag)
        self.component.loads.append(load)
        return load


def kubeconfig_load(component: Component, order: int, role: Role, label: str, path: str, document: Material,
                    resolver: Resolver, *, fatal: bool, flag: str) -> Load:
    """A kubeconfig's client pair, CA and server, each from embedded data or a file it names."""
    def whole(material: Material) -> Load:
        return Load(component=component.name, node=component.node, role=role, order=order, fatal=fatal, label=label,
                    payload=KubeconfigPayload(path, material, material, material), flag=flag)

    if document.state is not State.PRESENT:
        return whole(document)
    try:
        config = load_kubeconfig(document.data, path)
    except RedactedMaterial:
        return whole(Material(State.SCRUBBED, document.location, document.data, detail="the whole kubeconfig is scrubbed in this evidence"))
    except DecodeError as err:
        return whole(Material(State.UNREADABLE, document.location, detail=str(err)))
    cluster, user = config.cluster, config.user

    def material(field: KubeconfigMaterial | None, data_key: str) -> tuple[Material | None, str | None]:
        if field is None or not field.is_set:
            return None, None
        location = replace(document.location, kind="kubeconfig", data_key=data_key)
        if field.path_scrubbed:
            return Material(State.SCRUBBED, location, detail="the file reference is scrubbed in this evidence"), None
        if field.uses_data and field.data_state is not None:
            return Material(_DATA_STATE[field.data_state], location, field.data), None
        if field.path:
            return resolver.file(field.path).material, field.path
        state = _DATA_STATE.get(field.data_state, State.EMPTY) if field.data_state is not None else State.EMPTY
        return Material(state, location, field.data or b""), None

    cert, cert_file = material(user.client_certificate if user else None, "client-certificate-data")
    key, key_file = material(user.client_key if user else None, "client-key-data")
    ca, ca_file = material(cluster.certificate_authority if cluster else None, "certificate-authority-data")
    user_name = user.name if user else "?"
    payload = KubeconfigPayload(path, cert, key, ca, cert_file=cert_file, key_file=key_file, ca_file=ca_file,
                                server=cluster.server if cluster else None, tls_server_name=cluster.tls_server_name if cluster else None)
    return Load(component=component.name, node=component.node, role=role, order=order, fatal=fatal, label=f"{label} (user {user_name})",
                payload=payload, flag=flag)


# -- the components -------------------------------------------------------------------------------


def kube_apiserver(flags: Flags, resolver: Resolver, *, node: str | None, distribution: Distribution, configured_by: str) -> Component:
    component = Component(ComponentName.KUBE_APISERVER, node, distribution, configured_by)
    build = _Builder(component, resolver)
    if not flags.find("tls-cert-file"):
        component.notes.append("no --tls-cert-file: kube-apiserver serves a self-signed certificate from --cert-dir (not in the evidence)")
    build.pair(Role.SERVING, "default serving pair", flags.find("tls-cert-file"), flags.find("tls-private-key-file"),
               loader=Loader.DYNAMIC_PAIR, fatal=True, flag="--tls-cert-file/--tls-private-key-file", purpose="serving-cert")
    sni, sni_error = sni_cert_keys(flags)
    if sni_error:
        component.flag_errors.append(sni_error)
    for number, entry in enumerate(sni, start=1):
        # Names given with the pair are what clients dial to reach it (wildcards are patterns, not hosts).
        build.pair(Role.SNI, f"SNI pair {number} of {len(sni)}, {object_hint(entry.cert_file)}", entry.cert_file, entry.key_file,
                   loader=Loader.DYNAMIC_PAIR, fatal=True, flag=f"--tls-sni-cert-key #{number}", purpose="sni-serving-cert",
                   error_format=wrapper_format("sni"), sni_names=tuple(entry.names), expected=tuple(n for n in entry.names if not n.startswith("*")))
    build.bundle(Role.CLIENT_CA, "client CA bundle", flags.find("client-ca-file"), fatal=True, flag="--client-ca-file",
                 purpose="client-ca-bundle")
    build.bundle(Role.REQUESTHEADER_CA, "request-header CA bundle", flags.find("requestheader-client-ca-file"), fatal=True,
                 flag="--requestheader-client-ca-file", purpose="request-header")
    build.pair(Role.PROXY_CLIENT, "aggregator proxy client pair", flags.find("proxy-client-cert-file"), flags.find("proxy-client-key-file"),
               loader=Loader.DYNAMIC_PAIR, fatal=True, flag="--proxy-client-cert-file/--proxy-client-key-file", purpose="aggregator-proxy-cert",
               # requestheader-allowed-names: the CNs aggregated servers accept from the proxy (empty: any)
               allowed_names=tuple(name for value in flags.values("requestheader-allowed-names") for name in value.split(",") if name))
    build.public_keys(Role.SERVICE_ACCOUNT_KEYS, "service-account verification keys", flags.values("service-account-key-file"),
                      fatal=True, flag="--service-account-key-file")
    build.private_key(Role.SERVICE_ACCOUNT_SIGNING_KEY, "service-account signing key", flags.find("service-account-signing-key-file"),
                      fatal=True, flag="--service-account-signing-key-file")
    component.endpoints = tuple(dict.fromkeys(url_hosts(flags.values("etcd-servers"), schemeless=True)))
    component.dials = tuple(dict.fromkeys(address for _, address in url_addresses(flags.values("etcd-servers"), schemeless=True)))
    build.bundle(Role.ETCD_CA, "etcd CA bundle", flags.find("etcd-cafile"), fatal=True, flag="--etcd-cafile")
    build.pair(Role.ETCD_CLIENT, "etcd client pair", flags.find("etcd-certfile"), flags.find("etcd-keyfile"),
               loader=Loader.TLS_PAIR, fatal=True, flag="--etcd-certfile/--etcd-keyfile")
    build.pair(Role.KUBELET_CLIENT, "kubelet client pair", flags.find("kubelet-client-certificate"), flags.find("kubelet-client-key"),
               loader=Loader.TLS_PAIR, fatal=False, flag="--kubelet-client-certificate/--kubelet-client-key")
    build.bundle(Role.KUBELET_CA, "kubelet serving CA bundle", flags.find("kubelet-certificate-authority"), fatal=False,
                 flag="--kubelet-certificate-authority")
    return component


def etcd(flags: Flags, resolver: Resolver, *, node: str | None, distribution: Distribution, configured_by: str,
         expected_server: tuple[str, ...], expected_peer: tuple[str, ...], env: tuple[tuple[str, str], ...] = ()) -> Component:
    """etcd's loads; ``env`` is its container's literal environment, which the shell that starts it
    expands its URLs with (OpenShift), so that kube-apiserver's --etcd-servers can be tied to it."""
    component = Component(ComponentName.ETCD, node, distribution, configured_by)
    urls = tuple(expand_variables(value, dict(env)) for value in flags.values("advertise-client-urls") + flags.values("listen-client-urls"))
    component.endpoints = tuple(dict.fromkeys(url_hosts(urls)))
    build = _Builder(component, resolver)
    build.pair(Role.ETCD_SERVER, "etcd serving pair", flags.find("cert-file"), flags.find("key-file"), loader=Loader.TLS_PAIR,
               fatal=True, flag="--cert-file/--key-file", expected=expected_server)
    build.pair(Role.ETCD_PEER, "etcd peer pair", flags.find("peer-cert-file"), flags.find("peer-key-file"), loader=Loader.TLS_PAIR,
               fatal=True, flag="--peer-cert-file/--peer-key-file", expected=expected_peer)
    build.bundle(Role.ETCD_TRUSTED_CA, "etcd client CA bundle", flags.find("trusted-ca-file"), fatal=True, flag="--trusted-ca-file")
    build.bundle(Role.ETCD_PEER_TRUSTED_CA, "etcd peer CA bundle", flags.find("peer-trusted-ca-file"), fatal=True,
                 flag="--peer-trusted-ca-file")
    return component


def etcd_metrics(flags: Flags, resolver: Resolver, *, node: str | None, distribution: Distribution, configured_by: str) -> Component:
    """``etcd grpc-proxy start`` serving etcd's metrics (OpenShift's etcd-metrics container): its own
    serving pair and client CA (--cert-file/--key-file, --trusted-ca-file), and the client pair and CA
    it dials etcd with (--cert/--key, --cacert) (etcd server/etcdmain/grpc_proxy.go)."""
    component = Component(ComponentName.ETCD_METRICS, node, distribution, configured_by)
    build = _Builder(component, resolver)
    build.pair(Role.ETCD_METRICS_SERVING, "etcd metrics serving pair", flags.find("cert-file"), flags.find("key-file"),
               loader=Loader.TLS_PAIR, fatal=True, flag="--cert-file/--key-file")
    build.bundle(Role.ETCD_METRICS_CLIENT_CA, "etcd metrics client CA bundle", flags.find("trusted-ca-file"), fatal=True,
                 flag="--trusted-ca-file")
    build.pair(Role.ETCD_METRICS_CLIENT, "etcd metrics proxy's client pair to etcd", flags.find("cert"), flags.find("key"),
               loader=Loader.TLS_PAIR, fatal=True, flag="--cert/--key")
    build.bundle(Role.ETCD_METRICS_ETCD_CA, "etcd metrics proxy's CA for etcd", flags.find("cacert"), fatal=True, flag="--cacert")
    return component


# Delegated authentication (k8s.io/apiserver DelegatingAuthenticationOptions.ApplyTo) wraps the
# errors of the CA files it loads; kube-apiserver returns them as they are.
DELEGATED_CLIENT_CA = wrapper_format("delegated-client-ca")
DELEGATED_REQUEST_HEADER = wrapper_format("delegated-request-header")


def controller_manager(flags: Flags, resolver: Resolver, *, node: str | None, distribution: Distribution, configured_by: str) -> Component:
    """kube-controller-manager: authentication files as it serves, then the controllers' files.

    A controller that cannot initialise stops the process. The service-account token controller
    starts first and reads its key before --root-ca-file (controllermanager.go); the CSR signer
    loads its pair through dynamiccertificates as "csr-controller" (certificates/signer).
    """
    component = Component(ComponentName.KUBE_CONTROLLER_MANAGER, node, distribution, configured_by)
    build = _Builder(component, resolver)
    _kubeconfigs(build, flags)
    build.bundle(Role.CLIENT_CA, "client CA bundle", flags.find("client-ca-file"), fatal=True, flag="--client-ca-file",
                 purpose="client-ca-bundle", error_format=DELEGATED_CLIENT_CA)
    build.bundle(Role.REQUESTHEADER_CA, "request-header CA bundle", flags.find("requestheader-client-ca-file"), fatal=True,
                 flag="--requestheader-client-ca-file", purpose="request-header", error_format=DELEGATED_REQUEST_HEADER)
    build.private_key(Role.SERVICE_ACCOUNT_PRIVATE_KEY, "service-account signing key", flags.find("service-account-private-key-file"),
                      fatal=True, flag="--service-account-private-key-file")
    root_ca = flags.find("root-ca-file")
    build.bundle(Role.ROOT_CA, "root CA for service-account tokens", root_ca, fatal=True, flag="--root-ca-file",
                 error_format=wrapper_format("root-ca-file", path=str(root_ca)))
    signing_cert = flags.find("cluster-signing-cert-file")
    build.pair(Role.CLUSTER_SIGNING, "cluster signing pair", signing_cert, flags.find("cluster-signing-key-file"),
               loader=Loader.DYNAMIC_PAIR, fatal=True, flag="--cluster-signing-cert-file/--cluster-signing-key-file",
               purpose="csr-controller", error_format=wrapper_format("cluster-signing", path=str(signing_cert)))
    return component


def scheduler(flags: Flags, resolver: Resolver, *, node: str | None, distribution: Distribution, configured_by: str) -> Component:
    component = Component(ComponentName.KUBE_SCHEDULER, node, distribution, configured_by)
    _kubeconfigs(_Builder(component, resolver), flags)
    return component


def _kubeconfigs(build: _Builder, flags: Flags) -> None:
    """--kubeconfig, and the delegated authentication and authorization kubeconfigs where they are
    other files (kubeadm points all three at the same one)."""
    main = flags.find("kubeconfig")
    build.kubeconfig(Role.KUBECONFIG, "kubeconfig", main, fatal=False, flag="--kubeconfig")
    for purpose in ("authentication", "authorization"):
        path = flags.find(f"{purpose}-kubeconfig")
        if path and path != main:
            build.kubeconfig(Role.KUBECONFIG, f"{purpose} kubeconfig", path, fatal=False, flag=f"--{purpose}-kubeconfig")


def kubeconfigs(name: ComponentName, paths: dict[Role, str], resolver: Resolver, *, node: str | None, distribution: Distribution, configured_by: str) -> Component:
    """Stand-alone kubeconfigs a person or the node uses (admin.conf, node-kubeconfigs): role → path."""
    component = Component(name, node, distribution, configured_by)
    build = _Builder(component, resolver)
    for role, path in paths.items():
        document = resolver.file(path).material
        if document.state is State.NOT_IN_EVIDENCE:
            continue
        build.kubeconfig(role, f"kubeconfig {path}", path, fatal=False, flag=path)
    return component


def kubelet(resolver: Resolver, *, node: str | None, distribution: Distribution, configured_by: str, kubeconfig: str | None,
            serving_cert: str, serving_key: str, client_ca: str | None, client_pair: str | None = None,
            bootstrap_kubeconfig: str | None = None) -> Component:
    """The kubelet: how it reaches kube-apiserver (its kubeconfig, or its rotated client pem
    directly when the kubeconfig is not in the evidence), the pair it serves, the CA it trusts."""
    component = Component(ComponentName.KUBELET, node, distribution, configured_by)
    build = _Builder(component, resolver)
    if kubeconfig and resolver.file(kubeconfig).material.state is not State.NOT_IN_EVIDENCE:
        build.kubeconfig(Role.KUBELET_KUBECONFIG, "kubeconfig", kubeconfig, fatal=False, flag="--kubeconfig")
    elif client_pair:
        build.pair(Role.KUBELET_CLIENT, "kubelet client pair", client_pair, client_pair, loader=Loader.TLS_PAIR, fatal=False,
                   flag="kubelet-client-current.pem")
    if bootstrap_kubeconfig and resolver.file(bootstrap_kubeconfig).material.state not in (State.NOT_IN_EVIDENCE, State.MISSING):
        # Read only when the kubeconfig is missing or its client certificate expired (kubernetes
        # pkg/kubelet/certificate/bootstrap/bootstrap.go LoadClientCert, isClientConfigStillValid); absent
        # is normal (kubeadm join deletes it after the TLS bootstrap).
        build.kubeconfig(Role.KUBELET_BOOTSTRAP_KUBECONFIG, "bootstrap kubeconfig", bootstrap_kubeconfig, fatal=False,
                         flag="--bootstrap-kubeconfig")
    build.pair(Role.KUBELET_SERVING, "kubelet serving pair", serving_cert, serving_key, loader=Loader.TLS_PAIR, fatal=False,
               flag="kubelet serving certificate")
    if client_ca:
        # BuildAuthn loads it through dynamiccertificates; its error ends the kubelet (server.go Run).
        build.bundle(Role.KUBELET_CLIENT_CA, "kubelet client CA bundle", client_ca, fatal=True,
                     flag="KubeletConfiguration authentication.x509.clientCAFile", purpose="client-ca-bundle",
                     error_format=wrapper_format("kubelet-run"))
    return component


def server_host(kubeconfig: KubeconfigPayload) -> str | None:
    """The host a kubeconfig dials, or the name it verifies (tls-server-name), for the SAN check."""
    if kubeconfig.tls_server_name:
        return kubeconfig.tls_server_name
    if not kubeconfig.server:
        return None
    return urlsplit(kubeconfig.server).hostname


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def expand_variables(text: str, env: dict[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` replaced as ``sh`` does from the container's environment; a name the
    environment does not hold (set from a field of the pod, or by the script itself) stays as written,
    and a URL holding it then ties to nothing (wiring/etcd_members.py says so)."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def url_hosts(values: tuple[str, ...], *, schemeless: bool = False) -> Iterator[str]:
    """The hosts of comma-separated URLs, wildcard listeners and unparseable URLs left out."""
    return (host for host, _ in url_addresses(values, schemeless=schemeless))


def url_addresses(values: tuple[str, ...], *, schemeless: bool = False) -> Iterator[tuple[str, str]]:
    """(host, host[:port] as written) of the URLs ``url_hosts`` keeps, the second for what is said about them.

    ``schemeless``: a value without "://" is a bare host:port, as etcd's client takes an endpoint
    (etcd client/v3/internal/endpoint/endpoint.go, translateEndpoint: no scheme, a plain TCP address),
    so kube-apiserver's --etcd-servers=127.0.0.1:2379 dials 127.0.0.1; urlsplit alone would read
    "127.0.0.1:2379" as a path and "m1:2379" as scheme "m1"."""
    for value in values:
        for url in value.split(","):
            url = url.strip()
            if schemeless and url and "://" not in url:
                url = "//" + url
            try:
                split = urlsplit(url)
                host = split.hostname
            except ValueError:  # an unbalanced "[" of an IPv6 literal: the component itself refuses it
                continue
            if host and host not in ("0.0.0.0", "::"):
                yield host, split.netloc.rpartition("@")[2]
