"""What the logs say, tied to the pair or certificate that explains it.

kube-apiserver logs every pair it loads (``Loaded a new cert/key pair`` with the pair's
``<purpose>::<cert>::<key>`` name, at -v=2, OpenShift's default) and stops at the first SNI pair
that fails with ``failed to load SNI cert and key: <err>`` — no path. The last pair loaded before
the failure names the failing one: the next in load order (layouts §3.1, §4). Verification errors
(``x509: certificate has expired or is not yet valid: current time … is after <notAfter>``) carry
the exact end of the certificate's validity, which finds the certificate among those in evidence.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

from analyzer.checks.context import CheckContext, finding
from analyzer.checks.pairs import predict_load_error
from analyzer.checks.presence import unverifiable
from analyzer.checks.remediation import remedies
from analyzer.decode.klog import LogEvent
from analyzer.report.inventory import InventoryEntry
from analyzer.report.model import Finding, Severity, Subject
from analyzer.wiring.model import Component, Load, Wiring

SNI_FAILURE = "failed to load SNI cert and key: "
EXPIRED = re.compile(r"x509: certificate has expired or is not yet valid(?:: current time (\S+) is (after|before) (\S+?))?(?:[\"\s,;)]|$)")
UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"


def _where(event: LogEvent) -> str:
    when = f" at {event.time_utc.strftime('%Y-%m-%dT%H:%M:%SZ')}" if event.time_utc else ""
    return f"{event.source} line {event.line_number}{when}"


_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _sni_error(message: str) -> str:
    """The error as Go wrote it: inside a klog value (``err="…"``) up to its closing quote, unescaped
    (the error itself quotes the pair's name), or the rest of a bare ``Error: …`` line."""
    start = message.index(SNI_FAILURE)
    if '="' not in message[:start]:
        return message[start:].rstrip()
    text, index = [], start
    while index < len(message) and message[index] != '"':
        if message[index] == "\\" and index + 1 < len(message):
            index += 1
            text.append(_GO_ESCAPES.get(message[index], message[index]))
        else:
            text.append(message[index])
        index += 1
    return "".join(text)


def _last_failure(events: list[LogEvent]) -> tuple[LogEvent, list[str]] | None:
    """The last SNI start-up failure of a log, with the SNI pairs loaded since the run before it."""
    loaded: list[str] = []
    last = None
    for event in events:
        if event.loaded_pair:
            loaded.append(event.loaded_pair)
        elif SNI_FAILURE in event.message:
            last = (event, [name for name in loaded if name.startswith("sni-serving-cert::")])
            loaded = []  # the process exits; the next lines are its next start
    return last


def _identify(apiserver: Component, loaded: list[str]) -> Load | None:
    sni = [load for load in apiserver.loads if load.role == "sni"]
    if not sni:
        return None
    if not loaded:
        return sni[0]
    last = next((load for load in sni if load.dynamic_name == loaded[-1]), None)
    if last is None:
        return None
    return next((load for load in sni if load.order > last.order), None)


def _start_failures(events: list[LogEvent], wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    by_source: dict[str, list[LogEvent]] = defaultdict(list)
    for event in events:
        by_source[event.source].append(event)
    apiservers = [c for c in wiring.components if c.name == "kube-apiserver"]
    found = []
    for source, source_events in sorted(by_source.items()):
        failure = _last_failure(source_events)
        if failure is None:
            continue
        event, loaded = failure
        logged_error = _sni_error(event.message)
        if not apiservers:
            found.append(Finding(
                "logs.sni-failure", Severity.CRITICAL, "kube-apiserver", "sni", "kube-apiserver failed to load an SNI pair (from the log)",
                f"{_where(event)}: `{logged_error}`. The evidence holds no kube-apiserver configuration to name the pair; "
                f"the last SNI pair it loaded was {loaded[-1] if loaded else 'none'}.",
                Subject(source=_where(event)), go_error=logged_error, label="SNI pair (from the log)",
                remediation=("Send the master's /etc/kubernetes (or the etcd snapshot): its config names the SNI pair after the last one loaded",),
            ))
            continue
        apiserver = apiservers[0]
        failing = _identify(apiserver, loaded)
        if failing is None:
            continue
        before = f"the last SNI pair it loaded was {loaded[-1].split('::', 1)[1]}" if loaded else "it loaded no SNI pair first"
        evidence = (f"log: {_where(event)}",) + tuple(f"log: loaded {name}" for name in loaded[-3:])
        if unverifiable(failing):
            severity, blocks, agreement = Severity.CRITICAL, True, "The files of this pair are not verifiable in this evidence, so the log is the witness."
        else:
            predicted = predict_load_error(failing)
            if predicted is not None:
                severity, blocks = Severity.INFO, False
                agreement = ("The files in the evidence give the same error." if predicted[2] == logged_error
                             else f"The files in the evidence give `{predicted[2]}` today.")
            else:
                severity, blocks = Severity.WARNING, False
                agreement = "The files in the evidence load fine now: they were fixed after this log was written, or this log is from another master."
        found.append(finding(
            failing, "logs.sni-failure", severity,
            f"the log shows kube-apiserver stopping at {failing.label}",
            f"{_where(event)}: `{logged_error}`. The message names no file, but {before}, so the pair that failed is the next one in "
            f"load order: {failing.label} (cert {failing.cert_path}, key {failing.key_path}). {agreement}",
            go_error=logged_error, evidence=evidence, blocks_start=blocks, problem=f"`{logged_error}` in the log",
            remediation=remedies(failing, "pair.from-log", ctx),
        ))
    return found


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _expiry_errors(events: list[LogEvent], inventory: list[InventoryEntry]) -> list[Finding]:
    by_end: dict[str, list[LogEvent]] = defaultdict(list)
    undated: list[LogEvent] = []
    for event in events:
        match = EXPIRED.search(event.message)
        if not match:
            continue
        if match.group(3):
            by_end[f"{match.group(2)} {match.group(3)}"].append(event)
        else:
            undated.append(event)
    found = []
    for key, hits in sorted(by_end.items()):
        direction, bound = key.split(" ", 1)
        moment = _parse_time(bound)
        attribute = "not_valid_after_utc" if direction == "after" else "not_valid_before_utc"
        matches = [e for e in inventory if moment is not None and getattr(e.certificate, attribute).replace(microsecond=0) == moment]
        names = "; ".join(f"CN={e.to_json()['common_name']} ({', '.join(sorted(e.used_by)) or 'in a bundle'})" for e in matches)
        what = "expired at" if direction == "after" else "not valid before"
        found.append(Finding(
            "logs.x509-expired", Severity.ERROR if matches else Severity.WARNING, "logs", "x509",
            f"{len(hits)} handshake(s) refused a certificate {what} {bound}",
            f"The log shows {len(hits)} verification failure(s) of a certificate {what} {bound}, first {_where(hits[0])}, "
            f"last {_where(hits[-1])}. "
            + (f"The certificate is {names}." if matches else "No certificate in this evidence ends exactly then: it belongs to a peer not in the evidence."),
            Subject(source=_where(hits[0])), go_error=EXPIRED.search(hits[0].message).group(0).rstrip('" ,;)'),  # type: ignore[union-attr]
            evidence=tuple(f"log: {_where(e)}" for e in hits[:5]), label="x509 verification errors",
            fingerprint=matches[0].fingerprint if matches else None,
            remediation=("Renew the certificate named above: its validity finding gives the commands for this distribution",)
            if matches else ("Find the peer whose certificate ends then (the log line names the connection) and renew it",),
        ))
    if undated:
        found.append(Finding(
            "logs.x509-expired", Severity.WARNING, "logs", "x509",
            f"{len(undated)} handshake(s) refused an expired or not yet valid certificate",
            f"The log shows {len(undated)} such failure(s) without the validity detail newer Go versions print, first {_where(undated[0])}; "
            "compare their times with the validity findings.",
            Subject(source=_where(undated[0])), go_error="x509: certificate has expired or is not yet valid",
            evidence=tuple(f"log: {_where(e)}" for e in undated[:5]), label="x509 verification errors",
            remediation=("Renew the certificates the validity findings name; compare the log's times with their notAfter",),
        ))
    return found


def _unknown_authority(events: list[LogEvent]) -> list[Finding]:
    hits = [e for e in events if UNKNOWN_AUTHORITY in e.message]
    if not hits:
        return []
    return [Finding(
        "logs.unknown-authority", Severity.WARNING, "logs", "x509", f"{len(hits)} handshake(s) failed with an unknown authority",
        f"The log shows {len(hits)} `{UNKNOWN_AUTHORITY}` failure(s), first {_where(hits[0])}, last {_where(hits[-1])}; "
        "the trust findings name the certificates whose issuer their peers do not hold.",
        Subject(source=_where(hits[0])), go_error=UNKNOWN_AUTHORITY, evidence=tuple(f"log: {_where(e)}" for e in hits[:5]),
        label="x509 verification errors",
        remediation=("Re-issue the certificates the trust findings name from the CA their peers trust, or give the peers that CA",),
    )]


def correlate_logs(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    if not events:
        return []
    return _start_failures(events, wiring, ctx) + _expiry_errors(events, inventory) + _unknown_authority(events)
