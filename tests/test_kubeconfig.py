"""Tests for analyzer.decode.kubeconfig: context resolution, file references, redacted fields."""

from __future__ import annotations

import base64
import datetime as dt
import textwrap

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from analyzer.decode.kubeconfig import KubeconfigMaterial, load_kubeconfig
from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.keys import load_certificates, load_private_key
from analyzer.gomodel.material import RedactedMaterial
from analyzer.errors import DecodeError

NOT_BEFORE_UTC = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pair() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOT_BEFORE_UTC)
        .not_valid_after(NOT_BEFORE_UTC + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def admin_conf(cert_pem: bytes, key_pem: bytes, *, ca: str | None = None, extra_user: str = "") -> bytes:
    """kubeadm's admin.conf shape, with a decoy cluster and user listed first."""
    ca_line = ca if ca is not None else b64(cert_pem)
    return textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Config
        clusters:
        - name: decoy
          cluster:
            server: https://decoy.invalid:6443
        - name: kubernetes
          cluster:
            certificate-authority-data: {ca_line}
            server: https://10.0.0.10:6443
            tls-server-name: api.cluster.local
        contexts:
        - name: decoy@decoy
          context: {{cluster: decoy, user: decoy}}
        - name: default-admin
          context:
            cluster: kubernetes
            user: kubernetes-admin
            namespace: kube-system
        current-context: default-admin
        users:
        - name: decoy
          user: {{token: decoy-token}}
        - name: kubernetes-admin
          user:
            client-certificate-data: {b64(cert_pem)}
            client-key-data: {b64(key_pem)}
        """
    ).encode() + extra_user.encode()


def test_current_context_is_followed_by_name_not_position(pair):
    config = load_kubeconfig(admin_conf(*pair), "/etc/kubernetes/admin.conf")
    assert (config.current_context, config.namespace, config.problems) == ("default-admin", "kube-system", ())
    assert (config.cluster.name, config.cluster.server) == ("kubernetes", "https://10.0.0.10:6443")
    assert config.cluster.tls_server_name == "api.cluster.local"
    assert config.cluster.insecure_skip_tls_verify is False
    assert config.user.name == "kubernetes-admin"


def test_embedded_data_is_decoded(pair):
    cert_pem, key_pem = pair
    config = load_kubeconfig(admin_conf(*pair))
    assert config.cluster.certificate_authority == KubeconfigMaterial(MaterialState.PRESENT, cert_pem)
    assert config.user.client_certificate.uses_data and config.user.client_key.uses_data
    assert load_certificates(config.user.client_certificate.data)[0].subject.rfc4514_string() == "CN=kubernetes-admin"
    assert load_private_key(config.user.client_key.data).curve == "secp256r1"


def test_key_data_never_shows_in_repr(pair):
    config = load_kubeconfig(admin_conf(*pair))
    text = repr(config)
    assert b64(pair[1])[:40] not in text and "BEGIN" not in text and "decoy-token" not in text


def test_kubelet_conf_after_bootstrap_points_cert_and_key_at_one_file():
    data = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Config
        clusters:
        - cluster:
            certificate-authority-data: ""
            certificate-authority: pki/ca.crt
            server: https://api.example.com:6443
          name: default-cluster
        contexts:
        - context: {cluster: default-cluster, namespace: default, user: default-auth}
          name: default-context
        current-context: default-context
        users:
        - name: default-auth
          user:
            client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
            client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
        """
    ).encode()
    user = load_kubeconfig(data, "/etc/kubernetes/kubelet.conf").user
    assert user.cert_and_key_in_one_file
    assert user.client_key.path == "/var/lib/kubelet/pki/kubelet-client-current.pem"
    assert user.client_key.data_state is None and not user.client_key.uses_data
    ca = load_kubeconfig(data, "/etc/kubernetes/kubelet.conf").cluster.certificate_authority
    # Blank data falls back to the file, which is resolved against the kubeconfig's directory.
    assert (ca.data_state, ca.uses_data, ca.path, ca.configured_path) == (
        MaterialState.EMPTY,
        False,
        "/etc/kubernetes/pki/ca.crt",
        "pki/ca.crt",
    )


@pytest.mark.parametrize(
    ("reference", "kubeconfig_path", "resolved"),
    [
        ("pki/ca.crt", "/etc/kubernetes/admin.conf", "/etc/kubernetes/pki/ca.crt"),
        ("../secrets/ca/ca.crt", "/etc/kubernetes/static-pod-resources/configmaps/kc/kubeconfig", "/etc/kubernetes/static-pod-resources/configmaps/secrets/ca/ca.crt"),
        ("./ca.crt", "kubeconfig", "ca.crt"),
        ("/abs/ca.crt", "/etc/kubernetes/admin.conf", "/abs/ca.crt"),
        ("/etc/kubernetes/../pki//ca.crt", "/etc/kubernetes/admin.conf", "/etc/kubernetes/../pki//ca.crt"),  # not cleaned
        ("pki/ca.crt", None, "pki/ca.crt"),
    ],
)
def test_file_references_are_resolved_against_the_kubeconfig(reference, kubeconfig_path, resolved):
    data = (
        "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
        f"clusters: [{{name: k, cluster: {{server: 'https://x', certificate-authority: '{reference}'}}}}]\n"
        f"users: [{{name: u, user: {{tokenFile: '{reference}'}}}}]\n"
    ).encode()
    config = load_kubeconfig(data, kubeconfig_path)
    assert config.cluster.certificate_authority.path == resolved
    assert config.user.token_file == resolved


@pytest.mark.parametrize(
    ("value", "state", "uses_data"),
    [
        ('""', MaterialState.EMPTY, False),
        ("***** SCRUBBED BASE64 PEM *****", MaterialState.SCRUBBED, True),
        ("*******", MaterialState.SCRUBBED, True),
        ("not base64!", MaterialState.MALFORMED, True),
        ("QUJD", MaterialState.PRESENT, True),
    ],
)
def test_blank_scrubbed_and_absent_data_are_told_apart(pair, value, state, uses_data):
    extra = textwrap.dedent(
        f"""\
        - name: other
          user:
            client-key-data: {value}
        """
    )
    data = admin_conf(*pair, extra_user=extra).replace(b"user: kubernetes-admin", b"user: other")
    user = load_kubeconfig(data).user
    assert (user.client_key.data_state, user.client_key.uses_data) == (state, uses_data)
    assert user.client_certificate.data_state is None and not user.client_certificate.is_set


def test_sos_openshift_scrub_of_paths_and_tokens():
    # sos's openshift plugin blanks `client-key: <path>` (it matches `.*.key`) and `token:`.
    data = textwrap.dedent(
        """\
        apiVersion: v1
        clusters:
        - cluster:
            certificate-authority-data: *******
            server: https://localhost:6443
          name: loopback
        contexts:
        - context: {cluster: loopback, user: admin}
          name: admin
        current-context: admin
        users:
        - name: admin
          user:
            client-certificate: /etc/x/tls.crt
            client-key: *******
            token: *******
        """
    ).encode()
    config = load_kubeconfig(data, "/etc/kubernetes/kubeconfig")
    assert config.cluster.certificate_authority.data_state is MaterialState.SCRUBBED
    assert config.user.client_key.path_scrubbed and config.user.client_key.path is None
    assert config.user.client_certificate.path == "/etc/x/tls.crt"
    assert config.user.token_state is MaterialState.SCRUBBED


def test_tokens_are_noted_but_never_kept():
    data = (
        b"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
        b"clusters: [{name: k, cluster: {server: 'https://x', insecure-skip-tls-verify: true}}]\n"
        b"users: [{name: u, user: {token: sha256~TopSecretValue}}]\n"
    )
    config = load_kubeconfig(data)
    assert config.user.token_state is MaterialState.PRESENT
    assert config.cluster.insecure_skip_tls_verify is True
    assert "TopSecretValue" not in repr(config)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("contexts: []\n", "current-context is not set"),
        ("current-context: gone\ncontexts: []\n", 'context "gone" is not in contexts'),
        (
            "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: []\nusers: [{name: u, user: {}}]\n",
            'cluster "k" is not in clusters',
        ),
        (
            "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
            "clusters: [{name: k, cluster: {server: a}}, {name: k, cluster: {server: b}}]\nusers: [{name: u, user: {}}]\n",
            'cluster "k" appears 2 times in clusters; client-go refuses to load this kubeconfig',
        ),
    ],
)
def test_resolution_problems_are_reported(text, problem):
    assert problem in load_kubeconfig(text.encode()).problems


def test_first_duplicate_is_used():
    text = (
        "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "clusters: [{name: k, cluster: {server: first}}, {name: k, cluster: {server: second}}]\nusers: []\n"
    )
    config = load_kubeconfig(text.encode())
    assert config.cluster.server == "first" and config.user is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"1432 bytes long", RedactedMaterial),
        (b"-----SCRUBBED CERTIFICATE-----\n", RedactedMaterial),
        (b"", DecodeError),
        (b"- a\n- b\n", DecodeError),
    ],
)
def test_unusable_kubeconfigs(data, error):
    with pytest.raises(error):
        load_kubeconfig(data)
