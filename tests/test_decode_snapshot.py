"""Objects written into a real etcd come back out of its snapshot decoded, decrypted and redacted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures import k8s_objects as k8s
from tests.fixtures.encryption import encrypt_value, encryption_config_yaml
from tests.fixtures.etcd_server import EtcdServer

SECRET_VALUE = b"correct horse battery staple"
KEYS = {provider: os.urandom(32) for provider in ("aescbc", "aesgcm", "secretbox")}


@pytest.fixture(scope="module")
def decoding_case(real_etcd, tmp_path_factory):
    root = tmp_path_factory.mktemp("decoding")
    written: dict[str, bytes] = {}
    with EtcdServer() as etcd:
        client = etcd.client()

        def put(key: str, value: bytes) -> None:
            written[key] = value
            client.put(key, value)

        put("/registry/secrets/default/plain", k8s.secret("default", "plain", {"password": SECRET_VALUE},
                                                         writes=[k8s.Write("kubectl-edit", k8s.EPOCH_2024)]))
        put("/registry/configmaps/default/cm", k8s.configmap("default", "cm", {"ca.crt": "---- not secret ----"}))
        put("/registry/serviceaccounts/default/builder", k8s.service_account("default", "builder"))
        put("/registry/pods/kube-system/kube-apiserver-m1", k8s.pod(
            "kube-system", "kube-apiserver-m1", node_name="m1", host_paths={"k8s-certs": "/etc/kubernetes/pki"},
            containers=[{"name": "kube-apiserver", "command": ["kube-apiserver", "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt"],
                         "mounts": {"k8s-certs": "/etc/kubernetes/pki"}}]))
        put("/registry/config.openshift.io/apiservers/cluster",
            k8s.custom_resource("config.openshift.io/v1", "APIServer", "cluster", {"servingCerts": {"namedCertificates": []}}))
        for provider, secret in KEYS.items():
            key = f"/registry/secrets/default/{provider}"
            plaintext = k8s.secret("default", provider, {"password": SECRET_VALUE})
            put(key, encrypt_value(provider, f"{provider}-key", secret, plaintext, key.encode()))
        put("/registry/secrets/default/kms", b"k8s:enc:kms:v1:vault:" + (8).to_bytes(2, "big") + os.urandom(8) + os.urandom(64))
        snapshot = etcd.snapshot(root / "snapshot.db")
    config = root / "encryption-config.yaml"
    config.write_text(encryption_config_yaml([(p, f"{p}-key", s) for p, s in KEYS.items()]))
    return snapshot, config, written


def kforensic(*args: str, binary: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True, text=not binary, timeout=120)


def test_objects_round_trip(decoding_case):
    snapshot, _config, _written = decoding_case
    result = kforensic("get", str(snapshot), "--prefix", "/registry/", "-o", "json")
    assert result.returncode == 0, result.stderr
    by_key = {r["key"]: r for r in json.loads(result.stdout)}
    pod = by_key["/registry/pods/kube-system/kube-apiserver-m1"]["object"]
    assert pod["spec"]["containers"][0]["command"][1] == "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt"
    assert pod["spec"]["volumes"][0] == {"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki", "type": ""}}
    assert pod["metadata"]["resourceVersion"] == str(by_key["/registry/pods/kube-system/kube-apiserver-m1"]["mod_revision"])
    assert by_key["/registry/configmaps/default/cm"]["object"]["data"] == {"ca.crt": "---- not secret ----"}
    assert by_key["/registry/serviceaccounts/default/builder"]["object"]["kind"] == "ServiceAccount"
    apiserver = by_key["/registry/config.openshift.io/apiservers/cluster"]
    assert apiserver["kind"] == "json" and apiserver["object"]["spec"] == {"servingCerts": {"namedCertificates": []}}
    plain = by_key["/registry/secrets/default/plain"]["object"]
    assert plain["metadata"]["managedFields"][0]["manager"] == "kubectl-edit"
    assert plain["data"]["password"].startswith(f"<redacted: {len(SECRET_VALUE)} bytes, sha256:")


@pytest.mark.parametrize("provider", sorted(KEYS))
def test_encrypted_secrets_open_with_the_config(decoding_case, provider):
    snapshot, config, _ = decoding_case
    key = f"/registry/secrets/default/{provider}"
    result = kforensic("get", str(snapshot), key, "-o", "json", "--encryption-config", str(config))
    (record,) = json.loads(result.stdout)
    assert record["kind"] == "encrypted" and record["encryption"] == f"{provider} key '{provider}-key'"
    assert record["object"]["metadata"]["name"] == provider
    assert "redacted" in record["object"]["data"]["password"]
    revealed = kforensic("get", str(snapshot), key, "-o", "json", "--encryption-config", str(config), "--reveal-secrets")
    import base64
    assert json.loads(revealed.stdout)[0]["object"]["data"]["password"] == base64.b64encode(SECRET_VALUE).decode()


def test_without_keys_the_reason_is_named(decoding_case):
    snapshot, _config, _ = decoding_case
    result = kforensic("get", str(snapshot), "--prefix", "/registry/secrets/", "-o", "json")
    by_key = {r["key"]: r for r in json.loads(result.stdout)}
    assert "aesgcm key 'aesgcm-key'" in by_key["/registry/secrets/default/aesgcm"]["decode_error"]
    assert "needs the KMS plugin (provider vault)" in by_key["/registry/secrets/default/kms"]["decode_error"]
    assert by_key["/registry/secrets/default/aesgcm"]["object"] is None


def test_no_secret_value_in_any_default_output(decoding_case):
    snapshot, config, _ = decoding_case
    for output in ("table", "json", "yaml"):
        result = kforensic("get", str(snapshot), "--prefix", "/registry/", "-o", output, "--encryption-config", str(config))
        assert result.returncode == 0
        assert SECRET_VALUE.decode() not in result.stdout
        assert __import__("base64").b64encode(SECRET_VALUE).decode() not in result.stdout


def test_decode_command_reads_a_raw_value(decoding_case, tmp_path):
    snapshot, config, written = decoding_case
    key = "/registry/secrets/default/aesgcm"
    raw = tmp_path / "value.bin"
    raw.write_bytes(written[key])
    result = kforensic("decode", str(raw), "--etcd-key", key, "--encryption-config", str(config), "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert "kind: Secret" in result.stdout and "redacted" in result.stdout and SECRET_VALUE.decode() not in result.stdout
    wrong_key = kforensic("decode", str(raw), "--etcd-key", "/registry/secrets/default/elsewhere", "--encryption-config", str(config))
    assert wrong_key.returncode == 2 and "authentication failed" in wrong_key.stderr
    assert len(wrong_key.stderr.strip().splitlines()) == 1
    piped = subprocess.run([sys.executable, "-m", "analyzer", "decode", "-"], input=written["/registry/configmaps/default/cm"],
                           capture_output=True, timeout=60)
    assert json.loads(piped.stdout)["data"] == {"ca.crt": "---- not secret ----"}


def test_decode_a_secret_whose_data_key_is_not_utf8():
    """Issue 17: gogo decodes such a key into a Go string and the apiserver serves it; decode used to
    end in UnicodeDecodeError (exit 3). Now it shows the key as encoding/json does, values redacted."""
    value = k8s.secret("default", "odd", {"tls.crt": b"CERT", "tls-key": b"hunter2"})
    value = value.replace(b"tls-key", b"tls\xffkey")  # same length: every protobuf length stays right
    result = subprocess.run([sys.executable, "-m", "analyzer", "decode", "-", "-o", "json"], input=value,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)
    assert sorted(decoded["data"]) == ["tls.crt", "tls\ufffdkey"]
    assert decoded["data"]["tls\ufffdkey"].startswith("<redacted: 7 bytes")
    assert b"hunter2" not in result.stdout and b"aHVudGVyMg" not in result.stdout
