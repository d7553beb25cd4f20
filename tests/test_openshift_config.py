"""Tests for analyzer.decode.openshift_config: KubeAPIServerConfig and ConfigToFlags."""

from __future__ import annotations

import json

import pytest

from analyzer.decode.flags import FlagOrigin, NamedCertKey, sni_cert_keys
from analyzer.decode.openshift_config import (
    KubeletClientInfo,
    NamedCertificate,
    config_to_flags,
    go_split_host_port,
    load_kube_apiserver_config,
)
from analyzer.gomodel.material import SOS_PLACEHOLDER
from analyzer.errors import DecodeError

CERTS = "/etc/kubernetes/static-pod-certs/secrets"
RESOURCES = "/etc/kubernetes/static-pod-resources"


def named(secret: str, root: str = CERTS, names: list[str] | None = None) -> dict:
    entry = {"certFile": f"{root}/{secret}/tls.crt", "keyFile": f"{root}/{secret}/tls.key"}
    if names:
        entry["names"] = names
    return entry


def kas_config(**overrides) -> dict:
    """The shape the operator writes to configmaps/config/config.yaml (trimmed)."""
    config = {
        "apiVersion": "kubecontrolplane.config.openshift.io/v1",
        "kind": "KubeAPIServerConfig",
        "apiServerArguments": {
            "client-ca-file": ["/etc/kubernetes/static-pod-certs/configmaps/client-ca/ca-bundle.crt"],
            "etcd-certfile": [f"{RESOURCES}/secrets/etcd-client/tls.crt"],
            "etcd-keyfile": [f"{RESOURCES}/secrets/etcd-client/tls.key"],
            "tls-cert-file": [f"{CERTS}/service-network-serving-certkey/tls.crt"],
            "tls-private-key-file": [f"{CERTS}/service-network-serving-certkey/tls.key"],
            "feature-gates": ["A=true", "B=false"],
        },
        "servingInfo": {
            "bindAddress": "0.0.0.0:6443",
            "bindNetwork": "tcp4",
            "cipherSuites": ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"],
            "minTLSVersion": "VersionTLS12",
            "namedCertificates": [
                named("localhost-serving-cert-certkey"),
                named("service-network-serving-certkey"),
                named("external-loadbalancer-serving-certkey"),
                named("internal-loadbalancer-serving-certkey"),
                named("localhost-recovery-serving-certkey", f"{RESOURCES}/secrets"),
                named("user-serving-cert-000", names=["api.example.com", "*.apps.example.com"]),
            ],
        },
        "serviceAccountPublicKeyFiles": [
            f"{RESOURCES}/configmaps/sa-token-signing-certs",
            f"{RESOURCES}/configmaps/bound-sa-token-signing-certs",
        ],
        "servicesSubnet": "172.30.0.0/16",
        "kubeletClientInfo": {
            "ca": f"{RESOURCES}/configmaps/kubelet-serving-ca/ca-bundle.crt",
            "certFile": f"{CERTS}/kubelet-client/tls.crt",
            "keyFile": f"{CERTS}/kubelet-client/tls.key",
            "port": 10250,
        },
        "aggregatorConfig": {"proxyClientInfo": named("aggregator-client")},
    }
    config.update(overrides)
    return config


def load(config: dict):
    # The operator writes JSON on one line; JSON is YAML, so the same loader reads both.
    return load_kube_apiserver_config(json.dumps(config).encode())


def test_serving_info_and_named_certificates_in_order():
    config = load(kas_config())
    serving = config.serving_info
    assert (serving.bind_address, serving.bind_network, serving.min_tls_version) == ("0.0.0.0:6443", "tcp4", "VersionTLS12")
    assert [nc.cert_file.split("/")[-2] for nc in serving.named_certificates] == [
        "localhost-serving-cert-certkey",
        "service-network-serving-certkey",
        "external-loadbalancer-serving-certkey",
        "internal-loadbalancer-serving-certkey",
        "localhost-recovery-serving-certkey",
        "user-serving-cert-000",
    ]
    assert serving.named_certificates[5] == NamedCertificate(
        ("api.example.com", "*.apps.example.com"), f"{CERTS}/user-serving-cert-000/tls.crt", f"{CERTS}/user-serving-cert-000/tls.key", 5
    )
    assert serving.named_certificates[0].names == ()


def test_other_certificate_fields():
    config = load(kas_config())
    assert config.arguments("tls-cert-file") == (f"{CERTS}/service-network-serving-certkey/tls.crt",)
    assert config.arguments("absent") is None
    assert config.service_account_public_key_files[1].endswith("bound-sa-token-signing-certs")
    assert config.kubelet_client_info == KubeletClientInfo(
        10250, f"{RESOURCES}/configmaps/kubelet-serving-ca/ca-bundle.crt", f"{CERTS}/kubelet-client/tls.crt", f"{CERTS}/kubelet-client/tls.key"
    )
    assert config.proxy_client_info.key_file == f"{CERTS}/aggregator-client/tls.key"


def test_yaml_form_loads_too():
    text = (
        "apiVersion: kubecontrolplane.config.openshift.io/v1\nkind: KubeAPIServerConfig\n"
        "servingInfo:\n  bindAddress: 0.0.0.0:6443\n  namedCertificates:\n  - certFile: /a.crt\n    keyFile: /a.key\n"
    )
    config = load_kube_apiserver_config(text.encode())
    assert config.serving_info.named_certificates == (NamedCertificate((), "/a.crt", "/a.key", 0),)


# --------------------------------------------------------------------------------------------
# config_to_flags
# --------------------------------------------------------------------------------------------


def test_named_certificates_become_sni_flags_in_list_order():
    flags = config_to_flags(load(kas_config()))
    values = flags.values("tls-sni-cert-key")
    assert values[0] == f"{CERTS}/localhost-serving-cert-certkey/tls.crt,{CERTS}/localhost-serving-cert-certkey/tls.key"
    assert values[5] == f"{CERTS}/user-serving-cert-000/tls.crt,{CERTS}/user-serving-cert-000/tls.key:api.example.com,*.apps.example.com"
    pairs, error = sni_cert_keys(flags)
    assert error is None
    assert [p.index for p in pairs] == [0, 1, 2, 3, 4, 5]
    assert pairs[5] == NamedCertKey(
        f"{CERTS}/user-serving-cert-000/tls.crt", f"{CERTS}/user-serving-cert-000/tls.key", ("api.example.com", "*.apps.example.com"), 5
    )


def test_flags_are_sorted_by_name_and_keep_value_order():
    flags = config_to_flags(load(kas_config()))
    assert list(flags.names()) == sorted(flags.names())
    assert flags.values("feature-gates") == ("A=true", "B=false")
    assert flags.values("tls-cipher-suites") == ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384")
    assert flags.values("service-account-key-file") == (
        f"{RESOURCES}/configmaps/sa-token-signing-certs",
        f"{RESOURCES}/configmaps/bound-sa-token-signing-certs",
    )
    assert (flags.find("bind-address"), flags.find("secure-port")) == ("0.0.0.0", "6443")
    assert flags.find("service-cluster-ip-range") == "172.30.0.0/16"
    assert {f.origin for f in flags} == {FlagOrigin.CONFIG}
    assert [f.position for f in flags] == list(range(len(flags)))


def test_an_explicit_argument_wins_over_the_config_fields():
    arguments = {**kas_config()["apiServerArguments"], "tls-sni-cert-key": ["/x.crt,/x.key"], "service-account-key-file": ["/sa.pub"]}
    flags = config_to_flags(load(kas_config(apiServerArguments=arguments)))
    assert flags.values("tls-sni-cert-key") == ("/x.crt,/x.key",)
    assert flags.values("service-account-key-file") == ("/sa.pub",)


def test_an_empty_argument_list_still_blocks_the_config_field():
    # SetIfUnset tests the key, not the length: an empty list means no --tls-sni-cert-key at all.
    arguments = {**kas_config()["apiServerArguments"], "tls-sni-cert-key": []}
    assert config_to_flags(load(kas_config(apiServerArguments=arguments))).values("tls-sni-cert-key") == ()


def test_empty_fields_are_emitted_like_go():
    config = kas_config(servicesSubnet="", serviceAccountPublicKeyFiles=[])
    config["servingInfo"]["minTLSVersion"] = ""
    config["servingInfo"]["namedCertificates"] = []
    flags = config_to_flags(load(config))
    # A single empty string still becomes `--tls-min-version=`; an empty list becomes nothing.
    assert flags.values("tls-min-version") == ("",) and flags.values("service-cluster-ip-range") == ("",)
    assert "tls-sni-cert-key" not in flags and "service-account-key-file" not in flags


@pytest.mark.parametrize(
    ("hostport", "expected"),
    [("0.0.0.0:6443", ("0.0.0.0", "6443")), ("[::]:6443", ("::", "6443")), (":6443", ("", "6443")), ("[fe80::1%eth0]:443", ("fe80::1%eth0", "443"))],
)
def test_split_host_port(hostport, expected):
    assert go_split_host_port(hostport) == expected


@pytest.mark.parametrize(
    ("hostport", "message"),
    [
        ("", ": missing port in address"),
        ("0.0.0.0", "address 0.0.0.0: missing port in address"),
        ("::1:6443", "address ::1:6443: too many colons in address"),
        ("[::1]", "address \\[::1\\]: missing port in address"),
        ("[::1:6443", "address \\[::1:6443: missing '\\]' in address"),
        ("[::1]x:6443", "address \\[::1\\]x:6443: missing port in address"),
    ],
)
def test_split_host_port_errors_stop_the_conversion(hostport, message):
    config = kas_config()
    config["servingInfo"]["bindAddress"] = hostport
    with pytest.raises(DecodeError, match=message):
        config_to_flags(load(config))


# --------------------------------------------------------------------------------------------
# Shapes Go refuses, and sos
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "KubeControllerManagerConfig"}, "expected kubecontrolplane.config.openshift.io/v1 KubeAPIServerConfig"),
        ({"apiVersion": "v1"}, "found v1 KubeAPIServerConfig"),
        ({"apiServerArguments": {"tls-cert-file": "/a.crt"}}, "apiServerArguments.tls-cert-file is not a list of strings"),
        ({"apiServerArguments": {"secure-port": [6443]}}, "apiServerArguments.secure-port is not a list of strings"),
        ({"servingInfo": {"namedCertificates": {"certFile": "/a"}}}, "servingInfo.namedCertificates is not a list of mappings"),
        ({"serviceAccountPublicKeyFiles": "/sa.pub"}, "serviceAccountPublicKeyFiles is not a list of strings"),
    ],
)
def test_invalid_configs(overrides, message):
    with pytest.raises(DecodeError, match=message):
        load(kas_config(**overrides))


def test_a_sos_scrubbed_yaml_config_still_loads():
    text = (
        "apiVersion: kubecontrolplane.config.openshift.io/v1\nkind: KubeAPIServerConfig\n"
        "apiServerArguments:\n  kubelet-client-key: *******\n  - /etc/kubernetes/static-pod-certs/secrets/kubelet-client/tls.key\n"
        "  kubelet-client-certificate:\n  - /etc/kubernetes/static-pod-certs/secrets/kubelet-client/tls.crt\n"
        "servingInfo:\n  bindAddress: 0.0.0.0:6443\n"
    )
    config = load_kube_apiserver_config(text.encode())
    assert config.arguments("kubelet-client-key") == (SOS_PLACEHOLDER,)
    assert config.arguments("kubelet-client-certificate") == ("/etc/kubernetes/static-pod-certs/secrets/kubelet-client/tls.crt",)
