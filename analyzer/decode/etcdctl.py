"""Values as people extract them from a live etcd: raw, ``etcdctl get`` and ``etcdctl get -w json``.

The three shapes ``kforensic decode`` is fed in practice (etcd-io/etcd etcdctl/ctlv3/command
printer_simple.go and printer_json.go):

* ``etcdctl get KEY --print-value-only``: the stored bytes followed by one newline, because the
  simple printer ends every value with ``fmt.Println``; ``kforensic get --raw`` and auger's
  ``extract`` write the bytes alone. Both are "raw" here.
* ``etcdctl get KEY`` (or ``--prefix``): for every pair, the key, a newline, the value, a newline.
  Values are binary and may hold newlines themselves, so lines cannot simply be split; see
  ``_split_key_value_lines``.
* ``etcdctl get KEY -w json``: one JSON object ``{"header": …, "kvs": [{"key": b64, "value": b64,
  "create_revision": …, "mod_revision": …, "version": …}], "count": N}`` (gRPC-gateway JSON of
  RangeResponse: bytes are base64, int64s are numbers).

Bytes in, values out: this module reads no files.
"""

from __future__ import annotations

import base64
import binascii
import json
from enum import StrEnum

from analyzer.decode.encryption import EncryptionConfig
from analyzer.decode.envelope import CBOR_PREFIX, ENCRYPTED_PREFIX, PROTOBUF_PREFIX
from analyzer.decode.values import DecodedValue, decode_value
from analyzer.errors import DecodeError
from analyzer.records import datarecord

# The first bytes of every value the apiserver stores (envelope.detect_kind), used to tell a key
# line of `etcdctl get` output from a line inside a value.
_VALUE_PREFIXES = (PROTOBUF_PREFIX, ENCRYPTED_PREFIX, CBOR_PREFIX, b"{")
_MAX_KEY_BYTES = 1536  # etcd's default --max-request-bytes leaves keys far below this; a longer "key line" is data


class InputForm(StrEnum):
    RAW = "raw value"
    KEY_VALUE_LINES = "etcdctl get output"
    JSON = "etcdctl get -w json output"


@datarecord
class InputValue:
    """One value of the input, with its etcd key when the input names it."""

    key: bytes | None
    value: bytes
    mod_revision: int | None = None
    # True when the value came with a final newline that may be etcdctl's rather than the value's.
    maybe_trailing_newline: bool = False


def load_input_values(data: bytes) -> tuple[InputForm, list[InputValue]]:
    """Recognise the shape of the input and split it into values."""
    if not data.strip():
        raise DecodeError("empty input" if not data else "empty input (only whitespace)")
    if data.startswith(b"/"):
        return InputForm.KEY_VALUE_LINES, _split_key_value_lines(data)
    response = _etcdctl_json(data)
    if response is not None:
        return InputForm.JSON, _json_values(response)
    return InputForm.RAW, [InputValue(None, data, maybe_trailing_newline=data.endswith(b"\n"))]


def decode_input_value(item: InputValue, *, etcd_key: bytes, encryption: EncryptionConfig | None) -> DecodedValue:
    """Decode one value; a final newline is dropped only when the value does not decode with it.

    An encrypted value ends in 0x0a once in 256 (its last ciphertext byte), and a protobuf value
    could in principle (Kubernetes' envelope ends with its empty contentType field, 0x22 0x00, but
    other writers need not), so the newline is never removed blindly as auger does: the value is first
    decoded as given, and only if that fails is it decoded without its last byte. An appended
    newline always breaks a protobuf envelope (0x0a is a field tag without its length) and every
    cipher (AES-CBC length, GCM and secretbox tags), so the first attempt cannot succeed wrongly;
    for JSON trailing whitespace is harmless either way.
    """
    key = item.key if item.key is not None else etcd_key
    decoded = decode_value(item.value, etcd_key=key, mod_revision=item.mod_revision, encryption=encryption)
    if decoded.ok or not item.maybe_trailing_newline:
        return decoded
    stripped = decode_value(item.value[:-1], etcd_key=key, mod_revision=item.mod_revision, encryption=encryption)
    if stripped.ok:
        return stripped
    # Neither reading works. etcdctl's newline is by far the likelier ending, so the reason given
    # is the one for the value without it (for aescbc, "not a whole number of blocks" would
    # otherwise point at the key instead of the value).
    return stripped


def _etcdctl_json(data: bytes) -> dict[str, object] | None:
    """The parsed RangeResponse when the input is `etcdctl get -w json` output, else None."""
    if not data.lstrip().startswith(b'{"header"'):
        return None  # a JSON-encoded object starts with kind or apiVersion, never with a header
    try:
        document = json.loads(data)
    except ValueError as err:
        raise DecodeError(f"looks like `etcdctl get -w json` output but is not valid JSON ({err})") from None
    if not isinstance(document, dict) or "kind" in document or "apiVersion" in document:
        return None
    return document


def _json_values(response: dict[str, object]) -> list[InputValue]:
    kvs = response.get("kvs") or []
    if not isinstance(kvs, list):
        raise DecodeError("`etcdctl get -w json` output whose kvs is not a list")
    if not kvs:
        raise DecodeError("`etcdctl get -w json` output holds no key-value pair (count 0): the key does not exist at that revision")
    values = []
    for position, kv in enumerate(kvs):
        if not isinstance(kv, dict):
            raise DecodeError(f"`etcdctl get -w json` output: kvs[{position}] is not an object")
        key = _b64(kv.get("key"), f"kvs[{position}].key")
        if "value" not in kv:
            # --keys-only, or an empty value (proto3 JSON omits empty bytes).
            raise DecodeError(f"`etcdctl get -w json` output: {_show(key)} has no value (was --keys-only given?)")
        revision = kv.get("mod_revision")
        values.append(InputValue(key, _b64(kv["value"], f"value of {_show(key)}"), revision if isinstance(revision, int) else None))
    return values


def _b64(field: object, what: str) -> bytes:
    if not isinstance(field, str):
        raise DecodeError(f"`etcdctl get -w json` output: {what} is not a base64 string")
    try:
        return base64.b64decode(field, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError(f"`etcdctl get -w json` output: {what} is not valid base64") from None


def _show(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


def _split_key_value_lines(data: bytes) -> list[InputValue]:
    """Pairs of ``KEY\\nVALUE\\n`` where a VALUE may itself contain newlines.

    A new pair starts at a line that begins with the first key's top-level prefix (``/registry/``
    on Kubernetes, ``/kubernetes.io/`` on OpenShift), is a plausible key (printable, no spaces),
    and is followed by a line that starts like a stored value. Anything else, however it looks,
    belongs to the value before it.
    """
    first_end = data.find(b"\n")
    if first_end < 0:
        raise DecodeError("a single line starting with '/': an etcd key without a value (was --keys-only given?)")
    root_end = data.find(b"/", 1, first_end)
    root = data[: root_end + 1] if root_end > 0 else data[:first_end]
    starts = [0]
    position = first_end
    while True:
        position = data.find(b"\n" + root, position + 1)
        if position < 0:
            break
        start = position + 1
        end = data.find(b"\n", start)
        if end > 0 and _plausible_key(data[start:end]) and data.startswith(_VALUE_PREFIXES, end + 1):
            starts.append(start)
    values = []
    for index, start in enumerate(starts):
        key_end = data.find(b"\n", start)
        key = data[start:key_end]
        if not _plausible_key(key):
            raise DecodeError(f"{_show(key[:80])!r} does not look like an etcd key line of `etcdctl get` output")
        stop = starts[index + 1] - 1 if index + 1 < len(starts) else len(data)
        value = data[key_end + 1 : stop]
        if index + 1 == len(starts) and value.endswith(b"\n"):
            value = value[:-1]  # fmt.Println's newline; the values before lose theirs to the split
        if not value:
            raise DecodeError(f"`etcdctl get` output: {_show(key)} has no value line (was --keys-only given?)")
        values.append(InputValue(key, value))
    return values


def _plausible_key(line: bytes) -> bool:
    return 1 < len(line) <= _MAX_KEY_BYTES and line.startswith(b"/") and all(33 <= byte < 127 for byte in line)
