"""OpenShift's KubeAPIServerConfig (``configmaps/config/config.yaml``) and the flags it becomes.

On OpenShift 4 kube-apiserver is started with ``--openshift-config=<config.yaml>``; the file is a
``kubecontrolplane.config.openshift.io/v1`` ``KubeAPIServerConfig`` (openshift/api
kubecontrolplane/v1/types.go, config/v1/types.go) and is turned into command-line flags by
``ConfigToFlags`` (openshift/kubernetes@638dbb52:openshift-kube-apiserver/openshiftkubeapiserver/
flags.go). ``config_to_flags`` mirrors that conversion for the certificate-relevant part: most
importantly ``servingInfo.namedCertificates`` become ``--tls-sni-cert-key`` flags in list order,
which is the order the SNI pairs are loaded in.
"""

from __future__ import annotations

from typing import Any

from analyzer.decode.flags import Flag, FlagOrigin, Flags
from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.gomodel.material import is_scrub_marker
from analyzer.errors import DecodeError
from analyzer.records import datarecord

API_VERSION = "kubecontrolplane.config.openshift.io/v1"
KIND = "KubeAPIServerConfig"


@datarecord
class CertInfo:
    cert_file: str = ""
    key_file: str = ""


@datarecord
class NamedCertificate:
    names: tuple[str, ...]
    cert_file: str
    key_file: str
    index: int  # position in servingInfo.namedCertificates


@datarecord
class ServingInfo:
    bind_address: str = ""
    bind_network: str = ""
    cert_file: str = ""
    key_file: str = ""
    client_ca: str = ""
    named_certificates: tuple[NamedCertificate, ...] = ()
    min_tls_version: str = ""
    cipher_suites: tuple[str, ...] = ()


@datarecord
class KubeletClientInfo:
    port: int | None = None
    ca: str = ""
    cert_file: str = ""
    key_file: str = ""


@datarecord
class KubeAPIServerConfig:
    serving_info: ServingInfo
    api_server_arguments: tuple[tuple[str, tuple[str, ...]], ...]  # in document order
    service_account_public_key_files: tuple[str, ...]
    kubelet_client_info: KubeletClientInfo
    proxy_client_info: CertInfo  # aggregatorConfig.proxyClientInfo
    services_subnet: str
    cors_allowed_origins: tuple[str, ...]

    def arguments(self, name: str) -> tuple[str, ...] | None:
        """``apiServerArguments[name]``, or None when the key is absent (an empty list is set)."""
        for key, values in self.api_server_arguments:
            if key == name:
                return values
        return None


def load_kube_apiserver_config(data: bytes) -> KubeAPIServerConfig:
    """Load ``config.yaml`` (YAML or the JSON the operator writes)."""
    document = load_yaml_mapping(data, "KubeAPIServerConfig")
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if kind != KIND or api_version != API_VERSION:
        raise DecodeError(f"expected {API_VERSION} {KIND}, found {api_version or '?'} {kind or '?'}")
    serving = _mapping(document, "servingInfo")
    kubelet = _mapping(document, "kubeletClientInfo")
    proxy = _mapping(_mapping(document, "aggregatorConfig"), "proxyClientInfo", "aggregatorConfig.proxyClientInfo")
    port = kubelet.get("port")
    return KubeAPIServerConfig(
        serving_info=ServingInfo(
            bind_address=_str(serving, "bindAddress"),
            bind_network=_str(serving, "bindNetwork"),
            cert_file=_str(serving, "certFile"),
            key_file=_str(serving, "keyFile"),
            client_ca=_str(serving, "clientCA"),
            named_certificates=tuple(
                NamedCertificate(
                    names=_strings(entry, "names", f"servingInfo.namedCertificates[{i}].names"),
                    cert_file=_str(entry, "certFile"),
                    key_file=_str(entry, "keyFile"),
                    index=i,
                )
                for i, entry in enumerate(_mappings(serving, "namedCertificates", "servingInfo.namedCertificates"))
            ),
            min_tls_version=_str(serving, "minTLSVersion"),
            cipher_suites=_strings(serving, "cipherSuites", "servingInfo.cipherSuites"),
        ),
        api_server_arguments=_arguments(document.get("apiServerArguments")),
        service_account_public_key_files=_strings(document, "serviceAccountPublicKeyFiles", "serviceAccountPublicKeyFiles"),
        kubelet_client_info=KubeletClientInfo(
            port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            ca=_str(kubelet, "ca"),
            cert_file=_str(kubelet, "certFile"),
            key_file=_str(kubelet, "keyFile"),
        ),
        proxy_client_info=CertInfo(_str(proxy, "certFile"), _str(proxy, "keyFile")),
        services_subnet=_str(document, "servicesSubnet"),
        cors_allowed_origins=_strings(document, "corsAllowedOrigins", "corsAllowedOrigins"),
    )


def config_to_flags(config: KubeAPIServerConfig) -> Flags:
    """The flags ``ConfigToFlags`` produces, sorted by name as ``configflags.ToFlagSlice`` does.

    ``apiServerArguments`` pass through; the fields below are added only where the argument map
    has no such key (``SetIfUnset``), so an explicit ``tls-sni-cert-key`` argument replaces all
    named certificates. Not reproduced: ``--admission-control-config-file`` (a temporary file
    written at start-up) and the ``--audit-*`` flags derived from ``auditConfig``.
    """
    args: dict[str, list[str]] = {key: list(values) for key, values in config.api_server_arguments}
    host, port = go_split_host_port(config.serving_info.bind_address)

    def set_if_unset(name: str, *values: str) -> None:
        if name not in args:
            args[name] = list(values)

    set_if_unset("bind-address", host)
    set_if_unset("cors-allowed-origins", *config.cors_allowed_origins)
    set_if_unset("secure-port", port)
    set_if_unset("service-account-key-file", *config.service_account_public_key_files)
    set_if_unset("service-cluster-ip-range", config.services_subnet)
    set_if_unset("tls-cipher-suites", *config.serving_info.cipher_suites)
    set_if_unset("tls-min-version", config.serving_info.min_tls_version)
    set_if_unset("tls-sni-cert-key", *(_sni_cert_key(nc) for nc in config.serving_info.named_certificates))

    flags: list[Flag] = []
    for name in sorted(args):  # Go's sort.Strings: byte order
        for value in args[name]:
            flags.append(Flag(name, value, FlagOrigin.CONFIG, len(flags)))
    return Flags(tuple(flags))


def go_split_host_port(hostport: str) -> tuple[str, str]:
    """Go's net.SplitHostPort; ConfigToFlags returns its error, and kube-apiserver exits."""

    def fail(why: str) -> DecodeError:
        # net.AddrError.Error: "address <addr>: <why>", or just <why> for an empty address.
        message = f"address {hostport}: {why}" if hostport else why
        return DecodeError(f"servingInfo.bindAddress cannot be split into host and port: {message}")

    last = hostport.rfind(":")
    if last < 0:
        raise fail("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(hostport):
            raise fail("missing port in address")
        if end + 1 != last:
            raise fail("too many colons in address" if hostport[end + 1] == ":" else "missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:last]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in hostport[j:]:
        raise fail("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise fail("unexpected ']' in address")
    return host, hostport[last + 1 :]


def _sni_cert_key(named: NamedCertificate) -> str:
    """flags.go sniCertKeys: ``<cert>,<key>`` plus ``:<name1>,<name2>`` when names are given."""
    names = ":" + ",".join(named.names) if named.names else ""
    return f"{named.cert_file},{named.key_file}{names}"


def _arguments(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """map[string]Arguments, where Arguments is []string: any other shape fails to unmarshal in Go."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise DecodeError("apiServerArguments is not a mapping")
    arguments = []
    for key, values in value.items():
        if values is None:
            values = []
        if isinstance(values, str) and is_scrub_marker(values):
            values = [values]  # sos blanked `kubelet-client-key: ...`; keep the marker visible
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise DecodeError(f"apiServerArguments.{key} is not a list of strings")
        arguments.append((str(key), tuple(values)))
    return tuple(arguments)


def _mapping(document: dict[str, Any], key: str, what: str | None = None) -> dict[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DecodeError(f"{what or key} is not a mapping")
    return value


def _mappings(document: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    value = document.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DecodeError(f"{what} is not a list of mappings")
    return value


def _strings(document: dict[str, Any], key: str, what: str) -> tuple[str, ...]:
    value = document.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DecodeError(f"{what} is not a list of strings")
    return tuple(value)


def _str(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DecodeError(f"{key} is not a string")
    return value


def load_extended_arguments(data: bytes) -> Flags:
    """``extendedArguments`` of a KubeControllerManagerConfig as flags: map of flag name → values,
    passed to the component the way apiServerArguments are (cluster-kube-controller-manager-operator
    defaultconfig.yaml: cluster-signing-*, root-ca-file, service-account-private-key-file)."""
    document = load_yaml_mapping(data, "KubeControllerManagerConfig")
    flags: list[Flag] = []
    for name, values in _arguments(document.get("extendedArguments")):
        for value in values:
            flags.append(Flag(name, value, FlagOrigin.CONFIG, len(flags)))
    return Flags(tuple(flags))
