"""kube-apiserver log lines, in every form they reach a support case, as plain events.

Forms: klog text (``I0501 12:00:00.123456 1 file.go:12] message``), structured klog from
Kubernetes 1.22 on (``"Loaded a new cert/key pair" name="…"``), klog's JSON output, CRI log files
(``<RFC3339Nano> stderr F <line>``), journal lines (``May 01 12:00:00 host kubelet[1]: <line>``),
and a bare ``Error: …`` from component-base when logging was not yet set up (layouts §3.1–3.2).
klog headers carry no year; the reference time supplies it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

_CRI = re.compile(rb"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) (?:stdout|stderr) [FP] (.*)$")
_JOURNAL = re.compile(rb"^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \S+ [^:]+: (.*)$")
_KLOG = re.compile(r"^([IWEF])(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s+\d+\s+([\w./-]+:\d+)\]\s?(.*)$")
_LOADED_NEW = re.compile(r'"Loaded a new cert/key pair" name="([^"]+)"')
_LOADED_OLD = re.compile(r'Loaded a new cert/key pair for "([^"]+)"')
_FLAG = re.compile(r'FLAG: --([\w-]+)="(.*)"$')


@dataclass(frozen=True)
class LogEvent:
    source: str
    line_number: int
    time_utc: datetime | None
    severity: str  # I W E F, or "" when the line has no klog header
    message: str  # without the klog header
    loaded_pair: str | None = None  # "sni-serving-cert::<cert>::<key>" of a Loaded line
    flag: tuple[str, str] | None = None  # (name, value) of a FLAG dump line


def _klog_time(month: str, day: str, hour: str, minute: str, second: str, fraction: str | None, reference: datetime) -> datetime | None:
    year = reference.year
    try:
        moment = datetime(year, int(month), int(day), int(hour), int(minute), int(second), int((fraction or "0").ljust(6, "0")), tzinfo=UTC)
    except ValueError:
        return None
    # A klog line from December read in January belongs to the year before.
    return moment.replace(year=year - 1) if moment > reference.replace(microsecond=999999) and (moment - reference).days > 180 else moment


def parse_line(raw: bytes, source: str, line_number: int, reference: datetime) -> LogEvent | None:
    line = raw.rstrip(b"\r")
    time_utc = None
    match = _CRI.match(line)
    if match:
        time_utc = _iso(match.group(1).decode())
        line = match.group(2)
    else:
        journal = _JOURNAL.match(line)
        if journal:
            line = journal.group(1)
    text = line.decode("utf-8", "replace").strip()
    if not text:
        return None
    if text.startswith("{"):
        return _json_event(text, source, line_number, time_utc)
    klog = _KLOG.match(text)
    severity, message = "", text
    if klog:
        severity = klog.group(1)
        time_utc = time_utc or _klog_time(*klog.group(2, 3, 4, 5, 6, 7), reference)
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


def _json_event(text: str, source: str, line_number: int, time_utc: datetime | None) -> LogEvent | None:
    try:
        record = json.loads(text)
    except ValueError:
        return LogEvent(source, line_number, time_utc, "", text)
    if not isinstance(record, dict):
        return None
    message = str(record.get("msg", ""))
    for field in ("err", "name"):
        if field in record:
            # Quoted as klog's text output quotes values, so one reader serves both forms.
            message += f" {field}={json.dumps(str(record[field]), ensure_ascii=False)}"
    if time_utc is None and isinstance(record.get("ts"), (int, float)):
        time_utc = datetime.fromtimestamp(record["ts"] / (1000 if record["ts"] > 1e11 else 1), UTC)
    loaded = str(record.get("name")) if record.get("msg") == "Loaded a new cert/key pair" else None
    severity = {"0": "I", "info": "I", "error": "E"}.get(str(record.get("v", record.get("level", ""))).lower(), "E" if "err" in record else "I")
    return LogEvent(source, line_number, time_utc, severity, message, loaded)


def iter_log_events(data: bytes, source: str, reference: datetime) -> Iterator[LogEvent]:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        event = parse_line(raw, source, number, reference)
        if event is not None:
            yield event


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
