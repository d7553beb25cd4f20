"""`kforensic decode` reads every form etcdctl prints, produced by a real etcdctl against a real etcd."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from analyzer.decode.etcdctl import (
    InputForm,
    InputValue,
    decode_input_value,
    load_input_values,
)
from analyzer.errors import DecodeError
from tests.fixtures import k8s_objects as k8s
from tests.fixtures.encryption import encrypt_value, encryption_config_yaml
from tests.fixtures.etcd_server import EtcdServer, etcd_bin_dir

SECRET_VALUE = b"correct horse battery staple"
KEYS = {provider: os.urandom(32) for provider in ("aescbc", "aesgcm", "secretbox")}
# A PEM bundle holds newlines: `etcdctl get` output cannot be split on lines alone.
CA_BUNDLE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _aescbc_ending_in_newline(plaintext: bytes, key: bytes) -> bytes:
    """An aescbc value whose last ciphertext byte is 0x0a (one IV in 256 gives one)."""
    for _ in range(10_000):
        value = encrypt_value("aescbc", "aescbc-key", KEYS["aescbc"], plaintext, key)
        if value.endswith(b"\n"):
            return value
    raise AssertionError("no IV gave a ciphertext ending in 0x0a")


@pytest.fixture(scope="module")
def etcdctl_case(real_etcd, tmp_path_factory):
    """A live etcd holding plain, protobuf-ending-in-newline and encrypted values, and an etcdctl for it."""
    root = tmp_path_factory.mktemp("etcdctl")
    written: dict[str, bytes] = {}
    etcd = EtcdServer().start()
    client = etcd.client()

    def put(key: str, value: bytes) -> None:
        written[key] = value
        client.put(key, value)

    put("/registry/configmaps/default/bundle", k8s.configmap("default", "bundle", {"ca-bundle.crt": CA_BUNDLE}))
    put("/registry/configmaps/default/other", k8s.configmap("default", "other", {"a": "b"}))
    for provider, secret in KEYS.items():
        key = f"/registry/secrets/default/{provider}"
        put(key, encrypt_value(provider, f"{provider}-key", secret, k8s.secret("default", provider, {"password": SECRET_VALUE}), key.encode()))
    newline_key = "/registry/secrets/default/aescbc-newline"
    put(newline_key, _aescbc_ending_in_newline(k8s.secret("default", "aescbc-newline", {"password": SECRET_VALUE}), newline_key.encode()))
    config = root / "encryption-config.yaml"
    config.write_text(encryption_config_yaml([(p, f"{p}-key", s) for p, s in KEYS.items()]))
    yield etcd, config, written
    etcd.stop()


def etcdctl(etcd: EtcdServer, *args: str) -> bytes:
    result = subprocess.run([str(etcd_bin_dir() / "etcdctl"), "--endpoints", etcd.endpoint, *args],
                            check=False, capture_output=True, timeout=60, env={**os.environ, "ETCDCTL_API": "3"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def decode(stdin: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", "decode", "-", *args], input=stdin, check=False, capture_output=True, timeout=120)


def test_the_fixture_values_end_as_the_cases_need(etcdctl_case):
    _etcd, _config, written = etcdctl_case
    # runtime.Unknown ends with its empty contentType (0x22 0x00); ciphertexts end in any byte.
    assert written["/registry/configmaps/default/bundle"].endswith(b'"\x00')
    assert written["/registry/secrets/default/aescbc-newline"].endswith(b"\n")


@pytest.mark.parametrize("key", ["/registry/configmaps/default/bundle", "/registry/secrets/default/aescbc",
                                 "/registry/secrets/default/aesgcm", "/registry/secrets/default/secretbox",
                                 "/registry/secrets/default/aescbc-newline"])
def test_print_value_only_with_its_newline(etcdctl_case, key):
    etcd, config, written = etcdctl_case
    out = etcdctl(etcd, "get", key, "--print-value-only")
    assert out == written[key] + b"\n"  # what etcdctl really prints
    result = decode(out, "--etcd-key", key, "--encryption-config", str(config))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["metadata"]["name"] == key.rpartition("/")[2]
    assert SECRET_VALUE not in result.stdout


def test_a_value_that_ends_in_a_newline_keeps_it_when_given_alone(etcdctl_case):
    """The bytes of `kforensic get --raw` or auger's extract: the final 0x0a is the ciphertext's own."""
    _etcd, config, written = etcdctl_case
    key = "/registry/secrets/default/aescbc-newline"
    result = decode(written[key], "--etcd-key", key, "--encryption-config", str(config))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metadata"]["name"] == "aescbc-newline"


def test_aescbc_with_a_newline_no_longer_blames_the_key(etcdctl_case):
    etcd, _config, _written = etcdctl_case
    key = "/registry/secrets/default/aescbc"
    out = etcdctl(etcd, "get", key, "--print-value-only")
    other = encryption_config_yaml([("aescbc", "aescbc-key", os.urandom(32))])
    wrong = etcd.workdir / "wrong-key.yaml"
    wrong.write_text(other)
    with_right_key = decode(out, "--etcd-key", key, "--encryption-config", str(etcdctl_case[1]))
    assert with_right_key.returncode == 0, with_right_key.stderr
    with_wrong_key = decode(out, "--etcd-key", key, "--encryption-config", str(wrong))
    assert with_wrong_key.returncode == 2
    assert len(with_wrong_key.stderr.strip().splitlines()) == 1


def test_json_output_decodes_every_pair(etcdctl_case):
    etcd, config, written = etcdctl_case
    out = etcdctl(etcd, "get", "/registry/", "--prefix", "-w", "json")
    result = decode(out, "--encryption-config", str(config))
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert sorted(d["key"] for d in documents) == sorted(written)
    by_key = {d["key"]: d["object"] for d in documents}
    # aesgcm authenticates the key: it opened because each pair's own key was used.
    assert by_key["/registry/secrets/default/aesgcm"]["metadata"]["name"] == "aesgcm"
    assert by_key["/registry/configmaps/default/bundle"]["data"]["ca-bundle.crt"] == CA_BUNDLE
    assert SECRET_VALUE not in result.stdout and base64.b64encode(SECRET_VALUE) not in result.stdout


def test_json_output_of_one_key_prints_its_object(etcdctl_case):
    etcd, config, _ = etcdctl_case
    out = etcdctl(etcd, "get", "/registry/secrets/default/aesgcm", "-w", "json")
    result = decode(out, "--encryption-config", str(config), "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert b"kind: Secret" in result.stdout


def test_key_and_value_lines(etcdctl_case):
    etcd, config, written = etcdctl_case
    out = etcdctl(etcd, "get", "/registry/", "--prefix")
    form, items = load_input_values(out)
    assert form is InputForm.KEY_VALUE_LINES
    # Values hold newlines of their own (the bundle, ciphertexts); the split must give them back whole.
    assert {item.key.decode(): item.value for item in items} == written
    result = decode(out, "--encryption-config", str(config))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == len(written)


def test_a_missing_key_and_keys_only_are_named(etcdctl_case):
    etcd, _config, _ = etcdctl_case
    missing = decode(etcdctl(etcd, "get", "/registry/nothing/here", "-w", "json"))
    assert missing.returncode == 2 and b"no key-value pair" in missing.stderr
    keys_only = decode(etcdctl(etcd, "get", "/registry/configmaps/default/bundle", "--keys-only"))
    assert keys_only.returncode == 2 and b"--keys-only" in keys_only.stderr
    keys_only_json = decode(etcdctl(etcd, "get", "/registry/configmaps/default/bundle", "--keys-only", "-w", "json"))
    assert keys_only_json.returncode == 2 and b"--keys-only" in keys_only_json.stderr


@pytest.mark.parametrize("data", [b"", b"\n"])
def test_empty_input(data):
    result = decode(data)
    assert result.returncode == 2
    assert b"empty input" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_conflicting_etcd_key_is_refused(etcdctl_case):
    etcd, _config, _ = etcdctl_case
    out = etcdctl(etcd, "get", "/registry/configmaps/default/other", "-w", "json")
    result = decode(out, "--etcd-key", "/registry/configmaps/default/bundle")
    assert result.returncode == 2 and b"differs" in result.stderr


def test_a_waiting_message_only_on_a_terminal():
    import pty

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "analyzer", "decode"], stdin=follower, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        os.write(leader, b"\x04")  # Ctrl-D on an empty line: end of input
        _out, err = process.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert b"waiting for an etcd value on stdin" in err
    assert b"empty input" in err
    assert b"waiting" not in decode(b"").stderr


def test_the_newline_is_dropped_only_when_it_must_be():
    plain = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}\n'
    decoded = decode_input_value(InputValue(None, plain, maybe_trailing_newline=True), etcd_key=b"", encryption=None)
    assert decoded.ok
    corrupt = b"k8s\x00\x0a\xff\n"
    failed = decode_input_value(InputValue(None, corrupt, maybe_trailing_newline=True), etcd_key=b"", encryption=None)
    assert not failed.ok and "truncated or corrupt" in (failed.error or "")


@pytest.mark.parametrize("data, message", [
    (b'{"header": {}, "kvs": [{"key": "not base64!", "value": "eA=="}]}', "not valid base64"),
    (b'{"header": {}, "kvs": "x"}', "not a list"),
    (b"/registry/only-a-key", "without a value"),
])
def test_misshapen_etcdctl_output(data, message):
    with pytest.raises(DecodeError, match=message):
        load_input_values(data)
