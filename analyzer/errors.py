"""The one exception family of kforensic.

Every message is a single line a support engineer can act on: it names the input (and, where it
helps, the page, offset or member) and says what is wrong with it. Messages never carry key
material or secret values. The CLI catches ``KforensicError`` in exactly one place and turns it
into exit code 2.
"""

from __future__ import annotations


class KforensicError(Exception):
    """Root of every error kforensic raises on purpose."""


class UsageError(KforensicError):
    """A command-line value that cannot be used (a bad ``--at`` time, an unknown format)."""


class EvidenceError(KforensicError):
    """Something wrong with an input the customer sent.

    ``source`` is the input as the user named it; ``where`` narrows it down (``page 12``,
    ``offset 4096``, ``member etc/kubernetes/admin.conf``).
    """

    def __init__(self, source: object, problem: str, where: str | None = None) -> None:
        self.source = str(source)
        self.problem = problem
        self.where = where
        location = f"{self.source} ({where})" if where else self.source
        super().__init__(f"{location}: {problem}")


class UnsupportedEvidence(EvidenceError):
    """The input is readable but is not something kforensic understands."""


class CorruptEvidence(EvidenceError):
    """The input is of a known kind but its structure is damaged."""


class TruncatedEvidence(CorruptEvidence):
    """The input ends before its own structure says it should."""


class DecodeError(KforensicError):
    """Bytes that should hold an object (protobuf, JSON, PEM, YAML) could not be decoded."""


class DecryptionError(DecodeError):
    """An encrypted-at-rest value that no configured key opens, or that needs a KMS."""


def os_problem(err: OSError) -> str:
    """An OS error as the end of one line: "no such file", "cannot read: permission denied"."""
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(err, PermissionError):
        return "cannot read: permission denied"
    return f"cannot read: {(err.strerror or str(err)).lower()}"


class LiveEtcdError(EvidenceError):
    """A running etcd given with ``--etcd`` that cannot be read: ``source`` is the endpoint."""


class EtcdUnreachable(LiveEtcdError):
    """Nothing answers at the endpoint, or not within the timeout."""


class EtcdHandshakeRefused(LiveEtcdError):
    """The TLS handshake failed; ``facts`` says which side refused which file (live.HandshakeFacts)."""

    def __init__(self, source: object, problem: str, facts: object) -> None:
        super().__init__(source, problem)
        self.facts = facts


class EtcdPermissionDenied(LiveEtcdError):
    """etcd's authentication refused the read (the client certificate's user lacks a role)."""


class EtcdRevisionCompacted(LiveEtcdError):
    """The revision asked for is older than etcd's last compaction."""
