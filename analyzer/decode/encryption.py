"""Encryption at rest: read an EncryptionConfiguration and open ``k8s:enc:`` values offline.

Facts from ``shared/docs/etcd-snapshot-format.md`` section E (kubernetes/apiserver
pkg/server/options/encryptionconfig, pkg/storage/value/encrypt). The apiserver tries the
configured providers in order, matching the stored prefix ``k8s:enc:<provider>:v1:<name>:``
exactly (key names may themselves contain ``:``), and keeps trying on a decryption failure; so do
we. KMS envelopes need the external KMS to unwrap their key, which an offline tool cannot reach.

Key material never leaves this module in a message: errors name providers and key names only.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from google.protobuf.message import DecodeError as ProtobufDecodeError

from analyzer.decode.envelope import ENCRYPTED_PREFIX
from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.errors import DecodeError, DecryptionError
from analyzer.pb import kms_v2_pb2
from analyzer.records import datarecord

AES_BLOCK = 16
GCM_NONCE = 12
GCM_TAG = 16
SECRETBOX_NONCE = 24
SECRETBOX_TAG = 16
KMS_V2_INFO = 32  # HKDF info bytes in front of a KMSv2 KDF payload (aes_extended_nonce.go)
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZE = 32
STATIC_PROVIDERS = ("aescbc", "aesgcm", "secretbox")


@datarecord
class ProviderKey:
    """One key of one provider in one resource group, in configured order."""

    provider: str  # aescbc | aesgcm | secretbox | kms | identity
    name: str  # key name, or the KMS provider name
    resources: tuple[str, ...]
    secret: bytes = field(default=b"", repr=False)
    kms_api_version: str = ""

    @property
    def prefix(self) -> bytes:
        if self.provider == "kms":
            return f"k8s:enc:kms:{self.kms_api_version or 'v1'}:{self.name}:".encode()
        return f"k8s:enc:{self.provider}:v1:{self.name}:".encode()

    def describe(self) -> str:
        return f"{self.provider} key {self.name!r}" if self.provider != "kms" else f"KMS provider {self.name!r}"


@datarecord
class EncryptionConfig:
    source: str
    keys: tuple[ProviderKey, ...]

    def candidates(self, stored: bytes, resource: str | None) -> list[ProviderKey]:
        """Keys whose prefix the value carries, those configured for its resource first."""
        matching = [key for key in self.keys if key.provider != "identity" and stored.startswith(key.prefix)]
        if resource is None:
            return matching
        own = [key for key in matching if _covers(key.resources, resource)]
        return own + [key for key in matching if key not in own]


@datarecord
class Decrypted:
    plaintext: bytes
    provider: str  # "identity" when the value was stored in the clear
    key_name: str | None


def _covers(patterns: tuple[str, ...], resource: str) -> bool:
    group = resource.partition(".")[2]
    for pattern in patterns:
        if pattern in (resource, "*.*") or (pattern == "*." and not group) or (pattern.startswith("*.") and pattern[2:] == group):
            return True
    return False


def merge_encryption_configs(configs: list[EncryptionConfig]) -> EncryptionConfig | None:
    """Several configurations (one per revision or master) as one: every key is a candidate."""
    if not configs:
        return None
    if len(configs) == 1:
        return configs[0]
    keys = tuple(dict.fromkeys(key for config in configs for key in config.keys))
    return EncryptionConfig(" + ".join(config.source for config in configs), keys)


def resource_of(etcd_key: bytes) -> str | None:
    """``secrets`` for /registry/secrets/…, ``routes.route.openshift.io`` for /openshift.io/routes/…"""
    parts = etcd_key.decode("utf-8", "replace").split("/")
    if len(parts) < 4 or parts[0] != "":
        return None
    if parts[1] == "openshift.io":
        return None  # OpenShift API resources: the group is not in the key; try every candidate
    if "." in parts[2] and len(parts) > 4:
        return f"{parts[3]}.{parts[2]}"
    return parts[2]


# -- loading the configuration --------------------------------------------------------------------


def load_encryption_config(data: bytes, source: str) -> EncryptionConfig:
    """Parse ``apiserver.config.k8s.io/v1`` EncryptionConfiguration or the legacy ``v1`` EncryptionConfig."""
    document = load_yaml_mapping(data, source)
    if document.get("kind") not in ("EncryptionConfiguration", "EncryptionConfig"):
        raise DecodeError(f"{source}: not an EncryptionConfiguration (kind is {document.get('kind')!r})")
    keys: list[ProviderKey] = []
    for group_index, group in enumerate(_list(document.get("resources"), source, "resources")):
        group = group or {}
        if not isinstance(group, dict):
            raise DecodeError(f"{source}: resources[{group_index}] is not a mapping")
        resources = tuple(str(r) for r in _list(group.get("resources"), source, f"resources[{group_index}].resources"))
        for provider_entry in _list(group.get("providers"), source, f"resources[{group_index}].providers"):
            if not isinstance(provider_entry, dict) or len(provider_entry) != 1:
                raise DecodeError(f"{source}: resources[{group_index}] has a provider entry that is not one provider")
            ((provider, settings),) = provider_entry.items()
            settings = settings or {}
            if not isinstance(settings, dict):
                raise DecodeError(f"{source}: the {provider} provider of resources[{group_index}] is not a mapping")
            if provider == "identity":
                keys.append(ProviderKey("identity", "", resources))
            elif provider in STATIC_PROVIDERS:
                for key in _list(settings.get("keys"), source, f"the {provider} keys of resources[{group_index}]"):
                    keys.append(_static_key(source, provider, key, resources))
            elif provider == "kms":
                keys.append(ProviderKey("kms", str(settings.get("name", "")), resources, kms_api_version=str(settings.get("apiVersion", "v1"))))
            else:
                raise DecodeError(f"{source}: unknown encryption provider {provider!r} in resources[{group_index}]")
    return EncryptionConfig(source, tuple(keys))


def _list(value: object, source: str, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"{source}: {what} is not a list")
    return value


def _static_key(source: str, provider: str, entry: object, resources: tuple[str, ...]) -> ProviderKey:
    if not isinstance(entry, dict) or "name" not in entry or "secret" not in entry:
        raise DecodeError(f"{source}: a {provider} key needs a name and a secret")
    name = str(entry["name"])
    try:
        secret = base64.b64decode(str(entry["secret"]), validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError(f"{source}: the secret of {provider} key {name!r} is not valid base64") from None
    sizes = (SECRETBOX_KEY_SIZE,) if provider == "secretbox" else AES_KEY_SIZES
    if len(secret) not in sizes:
        raise DecodeError(f"{source}: {provider} key {name!r} is {len(secret)} bytes; expected {' or '.join(map(str, sizes))}")
    return ProviderKey(provider, name, resources, secret)


# -- decrypting -----------------------------------------------------------------------------------


# What of "k8s:enc:<provider>:<v1|v2>:<name>:" (apiserver/pkg/storage/value/encrypt) a message may
# repeat: a provider spelled like one, followed by a version, and a name of printable ASCII
# without ':' or spaces.
_PROVIDER_NAME = re.compile(rb"[a-z0-9]{1,32}")
_PRINTABLE_NAME = re.compile(rb"[!-9;-~]{1,128}")


def stored_provider(value: bytes) -> tuple[str, str | None]:
    """(provider, key name) as far as the prefix alone tells; the name is a best guess without a config.

    Only a known provider and a printable name are ever repeated: the bytes after "k8s:enc:" of a
    damaged value may be anything, the plaintext of a secret included, and must not reach a message.
    """
    if not value.startswith(ENCRYPTED_PREFIX):
        return "identity", None
    fields = value[len(ENCRYPTED_PREFIX) :].split(b":", 3)
    if len(fields) < 3 or fields[1] not in (b"v1", b"v2") or not _PROVIDER_NAME.fullmatch(fields[0]):
        return "an unknown provider", None
    provider = fields[0].decode("ascii")
    name = fields[2].decode("ascii") if _PRINTABLE_NAME.fullmatch(fields[2]) else None
    if provider == "kms":
        provider = f"kms {fields[1].decode('ascii')}"
    return provider, name


def decrypt_value(value: bytes, etcd_key: bytes, config: EncryptionConfig | None) -> Decrypted:
    """The plaintext of a stored value, or DecryptionError saying which key it needs."""
    if not value.startswith(ENCRYPTED_PREFIX):
        return Decrypted(value, "identity", None)
    provider, name = stored_provider(value)
    shown = repr(name) if name is not None else "(no readable name)"
    label = f"{provider} key {shown}" if not provider.startswith("kms") else f"KMS provider {shown}"
    if provider.startswith("kms"):
        detail = _kms_detail(value)
        raise DecryptionError(f"encrypted with {label} ({provider}): needs the KMS plugin (provider {name}){detail}")
    if config is None:
        raise DecryptionError(f"encrypted with {label}; give the cluster's EncryptionConfiguration (--encryption-config)")
    candidates = config.candidates(value, resource_of(etcd_key))
    if not candidates:
        raise DecryptionError(f"encrypted with {label}, which {config.source} does not configure")
    failures = []
    for key in candidates:
        try:
            return Decrypted(_open(key, value[len(key.prefix) :], etcd_key), key.provider, key.name)
        except DecryptionError as err:
            failures.append(str(err))
    raise DecryptionError(f"encrypted with {label}; the configured key does not open it: {'; '.join(dict.fromkeys(failures))}")


def _open(key: ProviderKey, payload: bytes, etcd_key: bytes) -> bytes:
    if key.provider == "aescbc":
        return open_aescbc(key.secret, payload)
    if key.provider == "aesgcm":
        return open_aesgcm(key.secret, payload, etcd_key)
    return open_secretbox(key.secret, payload)


def open_aescbc(secret: bytes, payload: bytes) -> bytes:
    """IV ‖ AES-CBC ciphertext with PKCS#7 padding; no authentication, so padding is the only check."""
    body = payload[AES_BLOCK:]
    if len(payload) < 2 * AES_BLOCK or len(body) % AES_BLOCK:
        raise DecryptionError(f"aescbc ciphertext is truncated ({len(payload)} bytes is not an IV plus whole blocks)")
    decryptor = Cipher(algorithms.AES(secret), modes.CBC(payload[:AES_BLOCK])).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    pad = padded[-1]
    # aes.go cbc.TransformFromStorage checks every padding byte.
    if not 1 <= pad <= AES_BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise DecryptionError("aescbc padding is invalid: wrong key, or the data is corrupt")
    return padded[:-pad]


def open_aesgcm(secret: bytes, payload: bytes, associated_data: bytes) -> bytes:
    """nonce ‖ ciphertext ‖ tag; the associated data is the full etcd key (store.go authenticatedDataString)."""
    if len(payload) < GCM_NONCE + GCM_TAG:
        raise DecryptionError(f"aesgcm ciphertext is truncated ({len(payload)} bytes)")
    try:
        return AESGCM(secret).decrypt(payload[:GCM_NONCE], payload[GCM_NONCE:], associated_data)
    except InvalidTag:
        raise DecryptionError("aesgcm authentication failed: wrong key, the value was moved from another etcd key, or it is corrupt") from None


def open_secretbox(secret: bytes, payload: bytes) -> bytes:
    """NaCl secretbox: nonce(24) ‖ Poly1305 tag ‖ XSalsa20 ciphertext."""
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    if len(payload) < SECRETBOX_NONCE + SECRETBOX_TAG:
        raise DecryptionError(f"secretbox ciphertext is truncated ({len(payload)} bytes)")
    try:
        return SecretBox(secret).decrypt(payload)
    except CryptoError:
        raise DecryptionError("secretbox authentication failed: wrong key, or the data is corrupt") from None


def open_kms_v2_data(unwrapped: bytes, encrypted_data: bytes, associated_data: bytes, *, kdf: bool) -> bytes:
    """The data part of a KMS v2 EncryptedObject, once the KMS has unwrapped its key or seed.

    With the KDF (always written since Kubernetes 1.29) the unwrapped value is a seed; the
    per-object key is HKDF-Expand(SHA-256, seed, info = the payload's first 32 bytes).
    """
    if kdf:
        info, encrypted_data = encrypted_data[:KMS_V2_INFO], encrypted_data[KMS_V2_INFO:]
        key = HKDFExpand(hashes.SHA256(), 32, info).derive(unwrapped)
    else:
        key = unwrapped
    return open_aesgcm(key, encrypted_data, associated_data)


def _kms_detail(value: bytes) -> str:
    """What can be said about a KMS value without the KMS: the DEK or key id, never key bytes."""
    fields = value[len(ENCRYPTED_PREFIX) :].split(b":", 3)
    if len(fields) < 4:
        return ""
    version, payload = fields[1], fields[3]
    if version == b"v2":
        message = kms_v2_pb2.EncryptedObject()
        try:
            message.ParseFromString(payload)
        except ProtobufDecodeError:
            return "; its EncryptedObject does not parse"
        return f"; key id {message.keyID!r}, {len(message.encryptedDEKSource)}-byte wrapped DEK"
    if len(payload) >= 2:
        return f"; {int.from_bytes(payload[:2], 'big')}-byte wrapped DEK"
    return ""
