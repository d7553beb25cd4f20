"""Text in the report's figures: escaped, fitted to a column, unique, with the whole text on hover.

The figures are static SVG (no script, no font from anywhere). SVG text does not wrap by itself,
so a label is broken into lines here at its natural seams (``-``, ``_``, ``.``, ``@``, ``:``,
``/``, spaces); what still does not fit loses its middle to an ellipsis, never its end (an
``@1717200000`` or a ``-000`` suffix is what tells two labels apart). The full text is always
in the element's ``<title>``, which browsers show on hover.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from html import escape

# Average advance of a sans-serif glyph at font-size 1: wide enough that a label never spills
# out of its column in Chromium's default sans fonts (DejaVu Sans, Liberation Sans, Arial).
CHAR_WIDTH = 0.6
_SEAM = re.compile(r"(?<=[-_.@:/ =,])")


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def fits(width: float, font_size: float) -> int:
    """How many characters fit in ``width`` pixels at ``font_size``."""
    return max(4, int(width / (font_size * CHAR_WIDTH)))


def abbreviate(text: str, limit: int) -> str:
    """The text, or its start and end around an ellipsis when it is longer than ``limit``."""
    if len(text) <= limit:
        return text
    tail = max(3, limit // 3)
    return text[: limit - tail - 1] + "…" + text[-tail:]


def wrap(text: str, limit: int, lines: int = 2) -> list[str]:
    """At most ``lines`` lines of at most ``limit`` characters, broken at seams where possible;
    what does not fit loses its middle on the last line."""
    out: list[str] = []
    current = ""
    for piece in (piece for piece in _SEAM.split(text) if piece):
        if not current or len(current) + len(piece) <= limit or len(out) == lines - 1:
            current += piece
            continue
        out.append(current)
        current = piece
    out.append(current)
    return [abbreviate(line, limit) for line in out]


def fit_unique(labels: Sequence[str], details: Sequence[str], limit: int, lines: int = 2) -> list[list[str]]:
    """Each label fitted into ``lines`` lines of ``limit`` characters, no two reading the same: a
    label that fits the same as another keeps its first line(s) and ends with its detail (an
    expiry, a fingerprint), which tells them apart."""
    fitted = [wrap(label, limit, lines) for label in labels]
    counts = Counter(tuple(lines_) for lines_ in fitted)
    out = []
    for label, detail, lines_ in zip(labels, details, fitted, strict=True):
        if counts[tuple(lines_)] > 1:
            lines_ = [*wrap(label, limit, lines - 1), abbreviate(detail, limit)] if lines > 1 else [abbreviate(f"{detail} {label}", limit)]
        out.append(lines_)
    return out


def text_block(x: float, y: float, lines: Sequence[str], title: str, *, size: float = 11, attributes: str = "",
               line_height: float | None = None) -> str:
    """A multi-line SVG text with its full text as a tooltip."""
    step = line_height or size * 1.25
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if index == 0 else step:.1f}">{escape(line)}</tspan>' for index, line in enumerate(lines))
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{attributes}><title>{escape(title)}</title>{spans}</text>'


def svg_open(width: float, height: float, label: str) -> str:
    # A viewBox with width 100% scales the figure to its column; max-width keeps it from growing
    # past its drawn size on wide screens, where text would become larger than the page's.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif" font-size="11" '
            f'style="width: 100%; max-width: {width:.0f}px; height: auto">')
