"""PEM, seen the way Go sees it.

* ``iter_pem_blocks`` is a port of the loop ``for { block, rest = pem.Decode(rest) }`` over Go's
  ``encoding/pem.Decode`` (golang/go@bbf8f423:src/encoding/pem/pem.go: the algorithm of the
  CVE-2025-61723 fix, which finds the first END line and then the last BEGIN line before it; older
  releases scan for BEGIN first, and both agree on every input not built to tell them apart). Like
  Go it skips leading junk, accepts ``Key: Value`` headers and CRLF line ends, ignores spaces and
  tabs inside the base64, and silently drops a block whose base64 does not decode.
* ``inspect_material`` says whether bytes hold material Go would decode at all, or what a
  collector left in its place (``gomodel.material``), so that redacted evidence is reported as
  unverifiable rather than broken.

Turning PEM or DER into keys and certificates is ``gomodel.keys``.
"""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Iterator
from dataclasses import field


from analyzer.gomodel.der import SEQUENCE, DerReader
from analyzer.gomodel.material import Inspection, MaterialState, find_elided_size, scrub_hints
from analyzer.records import datarecord

# OpenShift's signer names ("openshift-kube-apiserver-operator_localhost-recovery-serving-signer@…")
# exceed RFC 5280's 64-character bound; Go accepts them and so must we, without a warning per certificate.
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)


# --------------------------------------------------------------------------------------------
# Go's encoding/pem.Decode
# --------------------------------------------------------------------------------------------

_PEM_START = b"\n-----BEGIN "
_PEM_END = b"\n-----END "
_PEM_END_OF_LINE = b"-----"
_GO_BASE64_RE = re.compile(rb"[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


@datarecord
class PemBlock:
    """One decoded PEM block. ``der`` may be key material, so it is kept out of repr."""

    type: str
    headers: tuple[tuple[str, str], ...]
    der: bytes = field(repr=False)
    offset: int  # where "-----BEGIN" starts in the input
    end: int  # where Go's ``rest`` starts after this block

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def iter_pem_blocks(data: bytes) -> Iterator[PemBlock]:
    """Yield every block Go finds by calling ``pem.Decode`` on the rest until it returns nil."""
    position = 0
    while True:
        block = find_pem_block(data, position)
        if block is None:
            return
        yield block
        position = block.end


def find_pem_block(data: bytes, start: int = 0) -> PemBlock | None:
    """One call of Go's ``pem.Decode`` on ``data[start:]``; None when Go returns a nil block.

    Indices below are relative to ``rest`` exactly as in the Go source, which keeps the odd corners
    (a BEGIN line is accepted at the very start of ``rest`` even if the byte before it is not a
    newline) identical.
    """
    n = len(data)
    rest = start
    end_trailer = 0  # Go: endTrailerIndex, relative to rest
    while True:
        rest += end_trailer
        if rest > n:
            # Go slices past the end here and panics; no block is found either way.
            return None
        found = data.find(_PEM_END, rest)
        if found < 0:
            return None
        end_index = found - rest
        end_trailer = end_index + len(_PEM_END)
        begin = data.rfind(_PEM_START[1:], rest, rest + end_index)
        if begin < 0 or (begin > rest and data[begin - 1] != 0x0A):
            continue
        shift = begin - rest + len(_PEM_START) - 1
        rest += shift
        end_index -= shift
        end_trailer -= shift

        type_line, after = _go_get_line(data, rest, n)
        consumed = after - rest
        rest = after
        end_index -= consumed
        end_trailer -= consumed
        if not type_line.endswith(_PEM_END_OF_LINE):
            # The next search starts right after this END marker (a BEGIN line that does not end
            # in "-----" followed by a good block: Go 1.27.3 finds that block).
            continue
        block_type = type_line[: -len(_PEM_END_OF_LINE)]

        headers: dict[bytes, bytes] = {}
        while True:
            if rest >= n:
                return None
            line, after = _go_get_line(data, rest, n)
            key, colon, value = line.partition(b":")
            if not colon:
                break
            headers[key.strip()] = value.strip()  # a Go map: a repeated key keeps the last value
            consumed = after - rest
            rest = after
            end_index -= consumed
            end_trailer -= consumed

        if headers and end_index < 0:
            continue
        trailer_start = rest + end_trailer
        trailer_len = len(block_type) + len(_PEM_END_OF_LINE)
        if n - trailer_start < trailer_len:
            continue
        trailer = data[trailer_start : trailer_start + trailer_len]
        if not (trailer.startswith(block_type) and trailer.endswith(_PEM_END_OF_LINE)):
            continue
        tail, _ = _go_get_line(data, trailer_start + trailer_len, n)
        if tail:
            continue  # the END line must end with only whitespace

        der = b""
        if end_index > 0:
            body = data[rest : rest + end_index].replace(b" ", b"").replace(b"\t", b"")
            decoded = decode_go_base64(body)
            if decoded is None:
                continue
            der = decoded
        _, block_end = _go_get_line(data, rest + end_index + len(_PEM_END) - 1, n)
        return PemBlock(
            type=_text(block_type),
            headers=tuple((_text(k), _text(v)) for k, v in headers.items()),
            der=der,
            offset=begin,
            end=block_end,
        )


def _go_get_line(data: bytes, start: int, end: int) -> tuple[bytes, int]:
    """Go's getLine: the line up to \\n (without \\r\\n and trailing spaces/tabs), and where the
    rest starts."""
    newline = data.find(b"\n", start, end)
    if newline < 0:
        return data[start:end].rstrip(b" \t"), end
    line_end = newline - 1 if newline > start and data[newline - 1] == 0x0D else newline
    return data[start:line_end].rstrip(b" \t"), newline + 1


def decode_go_base64(body: bytes) -> bytes | None:
    """Go's base64.StdEncoding.Decode: skips \\r and \\n, requires padding, rejects anything else
    (spaces included); None where Go returns an error."""
    compact = body.replace(b"\r", b"").replace(b"\n", b"")
    if len(compact) % 4 or not _GO_BASE64_RE.fullmatch(compact):
        return None
    return base64.b64decode(compact)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def inspect_material(data: bytes) -> Inspection:
    """Classify ``data`` as present, empty, scrubbed, elided or malformed."""
    size = len(data)
    if not data.strip():
        return Inspection(MaterialState.EMPTY, size)
    elided = find_elided_size(data)
    if elided is not None:
        # "0 bytes long" means the original value was empty: that is a finding, not a gap.
        state = MaterialState.EMPTY if elided == 0 else MaterialState.ELIDED
        return Inspection(state, size, original_size=elided)
    hints = scrub_hints(data)
    if hints:
        return Inspection(MaterialState.SCRUBBED, size, scrub_hints=hints)
    if find_pem_block(data) is not None:
        return Inspection(MaterialState.PRESENT, size)
    if DerReader(data).read_element(SEQUENCE) is not None:
        return Inspection(MaterialState.PRESENT, size)
    return Inspection(MaterialState.MALFORMED, size)


def is_private_key_type(block_type: str) -> bool:
    """What Go's X509KeyPair takes for a key block: ``PRIVATE KEY`` or a type ending in `` PRIVATE KEY``."""
    return block_type == "PRIVATE KEY" or block_type.endswith(" PRIVATE KEY")
