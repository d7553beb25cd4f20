"""What some bytes hold before anyone uses them: material, nothing, or what a collector left in its place.

sos scrubs PEM blocks, base64 PEM and secret fields (sos/report/plugins/__init__.py _certmatch,
plugins/kubernetes.py, plugins/openshift.py postproc); must-gather elides secret values to
``"<N> bytes long"`` (openshift/oc pkg/cli/admin/inspect/secret.go elideSecret). Redacted evidence
is reported as unverifiable, never as broken. ``gomodel.pem.inspect_material`` classifies bytes.
"""

from __future__ import annotations

import base64
import binascii
import re

from analyzer.errors import DecodeError
from analyzer.model.vocabulary import ContentState
from analyzer.records import datarecord

# --------------------------------------------------------------------------------------------
# Material states: present, empty, or redacted by the collector
# --------------------------------------------------------------------------------------------


# One content state for every room (model.vocabulary); the byte classification here uses PRESENT,
# EMPTY, SCRUBBED, ELIDED and MALFORMED of it. Only SCRUBBED and ELIDED hide the original content.
MaterialState = ContentState


@datarecord
class Inspection:
    """What some bytes hold (their state), with what the collector left behind about the original.

    Not a ``Material``: that is located content (``wiring.model``); this is only a look at bytes.
    """

    state: MaterialState
    size: int
    # must-gather keeps the original length: "1675 bytes long".
    original_size: int | None = None
    # sos keeps the text after the scrubbed PEM block: "-----SCRUBBED RSA PRIVATE KEY-----".
    scrub_hints: tuple[str, ...] = ()


# sos/report/plugins/__init__.py: _certmatch (-*BEGIN.*?-*END, DOTALL) is replaced by
# _cert_replace = "-----SCRUBBED" (+ " <desc>"), so the rest of the END line survives.
SOS_PEM_SCRUB = b"-----SCRUBBED"
# sos/report/plugins/kubernetes.py: r'LS0tLS1CRUdJ[A-Za-z0-9+/=]+' -> this text.
SOS_BASE64_SCRUB = "***** SCRUBBED BASE64 PEM *****"
# What mask_sos_scrubs() puts where a marker was, so that YAML can be parsed. It contains '-',
# which standard base64 never does, so it cannot be mistaken for data.
SOS_PLACEHOLDER = "KFORENSIC-SOS-SCRUBBED"

_SOS_PEM_RE = re.compile(rb"-----SCRUBBED([^\r\n]*)")
# sos/report/plugins/openshift.py postproc: r'(\s*(<fields>):)(.*)' -> r'\1 *******'.
_ASTERISKS_RE = re.compile(rb"\A\s*\*{5,}\s*\Z")
_ELIDED_RE = re.compile(rb"\A\s*(\d{1,15}) bytes long\s*\Z")
_SHORT_BASE64_RE = re.compile(rb"\A[A-Za-z0-9+/]{4,40}={0,2}\Z")


def is_scrub_marker(value: str) -> bool:
    """True for a text value that sos (or mask_sos_scrubs) put in place of the original."""
    text = value.strip()
    return (
        text == SOS_PLACEHOLDER
        or SOS_BASE64_SCRUB in text
        or bool(_ASTERISKS_RE.match(text.encode()))
        or text.startswith(SOS_PEM_SCRUB.decode())
    )


def find_elided_size(data: bytes) -> int | None:
    match = _ELIDED_RE.match(data)
    if match is None and _SHORT_BASE64_RE.match(data.strip()):
        # The same marker still base64-encoded, as it sits in a must-gather Secret's data map.
        try:
            match = _ELIDED_RE.match(base64.b64decode(data.strip(), validate=True))
        except binascii.Error:
            match = None
    return int(match.group(1)) if match else None


def scrub_hints(data: bytes) -> tuple[str, ...]:
    hints = []
    for match in _SOS_PEM_RE.finditer(data):
        hint = match.group(1).decode("utf-8", "replace").strip()
        hints.append(hint.removesuffix("-----").strip() or "PEM")
    if SOS_BASE64_SCRUB.encode() in data:
        hints.append("BASE64 PEM")
    if SOS_PLACEHOLDER.encode() in data or _ASTERISKS_RE.match(data):
        hints.append("field")
    return tuple(hints)


class RedactedMaterial(DecodeError):
    """The bytes were scrubbed (sos) or elided (must-gather): the original cannot be judged."""

    def __init__(self, what: str, material: Inspection) -> None:
        self.material = material
        detail = f", originally {material.original_size} bytes" if material.original_size else ""
        super().__init__(f"{what} was {material.state.value} by the collector{detail}")
