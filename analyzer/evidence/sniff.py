"""What a file is, from its first bytes: one place for the magic numbers detection and decoding share.

Containers (gzip, xz, bzip2, zstd, zip, ustar) are recognised here; whatever opens them asks this module.
"""

from __future__ import annotations

from typing import IO


from enum import Enum


class Container(Enum):
    """What the first bytes of a file say it is."""

    TAR = "tar"
    GZIP = "gzip"
    XZ = "xz"
    BZIP2 = "bzip2"
    ZSTD = "zstd"
    ZIP = "zip"


COMPRESSED = frozenset({Container.GZIP, Container.XZ, Container.BZIP2, Container.ZSTD})


# Magic bytes, all at offset 0 except ustar's.
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"  # followed by the block size digit '1'..'9'
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878 section 3.1.1
ZIP_LOCAL_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"  # an empty zip is only its end-of-central-directory record
USTAR_MAGIC = b"ustar"  # POSIX writes "ustar\x0000", GNU "ustar  \x00"; both start so
USTAR_MAGIC_OFFSET = 257
SNIFF_BYTES = 512  # one tar header block holds every magic above


# Recognised only so that an unsupported file can be named in the error.
_OTHER_MAGICS = (
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x04\x22\x4d\x18", "lz4-compressed data"),
)


# --------------------------------------------------------------------------- detection


def container_of(head: bytes) -> Container | None:
    if head.startswith(GZIP_MAGIC):
        return Container.GZIP
    if head.startswith(XZ_MAGIC):
        return Container.XZ
    if head.startswith(BZIP2_MAGIC) and head[3:4].isdigit():
        return Container.BZIP2
    if head.startswith(ZSTD_MAGIC):
        return Container.ZSTD
    if head.startswith((ZIP_LOCAL_MAGIC, ZIP_EMPTY_MAGIC)):
        return Container.ZIP
    if head[USTAR_MAGIC_OFFSET : USTAR_MAGIC_OFFSET + len(USTAR_MAGIC)] == USTAR_MAGIC:
        return Container.TAR
    return None


def peek_head(fileobj: IO[bytes]) -> bytes:
    position = fileobj.tell()
    try:
        return fileobj.read(SNIFF_BYTES)
    finally:
        fileobj.seek(position)


def sniff_container(fileobj: IO[bytes]) -> Container | None:
    """What a seekable binary file is, by its magic bytes; the file position is left unchanged."""
    return container_of(peek_head(fileobj))


def describe_head(head: bytes) -> str:
    if not head:
        return "empty file; not an archive"
    for magic, name in _OTHER_MAGICS:
        if head.startswith(magic):
            return f"looks like {name}, which is not supported"
    shown = " ".join(f"{byte:02x}" for byte in head[:8])
    return (
        f"not a directory or a tar, tar.gz, tar.xz, tar.bz2 or zip archive (first bytes: {shown})"
    )
