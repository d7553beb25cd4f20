"""kube component log lines, in every form they reach a support case: one grammar for detection and reading.

Forms: klog text (``I0501 12:00:00.123456 1 file.go:12] message``), structured klog from
Kubernetes 1.22 on (``"Loaded a new cert/key pair" name="…"``), klog's JSON output, and a bare
``Error: …`` from component-base when logging was not yet set up (layouts §3.1–3.2), each either
as it is (``crictl logs``, ``termination.log``) or behind a prefix:

* CRI log files: ``<RFC3339Nano> stderr F <line>`` (kubelet's CRI logging format);
* ``journalctl`` short: ``May 01 12:00:00 host unit[1]: <line>`` (no year, no zone: read as UTC);
* ``journalctl -o short-iso`` (and ``short-iso-precise``): ``2025-05-01T12:00:00+0000 host unit[1]: <line>``;
* ``journalctl -o export``: records of ``FIELD=value`` lines (or a binary field: its name, a
  little-endian 64-bit size, the bytes) ended by an empty line (systemd JOURNAL_EXPORT_FORMATS);
  the time is ``__REALTIME_TIMESTAMP`` (microseconds since the epoch), the line ``MESSAGE`` and
  the severity ``PRIORITY`` (syslog levels) when the message has no klog header of its own.

klog headers carry no year; the reference time supplies it. A prefix with a zone (CRI, short-iso,
export) gives the time; otherwise klog's header does.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from analyzer.gomodel.gojson import load_go_json
from analyzer.records import datarecord


class LogFormat(StrEnum):
    KLOG = "klog"  # text klog, structured or not (crictl logs, termination.log)
    JSON = "json"  # klog's JSON format
    CRI = "cri"  # /var/log/pods lines: "<RFC3339Nano> stderr F <klog line>"
    TIMESTAMPED = "timestamped"  # `oc logs --timestamps` (must-gather current.log): "<RFC3339Nano> <klog line>"
    JOURNAL = "journal"  # journalctl short formats
    JOURNAL_EXPORT = "journal-export"  # journalctl -o export


LOG_SNIFF_LINES = 50

_CRI = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (?:stdout|stderr) [FP] ")
# `oc logs --timestamps` (what `oc adm inspect` and must-gather write to current.log / previous.log): the
# kubelet's RFC3339Nano time, one space, the line (openshift/oc pkg/cli/admin/inspect/pod.go, Timestamps: true).
_TIMESTAMPED = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")
_JOURNAL_SHORT = re.compile(rb"^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) \S+ [^:\s]+: ")
_JOURNAL_ISO = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) \S+ [^:\s]+: ")
_KLOG = re.compile(r"^([IWEF])(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s+\d+\s+([^\s\]]+:\d+)\]\s?(.*)$", re.DOTALL)  # an export MESSAGE may hold newlines
_LOADED_NEW = re.compile(r'"Loaded a new cert/key pair" name="([^"]+)"')
_LOADED_OLD = re.compile(r'Loaded a new cert/key pair for "([^"]+)"')
_FLAG = re.compile(r'FLAG: --([\w-]+)="(.*)"$')
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
EXPORT_START = b"__CURSOR="
_EXPORT_SIZE = struct.Struct("<Q")
# syslog PRIORITY → klog severity: emerg..err are errors, warning a warning, notice..debug information.
_PRIORITY = {"0": "E", "1": "E", "2": "E", "3": "E", "4": "W", "5": "I", "6": "I", "7": "I"}


@datarecord
class LogEvent:
    source: str
    line_number: int
    time_utc: datetime | None
    severity: str  # I W E F, or "" when the line has no klog header
    message: str  # without the klog header
    loaded_pair: str | None = None  # "sni-serving-cert::<cert>::<key>" of a Loaded line
    flag: tuple[str, str] | None = None  # (name, value) of a FLAG dump line


def _in_year(month: int, day: int, hour: int, minute: int, second: int, micro: int, reference: datetime) -> datetime | None:
    """A year-less time (klog, journal short) placed in the reference's year, or the one before."""
    year = reference.year
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        return None
    # A line from December read in January belongs to the year before.
    return moment.replace(year=year - 1) if moment > reference.replace(microsecond=999999) and (moment - reference).days > 180 else moment


def _klog_time(month: str, day: str, hour: str, minute: str, second: str, fraction: str | None, reference: datetime) -> datetime | None:
    return _in_year(int(month), int(day), int(hour), int(minute), int(second), int((fraction or "0").ljust(6, "0")), reference)


def split_prefix(line: bytes, reference: datetime) -> tuple[LogFormat | None, datetime | None, bool, bytes]:
    """(the prefix's format, the time it carries, whether that time has a zone, the line after it)."""
    cri = _CRI.match(line)
    if cri:
        return LogFormat.CRI, _iso(cri.group(1).decode()), True, line[cri.end():]
    iso = _JOURNAL_ISO.match(line)
    if iso:
        return LogFormat.JOURNAL, _iso(iso.group(1).decode()), True, line[iso.end():]
    stamped = _TIMESTAMPED.match(line)
    if stamped:
        return LogFormat.TIMESTAMPED, _iso(stamped.group(1).decode()), True, line[stamped.end():]
    short = _JOURNAL_SHORT.match(line)
    if short:
        month = _MONTHS.get(short.group(1).decode())
        day, hour, minute, second = (int(group) for group in short.group(2, 3, 4, 5))
        moment = _in_year(month, day, hour, minute, second, 0, reference) if month else None
        return LogFormat.JOURNAL, moment, False, line[short.end():]
    return None, None, False, line


def parse_line(raw: bytes, source: str, line_number: int, reference: datetime) -> LogEvent | None:
    _prefix, time_utc, zoned, line = split_prefix(raw.rstrip(b"\r"), reference)
    return parse_message(line, source, line_number, reference, time_utc, zoned=zoned)


def parse_message(line: bytes, source: str, line_number: int, reference: datetime, time_utc: datetime | None = None,
                  *, zoned: bool = True, severity: str = "") -> LogEvent | None:
    """The event of a line without its prefix; ``time_utc`` and ``severity`` are the prefix's, used
    when klog's own header does not say better (a zoned prefix's time wins over klog's)."""
    text = line.decode("utf-8", "replace").strip()
    if not text:
        return None
    if text.startswith("{"):
        return _json_event(text, source, line_number, time_utc)
    klog = _KLOG.match(text)
    message = text
    if klog:
        severity = klog.group(1)
        month, day, hour, minute, second, fraction = klog.group(2, 3, 4, 5, 6, 7)
        klog_time = _klog_time(month, day, hour, minute, second, fraction, reference)
        time_utc = time_utc if zoned and time_utc is not None else klog_time or time_utc
        message = klog.group(9)
    loaded = _LOADED_NEW.search(message) or _LOADED_OLD.search(message)
    flag = _FLAG.search(message)
    return LogEvent(source, line_number, time_utc, severity, message, loaded.group(1) if loaded else None,
                    (flag.group(1), flag.group(2)) if flag else None)


def _iso(text: str) -> datetime | None:
    try:
        # Python reads at most microseconds; CRI writes nanoseconds.
        trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
        return datetime.fromisoformat(trimmed).astimezone(UTC)
    except ValueError:
        return None


def _epoch_utc(ts: float) -> datetime | None:
    """zap's "ts": seconds (or milliseconds) since the epoch; None when no datetime can hold it."""
    try:
        return datetime.fromtimestamp(ts / (1000 if ts > 1e11 else 1), UTC)
    except (OverflowError, OSError, ValueError):  # found by fuzz/target_logs.py: "ts":1.7e83
        return None


def _json_event(text: str, source: str, line_number: int, time_utc: datetime | None) -> LogEvent | None:
    try:
        record = load_go_json(text)
    except (ValueError, RecursionError):
        return LogEvent(source, line_number, time_utc, "", text)
    if not isinstance(record, dict):
        return None
    message = str(record.get("msg", ""))
    for field in ("err", "name"):
        if field in record:
            # Quoted as klog's text output quotes values, so one reader serves both forms.
            message += f" {field}={json.dumps(str(record[field]), ensure_ascii=False)}"
    if time_utc is None and isinstance(record.get("ts"), (int, float)):
        time_utc = _epoch_utc(record["ts"])
    loaded = str(record.get("name")) if record.get("msg") == "Loaded a new cert/key pair" else None
    severity = {"0": "I", "info": "I", "error": "E"}.get(str(record.get("v", record.get("level", ""))).lower(), "E" if "err" in record else "I")
    return LogEvent(source, line_number, time_utc, severity, message, loaded)


def iter_log_events(data: bytes, source: str, reference: datetime) -> Iterator[LogEvent]:
    if data.startswith(EXPORT_START):
        yield from _iter_export_events(data, source, reference)
        return
    for number, raw in enumerate(data.split(b"\n"), start=1):
        event = parse_line(raw, source, number, reference)
        if event is not None:
            yield event


def iter_export_records(data: bytes) -> Iterator[tuple[int, dict[str, bytes]]]:
    """(line number, fields) of each record of a ``journalctl -o export`` stream; a record cut
    short (a binary field running past the end) ends the stream."""
    position, line_number = 0, 1
    record: dict[str, bytes] = {}
    start = line_number
    while position < len(data):
        end = data.find(b"\n", position)
        if end < 0:
            end = len(data)
        line = data[position:end]
        if not line:
            if record:
                yield start, record
            record, position, line_number = {}, end + 1, line_number + 1
            start = line_number
            continue
        if b"=" in line:
            name, _, value = line.partition(b"=")
            record[name.decode("ascii", "replace")] = value
            position, line_number = end + 1, line_number + 1
            continue
        # A binary field: its name on a line of its own, then size and bytes, then a newline.
        size_at = end + 1
        if size_at + _EXPORT_SIZE.size > len(data):
            break
        (size,) = _EXPORT_SIZE.unpack_from(data, size_at)
        value = data[size_at + _EXPORT_SIZE.size: size_at + _EXPORT_SIZE.size + size]
        if len(value) < size:
            break
        record[line.decode("ascii", "replace")] = value
        after = size_at + _EXPORT_SIZE.size + size + 1
        line_number += 1 + data.count(b"\n", size_at, after)
        position = after
    if record:
        yield start, record


def _iter_export_events(data: bytes, source: str, reference: datetime) -> Iterator[LogEvent]:
    for line_number, record in iter_export_records(data):
        message = record.get("MESSAGE")
        if message is None:
            continue
        time_utc = None
        stamp = record.get("__REALTIME_TIMESTAMP", b"")
        if stamp.isdigit():
            time_utc = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(stamp))
        severity = _PRIORITY.get(record.get("PRIORITY", b"").decode("ascii", "replace"), "")
        event = parse_message(message, source, line_number, reference, time_utc, severity=severity)
        if event is not None:
            yield event


def line_format(line: bytes) -> LogFormat | None:
    """The format of one line, or None when it is no log line kforensic reads."""
    prefix, _time, _zoned, rest = split_prefix(line, datetime(2000, 1, 1, tzinfo=UTC))
    if _KLOG.match(rest.decode("utf-8", "replace")):
        return prefix or LogFormat.KLOG
    if rest.startswith(b"{"):
        try:
            record = load_go_json(rest)
        except (ValueError, RecursionError):
            return None
        if isinstance(record, dict) and "msg" in record and ("ts" in record or "v" in record):
            return prefix or LogFormat.JSON
    return None


def sniff_log(head: bytes) -> LogFormat | None:
    """The log format of a file's first bytes: at least half its first lines must be log lines."""
    if b"\x00" in head and not head.startswith(EXPORT_START):
        return None
    if head.startswith(EXPORT_START):
        messages = [record["MESSAGE"] for _, record in iter_export_records(head) if "MESSAGE" in record]
        return LogFormat.JOURNAL_EXPORT if any(line_format(m) for m in messages) else None
    # A line cut by the sniff limit still starts like a log line, so it is judged like the rest.
    lines = [line.rstrip(b"\r") for line in head.split(b"\n") if line.strip()][:LOG_SNIFF_LINES]
    formats = [kind for kind in map(line_format, lines) if kind is not None]
    if not formats or 2 * len(formats) < len(lines):
        return None
    return max(set(formats), key=formats.count)


# klog quotes a value with strconv.Quote-style escapes; the ones an error message carries.
_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def klog_value(message: str, start: int) -> str:
    """A klog value from ``start`` to its closing quote, unescaped (the error itself may quote names)."""
    text, index = [], start
    while index < len(message) and message[index] != '"':
        if message[index] == "\\" and index + 1 < len(message):
            index += 1
            text.append(_GO_ESCAPES.get(message[index], message[index]))
        else:
            text.append(message[index])
        index += 1
    return "".join(text)
