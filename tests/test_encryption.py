"""Encryption at rest: Kubernetes' published vectors, every provider, and every way it can fail."""

from __future__ import annotations

import os

import pytest

from analyzer.decode.encryption import (
    decrypt_value,
    load_encryption_config,
    open_aesgcm,
    open_kms_v2_data,
    resource_of,
)
from analyzer.errors import DecodeError, DecryptionError
from analyzer.pb import kms_v2_pb2
from tests.fixtures.encryption import encrypt_value, encryption_config_yaml

ETCD_KEY = b"/registry/secrets/default/mysecret"
PLAINTEXT = b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret"


# -- Kubernetes' own known-answer tests (kubernetes/apiserver pkg/storage/value/encrypt/aes/aes_test.go)


def test_aes_gcm_known_answer():
    payload = bytes.fromhex(
        "9f27c8fcea8a58c467d8e437dbf2d85955f9b4bd912f4ef967d788a0cb07797dac0a3f0a0845605ca85ac8562b4ae1"
    )
    assert open_aesgcm(b"snorlax_awesomes", payload, b"bamboo") == b"pandas are the best"
    with pytest.raises(DecryptionError, match="authentication failed"):
        open_aesgcm(b"snorlax_awesomes", payload, b"panda")  # the associated data is bound in


def test_kms_v2_extended_nonce_known_answer():
    seed = bytes.fromhex("5d40323a820ff95561675e3b95e81867c5fdd561d35a88a2d08b08aa9d4fcf5c")
    data = bytes.fromhex(
        "2442759e33945fbad709db577a0f037fd8a709fc76979b8942209debcecb9d57efe3d6ff6a1ef6ee9a5003b9833b3043"
        "cec1e47b35175b151107a8d2416b0e296bbf66b5d102fcefdf9a78f293d271"
    )
    assert open_kms_v2_data(seed, data, b"bamboo", kdf=True) == b"pandas are the best"


# -- every static provider, written the way the apiserver writes ----------------------------------


@pytest.mark.parametrize("provider", ["aescbc", "aesgcm", "secretbox"])
@pytest.mark.parametrize("key_name", ["key1", "2", "name:with:colons"])
def test_round_trip(provider, key_name):
    secret = os.urandom(32)
    config = load_encryption_config(encryption_config_yaml([(provider, key_name, secret)]).encode(), "enc.yaml")
    stored = encrypt_value(provider, key_name, secret, PLAINTEXT, ETCD_KEY)
    opened = decrypt_value(stored, ETCD_KEY, config)
    assert (opened.plaintext, opened.provider, opened.key_name) == (PLAINTEXT, provider, key_name)


def test_legacy_config_and_16_byte_aes_keys():
    secret = os.urandom(16)
    config = load_encryption_config(encryption_config_yaml([("aescbc", "old", secret)], legacy=True).encode(), "legacy.yaml")
    stored = encrypt_value("aescbc", "old", secret, PLAINTEXT, ETCD_KEY)
    assert decrypt_value(stored, ETCD_KEY, config).plaintext == PLAINTEXT


def test_same_key_name_in_two_providers_tries_the_next():
    wrong, right = os.urandom(32), os.urandom(32)
    config = load_encryption_config(encryption_config_yaml([("aescbc", "k", wrong), ("aescbc", "k", right)]).encode(), "enc.yaml")
    stored = encrypt_value("aescbc", "k", right, PLAINTEXT * 3, ETCD_KEY)
    assert decrypt_value(stored, ETCD_KEY, config).plaintext == PLAINTEXT * 3


def test_plaintext_passes_through_as_identity():
    opened = decrypt_value(PLAINTEXT, ETCD_KEY, None)
    assert opened.provider == "identity" and opened.plaintext == PLAINTEXT


# -- failures: each one clear, none revealing key material ----------------------------------------


def _config(provider, name, secret):
    return load_encryption_config(encryption_config_yaml([(provider, name, secret)]).encode(), "enc.yaml")


@pytest.mark.parametrize("provider", ["aescbc", "aesgcm", "secretbox"])
def test_wrong_key_names_the_key(provider):
    stored = encrypt_value(provider, "key1", os.urandom(32), PLAINTEXT * 4, ETCD_KEY)
    wrong = os.urandom(32)
    with pytest.raises(DecryptionError) as raised:
        decrypt_value(stored, ETCD_KEY, _config(provider, "key1", wrong))
    message = str(raised.value)
    assert "'key1'" in message and provider in message
    assert wrong.hex() not in message and "\n" not in message


def test_aesgcm_value_moved_to_another_key_fails():
    secret = os.urandom(32)
    stored = encrypt_value("aesgcm", "key1", secret, PLAINTEXT, ETCD_KEY)
    with pytest.raises(DecryptionError, match="moved from another etcd key"):
        decrypt_value(stored, b"/registry/secrets/default/other", _config("aesgcm", "key1", secret))


@pytest.mark.parametrize(("provider", "cut", "expected"), [
    ("aescbc", 20, "truncated"),
    ("aescbc", 8, "truncated"),
    ("aesgcm", 20, "truncated"),
    ("secretbox", 30, "truncated"),
])
def test_truncated_ciphertext(provider, cut, expected):
    secret = os.urandom(32)
    stored = encrypt_value(provider, "key1", secret, PLAINTEXT, ETCD_KEY)
    prefix_length = len(f"k8s:enc:{provider}:v1:key1:")
    with pytest.raises(DecryptionError, match=expected):
        decrypt_value(stored[: prefix_length + cut], ETCD_KEY, _config(provider, "key1", secret))


def test_aescbc_bad_padding():
    secret = os.urandom(32)
    stored = bytearray(encrypt_value("aescbc", "key1", secret, PLAINTEXT, ETCD_KEY))
    stored[-17] ^= 0x01  # flips a bit of the last plaintext block through CBC: the pad byte changes
    with pytest.raises(DecryptionError, match="padding is invalid"):
        decrypt_value(bytes(stored), ETCD_KEY, _config("aescbc", "key1", secret))


def test_unconfigured_and_unknown_providers():
    stored = encrypt_value("aescbc", "key9", os.urandom(32), PLAINTEXT, ETCD_KEY)
    with pytest.raises(DecryptionError, match="aescbc key 'key9', which enc.yaml does not configure"):
        decrypt_value(stored, ETCD_KEY, _config("aescbc", "key1", os.urandom(32)))
    with pytest.raises(DecryptionError, match="--encryption-config"):
        decrypt_value(stored, ETCD_KEY, None)
    with pytest.raises(DecryptionError, match="rot13 key 'k'"):
        decrypt_value(b"k8s:enc:rot13:v1:k:xyz", ETCD_KEY, _config("aescbc", "key1", os.urandom(32)))
    bad = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - rot13: {}\n"
    with pytest.raises(DecodeError, match="unknown encryption provider 'rot13'"):
        load_encryption_config(bad.encode(), "bad.yaml")


@pytest.mark.parametrize("stored", [
    b"k8s:enc:p\x12\x01x\n8\nkubectl:v1:\xff:",  # what the value fuzz target found: a message of three lines
    b"k8s:enc:hunter2-the-plaintext",  # a damaged prefix in front of a secret's plaintext
    b"k8s:enc:aescbc:v1:hunter2 the\nplaintext:xyz",
])
def test_a_damaged_prefix_is_described_not_repeated(stored):
    with pytest.raises(DecryptionError) as raised:
        decrypt_value(stored, ETCD_KEY, _config("aescbc", "key1", os.urandom(32)))
    message = str(raised.value)
    assert "\n" not in message and "hunter2" not in message and "kubectl" not in message
    assert "no readable name" in message


def test_kms_values_need_the_plugin():
    with pytest.raises(DecryptionError, match=r"needs the KMS plugin \(provider vault\); 256-byte wrapped DEK"):
        decrypt_value(b"k8s:enc:kms:v1:vault:" + (256).to_bytes(2, "big") + os.urandom(256) + os.urandom(40), ETCD_KEY, None)
    envelope = kms_v2_pb2.EncryptedObject(encryptedData=os.urandom(64), keyID="key-2024", encryptedDEKSource=os.urandom(48))
    with pytest.raises(DecryptionError, match=r"needs the KMS plugin \(provider hsm\); key id 'key-2024', 48-byte wrapped DEK"):
        decrypt_value(b"k8s:enc:kms:v2:hsm:" + envelope.SerializeToString(), ETCD_KEY, None)


@pytest.mark.parametrize(("secret_text", "expected"), [("!!not base64!!", "not valid base64"), ("c2hvcnQ=", "is 5 bytes")])
def test_bad_key_material_is_named_not_shown(secret_text, expected):
    text = f"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n            - name: k1\n              secret: '{secret_text}'\n"
    with pytest.raises(DecodeError, match=expected) as raised:
        load_encryption_config(text.encode(), "enc.yaml")
    assert secret_text not in str(raised.value) and "'k1'" in str(raised.value)


def test_not_an_encryption_config():
    with pytest.raises(DecodeError, match="not an EncryptionConfiguration"):
        load_encryption_config(b"apiVersion: v1\nkind: Config\n", "kubeconfig")
    with pytest.raises(DecodeError, match="not valid YAML at line"):
        load_encryption_config(b"a: [b\n", "broken.yaml")


@pytest.mark.parametrize(("key", "resource"), [
    (b"/registry/secrets/ns/name", "secrets"),
    (b"/kubernetes.io/configmaps/ns/name", "configmaps"),
    (b"/registry/stable.example.com/crontabs/ns/name", "crontabs.stable.example.com"),
    (b"compact_rev_key", None),
])
def test_resource_of(key, resource):
    assert resource_of(key) == resource


def test_resource_specific_keys_are_tried_first():
    secrets_key, other_key = os.urandom(32), os.urandom(32)
    text = (
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        f"  - resources: [configmaps]\n    providers:\n      - aesgcm:\n          keys:\n            - name: k\n              secret: {__import__('base64').b64encode(other_key).decode()}\n"
        f"  - resources: [secrets]\n    providers:\n      - aesgcm:\n          keys:\n            - name: k\n              secret: {__import__('base64').b64encode(secrets_key).decode()}\n"
    )
    config = load_encryption_config(text.encode(), "enc.yaml")
    assert [k.resources for k in config.candidates(b"k8s:enc:aesgcm:v1:k:xx", "secrets")] == [("secrets",), ("configmaps",)]
    stored = encrypt_value("aesgcm", "k", secrets_key, PLAINTEXT, ETCD_KEY)
    assert decrypt_value(stored, ETCD_KEY, config).plaintext == PLAINTEXT


@pytest.mark.parametrize("text", [
    "resources: [secrets]",
    "resources:\n  - secrets",
    "resources:\n  - resources: secrets\n    providers: []",
    "resources:\n  - resources: [secrets]\n    providers:\n      - aescbc: x",
    "resources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys: k1",
])
def test_a_misshapen_config_is_one_clear_error(text):
    """Hand-edited configs get lists and mappings wrong; each is a DecodeError naming the place, never a crash."""
    document = f"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n{text}\n"
    with pytest.raises(DecodeError, match=r"^enc\.yaml: .*(not a list|not a mapping)"):
        load_encryption_config(document.encode(), "enc.yaml")
