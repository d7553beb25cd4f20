"""analyzer.gomodel.klog: kube-apiserver log lines in every form a case brings them, as events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analyzer.gomodel.klog import iter_log_events, parse_line
from tests.fixtures.pki import REFERENCE_UTC

SNI_1 = "sni-serving-cert::/etc/kubernetes/static-pod-certs/secrets/sni-1/tls.crt::/etc/kubernetes/static-pod-certs/secrets/sni-1/tls.key"
KLOG_NEW = f'I0601 11:58:01.123456       1 dynamic_serving_content.go:113] "Loaded a new cert/key pair" name="{SNI_1}"'
KLOG_OLD = f'I0601 11:58:01.123456       1 dynamic_serving_content.go:130] Loaded a new cert/key pair for "{SNI_1}"'
AT = datetime(2025, 6, 1, 11, 58, 1, 123456, tzinfo=UTC)


def parse(line: str, reference: datetime = REFERENCE_UTC):
    return parse_line(line.encode(), "kube-apiserver.log", 7, reference)


@pytest.mark.parametrize("line", [KLOG_NEW, KLOG_OLD], ids=["klog-1.22+", "klog-1.21"])
def test_a_loaded_pair_line_names_the_pair(line):
    event = parse(line)
    assert (event.severity, event.time_utc, event.loaded_pair) == ("I", AT, SNI_1)
    assert (event.source, event.line_number) == ("kube-apiserver.log", 7)
    assert event.message.startswith(('"Loaded a new cert/key pair"', "Loaded a new cert/key pair for"))


@pytest.mark.parametrize(("prefix", "time_utc"), [
    ("2025-06-01T11:58:05.987654321Z stderr F ", datetime(2025, 6, 1, 11, 58, 5, 987654, tzinfo=UTC)),
    ("2025-06-01T13:58:05+02:00 stdout F ", datetime(2025, 6, 1, 11, 58, 5, tzinfo=UTC)),
    ("Jun 01 11:58:05 master-0 hyperkube[1234]: ", AT),
    ("Jun  1 11:58:05 master-0 kube-apiserver[77]: ", AT),
], ids=["cri-nanoseconds", "cri-offset", "journal", "journal-padded-day"])
def test_cri_and_journal_prefixes_are_peeled_off(prefix, time_utc):
    event = parse(prefix + KLOG_NEW)
    assert event.loaded_pair == SNI_1 and event.severity == "I"
    assert event.time_utc == time_utc  # the CRI time when there is one, else klog's own


def test_a_structured_error_keeps_its_quoted_value():
    line = 'E0601 11:58:02.000001       1 run.go:74] "command failed" err="failed to load SNI cert and key: tls: failed to parse private key"'
    event = parse(line)
    assert event.severity == "E"
    assert event.message == '"command failed" err="failed to load SNI cert and key: tls: failed to parse private key"'
    assert event.loaded_pair is None


def test_a_bare_error_line_has_no_header():
    event = parse("Error: failed to load SNI cert and key: tls: failed to parse private key")
    assert (event.severity, event.time_utc) == ("", None)
    assert event.message == "Error: failed to load SNI cert and key: tls: failed to parse private key"


def test_a_flag_dump_line_is_a_flag():
    event = parse('I0601 11:58:00.000001       1 flags.go:64] FLAG: --tls-sni-cert-key="[/a/tls.crt,/a/tls.key;/b/tls.crt,/b/tls.key:api.example.com]"')
    assert event.flag == ("tls-sni-cert-key", "[/a/tls.crt,/a/tls.key;/b/tls.crt,/b/tls.key:api.example.com]")


@pytest.mark.parametrize(("line", "month_day", "year"), [
    ("I1231 23:59:59.000000       1 x.go:1] late", (12, 31), 2024),  # December read in June: last year
    ("I0602 00:00:00.000000       1 x.go:1] tomorrow", (6, 2), 2025),  # a clock slightly ahead stays this year
    ("I0101 00:00:00.000000       1 x.go:1] new year", (1, 1), 2025),
])
def test_klog_headers_take_their_year_from_the_reference_time(line, month_day, year):
    event = parse(line)
    assert (event.time_utc.year, event.time_utc.month, event.time_utc.day) == (year, *month_day)


def test_a_header_with_an_impossible_date_has_no_time():
    event = parse("I0231 10:00:00.000000       1 x.go:1] February the 31st")
    assert event.time_utc is None and event.severity == "I"


def test_json_klog_lines():
    loaded = parse('{"ts":1748779081.123456,"caller":"dynamiccertificates/dynamic_serving_content.go:113","msg":"Loaded a new cert/key pair",'
                   f'"v":2,"name":"{SNI_1}"}}')
    assert (loaded.loaded_pair, loaded.severity, loaded.time_utc) == (SNI_1, "I", AT)
    failed = parse('{"ts":1748779082123.5,"caller":"app/server.go:1","msg":"command failed",'
                   '"err":"failed to load SNI cert and key: missing content for serving cert \\"sni-serving-cert::/a::/b\\""}')
    assert failed.severity == "E"
    assert failed.time_utc == datetime(2025, 6, 1, 11, 58, 2, 123500, tzinfo=UTC)
    # The value is quoted the way klog's text output quotes it, so one reader serves both forms.
    assert failed.message == 'command failed err="failed to load SNI cert and key: missing content for serving cert \\"sni-serving-cert::/a::/b\\""'


@pytest.mark.parametrize(("line", "message"), [("[1, 2]", "[1, 2]"), ("{not json", "{not json"), ("   ", None), ("", None)])
def test_odd_lines(line, message):
    event = parse(line)
    assert (event.message if event else None) == message


def test_iter_log_events_numbers_lines_and_skips_blank_ones():
    data = f"{KLOG_OLD}\n\n{KLOG_NEW}\r\n".encode()
    events = list(iter_log_events(data, "log", REFERENCE_UTC))
    assert [(e.line_number, e.loaded_pair) for e in events] == [(1, SNI_1), (3, SNI_1)]


@pytest.mark.parametrize(("prefix", "time_utc"), [
    ("2025-06-01T11:58:01+0000 master-0 kube-apiserver[77]: ", datetime(2025, 6, 1, 11, 58, 1, tzinfo=UTC)),
    ("2025-06-01T13:58:01+02:00 master-0 kube-apiserver[77]: ", datetime(2025, 6, 1, 11, 58, 1, tzinfo=UTC)),
    ("2025-06-01T13:58:01.250000+0200 master-0 kube-apiserver[77]: ", datetime(2025, 6, 1, 11, 58, 1, 250000, tzinfo=UTC)),
], ids=["short-iso", "short-iso-colon", "short-iso-precise"])
def test_journal_short_iso_lines_have_time_and_severity(prefix, time_utc):
    event = parse(prefix + KLOG_NEW)
    assert (event.severity, event.time_utc, event.loaded_pair) == ("I", time_utc, SNI_1)
    assert event.message.startswith('"Loaded a new cert/key pair"')


@pytest.mark.parametrize(("line", "time_utc"), [
    ("2025-06-01T11:58:01+0000 master-0 systemd[1]: Started Kubernetes Kubelet.", datetime(2025, 6, 1, 11, 58, 1, tzinfo=UTC)),
    ("Jun 01 11:58:01 master-0 systemd[1]: Started Kubernetes Kubelet.", datetime(2025, 6, 1, 11, 58, 1, tzinfo=UTC)),
], ids=["short-iso", "short"])
def test_a_journal_line_without_a_klog_header_keeps_the_journal_time(line, time_utc):
    event = parse(line)
    assert (event.severity, event.time_utc, event.message) == ("", time_utc, "Started Kubernetes Kubelet.")


def export_record(message: bytes, *, usec: int, priority: int, binary: bool = False) -> bytes:
    fields = b"__CURSOR=s=0123;i=1\n" + f"__REALTIME_TIMESTAMP={usec}\n".encode() + f"PRIORITY={priority}\n".encode()
    fields += b"_SYSTEMD_UNIT=kubelet.service\nSYSLOG_IDENTIFIER=kubelet\n"
    if binary:  # journalctl writes a value holding a newline or a control byte as name, LE64 size, bytes
        fields += b"MESSAGE\n" + len(message).to_bytes(8, "little") + message + b"\n"
    else:
        fields += b"MESSAGE=" + message + b"\n"
    return fields + b"\n"


def test_a_journal_export_stream_is_read_record_by_record():
    at_usec = int(AT.timestamp()) * 1_000_000 + AT.microsecond
    data = (export_record(KLOG_NEW.encode(), usec=at_usec, priority=6)
            + export_record(b"Error: failed to load SNI cert and key: tls: failed to parse private key", usec=at_usec + 1_000_000, priority=3)
            + export_record(b"W0601 11:58:03.000000       1 x.go:1] two\nlines", usec=at_usec + 2_000_000, priority=6, binary=True)
            + export_record(b"plain notice", usec=at_usec + 3_000_000, priority=4))
    events = list(iter_log_events(data, "journal.export", REFERENCE_UTC))
    assert [(e.severity, e.time_utc) for e in events] == [
        ("I", AT), ("E", AT + timedelta(seconds=1)), ("W", AT + timedelta(seconds=2)), ("W", AT + timedelta(seconds=3))]
    assert events[0].loaded_pair == SNI_1
    assert events[1].message.startswith("Error: failed to load SNI cert and key")
    assert events[2].message == "two\nlines"
    assert not any("__CURSOR" in e.message or "PRIORITY" in e.message for e in events)
    # Line numbers point at each record's first line in the stream, binary values counted.
    assert [e.line_number for e in events] == [1, 8, 15, 24]


def test_a_cut_export_stream_keeps_the_records_before_the_cut():
    record = export_record(KLOG_NEW.encode(), usec=1, priority=6)
    cut = export_record(b"x" * 40, usec=2, priority=6, binary=True)[:-20]
    events = list(iter_log_events(record + cut, "journal.export", REFERENCE_UTC))
    assert [e.loaded_pair for e in events] == [SNI_1]


@pytest.mark.parametrize("ts", ["1.7487e83", "-1e300", "1e400"], ids=["past-time_t", "before-year-1", "infinite"])
def test_a_json_time_no_datetime_holds_is_no_time(ts):
    """Found by fuzz/target_logs.py: datetime.fromtimestamp raised OverflowError (exit 3 on a log)."""
    event = parse('{"ts":' + ts + ',"msg":"Loaded a new cert/key pair","name":"' + SNI_1 + '","v":0}')
    assert event.time_utc is None and event.loaded_pair == SNI_1


def test_json_log_strings_are_read_as_go_reads_them():
    event = parse('{"ts":1748779081.5,"msg":"bad \\ud800 escape","err":"x\\udc00","v":0}')
    assert event.message == 'bad \ufffd escape err="x\ufffd"'
    event.message.encode("utf-8")
