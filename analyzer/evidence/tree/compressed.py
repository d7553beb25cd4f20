"""Compressed streams: gzip/xz/bzip2/zstd decompressors and a compressed tar read in one pass."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from collections.abc import Callable
from typing import IO

from analyzer.errors import CorruptEvidence, EvidenceError, TruncatedEvidence
from analyzer.evidence.spill import SpilledFile

import zstandard  # python-zstandard: Python 3.11 has no compression.zstd
from analyzer.evidence.tree.base import EvidenceTree
from analyzer.evidence.tree.damage import TAR_DAMAGE
from analyzer.evidence.tree.entries import Limits, Spill, WantFilter, Decompressed, reason_of, too_big
from analyzer.evidence.sniff import Container
from analyzer.evidence.tree.index import TreeIndex
from analyzer.evidence.tree.tar import TarFileMember, iter_tar_files, open_tarfile


def _zstd_reader(raw: IO[bytes]) -> io.BufferedReader:
    # Buffered for peek(); read_across_frames: zstd -T writes several frames, like pigz's gzip members.
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)
    return io.BufferedReader(reader)


_DECOMPRESSORS: dict[Container, Callable[[IO[bytes]], Decompressed]] = {
    Container.GZIP: lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    Container.XZ: lambda raw: lzma.LZMAFile(raw, "rb"),  # noqa: SIM115 - closed by its caller
    Container.BZIP2: lambda raw: bz2.BZ2File(raw, "rb"),
    Container.ZSTD: _zstd_reader,  # type: ignore[dict-item]  # a BufferedReader reads like the others; typeshed names each class
}
_TAR_FORMATS = {Container.GZIP: "tar.gz", Container.XZ: "tar.xz", Container.BZIP2: "tar.bz2", Container.ZSTD: "tar.zst"}


def open_decompressed(fileobj: IO[bytes], container: Container) -> Decompressed:
    """A one-pass stream of what a gzip, xz, bzip2 or zstd file holds (a ``snapshot.db.gz``)."""
    return _DECOMPRESSORS[container](fileobj)


def peek_decompressed(source: str, fileobj: IO[bytes], container: Container, size: int) -> bytes | None:
    """The first ``size`` decompressed bytes, or None when the stream is damaged; fileobj is rewound."""
    position = fileobj.tell()
    try:
        with open_decompressed(fileobj, container) as stream:
            return stream.read(size)
    except (EOFError, *TAR_DAMAGE):
        return None
    finally:
        fileobj.seek(position)


def _check_stream_start(source: str, stream: Decompressed, container: Container) -> None:
    # Decompress the first block before tarfile sees it: tarfile reports a decompression error
    # in its first header as "not a tar", but a damaged gzip is corrupt, not unsupported.
    try:
        stream.peek(tarfile.BLOCKSIZE)
    except EOFError as exc:
        raise TruncatedEvidence(
            source, f"{container.value} data is cut off ({reason_of(exc)})"
        ) from None
    except TAR_DAMAGE as exc:
        raise CorruptEvidence(
            source, f"{container.value} data is damaged: {reason_of(exc)}"
        ) from None


class StreamedTarTree(EvidenceTree):
    """A compressed tar, read in one pass; the contents that fit the limits are held in memory.

    ``want(path)`` chooses which files' contents to hold (all when None); the rest are still
    listed. A compressed stream cannot be re-read cheaply, so nothing else can be read later.
    """

    def __init__(
        self,
        source: str,
        fileobj: IO[bytes],
        container: Container,
        limits: Limits,
        want: WantFilter | None,
        depth: int,
        spill: Spill | None = None,
    ) -> None:
        super().__init__(source, limits, depth)
        self.format = _TAR_FORMATS[container]
        self._want = want
        self._spill = spill
        self._held: dict[str, bytes] = {}
        self._held_bytes = 0
        index = TreeIndex(limits)
        with _DECOMPRESSORS[container](fileobj) as stream:
            _check_stream_start(source, stream, container)
            tar = open_tarfile(source, stream, container)
            for member in iter_tar_files(tar, index, stream_limit=limits.max_stream_bytes):
                if member.same_as is not None:
                    self._share(member.path, member.same_as)
                elif not self._hold(tar, index, member):
                    break
            tar.close()
        self._adopt(index)

    def _hold(self, tar: tarfile.TarFile, index: TreeIndex, member: TarFileMember) -> bool:
        if self._spill is not None and member.info.size >= self._spill.head_bytes:
            return self._hold_or_spill(tar, index, member, self._spill)
        return self._hold_in_memory(tar, index, member)

    def _hold_or_spill(self, tar: tarfile.TarFile, index: TreeIndex, member: TarFileMember, spill: Spill) -> bool:
        """Read a member's first bytes; spill it whole when ``spill`` wants it, else hold it as usual."""
        path, size = member.path, member.info.size
        try:
            stream = tar.extractfile(member.info)
            assert stream is not None
            head = stream.read(spill.head_bytes)
        except TAR_DAMAGE as exc:
            return self._cut_off(index, member, exc)
        if not spill.wanted(path, size, head):
            return self._hold_in_memory(tar, index, member, head=head, stream=stream)
        spilled = SpilledFile(f"{self.source}!{path}")
        try:
            spilled.fill(stream, head=head, limit=self.limits.max_stream_bytes, expected=size, progress=spill.progress)
            if spilled.size != size:
                raise EOFError(f"{spilled.size} of {size} bytes")
        except TAR_DAMAGE as exc:
            spilled.close()
            return self._cut_off(index, member, exc)
        except BaseException:
            spilled.close()
            raise
        self._spilled[path] = spilled
        return True

    def _cut_off(self, index: TreeIndex, member: TarFileMember, exc: BaseException) -> bool:
        index.stop(
            member.path,
            f"archive is damaged or cut off inside this member (data at offset "
            f"{member.info.offset_data}): {reason_of(exc)}; later members are missing",
        )
        self._unavailable[member.path] = (TruncatedEvidence, "the archive is damaged or cut off inside this member")
        return False

    def _hold_in_memory(self, tar: tarfile.TarFile, index: TreeIndex, member: TarFileMember, *,
                        head: bytes = b"", stream: IO[bytes] | None = None) -> bool:
        path, size = member.path, member.info.size
        if self._want is not None and not self._want(path):
            self._unavailable[path] = (
                EvidenceError,
                "contents were not kept when the archive was read",
            )
            return True
        if size > self.limits.max_member_bytes:  # the index has reported it
            self._unavailable[path] = (EvidenceError, too_big(size, self.limits))
            return True
        if self._held_bytes + size > self.limits.max_total_bytes:
            problem = (
                f"contents not kept: the {self.limits.max_total_bytes} bytes held per archive "
                "are used up"
            )
            index.refuse(path, problem)
            self._unavailable[path] = (EvidenceError, problem)
            return True
        try:
            if stream is None:
                stream = tar.extractfile(member.info)
            assert stream is not None
            with stream:
                data = head + stream.read(size - len(head))
            if len(data) != size:
                raise EOFError(f"{len(data)} of {size} bytes")
        except TAR_DAMAGE as exc:
            return self._cut_off(index, member, exc)
        self._held[path] = data
        self._held_bytes += size
        return True

    def _share(self, path: str, same_as: str) -> None:
        if same_as in self._spilled:
            self._spilled[path] = self._spilled[same_as].dup()
        elif same_as in self._held:
            self._held[path] = self._held[same_as]  # the same bytes object: no extra memory
        elif same_as in self._unavailable:
            self._unavailable[path] = self._unavailable[same_as]

    def _read_file(self, path: str, size: int) -> bytes:
        return self._held[path][:size]
