"""YAML documents as they reach a case, sos scrub markers included (they are not valid YAML)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from analyzer.errors import DecodeError
from analyzer.gomodel.material import SOS_BASE64_SCRUB, SOS_PLACEHOLDER

# libyaml when PyYAML was built with it (the wheels on PyPI are): the same safe constructor over
# a C scanner, about ten times faster on a large secrets.yaml or config.yaml, and it keeps the
# configs fuzz target from spending its time inside PyYAML's pure-Python reader.
YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str | bytes) -> Any:
    """``yaml.safe_load`` with the fastest safe loader this PyYAML has."""
    return yaml.load(text, Loader=YAML_LOADER)  # a safe loader, libyaml or not

# --------------------------------------------------------------------------------------------
# sos-scrubbed YAML
# --------------------------------------------------------------------------------------------

# `key: *******` is a YAML alias (undefined), and `***** SCRUBBED ... *****` starts one too, so a
# scrubbed kubeconfig or config.yaml does not parse as it is.
_SOS_FIELD_LINE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<key>(?:- )?[^\s:#][^:#]*?):[ \t]*\*{5,}[ \t]*$")


def mask_sos_scrubs(text: str) -> str:
    """Replace sos scrub markers in YAML text by ``SOS_PLACEHOLDER`` so the YAML parses.

    sos scrubs line by line (``(.*)`` to the end of the line), so a scrubbed key whose value was a
    block sequence leaves its ``- item`` lines dangling under a scalar; those lines are dropped.
    """
    text = text.replace(SOS_BASE64_SCRUB, SOS_PLACEHOLDER)
    out: list[str] = []
    key_column: int | None = None  # column of the last scrubbed key while its value dangles
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if key_column is not None:
            indent = len(bare) - len(bare.lstrip(" \t"))
            stripped = bare.strip()
            if not stripped or indent > key_column or (indent == key_column and stripped.startswith("- ")):
                continue
            key_column = None
        match = _SOS_FIELD_LINE_RE.match(bare)
        if match:
            out.append(f"{match['indent']}{match['key']}: {SOS_PLACEHOLDER}{line[len(bare):]}")
            key_column = len(match["indent"]) + (2 if match["key"].startswith("- ") else 0)
            continue
        out.append(line)
    return "".join(out)


def load_yaml_mapping(data: bytes, what: str) -> dict[str, Any]:
    """Parse a YAML (or JSON) document that must be a mapping, tolerating sos scrub markers.

    PyYAML's messages quote the offending line, which may be a token or key, so only the position
    is kept.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{what} is not UTF-8 text (byte {exc.start})") from None
    try:
        document = safe_load(mask_sos_scrubs(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DecodeError(f"{what} is not valid YAML{where}") from None
    except yaml.YAMLError:
        raise DecodeError(f"{what} is not valid YAML") from None
    if not isinstance(document, dict):
        raise DecodeError(f"{what} is not a YAML mapping (found {type(document).__name__})")
    return document
