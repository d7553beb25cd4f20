"""What tarfile, zipfile and the decompressors raise on damaged or cut-off input."""

from __future__ import annotations

import gzip
import lzma
import struct
import tarfile
import zipfile
import zlib


import zstandard  # python-zstandard: Python 3.11 has no compression.zstd


# tarfile's kinds of header error: undocumented, but stable since Python 3.2 (typeshed omits them).
TAR_END_OF_ARCHIVE: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]  # typeshed does not declare tarfile's header errors
TAR_NO_HEADER: type[Exception] = tarfile.EmptyHeaderError  # type: ignore[attr-defined]  # typeshed does not declare tarfile's header errors
TAR_CUT_HEADER: type[Exception] = tarfile.TruncatedHeaderError  # type: ignore[attr-defined]  # typeshed does not declare tarfile's header errors


class DamagedHeader(Exception):
    """A tar header that is neither a member nor the end-of-archive marker."""


# What tarfile and the decompressors (and a zip member they read from) raise on damaged or cut-off
# input. RecursionError: tarfile recurses once per chained pax header.
# What the decompressors raise on damaged data (gzip's is an OSError: catch these first).
DECOMPRESSION_DAMAGE: tuple[type[BaseException], ...] = (
    gzip.BadGzipFile,
    lzma.LZMAError,
    zlib.error,
    zstandard.ZstdError,
)

TAR_DAMAGE = (
    tarfile.TarError,
    zipfile.BadZipFile,  # a tar streamed out of a zip member fails its CRC at the end
    DamagedHeader,
    EOFError,
    OSError,
    lzma.LZMAError,
    zlib.error,
    ValueError,
    RecursionError,
    zstandard.ZstdError,
)


# What zipfile and its decompressors raise on damaged member data.
ZIP_DAMAGE = (zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError, struct.error)
