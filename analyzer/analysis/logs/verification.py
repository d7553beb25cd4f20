"""Verification errors in the log (expired, unknown authority, etcd's handshake) tied to the
certificate or pair that explains them."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

from analyzer.checks.context import CheckContext, subject_of
from analyzer.analysis.inventory import InventoryEntry
from analyzer.analysis.logs.served import LogLines, where_logged
from analyzer.gomodel.clientgo import common_name
from analyzer.gomodel.klog import LogEvent
from analyzer.model.findings import Finding, Severity, Subject
from analyzer.wiring.model import Wiring
from analyzer.model.vocabulary import Component, Role
from analyzer.model.vocabulary import Component as ComponentName

EXPIRED = re.compile(r"x509: certificate has expired or is not yet valid(?:: current time (\S+) is (after|before) (\S+?))?(?:[\"\s,;)]|$)")
UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def expiry_errors(logs: LogLines, wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    loaded_certs = logs.loaded
    by_end: dict[str, list[LogEvent]] = defaultdict(list)
    undated: list[LogEvent] = []
    for event in logs.events:
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
        names = "; ".join(f"CN={common_name(e.certificate)} ({', '.join(sorted(e.used_by)) or 'in a bundle'})" for e in matches)
        what = "expired at" if direction == "after" else "not valid before"
        # Not in the evidence, but the log itself may show which pair carried it (certDetail).
        logged = [c for c in loaded_certs if moment is not None
                  and (c.not_after_utc if direction == "after" else c.not_before_utc) == moment] if not matches else []
        in_log = (f" The log shows kube-apiserver serving it as {logged[-1].cert_name} ({logged[-1].describe()}, "
                  f"{where_logged(logged[-1].event)})." if logged else "")
        found.append(Finding(
            "logs.x509-expired", Severity.ERROR if matches else Severity.WARNING, Component.LOGS, Role.X509,
            f"{len(hits)} handshake(s) refused a certificate {what} {bound}",
            f"The log shows {len(hits)} verification failure(s) of a certificate {what} {bound}, first {where_logged(hits[0])}, "
            f"last {where_logged(hits[-1])}. "
            + (f"The certificate is {names}." if matches else
               ("No certificate in this evidence ends exactly then." + in_log if logged
                else "No certificate in this evidence ends exactly then: it belongs to a peer not in the evidence.")),
            Subject(source=where_logged(hits[0])), go_error=EXPIRED.search(hits[0].message).group(0).rstrip('" ,;)'),  # type: ignore[union-attr]  # hits holds only lines EXPIRED matched
            evidence=tuple(f"log: {where_logged(e)}" for e in hits[:5]), label="x509 verification errors",
            fingerprint=matches[0].fingerprint if matches else None,
            remediation=("Renew the certificate named above: its validity finding gives the commands for this distribution",)
            if matches else ("Find the peer whose certificate ends then (the log line names the connection) and renew it",),
        ))
    if undated:
        found.append(Finding(
            "logs.x509-expired", Severity.WARNING, Component.LOGS, Role.X509,
            f"{len(undated)} handshake(s) refused an expired or not yet valid certificate",
            f"The log shows {len(undated)} such failure(s) without the validity detail newer Go versions print, first {where_logged(undated[0])}; "
            "compare their times with the validity findings.",
            Subject(source=where_logged(undated[0])), go_error="x509: certificate has expired or is not yet valid",
            evidence=tuple(f"log: {where_logged(e)}" for e in undated[:5]), label="x509 verification errors",
            remediation=("Renew the certificates the validity findings name; compare the log's times with their notAfter",),
        ))
    return found


def unknown_authority_errors(logs: LogLines, wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    hits = [e for e in logs.events if UNKNOWN_AUTHORITY in e.message]
    if not hits:
        return []
    return [Finding(
        "logs.unknown-authority", Severity.WARNING, Component.LOGS, Role.X509, f"{len(hits)} handshake(s) failed with an unknown authority",
        f"The log shows {len(hits)} `{UNKNOWN_AUTHORITY}` failure(s), first {where_logged(hits[0])}, last {where_logged(hits[-1])}; "
        "the trust findings name the certificates whose issuer their peers do not hold.",
        Subject(source=where_logged(hits[0])), go_error=UNKNOWN_AUTHORITY, evidence=tuple(f"log: {where_logged(e)}" for e in hits[:5]),
        label="x509 verification errors",
        remediation=("Re-issue the certificates the trust findings name from the CA their peers trust, or give the peers that CA",),
    )]


# -- kube-apiserver's etcd client -------------------------------------------------------------------

# kube-apiserver dials etcd with --etcd-certfile/--etcd-keyfile and verifies it with --etcd-cafile.
# Two kinds of lines tell how that went:
# * the fatal ``Unable to create storage backend: config (&{ /registry [https://…] <key> <cert> <ca> …}),
#   err (<error>)`` (k8s.io/apiserver storage factory, klog.Fatalf of the storagebackend.Config with %v:
#   its transport prints ServerList, KeyFile, CertFile, TrustedCAFile in that order, as logs in the wild show);
# * grpc-go's ``addrConn.createTransport failed to connect to {…}. Err: connection error: desc =
#   "transport: authentication handshake failed: <tls error>"`` while the client retries.
# A ``remote error: tls: …`` is the alert etcd sent: etcd refused kube-apiserver's client certificate
# (Go's TLS server alerts "bad certificate", and from Go 1.21 "unknown certificate authority" or
# "expired certificate", crypto/tls alert.go). An ``x509: …`` error is kube-apiserver's own verdict on
# etcd's serving certificate, judged with --etcd-cafile.
_STORAGE = re.compile(r"Unable to create storage backend: config \(&\{(?P<config>.*?)\}\), err \((?P<err>.*)\)\s*\"?$")
_HANDSHAKE = re.compile(r'authentication handshake failed: (?P<err>(?:[^"\\]|\\.)+)')
_ADDRESS = re.compile(r'Addr: \\?"(?P<addr>[^"\\]+)')


def _etcd_failure(message: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(the error, the connection it came from, the files a storage line names) of an etcd client line."""
    storage = _STORAGE.search(message)
    if storage is not None:
        files = tuple(word for word in re.split(r"[\s{}\[\]]+", storage.group("config")) if word.startswith("/") and word != "/registry"
                      and not word.startswith("/kubernetes.io"))
        return storage.group("err").strip(), "storage backend", files[:3]
    handshake = _HANDSHAKE.search(message)
    if handshake is not None:
        address = _ADDRESS.search(message)
        return handshake.group("err").replace('\\"', '"').strip(), address.group("addr") if address else "etcd", ()
    return None


def etcd_client_errors(logs: LogLines, wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    """kube-apiserver's failures to reach etcd over TLS, tied to the pair or CA that explains them."""
    failures: dict[tuple[Role, str], list[tuple[LogEvent, str, tuple[str, ...]]]] = defaultdict(list)
    for event in logs.events:
        failure = _etcd_failure(event.message)
        if failure is None:
            continue
        error, peer, files = failure
        if error.startswith("remote error: tls:"):
            role = Role.ETCD_CLIENT
        elif "x509: " in error:
            role = Role.ETCD_CA
        else:
            role = Role.ETCD_CLIENT if error.startswith(("open ", "tls: ")) else Role.ETCD
        failures[(role, error)].append((event, peer, files))
    apiserver = next((c for c in wiring.components if c.name == ComponentName.KUBE_APISERVER), None)
    named_files = next((f for hits in failures.values() for _, _, f in hits if f), ())
    found = []
    for (role, error), hits in sorted(failures.items(), key=lambda item: (item[1][0][0].source, item[1][0][0].line_number)):
        first, last = hits[0][0], hits[-1][0]
        # The storage line names the files (key, cert, CA) for every failure of the same client.
        files = next((f for _, _, f in hits if f), ()) or named_files
        load = apiserver.find_load(role) if apiserver is not None else None
        paths = subject_of(load) if load is not None else None
        if load is not None and paths is not None:
            named = (f"{load.label}: cert {paths.cert}, key {paths.key}" if role == Role.ETCD_CLIENT
                     else f"{load.label}: {paths.ca}")
        elif files and role == Role.ETCD_CLIENT:
            named = f"the etcd client pair the log's storage configuration names: cert {files[1] if len(files) > 1 else '?'}, key {files[0]}"
        elif files and role == Role.ETCD_CA:
            named = f"the etcd CA file the log's storage configuration names: {files[2] if len(files) > 2 else files[-1]}"
        else:
            named = "the pair cannot be told from this evidence (no kube-apiserver configuration and no storage line naming its files)"
        why = {
            "etcd-client": ("etcd refused kube-apiserver's client certificate (the TLS alert etcd sent): its issuer is not in etcd's "
                            "--trusted-ca-file, or it expired" if error.startswith("remote error") else
                            "kube-apiserver could not load its etcd client pair"),
            "etcd-ca": "kube-apiserver refused etcd's serving certificate, judged with its --etcd-cafile",
            "etcd": "kube-apiserver could not reach etcd",
        }[role]
        cert, key = (paths.cert, paths.key) if paths is not None else ((files[1], files[0]) if len(files) > 1 else (None, None))
        found.append(Finding(
            "logs.etcd-client", Severity.ERROR if role != Role.ETCD else Severity.WARNING, Component.KUBE_APISERVER, role,
            f"the log shows kube-apiserver's etcd connection failing: {error}",
            f"{len(hits)} line(s), first {where_logged(first)}, last {where_logged(last)} ({hits[0][1]}): `{error}`. {why}. "
            f"The pair or CA: {named}. The trust and validity findings on that load judge the files in the evidence today.",
            Subject(cert=cert if role == Role.ETCD_CLIENT else None, key=key if role == Role.ETCD_CLIENT else None,
                    object=load.object if load is not None else None, source=where_logged(first)),
            go_error=error, evidence=tuple(f"log: {where_logged(e)}" for e, _, _ in hits[:5]),
            label=load.label if load is not None else "etcd client (from the log)",
            remediation=(("Re-issue kube-apiserver's etcd client pair from the CA in etcd's --trusted-ca-file, or give etcd "
                          "the CA that issued it",) if role == Role.ETCD_CLIENT else
                         ("Make --etcd-cafile hold the CA that issued etcd's serving certificate, or re-issue that certificate",)
                         if role == Role.ETCD_CA else ("Check that etcd runs and listens where --etcd-servers points",)),
        ))
    return found
