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
from datetime import UTC, datetime, timedelta
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from analyzer.decode.cbor import Tag, load_cbor
from analyzer.decode.envelope import ValueKind, detect_kind, unwrap_protobuf
from analyzer.gomodel.fmt import go_quote
from analyzer.gomodel.gojson import load_go_json
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
        raise DecodeError(f"{_shown(api_version)} {_shown(kind)} protobuf of {len(raw)} bytes is truncated or corrupt") from None
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
            if getattr(message, name):
                value_field = field.message_type.fields_by_name["value"]
                # encoding/json writes map keys sorted by their bytes, invalid UTF-8 replaced; two
                # keys that differ only there both appear, and a JSON reader keeps the later one.
                out[name] = {_text(key): _value(value_field, value) for key, value in _map_items(message, field)}
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


def _map_items(message: Message, field: FieldDescriptor) -> list[tuple[bytes, Any]]:
    """A map field's entries as (key bytes, value), sorted by key bytes.

    gogo's generated Unmarshal for Kubernetes types copies a map key into a Go string without a
    UTF-8 check (k8s.io/api/core/v1/generated.pb.go, ``mapkey = string(dAtA[...])``), so a stored
    Secret can hold such a key and the apiserver serves it. upb iterates such a key as bytes but
    cannot look it up again (it wants a valid str), so then the entries are read from the wire.
    """
    entries = getattr(message, field.name)
    try:
        items = [(_raw(key), entries[key]) for key in entries]
    except UnicodeDecodeError:
        items = _map_items_from_wire(message, field)
    return sorted(items, key=lambda item: item[0])


def _map_items_from_wire(message: Message, field: FieldDescriptor) -> list[tuple[bytes, Any]]:
    if field.message_type.fields_by_name["value"].message_type is not None:
        raise DecodeError(f"{message.DESCRIPTOR.name}.{field.name} has a key that is not UTF-8")
    found: dict[bytes, bytes] = {}
    # upb re-serializes what it parsed, so the bytes are well-formed; the last entry for a key
    # wins, as in Go's generated code and upb.
    for number, entry in _wire_fields(message.SerializeToString()):
        if number == field.number and isinstance(entry, bytes):
            parts = {part_number: part for part_number, part in _wire_fields(entry)}
            key, value = parts.get(1, b""), parts.get(2, b"")
            if isinstance(key, bytes) and isinstance(value, bytes):
                found[key] = value
    return list(found.items())


def _wire_fields(raw: bytes) -> Iterator[tuple[int, bytes | int]]:
    """(field number, bytes or integer) of each field of a serialized protobuf message."""
    at = 0
    while at < len(raw):
        tag, at = _varint(raw, at)
        wire_type = tag & 7
        value: bytes | int
        if wire_type == 0:
            value, at = _varint(raw, at)
        elif wire_type == 2:
            length, at = _varint(raw, at)
            value, at = raw[at : at + length], at + length
        elif wire_type in (1, 5):
            width = 8 if wire_type == 1 else 4
            value, at = raw[at : at + width], at + width
        else:  # groups: never part of a Kubernetes type
            raise DecodeError(f"protobuf field {tag >> 3} has wire type {wire_type}, which no Kubernetes type uses")
        yield tag >> 3, value


def _varint(raw: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(raw) or shift > 63:
            raise DecodeError("protobuf varint is truncated or too long")
        byte = raw[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def _raw(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


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
        return load_go_json(fields.Raw)
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
    # The apiserver reads stored JSON with sigs.k8s.io/json: Go's reading, not Python's.
    try:
        return load_go_json(value)
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
        raise DecodeError(f"{encoding} {_shown(api_version)} {_shown(kind)} has a metadata that is not an object")
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
    return f"{_shown(str(obj.get('apiVersion')))} {_shown(str(obj.get('kind')))} {_shown(name) if name else '(unnamed)'}"


def _shown(text: str) -> str:
    # Names come from the stored bytes: a newline or control character in one must not break the
    # one-line message (found by fuzz/target_values.py), so such a name is shown quoted as Go's %q.
    return text if text.isprintable() else go_quote(text)
