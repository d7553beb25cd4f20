"""The reference time every check evaluates at (``--at``; now when not given)."""

from __future__ import annotations

from datetime import UTC, datetime

from analyzer.errors import UsageError


def parse_reference_time(text: str | None, *, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from RFC 3339 / ISO 8601 text; a date alone means its midnight UTC.

    A time without an offset is taken as UTC, because evidence timestamps (etcd, klog, x509) are UTC.
    """
    if text is None or text.strip() == "" or text.strip().lower() == "now":
        moment = now or datetime.now(UTC)
        return moment.astimezone(UTC).replace(microsecond=0)
    given = find_iso_time(text)
    if given is None:
        raise UsageError(
            f"--at {text!r}: not a time; use RFC 3339 such as 2024-05-01T12:00:00Z or a date such as 2024-05-01"
        )
    if given.tzinfo is None:
        given = given.replace(tzinfo=UTC)
    return given.astimezone(UTC)


def find_iso_time(text: str) -> datetime | None:
    """ISO 8601 / RFC 3339 text as a datetime (``Z`` taken as UTC), naive when it has no offset; None when it is not a time."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        return None


def format_utc(moment: datetime) -> str:
    """A moment the way every output writes it: RFC 3339 in UTC, to the second."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
