"""The trust graph: issuers, the certificates they signed, and the components that present them.

One node per certificate (by fingerprint) and one per issuer name; an issuer whose certificate is
not in the evidence is still drawn, dashed, so that every certificate has its issuer edge,
broken ones included. Labels are whole or visibly abbreviated (the full subject is the node's
``<title>``), and two nodes never read the same: a repeated name gets its expiry appended.
A certificate a check found broken is red, and so are its edges.
"""

from __future__ import annotations

from typing import Any

from analyzer.report.svgtext import fit_unique, fits, svg_open, text_block

ISSUER_X, CERT_X, USER_X = 8, 318, 640
COLUMN = 270  # text width of a column
ROW = 34
TOP = 30
FONT = 11


def _issuer_name(dn: str) -> str:
    # "CN=kube-apiserver-lb-signer,OU=openshift" -> its CN; an issuer without CN keeps its whole DN.
    for part in dn.split(","):
        if part.startswith("CN="):
            return part[3:]
    return dn


def _use(use: str) -> str:
    return use.split(" (")[0]


def trust_graph(certificates: list[dict[str, Any]], broken: set[str]) -> str:
    """``broken``: fingerprints of certificates a failing finding names. "" when no certificate is in use."""
    leaves = [c for c in certificates if not c["is_ca"] and c.get("used_by")]
    if not leaves:
        return ""
    cas = {c["subject"]: c for c in certificates if c["is_ca"]}
    issuers = list(dict.fromkeys(leaf["issuer"] for leaf in leaves))
    issuer_rank = {issuer: index for index, issuer in enumerate(issuers)}
    # Grouped under their issuer, certificates draw their issuer edges without crossing.
    leaves.sort(key=lambda c: (issuer_rank[c["issuer"]], c["common_name"], c["not_after"]))
    users = list(dict.fromkeys(_use(use) for leaf in leaves for use in leaf["used_by"] if ": trust bundle" not in use))
    rows = max(len(leaves), len(users), len(issuers))
    height = TOP + rows * ROW + 8
    width = USER_X + COLUMN + 8

    def row_y(index: int, count: int) -> float:
        # Columns with fewer nodes spread over the same height, centred.
        return TOP + (index + 0.5) * rows * ROW / count

    leaf_y = [row_y(i, len(leaves)) for i in range(len(leaves))]
    # An issuer sits at the middle of the certificates it signed.
    issuer_y = {}
    for issuer in issuers:
        ys = [y for leaf, y in zip(leaves, leaf_y, strict=True) if leaf["issuer"] == issuer]
        issuer_y[issuer] = sum(ys) / len(ys)
    user_y = {user: row_y(i, len(users)) for i, user in enumerate(users)}
    parts = [svg_open(width, height, "trust graph")]
    for x, heading in ((ISSUER_X, "issuers"), (CERT_X, "certificates in use"), (USER_X, "presented by")):
        parts.append(f'<text x="{x}" y="14" font-weight="bold">{heading}</text>')
    edges, labels = [], []
    chars = fits(COLUMN - 12, FONT)
    # Told apart by name first (the ✗ of a broken one is added after), then by expiry and fingerprint.
    names = fit_unique([leaf["common_name"] or leaf["subject"] for leaf in leaves],
                       [f"until {leaf['not_after'][:10]}, sha256 {leaf['fingerprint_sha256'][:8]}" for leaf in leaves], chars - 2)
    for leaf, lines, y in zip(leaves, names, leaf_y, strict=True):
        bad = leaf["fingerprint_sha256"] in broken
        lines = ["✗ " + lines[0], *lines[1:]] if bad else lines
        stroke = ' stroke="#cf222e" stroke-width="2" stroke-dasharray="5 3"' if bad else ' stroke="#8c959f"'
        edges.append(f'<line x1="{ISSUER_X + COLUMN - 6}" y1="{issuer_y[leaf["issuer"]]:.1f}" x2="{CERT_X - 4}" y2="{y:.1f}"{stroke}/>')
        for use in leaf["used_by"]:
            if ": trust bundle" not in use:
                edges.append(f'<line x1="{CERT_X + COLUMN - 6}" y1="{y:.1f}" x2="{USER_X - 4}" y2="{user_y[_use(use)]:.1f}"{stroke}/>')
        title = f"{leaf['subject']}\nissued by {leaf['issuer']}\n{leaf['not_before']} to {leaf['not_after']} ({leaf['state']})" + (
            "\nBROKEN: a check fails on it" if bad else "")
        style = ' fill="#cf222e" font-weight="bold"' if bad else ""
        labels.append(text_block(CERT_X, y + 4 - (len(lines) - 1) * 6.5, lines, title, size=FONT, attributes=style, line_height=13))
    issuer_names = fit_unique([_issuer_name(issuer) + ("" if issuer in cas else " (not in evidence)") for issuer in issuers], issuers, chars)
    for issuer, lines in zip(issuers, issuer_names, strict=True):
        y = issuer_y[issuer]
        known = issuer in cas
        title = f"{issuer}" + (f"\nCA certificate until {cas[issuer]['not_after']}" if known else "\nits CA certificate is not in this evidence")
        attributes = ' fill="#0969da"' if known else ' fill="#57606a" font-style="italic"'
        labels.append(text_block(ISSUER_X, y + 4 - (len(lines) - 1) * 6.5, lines, title, size=FONT, attributes=attributes, line_height=13))
    for (user, y), lines in zip(user_y.items(), fit_unique(list(user_y), list(user_y), chars), strict=True):
        labels.append(text_block(USER_X, y + 4 - (len(lines) - 1) * 6.5, lines, user, size=FONT, line_height=13))
    parts += edges + labels
    parts.append("</svg>")
    return "".join(parts)
