"""Go's own ways of printing values that kube components put in their messages.

``%q`` (strconv.Quote), ``%v`` of a ``[]string`` and ``time.Format(time.RFC3339)``
(golang/go src/strconv/quote.go, src/fmt/print.go, src/time/format.go).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable


_GO_QUOTE_ESCAPES = {
    "\\": "\\\\", '"': '\\"', "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
}


def go_quote(text: str) -> str:
    """strconv.Quote, as used by ``%q``, for the printable text certificate names hold."""
    out = ['"']
    for char in text:
        if char in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def go_rfc3339(moment: dt.datetime) -> str:
    """time.Format(time.RFC3339): whole seconds, ``Z`` for a zero offset, else ``+hh:mm``."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: kforensic works in aware UTC datetimes")
    offset = moment.utcoffset() or dt.timedelta(0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def go_string_list(items: Iterable[str]) -> str:
    """fmt's %v of a []string: ``[a b c]``."""
    return "[" + " ".join(items) + "]"
