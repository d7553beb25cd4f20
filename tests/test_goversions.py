"""Go's wording by release: the table of changes, the Kubernetes → Go map, and reading releases from logs."""

from __future__ import annotations

import pytest

from analyzer.gomodel.goversions import (
    ACCEPTED,
    PREDICTED_GO,
    go_of_kubernetes,
    older_go_wording_of,
    release_of_image,
    version_in_log_message,
    wording_for,
)

UNKNOWN_CA = "x509: certificate signed by unknown authority"
SHA1_HINT = (f'{UNKNOWN_CA} (possibly because of "x509: cannot verify signature: insecure algorithm SHA1-RSA" '
             'while trying to verify candidate authority certificate "kubernetes")')
PKCS8 = "tls: failed to parse private key: asn1: syntax error: sequence truncated"


def test_the_predicted_release_is_the_one_the_oracle_checks(go_oracle):
    assert go_oracle.go_version.startswith(f"go{PREDICTED_GO}.")


@pytest.mark.parametrize(("release", "go"), [
    ("v1.21.11+k3s1", (1, 16)), ("1.28", (1, 20)), ("v1.31.5+2a1b3c4", (1, 22)), ("v1.33.0", (1, 24)), ("v2.0.0", None), ("main", None),
])
def test_kubernetes_releases_map_to_their_go(release, go):
    assert go_of_kubernetes(release) == go


@pytest.mark.parametrize(("error", "go", "older"), [
    (f"tls: failed to verify certificate: {UNKNOWN_CA}", (1, 19), UNKNOWN_CA),
    (f"tls: failed to verify certificate: {UNKNOWN_CA}", (1, 20), None),
    (f"http: TLS handshake error from 10.0.0.5:4242: tls: failed to verify client certificate: {UNKNOWN_CA}", (1, 19),
     f"http: TLS handshake error from 10.0.0.5:4242: {UNKNOWN_CA}"),
    (SHA1_HINT, (1, 21), SHA1_HINT.replace("SHA1-RSA", "SHA1-RSA (temporarily override with GODEBUG=x509sha1=1)")),
    (SHA1_HINT, (1, 17), ACCEPTED),
    (SHA1_HINT, (1, 24), None),
    ("crypto/rsa: 512-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)", (1, 23), ACCEPTED),
    (f"failed to load SNI cert and key: {PKCS8}", (1, 25), "failed to load SNI cert and key: tls: failed to parse private key"),
    ('x509: certificate contains duplicate extension with OID "2.5.29.17"', (1, 19), "x509: certificate contains duplicate extensions"),
    ("x509: negative serial number", (1, 22), ACCEPTED),
    ("tls: private key does not match public key", (1, 16), None),
])
def test_older_go_words_it_otherwise(error, go, older):
    assert wording_for(error, go) == older


def test_a_log_in_older_words_is_recognised():
    assert older_go_wording_of("failed to load SNI cert and key: tls: failed to parse private key",
                               f"failed to load SNI cert and key: {PKCS8}") == (1, 25)
    assert older_go_wording_of("tls: private key does not match public key", PKCS8) is None


@pytest.mark.parametrize(("message", "release"), [
    ("Version: v1.21.11+k3s1", "v1.21.11+k3s1"),
    ('"Version" version="v1.28.3"', "v1.28.3"),
    ("Version: v1.31.5+2a1b3c4", "v1.31.5+2a1b3c4"),
    ("Golang settings GOGC= GOMAXPROCS=", None),
])
def test_releases_are_read_from_start_up_lines(message, release):
    assert version_in_log_message(message) == release


@pytest.mark.parametrize(("image", "release"), [
    ("registry.k8s.io/kube-apiserver:v1.28.3", "v1.28.3"),
    ("localhost:5000/kube-apiserver:v1.30.0-rc.1", "v1.30.0-rc.1"),
    ("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0123abcd", None),
    ("registry.k8s.io/kube-apiserver", None),
    ("registry.k8s.io/kube-apiserver:latest", None),
    (None, None),
])
def test_releases_are_read_from_image_tags(image, release):
    assert release_of_image(image) == release
