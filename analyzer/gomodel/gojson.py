"""How Go's encoding/json (and sigs.k8s.io/json, which the apiserver uses) reads a document.

Where it differs from Python's json, and the difference could crash or mislead a reader here:

* invalid UTF-8 and unpaired surrogate escapes (``"\\ud800"``) inside strings become U+FFFD
  instead of failing (decode.go ``unquote``); Python would keep a lone surrogate in the str, which
  then cannot be written as UTF-8;
* ``NaN`` and ``Infinity`` are not JSON and are refused; a byte-order mark is refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def load_go_json(data: bytes | str) -> Any:
    """json.Unmarshal into an interface{}; raises ValueError (and RecursionError) as json.loads does."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    parsed = json.loads(text, parse_constant=_refuse_constant)
    return _replace_surrogates(parsed) if _SURROGATE_ESCAPE.search(text) else parsed


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _replace_surrogates(item: Any) -> Any:
    # A valid pair is already one character in the str, so any surrogate left is unpaired.
    if isinstance(item, str):
        return _SURROGATE.sub("\ufffd", item)
    if isinstance(item, list):
        return [_replace_surrogates(element) for element in item]
    if isinstance(item, dict):
        return {_replace_surrogates(key): _replace_surrogates(element) for key, element in item.items()}
    return item
