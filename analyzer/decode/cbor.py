"""A small, bounded CBOR (RFC 8949) decoder for the custom resources Kubernetes stores as CBOR.

It accepts what the kube-apiserver's CBOR decoder accepts (apimachinery
serializer/cbor/internal/modes/decode.go) as far as stored objects need: definite-length items,
the simple values false/true/null, finite floats, strict UTF-8 text and unique map keys, nested at
most 64 deep. Indefinite-length items are refused: Kubernetes' encoder never writes them
(``IndefLengthForbidden``), so none can be in storage. Every length is checked against the bytes
that are left before anything is allocated, so hostile input cannot make it allocate more than the
input's size.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

from analyzer.errors import DecodeError

MAX_DEPTH = 64  # apimachinery's MaxNestedLevels

SELF_DESCRIBED = 55799  # RFC 8949 §3.4.6: marks the bytes as CBOR and means nothing else

_FLOAT = {25: struct.Struct(">e"), 26: struct.Struct(">f"), 27: struct.Struct(">d")}
_SIMPLE = {20: False, 21: True, 22: None}


class Tag(NamedTuple):
    """A tagged item other than the self-described marker, which is dropped wherever it appears."""

    number: int
    content: object


def load_cbor(data: bytes) -> object:
    """Decode exactly one CBOR item; maps become dicts, byte strings bytes, tags ``Tag``."""
    decoder = _Decoder(data)
    item = decoder.item(0)
    if decoder.pos != len(data):
        extra = len(data) - decoder.pos
        raise DecodeError(f"CBOR item ends at offset {decoder.pos} but {extra} more bytes follow")
    return item


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def item(self, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise DecodeError(f"CBOR nests deeper than {MAX_DEPTH} levels at offset {self.pos}")
        start = self.pos
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self._simple_or_float(info, start)
        argument = self._argument(info, start)
        if major == 0:
            return argument
        if major == 1:
            return -1 - argument
        if major == 2:
            return bytes(self._take(argument))
        if major == 3:
            try:
                return str(self._take(argument), "utf-8")
            except UnicodeDecodeError:
                raise DecodeError(f"CBOR text string at offset {start} is not valid UTF-8") from None
        if major == 4:
            self._check_count(argument, start)
            return [self.item(depth + 1) for _ in range(argument)]
        if major == 5:
            self._check_count(2 * argument, start)
            return self._map(argument, depth, start)
        # major 6: a tag
        content = self.item(depth + 1)
        return content if argument == SELF_DESCRIBED else Tag(argument, content)

    def _map(self, pairs: int, depth: int, start: int) -> dict[object, object]:
        result: dict[object, object] = {}
        for _ in range(pairs):
            key = self.item(depth + 1)
            if not isinstance(key, str | bytes):
                kind = type(key).__name__
                raise DecodeError(f"CBOR map at offset {start} has a {kind} key; Kubernetes keys are strings")
            if key in result:
                raise DecodeError(f"CBOR map at offset {start} repeats the key {key!r}")
            result[key] = self.item(depth + 1)
        return result

    def _argument(self, info: int, start: int) -> int:
        if info < 24:
            return info
        if info <= 27:
            return int.from_bytes(self._take(1 << (info - 24)), "big")
        if info == 31:
            raise DecodeError(f"CBOR indefinite-length item at offset {start}; Kubernetes never writes these")
        raise DecodeError(f"CBOR reserved additional information {info} at offset {start}")

    def _simple_or_float(self, info: int, start: int) -> object:
        if info in _SIMPLE:
            return _SIMPLE[info]
        if info in _FLOAT:
            layout = _FLOAT[info]
            (number,) = layout.unpack(self._take(layout.size))
            # No JSON representation exists for these, so the apiserver refuses them too.
            if not math.isfinite(number):
                raise DecodeError(f"CBOR float at offset {start} is NaN or infinite")
            return number
        raise DecodeError(f"CBOR simple value or break (additional information {info}) at offset {start}")

    def _check_count(self, count: int, start: int) -> None:
        # Every element takes at least one byte, so a count beyond the remaining bytes is a lie.
        if count > len(self.data) - self.pos:
            raise DecodeError(f"CBOR container at offset {start} claims {count} items; the input is truncated")

    def _take(self, size: int) -> memoryview:
        end = self.pos + size
        if end > len(self.data):
            left = len(self.data) - self.pos
            raise DecodeError(f"CBOR input is truncated at offset {self.pos} (needs {size} bytes, {left} left)")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk
