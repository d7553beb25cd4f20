"""Secret values never leave kforensic unredacted unless an engineer asks on their own terminal.

A redacted value keeps what identifies it without revealing it: its size and a short SHA-256.
Certificates are public (every TLS handshake sends them): a Secret's ``tls.crt``, ``ca.crt``,
``ca-bundle.crt`` or ``service-ca.crt`` is shown as stored, but only when it holds nothing but
CERTIFICATE blocks; anything else under such a name (a key pasted into ``tls.crt``) is redacted.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from typing import Any

from analyzer.gomodel.pem import iter_pem_blocks

# kubectl apply keeps the whole object, data included, in this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redaction_marker(raw: bytes) -> str:
    return f"<redacted: {len(raw)} bytes, sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def _decoded(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


# Data keys that hold certificates: kubernetes.io/tls secrets (tls.crt), service-account token
# secrets (ca.crt, service-ca.crt), OpenShift's trust bundles (ca-bundle.crt).
CERTIFICATE_KEYS = frozenset({"tls.crt", "ca.crt", "ca-bundle.crt", "service-ca.crt"})


def is_public_certificates(raw: bytes) -> bool:
    """Only CERTIFICATE blocks (at least one), and nothing between them that could be a key."""
    blocks = list(iter_pem_blocks(raw))
    if not blocks or any(block.type != "CERTIFICATE" for block in blocks):
        return False
    outside, position = [], 0
    for block in blocks:
        outside.append(raw[position : block.offset])
        position = block.end
    outside.append(raw[position:])
    rest = b"".join(outside)
    return b"-----BEGIN" not in rest and b"PRIVATE" not in rest.upper() and not any(c < 9 or c > 126 for c in rest if c not in b"\r\n")


def _shown(key: str, raw: bytes) -> bool:
    return key in CERTIFICATE_KEYS and is_public_certificates(raw)


def redact_object(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of an API object with every Secret value but its certificates replaced by a marker."""
    if obj.get("kind") != "Secret":
        return obj
    redacted = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        values = redacted.get(field)
        if isinstance(values, dict):
            for key, text in values.items():
                raw = _decoded(text) if field == "data" else str(text).encode()
                if not _shown(key, raw):
                    values[key] = redaction_marker(raw)
    annotations = redacted.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = redaction_marker(str(annotations[LAST_APPLIED]).encode())
    return redacted
