"""An uncompressed tar as an evidence tree, indexed once and read in place."""

from __future__ import annotations

import io
import stat
import tarfile
from collections.abc import Iterator
from typing import IO, Self

from analyzer.errors import CorruptEvidence, TruncatedEvidence, UnsupportedEvidence
from analyzer.evidence.tree.base import EvidenceTree
from analyzer.evidence.tree.damage import DamagedHeader, TAR_CUT_HEADER, TAR_DAMAGE, TAR_END_OF_ARCHIVE, TAR_NO_HEADER
from analyzer.evidence.tree.entries import EntryKind, Limits, MiB, Decompressed, describe_member, member_path, printable, reason_of, utc_from_seconds
from analyzer.evidence.sniff import Container
from analyzer.evidence.tree.index import TreeIndex
from analyzer.records import datarecord


# pax and GNU long-name headers are read into memory whole by tarfile; real ones are a few hundred
# bytes, so a header declaring more is hostile (a gzip bomb aimed at tarfile's buffer).
MAX_TAR_METADATA_BYTES = 1 * MiB
_TAR_METADATA_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
_TAR_SPECIAL_TYPES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
}


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile's TarInfo with two guards an evidence reader needs and tarfile lacks.

    tarfile silently treats an unreadable header after the first as the end of the archive; for
    evidence that hides lost members, so it is raised instead. And tarfile reads a pax or GNU
    long-name header into memory whole, whatever size it declares; that size is capped.
    """

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _TAR_METADATA_TYPES and info.size > MAX_TAR_METADATA_BYTES:
            raise DamagedHeader(
                f"an extended header declares {info.size} bytes "
                f"(at most {MAX_TAR_METADATA_BYTES} are read)"
            )
        return info

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except TAR_END_OF_ARCHIVE:
            raise  # a zero block: the archive's normal end
        except TAR_NO_HEADER:
            raise DamagedHeader("the archive ends without its end-of-archive marker") from None
        except TAR_CUT_HEADER:
            raise DamagedHeader("the archive ends inside a header") from None
        except tarfile.HeaderError as exc:
            raise DamagedHeader(f"damaged header ({reason_of(exc)})") from None


def open_tarfile(
    source: str, fileobj: IO[bytes] | Decompressed, container: Container
) -> tarfile.TarFile:
    """tarfile over a plain tar (random access) or a decompressed stream (one pass)."""
    try:
        if container is Container.TAR:
            return tarfile.open(fileobj=fileobj, mode="r:", tarinfo=_BoundedTarInfo)
        return tarfile.open(fileobj=fileobj, mode="r|", tarinfo=_BoundedTarInfo)
    except EOFError as exc:
        raise TruncatedEvidence(
            source, f"{container.value} data ends before the first tar header ({reason_of(exc)})"
        ) from None
    except (DamagedHeader, tarfile.TarError) as exc:
        if container is Container.TAR:
            raise CorruptEvidence(source, f"first tar header: {reason_of(exc)}") from None
        raise UnsupportedEvidence(
            source, f"{container.value}-compressed data that is not a tar archive ({reason_of(exc)})"
        ) from None
    except TAR_DAMAGE as exc:
        raise CorruptEvidence(
            source, f"{container.value} data is damaged: {reason_of(exc)}"
        ) from None


@datarecord
class TarFileMember:
    """A regular-file member whose contents a tar tree may keep (or a hard link to one)."""

    path: str
    info: tarfile.TarInfo
    same_as: str | None = None  # for a hard link: the earlier member whose contents it shares


def iter_tar_files(
    tar: tarfile.TarFile, index: TreeIndex, stream_limit: int | None
) -> Iterator[TarFileMember]:
    """Index every member; yield the regular files (and hard links to them) for their contents.

    Damage ends the walk with a problem naming the offset and the last member read.
    """
    last = ""
    while True:
        offset = tar.offset
        try:
            info = tar.next()
        except TAR_DAMAGE as exc:
            after = f"after {describe_member(last)}" if last else "before any member"
            index.stop(
                last,
                f"archive is damaged or cut off at offset {offset}, {after}: {reason_of(exc)}; "
                "later members are missing",
            )
            return
        if info is None:
            return
        if not index.admit_member():
            return
        if stream_limit is not None and info.offset_data + info.size > stream_limit:
            # Checked before tarfile skips the data, so a bomb is never decompressed.
            index.stop(
                info.name,
                f"reading stopped: the archive holds more than {stream_limit} uncompressed bytes",
            )
            return
        last = info.name
        yield from _admit_tar_member(index, info)


def _admit_tar_member(index: TreeIndex, info: tarfile.TarInfo) -> Iterator[TarFileMember]:
    mode, mtime_utc = stat.S_IMODE(info.mode), utc_from_seconds(info.mtime)
    if info.isreg():
        path = index.add(info.name, EntryKind.FILE, size=info.size, mode=mode, mtime_utc=mtime_utc)
        if path is not None:
            yield TarFileMember(path, info)
    elif info.isdir():
        index.add(info.name, EntryKind.DIR, mode=mode, mtime_utc=mtime_utc)
    elif info.issym():
        index.add(
            info.name, EntryKind.SYMLINK, link_target=info.linkname, mode=mode, mtime_utc=mtime_utc
        )
    elif info.islnk():
        # A hard link names an earlier member; it is listed as that member's twin.
        target_path, refusal = member_path(info.linkname)
        target = index.entries.get(target_path) if refusal is None and target_path else None
        if target is None or target.kind is EntryKind.DIR:
            index.refuse(
                info.name,
                f"hard link to {printable(info.linkname)}, which is not an earlier file member; "
                "skipped",
            )
            return
        path = index.add(
            info.name,
            target.kind,
            size=target.size,
            link_target=target.link_target,
            mode=mode,
            mtime_utc=mtime_utc,
        )
        if path is not None and target.kind is EntryKind.FILE:
            yield TarFileMember(path, info, same_as=target_path)
    else:
        kind = _TAR_SPECIAL_TYPES.get(info.type, f"unsupported type {info.type!r}")
        index.refuse(info.name, f"{kind} member; skipped")


class TarTree(EvidenceTree):
    """An uncompressed tar, indexed once and read in place (tarfile knows each member's offset)."""

    format = "tar"

    def __init__(self, source: str, fileobj: IO[bytes], limits: Limits, depth: int) -> None:
        super().__init__(source, limits, depth)
        self._input = fileobj
        self._archive_size = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(0)
        self._tar = open_tarfile(source, fileobj, Container.TAR)
        self._members: dict[str, tarfile.TarInfo] = {}
        index = TreeIndex(limits)
        for member in iter_tar_files(self._tar, index, stream_limit=None):
            if member.same_as is not None:
                self._members[member.path] = self._members[member.same_as]
            elif not self._keep(index, member):
                break
        self._adopt(index)

    def _keep(self, index: TreeIndex, member: TarFileMember) -> bool:
        info = member.info
        end = info.offset_data + info.size
        # Sparse members store less than their size, so the end check would be wrong for them.
        if not info.issparse() and end > self._archive_size:
            index.stop(
                member.path,
                f"archive is cut off inside this member (its data ends at offset {end}, the "
                f"archive at {self._archive_size}); later members are missing",
            )
            self._unavailable[member.path] = (
                TruncatedEvidence,
                "the archive ends inside this member",
            )
            return False
        self._members[member.path] = info
        return True

    def member_span(self, path: str) -> tuple[int, int] | None:
        # A regular member's data is one run of the archive (a hard link shares its target's run);
        # a sparse member stores less than its size, so it is not a window of the file.
        found, _entry = self._file(path)
        info = self._members[found]
        return None if info.issparse() else (info.offset_data, info.size)

    def _read_file(self, path: str, size: int) -> bytes:
        try:
            stream = self._tar.extractfile(self._members[path])
            assert stream is not None  # only regular members are kept
            with stream:
                data = stream.read(size)
        except TAR_DAMAGE as exc:
            raise CorruptEvidence(
                self.source, f"cannot read: {reason_of(exc)}", describe_member(path)
            ) from None
        if len(data) != size:
            raise TruncatedEvidence(
                self.source,
                f"the archive ends inside this member ({len(data)} of {size} bytes)",
                describe_member(path),
            )
        return data

    def _open_member(self, path: str) -> IO[bytes]:
        stream = self._tar.extractfile(self._members[path])
        assert stream is not None
        return stream  # a seekable view into this archive's file

    def close(self) -> None:
        super().close()
        self._tar.close()
        self._input.close()
