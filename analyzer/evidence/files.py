"""Small inputs named on the command line (an EncryptionConfiguration, a raw value, a log)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from analyzer.errors import EvidenceError, UnsupportedEvidence, os_problem

SMALL_INPUT_LIMIT = 256 << 20


def read_input_file(path: str | Path, *, limit: int = SMALL_INPUT_LIMIT) -> bytes:
    """The bytes of a regular file ('-' is stdin), with every OS problem as one clear line."""
    source = str(path)
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:
            info = Path(path).stat()
            if stat.S_ISDIR(info.st_mode):
                raise UnsupportedEvidence(source, "is a directory, not a file")
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except IsADirectoryError:
            raise UnsupportedEvidence(source, "is a directory, not a file") from None
        except OSError as err:
            raise EvidenceError(source, os_problem(err)) from None
    if len(data) > limit:
        raise UnsupportedEvidence(source, f"is larger than {limit >> 20} MiB; this input is expected to be small")
    return data
