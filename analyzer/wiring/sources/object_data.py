"""What a Secret or ConfigMap holds: a data key's bytes, digests of every key, annotations, and who wrote it last."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from analyzer.decode.objects import configmap_binary_data, configmap_data, managed_fields, secret_data
from analyzer.errors import DecodeError
from analyzer.wiring.sources.material import fingerprint


def data_digests(obj: dict[str, Any]) -> dict[str, tuple[str, int]]:
    try:
        if obj.get("kind") == "Secret":
            names = set(secret_data(obj))
        elif obj.get("kind") == "ConfigMap":
            names = {*configmap_data(obj), *configmap_binary_data(obj)}
        else:
            return {}
    except DecodeError:
        names = set()
    found = {}
    for name in names:
        value = object_data(obj, name)
        if value is not None:
            found[name] = (fingerprint(value), len(value))
    return found


def object_data(obj: dict[str, Any], data_key: str) -> bytes | None:
    """The bytes of ``data_key`` in a Secret or a ConfigMap (text, else binaryData); None when absent."""
    try:
        if obj.get("kind") == "Secret":
            return secret_data(obj).get(data_key)
        if obj.get("kind") == "ConfigMap":
            text = configmap_data(obj).get(data_key)
            return text.encode() if text is not None else configmap_binary_data(obj).get(data_key)
    except DecodeError:
        return None  # a malformed data field is as good as absent for the key asked for
    return None


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
