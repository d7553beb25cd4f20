"""The SHA-256 that ``etcdctl snapshot save`` appends, checked beside the walk rather than before it.

etcd detects the trailer as size % 512 == 32 and compares it with the SHA-256 of the bytes before
it (etcdutl snapshot restore, ``hasChecksum``/``verifyChecksum``). One pass gives both digests:
the data's, which the trailer checks, and the whole file's, which the report names the input by.
The pass runs in a thread: hashlib releases the GIL on large buffers, so on two cores the hash
costs no wall time next to the tree walk, which is Python work.
"""

from __future__ import annotations

import hashlib
import threading
from enum import StrEnum

from analyzer.records import datarecord

TRAILER_SIZE = 32  # the SHA-256 that `snapshot save` appends
SECTOR = 512  # etcd detects the trailer as size % 512 == 32 (etcdutl hasChecksum)
HASH_CHUNK = 16 << 20


class Integrity(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    ABSENT = "absent"
    UNCHECKED = "unchecked"  # the trailer is there but --skip-hash-check was given


@datarecord
class IntegrityResult:
    status: Integrity
    expected_sha256: str | None = None
    actual_sha256: str | None = None

    def describe(self) -> str:
        if self.status is Integrity.OK:
            return "ok (SHA-256 appended by `etcdctl snapshot save` matches)"
        if self.status is Integrity.UNCHECKED:
            return "unchecked (a SHA-256 trailer is present; --skip-hash-check was given)"
        if self.status is Integrity.MISMATCH:
            return (
                f"MISMATCH: the appended SHA-256 is {self.expected_sha256} but the data hashes to "
                f"{self.actual_sha256}; the file was altered or damaged after it was saved"
            )
        return "absent (no SHA-256 trailer: a copied member/snap/db or a file not made by `snapshot save`)"


@datarecord
class Digests:
    integrity: IntegrityResult
    file_sha256: str


def hash_window(whole: object, base: int, file_size: int, has_trailer: bool) -> Digests:
    """Both digests of the ``file_size`` bytes at ``base`` in a mapping (``whole``, a buffer)."""
    data_end = file_size - TRAILER_SIZE if has_trailer else file_size
    digest = hashlib.sha256()
    mapped = memoryview(whole)  # type: ignore[arg-type]  # an mmap or bytes: anything with the buffer protocol
    view = mapped[base : base + file_size]
    try:
        for start in range(0, data_end, HASH_CHUNK):
            digest.update(view[start : min(start + HASH_CHUNK, data_end)])
        trailer = bytes(view[data_end:file_size])
    finally:
        view.release()
        mapped.release()
    whole_file = digest.copy()
    whole_file.update(trailer)
    if not has_trailer:
        return Digests(IntegrityResult(Integrity.ABSENT), whole_file.hexdigest())
    actual, expected = digest.hexdigest(), trailer.hex()
    return Digests(IntegrityResult(Integrity.OK if actual == expected else Integrity.MISMATCH, expected, actual), whole_file.hexdigest())


class BackgroundHash:
    """``hash_window`` in a thread of its own, started at once; ``result`` waits for it."""

    def __init__(self, whole: object, base: int, file_size: int, has_trailer: bool) -> None:
        self._result: Digests | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(whole, base, file_size, has_trailer), daemon=True,
                                        name="kforensic-sha256")
        self._thread.start()

    def _run(self, whole: object, base: int, file_size: int, has_trailer: bool) -> None:
        try:
            self._result = hash_window(whole, base, file_size, has_trailer)
        except BaseException as err:  # handed to whoever waits, in their thread
            self._error = err

    def result(self) -> Digests:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def wait(self) -> None:
        self._thread.join()
