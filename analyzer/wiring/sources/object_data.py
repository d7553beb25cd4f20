"""What a Secret or ConfigMap holds: a data key's bytes, digests of every key, annotations, and who wrote it last."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from analyzer.decode.objects import configmap_binary_data, configmap_data, managed_fields, secret_data
from analyzer.errors import DecodeError
from analyzer.wiring.sources.material import fingerprint


def data_digests(obj: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {name: (fingerprint(value), len(value)) for name, value in object_values(obj).items()}


def object_data(obj: dict[str, Any], data_key: str) -> bytes | None:
    """The bytes of ``data_key`` in a Secret or a ConfigMap (text, else binaryData); None when absent."""
    return object_values(obj).get(data_key)


def object_values(obj: dict[str, Any]) -> dict[str, bytes]:
    """Every data key of a Secret or a ConfigMap with its bytes, decoded once (a ConfigMap's text
    wins over binaryData under the same key); empty for other kinds and for a malformed data field,
    which is as good as absent for any key asked for."""
    try:
        if obj.get("kind") == "Secret":
            return secret_data(obj)
        if obj.get("kind") == "ConfigMap":
            return {**configmap_binary_data(obj), **{name: text.encode() for name, text in configmap_data(obj).items()}}
    except DecodeError:
        pass
    return {}


def last_writer(obj: dict[str, Any]) -> tuple[str | None, datetime | None]:
    """The manager and time of the most recent managedFields entry: who wrote the object last."""
    try:
        entries = managed_fields(obj)
    except Exception:  # a malformed managedFields list only costs us the attribution
        return None, None
    dated = [entry for entry in entries if entry.time_utc is not None]
    if not dated:
        return (entries[-1].manager if entries else None), None
    latest = max(dated, key=lambda entry: entry.time_utc or datetime.min.replace(tzinfo=UTC))  # all dated: see above
    return latest.manager, latest.time_utc


def annotations_of(obj: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in annotations.items()))
