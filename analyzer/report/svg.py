"""The report's two figures, as inline SVG text: no script, no font or image from anywhere.

The validity timeline draws every certificate's life against the reference time and the next
expiry. The trust graph draws issuers, certificates and the components that present them, with the
links a check found broken in red. Text is escaped here; the template inserts the result as is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from analyzer.model.findings import Finding

ROW = 18
LABEL_WIDTH = 360
PLOT_WIDTH = 560
MARGIN = 24
COLORS = {"expired": "#cf222e", "not-yet-valid": "#bc4c00", "expiring": "#d4a72c", "valid": "#1a7f37"}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validity_timeline(certificates: list[dict[str, Any]], reference: str, next_expiry: dict[str, Any] | None) -> str:
    """One bar per certificate, from not-before to not-after, against the reference time."""
    if not certificates:
        return ""
    now = _parse(reference)
    starts = [_parse(c["not_before"]) for c in certificates]
    ends = [_parse(c["not_after"]) for c in certificates]
    # Centre the view on the reference time; very long CA lives are clipped at the edges.
    low = max(min(starts), now - timedelta(days=3 * 365))
    high = min(max(ends), now + timedelta(days=3 * 365))
    low, high = min(low, now - timedelta(days=30)), max(high, now + timedelta(days=30))
    span = (high - low).total_seconds()

    def x(moment: datetime) -> float:
        clipped = min(max(moment, low), high)
        return LABEL_WIDTH + (clipped - low).total_seconds() / span * PLOT_WIDTH

    height = MARGIN * 2 + ROW * len(certificates)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="certificate validity timeline" '
        f'width="{LABEL_WIDTH + PLOT_WIDTH + MARGIN}" height="{height}" font-family="sans-serif" font-size="11">'
    ]
    for index, (cert, start, end) in enumerate(zip(certificates, starts, ends, strict=True)):
        y = MARGIN + index * ROW
        state = cert["state"]
        label = escape(_short(f"{cert['common_name']} — {(cert.get('used_by') or ['in a bundle'])[0]}", 62))
        title = escape(f"{cert['subject']}: {cert['not_before']} to {cert['not_after']} ({state})")
        parts.append(f'<text x="4" y="{y + 12}"><title>{title}</title>{label}</text>')
        parts.append(
            f'<rect x="{x(start):.1f}" y="{y + 3}" width="{max(2.0, x(end) - x(start)):.1f}" height="{ROW - 6}" '
            f'fill="{COLORS[state]}" rx="2"><title>{title}</title></rect>'
        )
    reference_x = x(now)
    parts.append(f'<line x1="{reference_x:.1f}" y1="{MARGIN - 10}" x2="{reference_x:.1f}" y2="{height - MARGIN + 4}" stroke="#0969da" stroke-width="2"/>')
    parts.append(f'<text x="{reference_x + 3:.1f}" y="{MARGIN - 12}" fill="#0969da">reference {escape(reference)}</text>')
    if next_expiry:
        expiry_x = x(_parse(str(next_expiry["not_after"])))
        parts.append(f'<line x1="{expiry_x:.1f}" y1="{MARGIN - 4}" x2="{expiry_x:.1f}" y2="{height - MARGIN + 4}" stroke="#cf222e" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{expiry_x + 3:.1f}" y="{height - MARGIN + 14}" fill="#cf222e">the next outage {escape(str(next_expiry["not_after"]))}</text>')
    parts.append(f'<text x="{LABEL_WIDTH}" y="{height - 4}" fill="#57606a">{escape(low.strftime("%Y-%m-%d"))}</text>')
    parts.append(f'<text x="{LABEL_WIDTH + PLOT_WIDTH}" y="{height - 4}" fill="#57606a" text-anchor="end">{escape(high.strftime("%Y-%m-%d"))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def trust_graph(certificates: list[dict[str, Any]], findings: list[Finding]) -> str:
    """CAs on the left, the certificates they issued in the middle, the loads that present them on the right."""
    cas = [c for c in certificates if c["is_ca"]]
    ca_order = {c["subject"]: i for i, c in enumerate(cas)}
    # Certificates grouped under their issuer keep the edges from crossing.
    leaves = sorted((c for c in certificates if not c["is_ca"] and c.get("used_by")),
                    key=lambda c: (ca_order.get(c["issuer"], len(cas)), c["common_name"]))
    if not leaves:
        return ""
    broken = {f.fingerprint for f in findings if f.severity.failing and f.fingerprint}
    users: list[str] = []
    for leaf in leaves:  # in the order of the first certificate each presents
        for use in leaf["used_by"]:
            name = use.split(" (")[0]
            if ": trust bundle" not in use and name not in users:
                users.append(name)
    rows = max(len(cas), len(leaves), len(users))
    height = MARGIN * 2 + rows * ROW * 1.4
    column = (20, 360, 700)
    width = 1040

    def y(index: int, count: int) -> float:
        return MARGIN + (index + 0.5) * (height - 2 * MARGIN) / max(count, 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="trust graph" width="{width}" height="{height:.0f}" font-family="sans-serif" font-size="11">']
    ca_y = {c["subject"]: y(i, len(cas)) for i, c in enumerate(cas)}
    user_y = {u: y(i, len(users)) for i, u in enumerate(users)}
    for i, leaf in enumerate(leaves):
        leaf_y = y(i, len(leaves))
        bad = leaf["fingerprint_sha256"] in broken
        issuer_y = ca_y.get(leaf["issuer"])
        if issuer_y is not None:
            parts.append(f'<line x1="{column[0] + 300}" y1="{issuer_y:.1f}" x2="{column[1]}" y2="{leaf_y:.1f}" stroke="#8c959f"/>')
        for use in leaf["used_by"]:
            target = user_y.get(use.split(" (")[0])
            if target is not None:
                colour, dash = ("#cf222e", ' stroke-dasharray="5 3" stroke-width="2"') if bad else ("#8c959f", "")
                parts.append(f'<line x1="{column[1] + 300}" y1="{leaf_y:.1f}" x2="{column[2]}" y2="{target:.1f}" stroke="{colour}"{dash}/>')
        style = ' fill="#cf222e" font-weight="bold"' if bad else ""
        parts.append(f'<text x="{column[1] + 4}" y="{leaf_y + 4:.1f}"{style}><title>{escape(leaf["subject"])}</title>{escape(_short(leaf["common_name"], 48))}</text>')
    for ca in cas:
        parts.append(f'<text x="{column[0]}" y="{ca_y[ca["subject"]] + 4:.1f}" fill="#0969da"><title>{escape(ca["subject"])}</title>{escape(_short(ca["common_name"], 50))}</text>')
    for user, user_position in user_y.items():
        parts.append(f'<text x="{column[2] + 4}" y="{user_position + 4:.1f}">{escape(_short(user, 52))}</text>')
    for x_position, heading in zip(column, ("issuers (CAs)", "certificates", "presented by"), strict=True):
        parts.append(f'<text x="{x_position}" y="12" font-weight="bold">{heading}</text>')
    parts.append("</svg>")
    return "".join(parts)
