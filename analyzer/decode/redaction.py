"""Secret values never leave kforensic unredacted unless an engineer asks on their own terminal.

A redacted value keeps what identifies it without revealing it: its size and a short SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from typing import Any

# kubectl apply keeps the whole object, data included, in this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redaction_marker(raw: bytes) -> str:
    return f"<redacted: {len(raw)} bytes, sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def _decoded(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def redact_object(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of an API object with every Secret value replaced by its marker."""
    if obj.get("kind") != "Secret":
        return obj
    redacted = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        values = redacted.get(field)
        if isinstance(values, dict):
            for key, text in values.items():
                raw = _decoded(text) if field == "data" else str(text).encode()
                values[key] = redaction_marker(raw)
    annotations = redacted.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = redaction_marker(str(annotations[LAST_APPLIED]).encode())
    return redacted
