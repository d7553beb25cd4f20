"""The validity timeline: every certificate's life, in a focus window around the reference time and
in an overview of whole lives, side by side on the same rows.

One scale cannot show a 30-day leaf and a 10-year CA both: on a four-year axis the leaf is one or
two pixels. The focus window runs from a month before the reference time to a little past the
deadlines the report names (safe shutdown, next outage), so short lives are bars a person can
read; the overview shows every life whole, with the focus window shaded. Marker labels are
stacked in lanes so that none overlaps another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any

from analyzer.checks.validity import SHORT_LIFE_FACTOR, SHORT_LIFE_WARN_FRACTION
from analyzer.records import datarecord
from analyzer.report.svgtext import CHAR_WIDTH, fit_unique, fits, parse_time, svg_open, text_block, wrap

COLORS = {"expired": "#cf222e", "not-yet-valid": "#bc4c00", "expiring": "#d4a72c", "valid": "#1a7f37"}
LABEL_WIDTH = 250
FOCUS_WIDTH = 390
GAP = 28
OVERVIEW_WIDTH = 190
ROW = 40
LANE = 14
MARKER_FONT = 10.5
# Deadlines further than this from the reference time stay in the overview only.
FOCUS_REACH = timedelta(days=400)


@datarecord
class Marker:
    label: str
    when: datetime
    colour: str
    dash: str = ""


def legend(warn_days: int) -> list[tuple[str, str]]:
    """(colour, words) for each state, stating the rule checks/validity.py applies."""
    short = SHORT_LIFE_FACTOR * warn_days
    return [
        (COLORS["valid"], "valid"),
        (COLORS["expiring"], f"expiring: within {warn_days} days of its end (--warn-days), or, for a certificate whose whole life "
                             f"is shorter than {short} days, in the last 1/{SHORT_LIFE_WARN_FRACTION} of its life"),
        (COLORS["expired"], "expired"),
        (COLORS["not-yet-valid"], "not yet valid"),
    ]


def markers(reference: str, deadlines: dict[str, Any]) -> list[Marker]:
    found = [Marker(f"reference {reference[:10]}", parse_time(reference), "#0969da")]
    shutdown, outage = deadlines.get("safe_shutdown"), deadlines.get("next_outage")
    if shutdown:
        passed = " (passed)" if shutdown.get("passed") else ""
        found.append(Marker(f"safe-shutdown deadline {shutdown['time'][:10]}{passed}", parse_time(shutdown["time"]), "#bc4c00", "6 3"))
    if outage and not outage.get("passed"):
        found.append(Marker(f"next outage {outage['time'][:10]}", parse_time(outage["time"]), "#cf222e", "3 3"))
    return found


def _lanes(spans: Sequence[tuple[float, float]]) -> list[int]:
    """The first lane in which each span (left, right) overlaps no span placed before it."""
    placed: list[list[tuple[float, float]]] = []
    lanes = []
    for left, right in spans:
        for number, lane in enumerate(placed):
            if all(right + 6 < other_left or left > other_right + 6 for other_left, other_right in lane):
                lane.append((left, right))
                lanes.append(number)
                break
        else:
            placed.append([(left, right)])
            lanes.append(len(placed) - 1)
    return lanes


def _months(low: datetime, high: datetime) -> list[datetime]:
    ticks = []
    moment = datetime(low.year, low.month, 1, tzinfo=low.tzinfo)
    while moment <= high:
        if moment >= low:
            ticks.append(moment)
        moment = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=low.tzinfo)
    return ticks


def validity_timeline(certificates: list[dict[str, Any]], reference: str, deadlines: dict[str, Any]) -> str:
    """The figure as SVG text, or "" without certificates."""
    if not certificates:
        return ""
    now = parse_time(reference)
    marks = markers(reference, deadlines)
    starts = [parse_time(c["not_before"]) for c in certificates]
    ends = [parse_time(c["not_after"]) for c in certificates]
    # From a month before the reference time, or from a little before the latest expiry that
    # already passed (the certificates that are down must show), to past the deadlines.
    passed = [end for end in ends if now - FOCUS_REACH <= end < now] + [m.when for m in marks if now - FOCUS_REACH <= m.when < now]
    focus_low = min([now - timedelta(days=30), *(moment - timedelta(days=15) for moment in passed)])
    focus_high = max([now + timedelta(days=60), *(m.when + timedelta(days=15) for m in marks if abs(m.when - now) <= FOCUS_REACH)])
    whole_low = max(min([*starts, focus_low]), now - timedelta(days=3650))
    whole_high = min(max([*ends, focus_high]), now + timedelta(days=3650))
    focus_x0 = LABEL_WIDTH
    whole_x0 = LABEL_WIDTH + FOCUS_WIDTH + GAP

    def at(moment: datetime, low: datetime, high: datetime, x0: float, width: float) -> float:
        clipped = min(max(moment, low), high)
        return x0 + (clipped - low).total_seconds() / (high - low).total_seconds() * width

    def fx(moment: datetime) -> float:
        return at(moment, focus_low, focus_high, focus_x0, FOCUS_WIDTH)

    def wx(moment: datetime) -> float:
        return at(moment, whole_low, whole_high, whole_x0, OVERVIEW_WIDTH)

    # Marker labels above the focus plot, in lanes: each label starts at its line, or ends there
    # when it would run past the plot.
    in_focus = [m for m in marks if focus_low <= m.when <= focus_high]
    spans, anchors = [], []
    for mark in in_focus:
        width = len(mark.label) * MARKER_FONT * CHAR_WIDTH
        x = fx(mark.when)
        right_aligned = x + 3 + width > focus_x0 + FOCUS_WIDTH + GAP + OVERVIEW_WIDTH
        spans.append((x - 3 - width, x - 3) if right_aligned else (x + 3, x + 3 + width))
        anchors.append(right_aligned)
    lanes = _lanes(spans)
    header = 34 + LANE * (max(lanes, default=0) + 1)
    height = header + ROW * len(certificates) + 26
    plot_top, plot_bottom = header - 4, header + ROW * len(certificates)
    width = whole_x0 + OVERVIEW_WIDTH + 12
    parts = [svg_open(width, height, "certificate validity timeline")]
    parts.append(f'<text x="{focus_x0}" y="13" font-weight="bold">focus: {focus_low:%Y-%m-%d} to {focus_high:%Y-%m-%d}</text>')
    parts.append(f'<text x="{whole_x0}" y="13" font-weight="bold">whole lives</text>')
    parts.append(f'<rect x="{wx(focus_low):.1f}" y="{plot_top}" width="{max(1.0, wx(focus_high) - wx(focus_low)):.1f}" '
                 f'height="{plot_bottom - plot_top}" fill="#ddf4ff"><title>the focus window</title></rect>')
    for tick in _months(focus_low, focus_high):
        x = fx(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{plot_bottom}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{x:.1f}" y="{plot_bottom + 12}" font-size="9" fill="#57606a" text-anchor="middle">{tick:%b}</text>')
    parts.append(f'<text x="{whole_x0}" y="{plot_bottom + 12}" font-size="9" fill="#57606a">{whole_low:%Y}</text>')
    parts.append(f'<text x="{whole_x0 + OVERVIEW_WIDTH}" y="{plot_bottom + 12}" font-size="9" fill="#57606a" text-anchor="end">{whole_high:%Y}</text>')
    names = fit_unique([c["common_name"] or c["subject"] for c in certificates],
                       [f"until {c['not_after'][:10]}, sha256 {c['fingerprint_sha256'][:8]}" for c in certificates], fits(LABEL_WIDTH - 8, 11))
    for index, (cert, name, start, end) in enumerate(zip(certificates, names, starts, ends, strict=True)):
        y = header + index * ROW
        state = cert["state"]
        used = (cert.get("used_by") or ["no load uses it"])[0]
        title = f"{cert['subject']} — {state}, {cert['not_before']} to {cert['not_after']}; " + "; ".join(cert.get("used_by") or ["no load uses it"])
        if index % 2:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW}" fill="#f6f8fa"/>')
        parts.append(text_block(4, y + 12 + (6 if len(name) == 1 else 0), name, title, line_height=12))
        parts.append(text_block(4, y + 35, wrap(used, fits(LABEL_WIDTH - 8, 9.5), 1), title, size=9.5, attributes=' fill="#57606a"'))
        colour = COLORS[state]
        if end >= focus_low and start <= focus_high:
            parts.append(f'<rect x="{fx(start):.1f}" y="{y + 12}" width="{max(2.0, fx(end) - fx(start)):.1f}" height="{ROW - 24}" '
                         f'fill="{colour}" rx="2"><title>{escape(title)}</title></rect>')
        parts.append(f'<rect x="{wx(start):.1f}" y="{y + 15}" width="{max(2.0, wx(end) - wx(start)):.1f}" height="{ROW - 30}" '
                     f'fill="{colour}"><title>{escape(title)}</title></rect>')
    for mark, lane, right_aligned in zip(in_focus, lanes, anchors, strict=True):
        x = fx(mark.when)
        label_y = 30 + lane * LANE
        dash = f' stroke-dasharray="{mark.dash}"' if mark.dash else ""
        parts.append(f'<line x1="{x:.1f}" y1="{label_y + 3}" x2="{x:.1f}" y2="{plot_bottom}" stroke="{mark.colour}" stroke-width="2"{dash}/>')
        anchor = ' text-anchor="end"' if right_aligned else ""
        # A white halo keeps a label legible where another marker's line passes behind it.
        parts.append(f'<text x="{x - 3 if right_aligned else x + 3:.1f}" y="{label_y}" font-size="{MARKER_FONT}" fill="{mark.colour}"{anchor} '
                     f'paint-order="stroke" stroke="#fff" stroke-width="3">'
                     f'{escape(mark.label)}</text>')
    for mark in marks:
        x = wx(mark.when)
        parts.append(f'<line x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{plot_bottom}" stroke="{mark.colour}" stroke-width="1.5">'
                     f'<title>{escape(mark.label)}</title></line>')
    parts.append("</svg>")
    return "".join(parts)
