"""Plaintext etcd values as the Kubernetes API JSON form, and small typed views over that form.

Every storage encoding ends up as the ``dict`` the kube-apiserver would return for the object, so
the analysis reads one shape whether the value was protobuf, JSON or CBOR. Protobuf values of the
modelled kinds (``MODELLED_KINDS``) decode in full as far as schemas/k8s_core_v1.proto models
them; every other protobuf kind decodes to apiVersion, kind and metadata, because field 1 of every
stored object is its ObjectMeta. Decryption happens before this module (``k8s:enc:`` values are
refused here).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import UTC, datetime, timedelta
from collections.abc import Callable
from typing import Any, NamedTuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from analyzer.decode.cbor import Tag, load_cbor
from analyzer.decode.envelope import ValueKind, detect_kind, unwrap_protobuf
from analyzer.pb import k8s_apps_v1_pb2, k8s_core_v1_pb2, k8s_json_pb2, k8s_meta_v1_pb2
from analyzer.errors import DecodeError

MODELLED_KINDS: dict[tuple[str, str], type[Message]] = {
    ("v1", "ConfigMap"): k8s_core_v1_pb2.ConfigMap,
    ("v1", "Pod"): k8s_core_v1_pb2.Pod,
    ("v1", "Secret"): k8s_core_v1_pb2.Secret,
    ("v1", "ServiceAccount"): k8s_core_v1_pb2.ServiceAccount,
    # A self-hosted control plane's components (wiring/selfhosted.py).
    ("apps/v1", "DaemonSet"): k8s_apps_v1_pb2.DaemonSet,
    ("apps/v1", "Deployment"): k8s_apps_v1_pb2.Deployment,
}


class ManagedField(NamedTuple):
    """One ``metadata.managedFields`` entry: who last wrote the object, how and when."""

    manager: str
    operation: str
    time_utc: datetime | None
    subresource: str


def load_object(value: bytes, *, mod_revision: int | None = None) -> dict[str, Any]:
    """Decode a plaintext etcd value into the API JSON form (apiVersion, kind, metadata first).

    ``mod_revision`` becomes ``metadata.resourceVersion``: the storage layer clears that field
    before writing and the apiserver fills it from the etcd revision when reading.
    """
    kind = detect_kind(value)
    if kind is ValueKind.PROTOBUF:
        obj = _load_protobuf(value)
    elif kind is ValueKind.JSON:
        obj = _api_form(_parse_json(value), "JSON")
    elif kind is ValueKind.CBOR:
        obj = _api_form(_cbor_json(load_cbor(value)), "CBOR")
    elif kind is ValueKind.ENCRYPTED:
        raise DecodeError("value is encrypted at rest (k8s:enc: prefix); decrypt it before decoding")
    else:
        raise DecodeError("value is not a Kubernetes object: no protobuf, JSON or CBOR prefix")
    if mod_revision is not None:
        obj["metadata"]["resourceVersion"] = str(mod_revision)
    return obj


def secret_data(obj: dict[str, Any]) -> dict[str, bytes]:
    """The bytes a Secret hands to its consumers: ``data``, overlaid with any ``stringData``.

    stringData is write-only in the API; Convert_v1_Secret_To_core_Secret copies it over data, so a
    stored object that still carries it serves those values.
    """
    _expect_kind(obj, "Secret")
    data = {key: _base64_value(obj, "data", key, text) for key, text in _string_map(obj, "data").items()}
    data.update((key, text.encode()) for key, text in _string_map(obj, "stringData").items())
    return data


def configmap_data(obj: dict[str, Any]) -> dict[str, str]:
    """A ConfigMap's ``data`` (text values, e.g. CA bundles)."""
    _expect_kind(obj, "ConfigMap")
    return _string_map(obj, "data")


def configmap_binary_data(obj: dict[str, Any]) -> dict[str, bytes]:
    """A ConfigMap's ``binaryData``, base64-decoded."""
    _expect_kind(obj, "ConfigMap")
    return {
        key: _base64_value(obj, "binaryData", key, text)
        for key, text in _string_map(obj, "binaryData").items()
    }


def managed_fields(obj: dict[str, Any]) -> list[ManagedField]:
    """The object's managedFields entries in stored order, times as aware UTC datetimes."""
    entries = obj.get("metadata", {}).get("managedFields", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise DecodeError(f"{_describe(obj)}: metadata.managedFields is not a list of objects")
    return [
        ManagedField(
            manager=entry.get("manager", ""),
            operation=entry.get("operation", ""),
            time_utc=_parse_time(obj, entry.get("time")),
            subresource=entry.get("subresource", ""),
        )
        for entry in entries
    ]


# --- protobuf -----------------------------------------------------------------------------------


def _load_protobuf(value: bytes) -> dict[str, Any]:
    api_version, kind, raw = unwrap_protobuf(value)
    message = MODELLED_KINDS.get((api_version, kind), k8s_meta_v1_pb2.PartialObject)()
    try:
        message.ParseFromString(raw)
    except ProtobufDecodeError:
        raise DecodeError(f"{api_version} {kind} protobuf of {len(raw)} bytes is truncated or corrupt") from None
    return _api_form({"apiVersion": api_version, "kind": kind, **_message_json(message)}, "protobuf")


class _Field(NamedTuple):
    descriptor: FieldDescriptor
    keep_zero: bool
    inline: bool
    is_map: bool


@functools.cache
def _plan(descriptor: Descriptor) -> tuple[_Field, ...]:
    # Declaration order, not field-number order: the schemas declare fields in Go struct order.
    plan = []
    for field in descriptor.fields:
        options = field.GetOptions().Extensions
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        plan.append(_Field(field, options[k8s_json_pb2.keep_zero], options[k8s_json_pb2.inline], is_map))
    return tuple(plan)


def _message_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, keep_zero, inline, is_map in _plan(message.DESCRIPTOR):
        name = field.name
        if is_map:
            entries = getattr(message, name)
            if entries:
                value_field = field.message_type.fields_by_name["value"]
                # encoding/json writes map keys sorted; doing the same keeps the output deterministic.
                out[name] = {
                    _text(key): _value(value_field, entries[key]) for key in sorted(entries, key=_text)
                }
        elif field.is_repeated:
            items = getattr(message, name)
            if items:
                out[name] = [_value(field, item) for item in items]
        elif field.message_type is not None:
            # Message fields follow protobuf presence: gogo writes Go structs always and pointers
            # when non-nil, which is exactly when encoding/json shows them.
            if message.HasField(name):
                if inline:
                    out.update(_message_json(getattr(message, name)))
                else:
                    out[name] = _value(field, getattr(message, name))
        elif message.HasField(name):
            scalar = getattr(message, name)
            if keep_zero or scalar:
                out[name] = _value(field, scalar)
    return out


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        convert: Callable[[Any], Any] = _SPECIAL_MESSAGES.get(str(field.message_type.full_name), _message_json)
        return convert(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if field.type == FieldDescriptor.TYPE_STRING:
        return _text(value)
    return value


def _text(value: str | bytes) -> str:
    # proto2 strings are not UTF-8 checked (gogo writes Go strings as they are) and upb returns bytes
    # for invalid ones; encoding/json replaces each invalid byte with U+FFFD, and so do we.
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _time_json(time: Message) -> str | None:
    # metav1.Time.Unmarshal reads empty bytes as the zero time, which MarshalJSON writes as null.
    if time.ByteSize() == 0:
        return None
    try:
        moment = _EPOCH + timedelta(seconds=time.seconds)
    except OverflowError:
        raise DecodeError(f"metav1.Time of {time.seconds} seconds is outside years 1-9999") from None
    return moment.isoformat(timespec="seconds").removesuffix("+00:00") + "Z"


def _fields_v1_json(fields: Message) -> Any:
    try:
        return json.loads(fields.Raw)
    except (ValueError, RecursionError):
        raise DecodeError("managedFields fieldsV1 is not a JSON document") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPECIAL_MESSAGES: dict[str, Callable[[Any], Any]] = {
    k8s_meta_v1_pb2.Time.DESCRIPTOR.full_name: _time_json,
    k8s_meta_v1_pb2.FieldsV1.DESCRIPTOR.full_name: _fields_v1_json,
    k8s_meta_v1_pb2.Quantity.DESCRIPTOR.full_name: lambda quantity: _text(quantity.string),
}


# --- JSON and CBOR ------------------------------------------------------------------------------


def _parse_json(value: bytes) -> Any:
    try:
        return json.loads(value)
    except RecursionError:
        raise DecodeError("JSON value nests too deeply to decode") from None
    except ValueError as error:
        raise DecodeError(f"JSON value does not parse: {error}") from None


def _cbor_json(item: object) -> Any:
    """Map decoded CBOR to the values the apiserver's CBOR decoder gives Unstructured objects."""
    if isinstance(item, bytes):
        # The storage encoder writes every Go string as a byte string (StringToByteString), and
        # DefaultByteStringType turns them back into strings.
        return _text(item)
    if isinstance(item, list):
        return [_cbor_json(element) for element in item]
    if isinstance(item, dict):
        converted: dict[str, Any] = {}
        for key, element in item.items():
            name = _text(key)
            if name in converted:
                raise DecodeError(f"CBOR map has the key {name!r} both as a text and as a byte string")
            converted[name] = _cbor_json(element)
        return converted
    if isinstance(item, Tag):
        if isinstance(item.content, bytes) and item.number in _EXPECTED_LATER_ENCODING:
            return _EXPECTED_LATER_ENCODING[item.number](item.content)
        # UnrecognizedTagContentToAny: any other tag stands for its content.
        return _cbor_json(item.content)
    return item


# RFC 8949 §3.4.5.2 "expected later encoding" tags around byte strings: the encoder wraps []byte in
# tag 22 so that, decoded into a string, they read as the same base64 text JSON would carry.
_EXPECTED_LATER_ENCODING: dict[int, Callable[[bytes], Any]] = {
    21: lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii"),
    22: lambda raw: base64.b64encode(raw).decode("ascii"),
    23: lambda raw: raw.hex(),
}


def _api_form(obj: Any, encoding: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DecodeError(f"{encoding} value is a {type(obj).__name__}, not a Kubernetes object")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not (isinstance(api_version, str) and isinstance(kind, str) and api_version and kind):
        raise DecodeError(f"{encoding} object has no apiVersion and kind strings")
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise DecodeError(f"{encoding} {api_version} {kind} has a metadata that is not an object")
    # ObjectMeta is a struct in every Go kind, so the API always shows metadata, if only as {}.
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **obj}


# --- views --------------------------------------------------------------------------------------


def _expect_kind(obj: dict[str, Any], kind: str) -> None:
    if obj.get("apiVersion") != "v1" or obj.get("kind") != kind:
        raise ValueError(f"expected a v1 {kind}, got {_describe(obj)}")


def _string_map(obj: dict[str, Any], field: str) -> dict[str, str]:
    mapping = obj.get(field, {})
    if not isinstance(mapping, dict) or not all(isinstance(text, str) for text in mapping.values()):
        raise DecodeError(f"{_describe(obj)}: {field} is not a map of strings")
    return mapping


def _base64_value(obj: dict[str, Any], field: str, key: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise DecodeError(f"{_describe(obj)}: {field}[{key!r}] is not valid base64") from None


def _parse_time(obj: dict[str, Any], text: Any) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise DecodeError(f"{_describe(obj)}: managedFields time {text!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise DecodeError(f"{_describe(obj)}: managedFields time {text!r} has no time zone")
    return moment.astimezone(UTC)


def _describe(obj: dict[str, Any]) -> str:
    found = obj.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    name = "/".join(str(part) for part in (metadata.get("namespace"), metadata.get("name")) if part)
    return f"{obj.get('apiVersion')} {obj.get('kind')} {name or '(unnamed)'}"
