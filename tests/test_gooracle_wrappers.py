"""Kubernetes' wrappers around Go's errors, with the inner part from real Go.

The wrapper text comes from gomodel.wrappers (one table, with the upstream file of each); the
inner error is what real Go returns for the generated input (tests/gooracle). A kube-apiserver SNI
pair is predicted by the pair check through the wiring's error format; a kubeconfig's CA data by
client-go's rootCertPool; a CA bundle by certutil.ParseCertsPEM. client-go's own logic around the
standard library (createErrorParsingCAData, ParseCertsPEM) is written out below from its source,
over the blocks and parse results real Go reports.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from analyzer.checks.kubeconfigs import check_kubeconfig_servers
from analyzer.checks.pairs import check_pair
from analyzer.gomodel.clientgo import NO_CERTIFICATES, bundle, root_ca_error
from analyzer.gomodel.wrappers import (
    CA_NOT_PEM,
    CA_NOTHING_VALID,
    WRAPPERS,
    error_format,
    wrap,
)
from tests.fixtures.gooracle import examples
from tests.fixtures.models import CTX, component, kubeconfig_load, pair_load, sni_load, wiring
from tests.fixtures.pki import make_ca, make_leaf
from tests.test_gooracle_keypair import pairs
from tests.test_gooracle_pem import pem_files

CA = make_ca("kubernetes")
SETTINGS = settings(max_examples=examples(200), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_every_wrapper_names_its_source_and_wraps_once():
    for key, wrapper in WRAPPERS.items():
        assert wrapper.text.count("{}") == 1, key
        assert wrapper.source.startswith("kubernetes/kubernetes "), key
    assert wrap("root-ca-file", "EOF", path="/etc/kubernetes/pki/ca.crt") == "error parsing root-ca-file at /etc/kubernetes/pki/ca.crt: EOF"
    assert error_format("cluster-signing", path="/p/ca.crt").format("boom") == 'error reading CA cert file "/p/ca.crt": boom'


@SETTINGS
@given(case=pairs())
def test_kube_apiserver_sni_failures_are_wrapped_go_errors(go_oracle, case):
    cert_file, key_file, description = case
    go = go_oracle.ask({"pair": {"cert": cert_file, "key": key_file}})["pair"]
    load = sni_load(None, 1, cert=cert_file, key=key_file)
    assert load.error_format == error_format("sni")
    findings = [f for f in check_pair(load, CTX) if f.go_error]
    predicted = findings[0].go_error if findings else None
    if not cert_file or not key_file:
        # dynamiccertificates refuses an empty file before calling X509KeyPair
        # (apiserver pkg/server/dynamiccertificates/dynamic_serving_content.go loadCertKeyPair).
        expected = f'failed to load SNI cert and key: missing content for serving cert "{load.dynamic_name}"'
    else:
        expected = None if go["ok"] else "failed to load SNI cert and key: " + go["error"]
    go_oracle.record(predicted == expected, f"SNI wrapper: {description}: Go {expected!r}, model {predicted!r}")
    assert predicted == expected, description


def _client_go_root_ca_error(answer: dict, data: bytes) -> str | None:
    """client-go transport.go rootCertPool + createErrorParsingCAData over Go's own results."""
    if not data or answer["pool"]["ok"]:
        return None
    for block in answer["pem"]["blocks"]:
        if block["type"] == b"CERTIFICATE" and not block["headers"] and not block["parse"]["ok"]:
            return "failed to parse certificate: " + block["parse"]["error"]
    return CA_NOT_PEM if answer["pem"]["rest"] else CA_NOTHING_VALID


def _parse_certs_pem_error(answer: dict) -> str | None:
    """client-go util/cert/pem.go ParseCertsPEM over Go's own results."""
    found = False
    for block in answer["pem"]["blocks"]:
        if block["type"] != b"CERTIFICATE" or block["headers"]:
            continue
        if not block["parse"]["ok"]:
            return block["parse"]["error"]
        found = True
    return None if found else NO_CERTIFICATES


@SETTINGS
@given(data=pem_files())
def test_kubeconfig_ca_data_and_ca_bundles_fail_with_go_inside(go_oracle, data):
    answer = go_oracle.ask({"pem": data, "pool": data})
    expected = _client_go_root_ca_error(answer, data)
    model = root_ca_error(data)
    expected_bundle = _parse_certs_pem_error(answer)
    model_bundle = bundle(data)[1]
    matched = model == expected and model_bundle == expected_bundle
    go_oracle.record(matched, f"client-go CA data {data[:60]!r}: Go {expected!r}/{expected_bundle!r}, model {model!r}/{model_bundle!r}")
    assert (model, model_bundle) == (expected, expected_bundle)
    if expected:
        assert wrap("client-go-root-ca", model) == "unable to load root certificates: " + expected


@pytest.mark.parametrize("ca_data", [
    b"not a certificate\n",
    b"-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",
    b"-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
])
def test_a_kubeconfig_whose_ca_data_client_go_cannot_load_fails_before_dialing(go_oracle, ca_data):
    """client-go's words (transport.go TLSConfigFor/rootCertPool) around Go's own (real Go's pool
    and parser), in the kubeconfig check's finding, not a verification error."""
    expected = _client_go_root_ca_error(go_oracle.ask({"pem": ca_data, "pool": ca_data}), ca_data)
    assert expected is not None
    client = make_leaf(CA, "system:kube-scheduler", client=True)
    serving = make_leaf(CA, "kube-apiserver", server=True, dns=("kubernetes",), ips=("10.0.0.1",))
    w = wiring(component("kube-apiserver", pair_load(serving.cert_pem, serving.key_pem)),
               component("kube-scheduler", kubeconfig_load(client, ca_data, "https://10.0.0.1:6443", component="kube-scheduler")))
    [found] = check_kubeconfig_servers(w, CTX)
    assert found.id == "kubeconfig.ca-unloadable"
    assert found.go_error == "unable to load root certificates: " + expected
