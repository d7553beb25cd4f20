"""A zip archive as an evidence tree."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from datetime import datetime
from typing import IO

from analyzer.errors import CorruptEvidence, EvidenceError, UnsupportedEvidence
from analyzer.evidence.tree.base import EvidenceTree
from analyzer.evidence.tree.damage import ZIP_DAMAGE
from analyzer.evidence.tree.entries import EntryKind, Limits, MAX_LINK_TARGET_BYTES, describe_member, reason_of, special_kind, utc_from_seconds
from analyzer.evidence.tree.index import TreeIndex


# zip structures (APPNOTE.TXT 4.5 and info-zip's "extended timestamp" extra field).
ZIP_EXTRA_FIELD = struct.Struct("<HH")  # header id, data size
ZIP_EXTENDED_TIMESTAMP = struct.Struct("<Bi")  # flags, mtime in Unix seconds (UTC)
ZIP_EXTENDED_TIMESTAMP_ID = 0x5455
ZIP_EXTENDED_TIMESTAMP_HAS_MTIME = 0x01
ZIP_UNIX_SYSTEM = 3  # create_system of a member made on Unix: external_attr >> 16 is st_mode
ZIP_FLAG_ENCRYPTED = 0x01


# --------------------------------------------------------------------------- zip


def _zip_mtime(extra: bytes) -> datetime | None:
    """The mtime of info-zip's extended-timestamp field. A zip's DOS date has no time zone, so
    without that field the time is unknown rather than guessed."""
    offset = 0
    while offset + ZIP_EXTRA_FIELD.size <= len(extra):
        field_id, size = ZIP_EXTRA_FIELD.unpack_from(extra, offset)
        offset += ZIP_EXTRA_FIELD.size
        if field_id == ZIP_EXTENDED_TIMESTAMP_ID and size >= ZIP_EXTENDED_TIMESTAMP.size:
            flags, mtime = ZIP_EXTENDED_TIMESTAMP.unpack_from(extra, offset)
            return utc_from_seconds(mtime) if flags & ZIP_EXTENDED_TIMESTAMP_HAS_MTIME else None
        offset += size
    return None


class ZipTree(EvidenceTree):
    """A zip, listed from its central directory and read member by member.

    A zip bomb is answered by never trusting the declared size alone: a member is read only when
    its declared size is within the limit, decompression stops at that size, and the bytes that
    came out must match both the declared size and the CRC.
    """

    format = "zip"

    def __init__(self, source: str, fileobj: IO[bytes], limits: Limits, depth: int) -> None:
        super().__init__(source, limits, depth)
        self._input = fileobj
        try:
            self._zip = zipfile.ZipFile(fileobj)
        except NotImplementedError as exc:
            # zipfile refuses the whole archive when any member needs a newer "version needed to
            # extract" than it implements (zip file version 9.9), as unzip refuses that member.
            raise UnsupportedEvidence(source, f"zip archive needs a newer reader ({reason_of(exc)})") from None
        except ZIP_DAMAGE as exc:
            raise CorruptEvidence(
                source,
                f"zip central directory cannot be read ({reason_of(exc)}); the file may be cut off",
            ) from None
        self._members: dict[str, zipfile.ZipInfo] = {}
        index = TreeIndex(limits)
        for info in self._zip.infolist():
            if not index.admit_member():
                break
            self._admit(index, info)
        self._adopt(index)

    def _admit(self, index: TreeIndex, info: zipfile.ZipInfo) -> None:
        if not info.filename:
            # zipfile's own is_dir() fails on it (found by fuzz/target_archives.py: IndexError).
            index.refuse(info.filename, "member with an empty name; skipped")
            return
        unix = info.create_system == ZIP_UNIX_SYSTEM
        st_mode = info.external_attr >> 16 if unix else 0
        mode = stat.S_IMODE(st_mode) if unix else None
        mtime_utc = _zip_mtime(info.extra)
        file_type = stat.S_IFMT(st_mode)
        if info.is_dir() or file_type == stat.S_IFDIR:
            index.add(info.filename, EntryKind.DIR, mode=mode, mtime_utc=mtime_utc)
        elif file_type == stat.S_IFLNK:
            target = self._link_target(index, info)
            if target is not None:
                index.add(
                    info.filename,
                    EntryKind.SYMLINK,
                    link_target=target,
                    mode=mode,
                    mtime_utc=mtime_utc,
                )
        elif file_type in (0, stat.S_IFREG):
            path = index.add(
                info.filename, EntryKind.FILE, size=info.file_size, mode=mode, mtime_utc=mtime_utc
            )
            if path is not None:
                self._members[path] = info
                if info.flag_bits & ZIP_FLAG_ENCRYPTED:
                    self._unavailable[path] = (UnsupportedEvidence, "member is encrypted")
        else:
            index.refuse(info.filename, f"{special_kind(st_mode)} member; skipped")

    def _link_target(self, index: TreeIndex, info: zipfile.ZipInfo) -> str | None:
        # zip -y stores a symlink as a member with S_IFLNK in its mode and the target as data.
        if info.file_size > MAX_LINK_TARGET_BYTES:
            index.refuse(info.filename, f"symbolic link target of {info.file_size} bytes; skipped")
            return None
        try:
            data = self._read_member(info, info.file_size)
        except EvidenceError as exc:
            index.refuse(
                info.filename, f"symbolic link target cannot be read ({exc.problem}); skipped"
            )
            return None
        return data.decode("utf-8", "surrogateescape")

    def _read_member(self, info: zipfile.ZipInfo, size: int) -> bytes:
        where = describe_member(info.filename)
        try:
            with self._zip.open(info) as stream:
                # Reading exactly the declared size makes zipfile check the CRC.
                data = stream.read(size)
        except NotImplementedError as exc:  # a compression method zipfile lacks
            raise UnsupportedEvidence(self.source, reason_of(exc), where) from None
        except ZIP_DAMAGE as exc:
            raise CorruptEvidence(
                self.source, f"member data does not match its header ({reason_of(exc)})", where
            ) from None
        if len(data) != size:
            raise CorruptEvidence(
                self.source,
                f"member holds {len(data)} bytes but its header declares {info.file_size}",
                where,
            )
        return data

    def _read_file(self, path: str, size: int) -> bytes:
        return self._read_member(self._members[path], size)

    def _open_member(self, path: str) -> IO[bytes]:
        info = self._members[path]
        if info.file_size <= self.limits.max_member_bytes:
            return io.BytesIO(self._read_member(info, info.file_size))
        # Too big to hold: stream it (a zip member seeks backwards only by re-reading).
        try:
            return self._zip.open(info)
        except NotImplementedError as exc:
            raise UnsupportedEvidence(self.source, reason_of(exc), describe_member(info.filename)) from None
        except ZIP_DAMAGE as exc:
            raise CorruptEvidence(self.source, f"member header is damaged ({reason_of(exc)})", describe_member(info.filename)) from None

    def close(self) -> None:
        super().close()
        self._zip.close()
        self._input.close()
