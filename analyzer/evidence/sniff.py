"""What a file is, from its first bytes: the one place for magic numbers and first-look checks.

Containers (gzip, xz, bzip2, zstd, zip, ustar), a bbolt meta page (an etcd snapshot), an
EncryptionConfiguration and the log-line kinds (through ``gomodel.klog``'s one grammar) are recognised
here; detection and the readers ask this module rather than matching bytes themselves.
"""

from __future__ import annotations

import struct
from enum import Enum
from typing import IO

from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.errors import DecodeError
from analyzer.evidence.bbolt_format import MAGIC_BYTES, META_OFFSET, VERSION
from analyzer.gomodel.klog import LogFormat as LogFormat  # the log kinds: gomodel.klog's one grammar
from analyzer.gomodel.klog import sniff_log as sniff_log


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
SQLITE_MAGIC = b"SQLite format 3"  # named only, when a file given as an etcd snapshot is not one
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


# --------------------------------------------------------------------------- etcd snapshots, configs, logs


BOLT_SNIFF_BYTES = 64
LOG_SNIFF_BYTES = 64 << 10
MAX_CONFIG_BYTES = LOG_SNIFF_BYTES  # an EncryptionConfiguration is a few hundred bytes


def is_bolt_head(head: bytes) -> bool:
    """A valid-looking bbolt meta page 0: magic, version 2 and a power-of-two page size.

    The magic and the meta struct are bbolt_format's, the same the reader validates with.
    """
    layout = MAGIC_BYTES.get(head[META_OFFSET : META_OFFSET + 4])
    if layout is None or len(head) < META_OFFSET + 12:
        return False
    _magic, version, page_size = struct.unpack_from(layout.order_char + "III", head, META_OFFSET)
    return bool(version == VERSION and page_size >= 512 and page_size & (page_size - 1) == 0)


def describe_not_bolt(head: bytes) -> str:
    """A human hint for a file given as a bbolt database that is not one, from its first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "it is gzip-compressed; decompress it first (gunzip) or pass it as node evidence"
    if head.startswith(XZ_MAGIC):
        return "it is xz-compressed; decompress it first (unxz) or pass it as node evidence"
    if head.startswith(ZIP_LOCAL_MAGIC):
        return "it is a zip archive, not a bbolt database"
    if head[USTAR_MAGIC_OFFSET : USTAR_MAGIC_OFFSET + len(USTAR_MAGIC)] == USTAR_MAGIC:
        return "it is a tar archive, not a bbolt database"
    if head.startswith(SQLITE_MAGIC):
        return "it is an SQLite database, not a bbolt database"
    sample = head[:64]
    if sample and all(32 <= b < 127 or b in (9, 10, 13) for b in sample):
        return "it is a text file, not a bbolt database"
    return f"no bbolt meta page found (first bytes {head[:8].hex(' ')})"


def plausible_bolt_size(size: int) -> bool:
    # Whole pages, plus the 32-byte SHA-256 trailer `snapshot save` appends (etcdutl hasChecksum).
    return size >= 1024 and size % 512 in (0, 32)


def named_like_snapshot(path: str) -> bool:
    name = path.rpartition("/")[2].lower()
    return name == "db" or name.endswith(".db") or name.startswith("snapshot")


def is_encryption_config(data: bytes) -> bool:
    if len(data) > MAX_CONFIG_BYTES or b"\x00" in data:
        return False
    try:
        document = load_yaml_mapping(data, "EncryptionConfiguration")
    except DecodeError:
        return False
    return document.get("kind") in ("EncryptionConfiguration", "EncryptionConfig")


def describe_text(data: bytes) -> str:
    try:
        data.decode("utf-8")
        binary = b"\x00" in data[:SNIFF_BYTES]
    except UnicodeDecodeError as exc:
        binary = exc.start < len(data) - 4  # a character cut by the sniff limit is still text
    if binary:
        return f"a binary file (first bytes {data[:8].hex(' ')})"
    try:
        document = load_yaml_mapping(data, "file")
    except DecodeError:
        return "a text file that is neither YAML kforensic reads nor a kube-apiserver log"
    kind = document.get("kind")
    return f"YAML of kind {kind}" if kind else "a YAML file without a kind"
