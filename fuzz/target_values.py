"""Stored etcd values to objects: decryption (aescbc, aesgcm, secretbox, identity) and decoding
of protobuf, JSON and CBOR, then the typed views the analysis reads (Secret data, ConfigMap data,
managedFields).

The EncryptionConfiguration holds the test keys of ``harness.VALUE_KEYS``; seeds are encrypted
with them, so mutations reach the plaintext decoders as well as the ciphers' error paths. No
message may carry a key, and every decoded string must be writable as UTF-8.
"""

from __future__ import annotations

import base64
import json

from harness import VALUE_ETCD_KEY, VALUE_KEYS, instrumented, run, utf8_clean

with instrumented():
    from analyzer.decode.encryption import load_encryption_config
    from analyzer.decode.objects import configmap_binary_data, configmap_data, managed_fields, secret_data
    from analyzer.decode.values import decode_value
    from analyzer.errors import DecodeError

_PROVIDERS = "".join(
    f"      - {provider}:\n          keys:\n            - name: {name}\n              secret: {base64.b64encode(secret).decode()}\n"
    for provider, name, secret in VALUE_KEYS
)
CONFIG = load_encryption_config(
    ("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n"
     "      - configmaps\n    providers:\n" + _PROVIDERS + "      - identity: {}\n").encode(),
    "fuzz-encryption-config.yaml",
)
_SECRETS = [base64.b64encode(secret).decode() for _, _, secret in VALUE_KEYS] + [secret.hex() for _, _, secret in VALUE_KEYS]
_VIEWS = {"Secret": (secret_data,), "ConfigMap": (configmap_data, configmap_binary_data)}


def test_one(data: bytes) -> None:
    decoded = decode_value(data, etcd_key=VALUE_ETCD_KEY, mod_revision=7, encryption=CONFIG)
    if decoded.error is not None:
        utf8_clean(decoded.error)
        assert "\n" not in decoded.error and not any(secret in decoded.error for secret in _SECRETS), decoded.error
        return
    obj = decoded.object
    assert obj is not None
    utf8_clean(json.dumps(obj, ensure_ascii=False, sort_keys=True))
    views = _VIEWS.get(obj["kind"], ()) if obj.get("apiVersion") == "v1" else ()
    for view in (*views, managed_fields):
        try:
            view(obj)
        except DecodeError:
            pass


if __name__ == "__main__":
    run(test_one)
