"""A DER reader as strict as Go's golang.org/x/crypto/cryptobyte, for the modules that mirror crypto/x509."""

from __future__ import annotations

# --------------------------------------------------------------------------------------------
# A DER reader with cryptobyte's strictness
# --------------------------------------------------------------------------------------------

BOOLEAN, INTEGER, BIT_STRING, OCTET_STRING, NULL, OBJECT_IDENTIFIER = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
SEQUENCE = 0x30


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
        if end - pos < 2:
            return None
        tag, length_byte = data[pos], data[pos + 1]
        if tag & 0x1F == 0x1F:
            return None
        if length_byte & 0x80 == 0:
            header, length = 2, length_byte
        else:
            count = length_byte & 0x7F
            if count == 0 or count > 4 or end - pos < 2 + count:
                return None
            length = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
            if length < 128 or length >> ((count - 1) * 8) == 0:
                return None
            header = 2 + count
        if end - pos < header + length:
            return None
        return tag, pos + header, pos + header + length

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
        if not raw:
            return None
        if len(raw) > 1 and ((raw[0] == 0 and raw[1] < 0x80) or (raw[0] == 0xFF and raw[1] >= 0x80)):
            return None
        return int.from_bytes(raw, "big", signed=True)

    def read_bit_string(self) -> bytes | None:
        body = self.read(BIT_STRING)
        if body is None:
            return None
        raw = body.content()
        if not raw or raw[0] > 7 or (len(raw) == 1 and raw[0] > 0):
            return None
        if raw[0] and raw[-1] & ((1 << raw[0]) - 1):
            return None
        return raw[1:]

    def read_oid(self) -> tuple[int, ...] | None:
        """An OBJECT IDENTIFIER, with cryptobyte's limits on each arc."""
        body = self.read(OBJECT_IDENTIFIER)
        if body is None:
            return None
        raw = body.content()
        arcs: list[int] = []
        value, length = 0, 0
        for byte in raw:
            if (length == 0 and byte == 0x80) or length == 5:
                return None
            value = (value << 7) | (byte & 0x7F)
            length += 1
            if byte & 0x80 == 0:
                arcs.append(value)
                value, length = 0, 0
        if length or not arcs:
            return None
        first = arcs[0]
        head = (first // 40, first % 40) if first < 80 else (2, first - 80)
        return head + tuple(arcs[1:])


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
