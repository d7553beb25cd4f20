"""Go's two DER readers, sharing one set of primitive checks.

* ``DerReader`` is as strict as golang.org/x/crypto/cryptobyte, which crypto/x509's certificate
  parser uses: it answers "parses" or "does not" (Go's caller then names the field).
* ``unmarshal`` replays the part of encoding/asn1.Unmarshal that crypto/x509's private-key parsers
  use (pkcs8.go, pkcs1.go, sec1.go), with encoding/asn1's own error texts and offsets: since Go 1.27
  ``tls.X509KeyPair`` prints them (``tls: failed to parse private key: asn1: structure error: tags
  don't match (16 vs {class:0 tag:0 ...}) {...} pkcs8 @2``).

Both refuse the same encodings of an INTEGER, BIT STRING and OBJECT IDENTIFIER (``integer_error``,
``bit_string_error``, ``base128``); they differ where Go's two packages differ: cryptobyte has no
high tag numbers and at most four length bytes, encoding/asn1 knows only the types listed below.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from analyzer.records import datarecord

# --------------------------------------------------------------------------------------------
# A DER reader with cryptobyte's strictness
# --------------------------------------------------------------------------------------------

BOOLEAN, INTEGER, BIT_STRING, OCTET_STRING, NULL, OBJECT_IDENTIFIER = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
SEQUENCE = 0x30


class Asn1Error(Exception):
    """An encoding/asn1 error; ``str()`` is Go's Error() text."""


def _syntax(message: str) -> Asn1Error:
    return Asn1Error(f"asn1: syntax error: {message}")


def _structural(message: str) -> Asn1Error:
    return Asn1Error(f"asn1: structure error: {message}")


def integer_error(raw: bytes) -> Asn1Error | None:
    """Why the content of an INTEGER is not DER (encoding/asn1 checkInteger; cryptobyte's
    checkASN1Integer refuses the same)."""
    if not raw:
        return _structural("empty integer")
    if len(raw) > 1 and ((raw[0] == 0 and raw[1] < 0x80) or (raw[0] == 0xFF and raw[1] >= 0x80)):
        return _structural("integer not minimally-encoded")
    return None


def bit_string_error(raw: bytes) -> Asn1Error | None:
    """Why the content of a BIT STRING is not DER: a padding count of 0-7, none without bits,
    padding bits zero (encoding/asn1 parseBitString, cryptobyte ReadASN1BitString)."""
    if not raw:
        return _syntax("zero length BIT STRING")
    padding = raw[0]
    if padding > 7 or (len(raw) == 1 and padding > 0) or (padding and raw[-1] & ((1 << padding) - 1)):
        return _syntax("invalid padding bits in BIT STRING")
    return None


def base128(data: bytes, offset: int) -> tuple[int, int]:
    """One base-128 arc or tag number (parseBase128Int): (value, next offset); raises Asn1Error."""
    value, shifted = 0, 0
    while offset < len(data):
        if shifted == 5:
            raise _structural("base 128 integer too large")
        byte = data[offset]
        if shifted == 0 and byte == 0x80:
            raise _syntax("integer is not minimally encoded")
        value = (value << 7) | (byte & 0x7F)
        offset += 1
        shifted += 1
        if not byte & 0x80:
            if value > 0x7FFFFFFF:
                raise _structural("base 128 integer too large")
            return value, offset
    raise _syntax("truncated base 128 integer")


def parse_oid(raw: bytes) -> tuple[int, ...]:
    """The arcs of an OBJECT IDENTIFIER's content (parseObjectIdentifier); raises Asn1Error."""
    if not raw:
        raise _syntax("zero length OBJECT IDENTIFIER")
    first, offset = base128(raw, 0)
    arcs = [first // 40, first % 40] if first < 80 else [2, first - 80]
    while offset < len(raw):
        arc, offset = base128(raw, offset)
        arcs.append(arc)
    return tuple(arcs)





def _tag_and_length(data: bytes, offset: int, end: int | None = None) -> tuple[_Tag, int]:
    """parseTagAndLength: the header at ``offset`` of ``data[:end]``; raises Asn1Error."""
    end = len(data) if end is None else end
    byte = data[offset]
    offset += 1
    cls, compound, tag = byte >> 6, bool(byte & 0x20), byte & 0x1F
    if tag == 0x1F:
        tag, offset = base128(data, offset)
        if tag < 0x1F:
            raise _syntax("non-minimal tag")
    if offset >= end:
        raise _syntax("truncated tag or length")
    byte = data[offset]
    offset += 1
    if not byte & 0x80:
        return _Tag(cls, tag, byte & 0x7F, compound), offset
    count = byte & 0x7F
    if count == 0:
        raise _syntax("indefinite length found (not DER)")
    length = 0
    for _ in range(count):
        if offset >= end:
            raise _syntax("truncated tag or length")
        byte = data[offset]
        offset += 1
        if length >= 1 << 23:
            raise _structural("length too large")
        length = (length << 8) | byte
        if length == 0:
            raise _structural("superfluous leading zeros in length")
    if length < 0x80:
        raise _structural("non-minimal length")
    return _Tag(cls, tag, length, compound), offset


class DerReader:
    """A cursor over DER bytes that refuses what Go's ``cryptobyte.String.ReadASN1`` refuses:
    high tag numbers, the indefinite length form, and non-minimal length encodings
    (golang.org/x/crypto/cryptobyte/asn1.go readASN1)."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self._data = data
        self._pos = start
        self._end = len(data) if end is None else end

    @property
    def empty(self) -> bool:
        return self._pos >= self._end

    @property
    def position(self) -> int:
        return self._pos

    def content(self) -> bytes:
        return self._data[self._pos : self._end]

    def peek_tag(self) -> int | None:
        return self._data[self._pos] if self._pos < self._end else None

    def _header(self) -> tuple[int, int, int] | None:
        """(tag, content start, element end) of the next element, without consuming it."""
        pos, end, data = self._pos, self._end, self._data
        # encoding/asn1's header rules, minus what cryptobyte never reads: high tag numbers and
        # more than four length bytes (golang.org/x/crypto/cryptobyte/asn1.go readASN1).
        if end - pos < 2 or data[pos] & 0x1F == 0x1F or (data[pos + 1] & 0x80 and data[pos + 1] & 0x7F > 4):
            return None
        try:
            header, start = _tag_and_length(data, pos, end)
        except Asn1Error:
            return None
        if end - start < header.length:
            return None
        return data[pos], start, start + header.length

    def read_any(self) -> tuple[int, DerReader] | None:
        header = self._header()
        if header is None:
            return None
        tag, content_start, element_end = header
        self._pos = element_end
        return tag, DerReader(self._data, content_start, element_end)

    def read(self, tag: int) -> DerReader | None:
        """The content of the next element if it has ``tag`` (cryptobyte ReadASN1)."""
        header = self._header()
        if header is None or header[0] != tag:
            return None
        self._pos = header[2]
        return DerReader(self._data, header[1], header[2])

    def read_element(self, tag: int) -> bytes | None:
        """The whole next element, header included (cryptobyte ReadASN1Element)."""
        header = self._header()
        if header is None or header[0] != tag:
            return None
        start, self._pos = self._pos, header[2]
        return self._data[start : header[2]]

    def read_optional(self, tag: int) -> tuple[bool, DerReader | None]:
        """(present, content); content is None when present but malformed."""
        if self.peek_tag() != tag:
            return False, None
        return True, self.read(tag)

    def read_integer(self) -> int | None:
        """A minimally encoded INTEGER (cryptobyte checkASN1Integer)."""
        body = self.read(INTEGER)
        if body is None:
            return None
        raw = body.content()
        if integer_error(raw) is not None:
            return None
        return int.from_bytes(raw, "big", signed=True)

    def read_bit_string(self) -> bytes | None:
        body = self.read(BIT_STRING)
        if body is None:
            return None
        raw = body.content()
        if bit_string_error(raw) is not None:
            return None
        return raw[1:]

    def read_oid(self) -> tuple[int, ...] | None:
        """An OBJECT IDENTIFIER, each arc minimal and below 2**31 (cryptobyte ReadASN1ObjectIdentifier)."""
        body = self.read(OBJECT_IDENTIFIER)
        if body is None:
            return None
        try:
            return parse_oid(body.content())
        except Asn1Error:
            return None


def sequence_children(der: bytes) -> tuple[list[int], int] | None:
    """Tags of the children of the SEQUENCE at the start of ``der`` and that SEQUENCE's length."""
    reader = DerReader(der)
    element = reader.read_element(SEQUENCE)
    if element is None:
        return None
    body = DerReader(element)
    inner = body.read(SEQUENCE)
    tags: list[int] = []
    while inner is not None and not inner.empty:
        child = inner.read_any()
        if child is None:
            return None
        tags.append(child[0])
    return tags, len(element)


# --------------------------------------------------------------------------------------------
# encoding/asn1.Unmarshal, for crypto/x509's private-key structures (src/encoding/asn1/asn1.go,
# Go 1.27.3 parseField). Only what those structures need is here: INTEGER (int and *big.Int),
# OCTET STRING ([]byte), OBJECT IDENTIFIER, BIT STRING, RawValue, SEQUENCE (struct), SEQUENCE OF,
# OPTIONAL and EXPLICIT tags. The fieldParameters printed by "tags don't match" are always the zero
# value here: every field that can fail that way has no tag and is not optional.
# --------------------------------------------------------------------------------------------

_ZERO_PARAMS = ("{optional:false explicit:false application:false private:false defaultValue:<nil> "
                "tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false}")
# universal tag numbers
_INTEGER, _BIT_STRING, _OCTET_STRING, _OID, _SEQUENCE = 2, 3, 4, 6, 16


@datarecord
class Field:
    """One Go type in a structure: ``kind`` is int, bigint, bytes, oid, bitstring, raw, struct or
    seqof; ``name`` is reflect's Type.Name() (empty for []byte and *big.Int)."""

    kind: str
    name: str = ""
    fields: tuple[Field, ...] = ()
    optional: bool = False
    explicit_tag: int | None = None


INT = Field("int", "int")
BIGINT = Field("bigint")
BYTES = Field("bytes")
OID = Field("oid", "ObjectIdentifier")
RAW = Field("raw", "RawValue")


def optional(field: Field, explicit_tag: int | None = None) -> Field:
    return Field(field.kind, field.name, field.fields, True, explicit_tag)


# crypto/x509 pkcs8.go, sec1.go, pkcs1.go and crypto/x509/pkix AlgorithmIdentifier.
ALGORITHM_IDENTIFIER = Field("struct", "AlgorithmIdentifier", (OID, optional(RAW)))
PKCS8 = Field("struct", "pkcs8", (INT, ALGORITHM_IDENTIFIER, BYTES))
EC_PRIVATE_KEY = Field("struct", "ecPrivateKey", (INT, BYTES, optional(OID, 0), optional(Field("bitstring", "BitString"), 1)))
_ADDITIONAL_PRIME = Field("struct", "pkcs1AdditionalRSAPrime", (BIGINT, BIGINT, BIGINT))
PKCS1_PRIVATE_KEY = Field("struct", "pkcs1PrivateKey", (
    INT, BIGINT, INT, BIGINT, BIGINT, BIGINT, optional(BIGINT), optional(BIGINT), optional(BIGINT),
    optional(Field("seqof", "", (_ADDITIONAL_PRIME,))),
))


class _Tag(NamedTuple):
    """A DER element's tag and length (Go's ``tagAndLength``): one per element read, a tuple for speed."""

    cls: int
    tag: int
    length: int
    compound: bool

    def go(self) -> str:  # %+v of tagAndLength
        return f"{{class:{self.cls} tag:{self.tag} length:{self.length} isCompound:{str(self.compound).lower()}}}"


_ABSENT = object()
_UNIVERSAL = {"int": (_INTEGER, False), "bigint": (_INTEGER, False), "bytes": (_OCTET_STRING, False),
              "oid": (_OID, False), "bitstring": (_BIT_STRING, False), "struct": (_SEQUENCE, True),
              "seqof": (_SEQUENCE, True)}


def _parse_field(field: Field, data: bytes, offset: int) -> tuple[Any, int]:
    """parseField: (value, next offset); an absent optional field gives _ABSENT."""
    start = offset
    if offset == len(data):
        if field.optional:
            return _ABSENT, offset
        raise _syntax("sequence truncated")
    tag, offset = _tag_and_length(data, offset)
    if field.explicit_tag is not None:
        if offset == len(data):
            raise _structural("explicit tag has no child")
        if tag.cls == 2 and tag.tag == field.explicit_tag and (tag.length == 0 or tag.compound):
            if tag.length == 0:
                raise _structural("zero length explicit tag was not an asn1.Flag")
            tag, offset = _tag_and_length(data, offset)
        else:
            return _ABSENT, start  # optional: Go's setDefaultValue
    if field.kind != "raw":
        expected, compound = _UNIVERSAL[field.kind]
        if tag.cls != 0 or tag.tag != expected or tag.compound != compound:
            if field.optional:
                return _ABSENT, start
            raise _structural(f"tags don't match ({expected} vs {tag.go()}) {_ZERO_PARAMS} {field.name} @{offset}")
    if offset + tag.length > len(data):
        raise _syntax("data truncated")
    inner = data[offset : offset + tag.length]
    offset += tag.length
    if field.kind == "raw":
        return data[start:offset], offset
    if field.kind == "oid":
        return parse_oid(inner), offset
    if field.kind == "bitstring":
        problem = bit_string_error(inner)
        if problem is not None:
            raise problem
        return inner[1:], offset
    if field.kind in ("int", "bigint"):
        problem = integer_error(inner)
        if problem is not None:
            raise problem
        if field.kind == "int" and len(inner) > 8:
            raise _structural("integer too large")
        return int.from_bytes(inner, "big", signed=True), offset
    if field.kind == "bytes":
        return inner, offset
    if field.kind == "struct":
        values, inner_offset = [], 0
        for member in field.fields:
            value, inner_offset = _parse_field(member, inner, inner_offset)
            values.append(None if value is _ABSENT else value)
        return tuple(values), offset  # trailing bytes inside a SEQUENCE are allowed
    # seqof: parseSequenceOf checks every element's header, then parses each
    elements, position = [], 0
    while position < len(inner):
        element_tag, after = _tag_and_length(inner, position)
        if element_tag.cls != 0 or element_tag.tag != _SEQUENCE or not element_tag.compound:
            raise _structural("sequence tag mismatch")
        if after + element_tag.length > len(inner):
            raise _syntax("truncated sequence")
        elements.append(inner[position : after + element_tag.length])
        position = after + element_tag.length
    return tuple(_parse_field(field.fields[0], element, 0)[0] for element in elements), offset


def unmarshal(structure: Field, data: bytes) -> tuple[tuple[Any, ...], bytes]:
    """asn1.Unmarshal(data, &structure) for a struct: (field values, rest); raises Asn1Error with
    Go's text. Absent optional fields are None."""
    values, offset = _parse_field(structure, data, 0)
    return values, data[offset:]


def parses(structure: Field, data: bytes) -> bool:
    try:
        unmarshal(structure, data)
    except Asn1Error:
        return False
    return True


def tlv_sequence(content: bytes) -> bytes:
    """``content`` wrapped in a SEQUENCE, so a lone field can be read with ``unmarshal``."""
    size = len(content)
    if size < 0x80:
        return bytes([0x30, size]) + content
    body = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x30, 0x80 | len(body)]) + body + content
