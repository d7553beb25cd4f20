"""kube-apiserver logs in every form a case brings them (klog text, JSON, CRI, journal) as events,
and the sniffing that decides whether an input is a log at all."""

from __future__ import annotations

from datetime import UTC, datetime

from harness import instrumented, run, utf8_clean

with instrumented():
    from analyzer.gomodel.klog import iter_log_events, sniff_log

REFERENCE = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_one(data: bytes) -> None:
    sniff_log(data[:4096])
    for event in iter_log_events(data, "kube-apiserver.log", REFERENCE):
        utf8_clean(event.message)
        if event.loaded_pair:
            utf8_clean(event.loaded_pair)


if __name__ == "__main__":
    run(test_one)
