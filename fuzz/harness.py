"""What every fuzz target shares: how it starts, and what counts as a crash.

A target is a function of one input's bytes. kforensic answers bad input with its own error family
(analyzer/errors.py: ``KforensicError``), whose message is one line; any other exception, a message
of more than one line, or a broken invariant a target asserts is a crash. libFuzzer's ``-timeout``
and ``-rss_limit_mb`` turn time and memory bombs into crashes too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import atheris  # noqa: E402  (after the path: targets run as scripts from anywhere)


def instrumented() -> Any:
    """Context manager: modules of analyzer/ imported inside it report coverage to libFuzzer."""
    return atheris.instrument_imports(include=["analyzer"])


def run(target: Callable[[bytes], None]) -> None:
    """Start libFuzzer on ``target`` with the command line's libFuzzer flags (corpus, -runs=…)."""
    from analyzer.errors import KforensicError

    def test_one_input(data: bytes) -> None:
        try:
            target(data)
        except KforensicError as err:
            # The expected answer to hostile input; it must still be one line for the CLI.
            message = str(err)
            if "\n" in message or not message:
                raise AssertionError(f"{type(err).__name__} message is not one line: {message!r}") from err

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def utf8_clean(text: str) -> None:
    """Text that reaches a report must encode as UTF-8 (a lone surrogate would fail the writer)."""
    text.encode("utf-8")


# The EncryptionConfiguration keys of the value target, shared with make_corpus.py so that seeds
# are encrypted with keys the target can open. Test keys, nothing else.
VALUE_ETCD_KEY = b"/registry/secrets/default/fuzz"
VALUE_KEYS = (
    ("aescbc", "cbc-key", bytes(range(32))),
    ("aesgcm", "gcm-key", bytes(range(32, 64))),
    ("secretbox", "box-key", bytes(range(64, 96))),
)
