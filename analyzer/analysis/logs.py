"""What the logs say, tied to the pair or certificate that explains it.

A component that fails at start-up logs one error and exits (component-base ``cli.Run``:
``"command failed" err="…"``, or a bare ``Error: …`` before logging is set up). Most errors name
what failed: a dynamic pair or bundle by its ``<purpose>::<cert>::<key>`` name, a file by its
``open <path>`` error. One does not: kube-apiserver stops at the first SNI pair that fails with
``failed to load SNI cert and key: <err>``, no path. It logs every pair it loads (``Loaded a new
cert/key pair``, at -v=2, OpenShift's default), so the last pair loaded before the failure names
the failing one: the next in load order (layouts §3.1, §4). Verification errors (``x509:
certificate has expired or is not yet valid: current time … is after <notAfter>``) carry the exact
end of the certificate's validity, which finds the certificate among those in evidence."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from analyzer.checks.bundles import predict_bundle_error
from analyzer.checks.context import CheckContext, finding
from analyzer.checks.pairs import predict_load_error
from analyzer.gomodel.clientgo import bundle, common_name
from analyzer.checks.presence import unverifiable
from analyzer.checks.remediation import remedies
from analyzer.gomodel.goversions import PREDICTED_GO, older_go_wording_of
from analyzer.gomodel.klog import LogEvent, klog_value
from analyzer.gomodel.wrappers import wrap
from analyzer.analysis.inventory import InventoryEntry
from analyzer.decode.flags import parse_named_cert_key
from analyzer.errors import DecodeError
from analyzer.model.findings import Finding, Severity, Subject
from analyzer.wiring.components import object_hint
from analyzer.wiring.model import Component, Load, Loader, Material, State, Wiring
from analyzer.wiring.openshift_releases import SNI_ORDER_SOURCE, default_sni_order, openshift_host_path
from analyzer.reftime import format_utc

SNI_FAILURE = wrap("sni", "")
EXPIRED = re.compile(r"x509: certificate has expired or is not yet valid(?:: current time (\S+) is (after|before) (\S+?))?(?:[\"\s,;)]|$)")
UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"


# -- what each loaded certificate was (certDetail) ----------------------------------------------------

# k8s.io/apiserver pkg/server/dynamiccertificates/util.go GetHumanCertDetail:
#   fmt.Sprintf("%q [%s]%s%s issuer=%q (%v to %v (now=%v))", subject CN, usages, " groups=[O,…]",
#               " validServingFor=[IPs…,DNS…]", issuer CN or "<self>", NotBefore.UTC(), NotAfter.UTC(), now)
# logged by tlsconfig.go for each client CA, the serving pair and each SNI pair it serves: structured
# from Kubernetes 1.22 (`"Loaded SNI cert" index=0 certName="…" certDetail="…"`, `"Loaded serving cert"
# certName=…`, `"Loaded client CA" index=…`), printf before (`loaded SNI cert [0/"<name>"]: <detail>`).
_DETAIL = re.compile(r'"(?P<cn>(?:[^"\\]|\\.)*)" \[(?P<usages>[^\]]*)\](?: groups=\[(?P<groups>[^\]]*)\])?'
                     r'(?: validServingFor=\[(?P<names>[^\]]*)\])? issuer="(?P<issuer>(?:[^"\\]|\\.)*)" '
                     r'\((?P<nb>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \+0000 UTC) to (?P<na>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \+0000 UTC)')
_STRUCTURED_LOADED = re.compile(r'^"Loaded (?P<what>serving cert|SNI cert|client CA)"(?: index=\d+)? certName="(?P<name>(?:[^"\\]|\\.)*)" certDetail="')
_PRINTF_LOADED = re.compile(r'^loaded (?P<what>serving cert|SNI cert|client CA) \[(?:\d+/)?"(?P<name>(?:[^"\\]|\\.)*)"\]: ')


@dataclass(frozen=True)
class LoadedCert:
    """One certificate kube-apiserver says it loaded, as GetHumanCertDetail prints it."""

    event: LogEvent
    what: str  # serving cert | SNI cert | client CA
    cert_name: str  # the dynamic content's name: "sni-serving-cert::<cert>::<key>", "client-ca-bundle::<file>"
    common_name: str
    issuer: str  # the issuer's CN, or "<self>"
    not_before_utc: datetime | None
    not_after_utc: datetime | None
    names: tuple[str, ...]

    def describe(self) -> str:
        issuer = "self-signed" if self.issuer == "<self>" else f"issued by CN={self.issuer}"
        span = (f", valid {format_utc(self.not_before_utc)} to {format_utc(self.not_after_utc)}"
                if self.not_before_utc and self.not_after_utc else "")
        return f"CN={self.common_name}, {issuer}{span}"


def _go_utc(text: str) -> datetime | None:
    """Go's time.Time %v in UTC: ``2025-03-08 11:25:05 +0000 UTC`` (fractions only when non-zero)."""
    try:
        return datetime.strptime(text.split(".")[0].removesuffix(" +0000 UTC"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def loaded_certificates(events: list[LogEvent]) -> list[LoadedCert]:
    """Every certDetail line of the log, in order."""
    found = []
    for event in events:
        message = event.message
        structured = _STRUCTURED_LOADED.search(message)
        if structured is not None:
            what, name, detail = structured.group("what"), klog_value(message, structured.start("name")), klog_value(message, structured.end())
        else:
            printf = _PRINTF_LOADED.search(message)
            if printf is None:
                continue
            what, name, detail = printf.group("what"), printf.group("name").replace('\\"', '"'), message[printf.end():]
        match = _DETAIL.search(detail)
        if match is None:
            continue
        found.append(LoadedCert(
            event, what, name,
            match.group("cn").replace('\\"', '"'), match.group("issuer").replace('\\"', '"'),
            _go_utc(match.group("nb")), _go_utc(match.group("na")),
            tuple(filter(None, (match.group("names") or "").split(","))),
        ))
    return found


def _last_loaded(loaded: list[LoadedCert], name: str | None, before: LogEvent | None = None) -> LoadedCert | None:
    """The last certDetail line for a dynamic name; with ``before``, only lines above it in its log
    (another log of the same case, a previous.log, counts whole)."""
    if not name:
        return None
    for candidate in reversed(loaded):
        event = candidate.event
        if candidate.cert_name != name:
            continue
        if before is None or event.source != before.source or event.line_number < before.line_number:
            return candidate
    return None


def _same_certificate(loaded: LoadedCert, material: Material | None) -> bool | None:
    """Whether the evidence's certificate is the one the log shows loaded (CN and validity agree);
    None when the evidence holds no readable certificate to compare."""
    if material is None or material.state is not State.PRESENT:
        return None
    certificates, _ = bundle(material.data)
    if not certificates:
        return None
    leaf = certificates[0]
    return (common_name(leaf) == loaded.common_name and loaded.not_after_utc is not None
            and leaf.not_valid_after_utc.replace(microsecond=0) == loaded.not_after_utc)


def _earlier_load(load_name: str | None, loaded: list[LoadedCert], failure: LogEvent, material: Material | None = None) -> str:
    """A sentence on what the log shows this pair was before it failed, and whether the evidence still holds it."""
    earlier = _last_loaded(loaded, load_name, failure)
    if earlier is None:
        return ""
    sentence = (f" Earlier ({_where(earlier.event)}) kube-apiserver served this pair's certificate as {earlier.describe()}"
                f" ({earlier.what}, certDetail).")
    same = _same_certificate(earlier, material)
    if same is True:
        sentence += " The certificate in the evidence is that one: its key is what changed."
    elif same is False:
        sentence += " The certificate in the evidence is another one: the pair was replaced after that load."
    return sentence


def _where(event: LogEvent) -> str:
    when = f" at {format_utc(event.time_utc)}" if event.time_utc else ""
    return f"{event.source} line {event.line_number}{when}"


COMMAND_FAILED = '"command failed" err="'
BARE_ERROR = "Error: "


def start_error(message: str) -> str | None:
    """The error a component exited with (component-base cli.Run), or None for any other line.

    An SNI failure may arrive wrapped by the caller (``start: failed to load SNI …``); it is cut to
    the SNI error so it compares with the error the files give.
    """
    if COMMAND_FAILED in message:
        error = klog_value(message, message.index(COMMAND_FAILED) + len(COMMAND_FAILED))
    elif message.startswith(BARE_ERROR):
        error = message[len(BARE_ERROR) :].rstrip()
    elif SNI_FAILURE in message:  # an older layout: the error alone on an E or F line
        start = message.index(SNI_FAILURE)
        error = klog_value(message, start) if '="' in message[:start] else message[start:].rstrip()
    else:
        return None
    return error[error.index(SNI_FAILURE) :] if SNI_FAILURE in error else error


def _last_failure(events: list[LogEvent]) -> tuple[LogEvent, str, list[str], LogEvent | None] | None:
    """The last start-up failure of a log: the line, its error, the pairs loaded in that run, and the
    run's FLAG dump of --tls-sni-cert-key when it logged one (-v=1)."""
    loaded: list[str] = []
    sni_flag: LogEvent | None = None
    last = None
    for event in events:
        if event.loaded_pair:
            loaded.append(event.loaded_pair)
            continue
        if event.flag and event.flag[0] == "tls-sni-cert-key":
            sni_flag = event
            continue
        error = start_error(event.message)
        if error is not None:
            last = (event, error, loaded, sni_flag)
            loaded, sni_flag = [], None  # the process exits; the next lines are its next start
    return last


def _flag_sni_pairs(value: str) -> list[tuple[str, str]] | None:
    """NamedCertKeyArray.String as the FLAG dump prints it: ``[cert,key:names;cert,key]``
    (component-base cli/flag/namedcertkey_flag.go); None when it does not read so."""
    if not (value.startswith("[") and value.endswith("]")):
        return None
    pairs = []
    for item in filter(None, value[1:-1].split(";")):
        try:
            named = parse_named_cert_key(item)
        except DecodeError:
            return None
        pairs.append((named.cert_file, named.key_file))
    return pairs


def sni_after(loaded: list[str], sni_flag: LogEvent | None) -> tuple[str, str, str] | None:
    """(cert, key, how it was told) of the SNI pair after the last one the log shows loaded, from the
    log alone: the run's FLAG dump of the configured list, else OpenShift's default order of
    namedCertificates when the loaded pairs are the operator's (cluster-kube-apiserver-operator
    observe_apiserver.go). None when neither tells: then the pair cannot be named from the log."""
    done = [(parts[1], parts[2]) for parts in (name.split("::") for name in loaded if name.startswith("sni-serving-cert::")) if len(parts) >= 3]
    if sni_flag is not None and sni_flag.flag is not None:
        configured = _flag_sni_pairs(sni_flag.flag[1])
        if configured is not None:
            index = configured.index(done[-1]) + 1 if done and done[-1] in configured else (0 if not done else None)
            if index is not None and index < len(configured):
                return (*configured[index], f"the configured list the log dumps at line {sni_flag.line_number} (FLAG: --tls-sni-cert-key)")
    if not done:
        return None
    order = default_sni_order()
    directory = posixpath.dirname(done[-1][0])
    if directory in order and order.index(directory) + 1 < len(order):
        following = order[order.index(directory) + 1]
        return (f"{following}/tls.crt", f"{following}/tls.key",
                (f"OpenShift's default order of servingInfo.namedCertificates ({SNI_ORDER_SOURCE}): "
                 f"the pair after {posixpath.basename(directory)}"))
    return None


def _identify(apiserver: Component, error: str, loaded: list[str]) -> Load | None:
    """The load an error stopped at, from the error itself where it names one, else from load order."""
    if SNI_FAILURE in error:
        sni = [load for load in apiserver.loads if load.role == "sni"]
        done = [name for name in loaded if name.startswith("sni-serving-cert::")]
        if not done:
            return sni[0] if sni else None
        last = next((load for load in sni if load.dynamic_name == done[-1]), None)
        return next((load for load in sni if last is not None and load.order > last.order), None)
    # dynamiccertificates name their pair or bundle in the error: "<purpose>::<cert>::<key>".
    named = next((load for load in apiserver.loads if load.dynamic_name and f'"{load.dynamic_name}"' in error), None)
    if named is not None:
        return named
    opened = re.search(r"open (\S+): ", error)
    if opened:
        path = opened.group(1)
        return next((load for load in apiserver.loads if path in (load.cert_path, load.key_path, load.ca_path)), None)
    # The default serving pair fails with X509KeyPair's bare error, before any pair is logged as loaded.
    if error.startswith(("tls: ", "x509: ")) and not any(name.startswith("serving-cert::") for name in loaded):
        return next((load for load in apiserver.loads if load.role == "serving"), None)
    return None


def _error_today(load: Load) -> str | None:
    """The error the load's files in the evidence give now, or None when they load."""
    if load.loader is Loader.CA_BUNDLE and load.ca is not None:
        bundle_error = predict_bundle_error(load)
        return bundle_error[1] if bundle_error else None
    if load.cert is not None and load.key is not None:
        pair_error = predict_load_error(load)
        return pair_error[2] if pair_error else None
    return None


def _start_failures(events: list[LogEvent], wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    by_source: dict[str, list[LogEvent]] = defaultdict(list)
    for event in events:
        by_source[event.source].append(event)
    apiservers = [c for c in wiring.components if c.name == "kube-apiserver"]
    loaded_certs = loaded_certificates(events)
    found = []
    for _source, source_events in sorted(by_source.items()):
        failure = _last_failure(source_events)
        if failure is None:
            continue
        event, logged_error, loaded, sni_flag = failure
        if not apiservers and SNI_FAILURE in logged_error:
            found.append(_sni_failure_from_log(event, logged_error, loaded, sni_flag, wiring, loaded_certs))
            continue
        if not apiservers:
            found.append(_start_failure_from_log(event, logged_error, loaded, wiring))
            continue
        apiserver = apiservers[0]
        failing = _identify(apiserver, logged_error, loaded)
        if failing is None:
            continue
        sni_loaded = [name for name in loaded if name.startswith("sni-serving-cert::")]
        if SNI_FAILURE in logged_error:
            before = (f"the message names no file, but the last SNI pair it loaded was {sni_loaded[-1].split('::', 1)[1]}, "
                      "so the pair that failed is the next one in load order" if sni_loaded
                      else "the message names no file, and no SNI pair was loaded before it, so the first one failed")
        else:
            before = "the error names what failed"
        evidence = (f"log: {_where(event)}",) + tuple(f"log: loaded {name}" for name in loaded[-3:])
        if unverifiable(failing):
            severity, blocks, agreement = Severity.CRITICAL, True, "The files of this pair are not verifiable in this evidence, so the log is the witness."
        else:
            predicted = _error_today(failing)
            if predicted is not None:
                severity, blocks = Severity.INFO, False
                # Callers may wrap the error (delegated authentication does), never shorten it.
                older = older_go_wording_of(logged_error, predicted)
                if logged_error.endswith(predicted):
                    agreement = "The files in the evidence give the same error."
                elif older is not None:
                    agreement = (f"The files in the evidence give the same error: Go {PREDICTED_GO} words it `{predicted}`, "
                                 f"this log comes from a build with an older Go, which words it as Go {older[0]}.{older[1]} does.")
                else:
                    agreement = f"The files in the evidence give `{predicted}` today."
            else:
                severity, blocks = Severity.WARNING, False
                agreement = "The files in the evidence load fine now: they were fixed after this log was written, or this log is from another master."
        found.append(finding(
            failing, "logs.sni-failure" if SNI_FAILURE in logged_error else "logs.start-failure", severity,
            f"the log shows kube-apiserver stopping at {failing.label}",
            f"{_where(event)}: `{logged_error}`. As {before}: {failing.label} "
            f"({'cert ' + str(failing.cert_path) + ', key ' + str(failing.key_path) if failing.cert_path else failing.ca_path or failing.key_path}). {agreement}"
            + _earlier_load(failing.dynamic_name, loaded_certs, event, failing.cert),
            go_error=logged_error, evidence=evidence, blocks_start=blocks, problem=f"`{logged_error}` in the log",
            remediation=remedies(failing, "pair.from-log", ctx),
        ))
    return found


def _sni_failure_from_log(event: LogEvent, logged_error: str, loaded: list[str], sni_flag: LogEvent | None,
                          wiring: Wiring, loaded_certs: list[LoadedCert]) -> Finding:
    """An SNI failure with no kube-apiserver wired: the pair named from the log alone, or said to be unknown."""
    last = next((name for name in reversed(loaded) if name.startswith("sni-serving-cert::")), None)
    evidence = (f"log: {_where(event)}",) + tuple(f"log: loaded {name}" for name in loaded[-3:])
    named = sni_after(loaded, sni_flag)
    if named is None:
        why = (f"the last SNI pair it loaded was {last}, but the log shows neither the configured list "
               "(FLAG: --tls-sni-cert-key at -v=1) nor a layout whose order is known" if last
               else "it loaded no SNI pair before failing, and the log does not show the configured list")
        wanted = _not_given(wiring)
        return Finding(
            "logs.sni-failure", Severity.CRITICAL, "kube-apiserver", "sni", "kube-apiserver failed to load an SNI pair (from the log)",
            f"{_where(event)}: `{logged_error}`. Cannot tell which pair: {why}. {wiring_gap(wiring)}",
            Subject(source=_where(event)), go_error=logged_error, evidence=evidence, label="SNI pair (from the log)", blocks_start=True,
            remediation=(f"Give {' or '.join(wanted)}: the kube-apiserver configuration there names the SNI pair after the last one loaded"
                         if wanted else "Run kube-apiserver at -v=1 or more once: its FLAG dump lists the SNI pairs in load order",),
        )
    cert, key, how = named
    secret = object_hint(cert)
    host = openshift_host_path(cert)
    operator = cert.startswith(("/etc/kubernetes/static-pod-certs/", "/etc/kubernetes/static-pod-resources/"))
    obj = f"openshift-kube-apiserver/{secret}" if operator else None
    where_on_disk = f" On the master it is {posixpath.dirname(host)}/ (the operator's standard cert-dir/resource-dir mounts)." if host else ""
    user = (" It is synced from the openshift-config secret that apiservers.config.openshift.io/cluster "
            f"spec.servingCerts.namedCertificates[{int(secret[-3:])}] names.") if secret.startswith("user-serving-cert-") else ""
    label = f"SNI pair after {last.split('::', 1)[1].split('::')[0] if last else 'none'}: {secret}"
    return Finding(
        "logs.sni-failure", Severity.CRITICAL, "kube-apiserver", "sni", f"the log shows kube-apiserver stopping at SNI pair {secret}",
        f"{_where(event)}: `{logged_error}`. The message names no file; the pair that failed is the one after the last SNI pair "
        f"it loaded ({last.split('::', 1)[1] if last else 'none'}), from {how}: cert {cert}, key {key}"
        + (f", Secret {obj}" if obj else "") + f".{where_on_disk}{user} The files themselves are not in this evidence, so the log is the witness."
        + _earlier_load(f"sni-serving-cert::{cert}::{key}", loaded_certs, event),
        Subject(cert=cert, key=key, object=obj, source=_where(event)), go_error=logged_error, evidence=evidence,
        label=f"SNI pair {secret} (from the log)" if secret else label, blocks_start=True, problem=f"named from the log ({how.split(' (')[0]})",
        remediation=(f"Check the key in {obj or key} (and its source secret): Go cannot parse it; replace the secret with a valid pair",),
    )


# What a dynamiccertificates error names: "<purpose>::<cert>::<key>" for a pair, "<purpose>::<file>" for a
# bundle (k8s.io/apiserver pkg/server/dynamiccertificates), or the file of an os.ReadFile error.
_NAMED_CONTENT = re.compile(r'"(?P<purpose>[\w-]+)::(?P<first>[^":]+)(?:::(?P<second>[^"]+))?"')
_OPENED = re.compile(r"open (?P<path>/\S+): ")
_PURPOSES = {"serving-cert": "default serving pair", "aggregator-proxy-cert": "aggregator proxy client pair",
             "client-ca-bundle": "client CA bundle", "request-header": "request-header CA bundle",
             "sni-serving-cert": "SNI pair"}


def _start_failure_from_log(event: LogEvent, logged_error: str, loaded: list[str], wiring: Wiring) -> Finding:
    """A start-up failure with no kube-apiserver wired: what the error itself names, said with its files and,
    for OpenShift's paths, the host directory and the secret or config map they are written from."""
    named = _NAMED_CONTENT.search(logged_error)
    opened = _OPENED.search(logged_error)
    cert = key = None
    what = ""
    if named is not None:
        what = _PURPOSES.get(named.group("purpose"), named.group("purpose"))
        cert, key = (named.group("first"), named.group("second")) if named.group("second") else (None, named.group("first"))
    elif opened is not None:
        key = opened.group("path")
        what = "a file"
    elif logged_error.startswith(("tls: ", "x509: ")) and not any(name.startswith("serving-cert::") for name in loaded):
        what = "the default serving pair (the first pair kube-apiserver loads; the error names no file)"
    path = key or cert
    secret = object_hint(path) if path else None
    operator = path is not None and path.startswith(("/etc/kubernetes/static-pod-certs/", "/etc/kubernetes/static-pod-resources/"))
    obj = f"openshift-kube-apiserver/{secret}" if operator else None
    host = openshift_host_path(path) if operator and path is not None else None
    if what:
        files = ", ".join(f"{label} {value}" for label, value in (("cert", cert), ("key" if cert else "file", key)) if value)
        detail = (f"{_where(event)}: `{logged_error}`. The error names {what}" + (f" ({files})" if files else "")
                  + (f", written from {obj} (on the master under {posixpath.dirname(host)}/)" if obj and host else "")
                  + ". The files themselves are not in this evidence, so the log is the witness.")
    else:
        detail = (f"{_where(event)}: `{logged_error}`. Cannot tell which file: the error names none and the evidence holds no "
                  f"kube-apiserver configuration. {wiring_gap(wiring)}")
    # A pair or bundle named by dynamiccertificates, or the first pair's bare error, is kube-apiserver's own
    # load; a file in an os error could be any component's, so it stays the log's.
    apiserver = named is not None or (bool(what) and opened is None)
    if opened is not None and named is None:
        detail += " The evidence holds no kube-apiserver configuration to tie it to a component's load."
    return Finding(
        "logs.start-failure", Severity.CRITICAL if apiserver else Severity.ERROR, "kube-apiserver" if apiserver else "logs", "start-up",
        f"the log shows kube-apiserver stopping at {what}" if apiserver else
        (f"a component exited at start-up on {path} (from the log)" if path else "a component exited at start-up (from the log)"),
        detail, Subject(cert=cert, key=key, object=obj, source=_where(event)), go_error=logged_error,
        evidence=(f"log: {_where(event)}",), label=f"{what} (from the log)" if apiserver else "start-up failure (from the log)",
        blocks_start=apiserver,
        remediation=(f"Fix {obj or path or what}: Go refuses it with the error above",) if apiserver else
        (f"Give {' or '.join(_not_given(wiring)) or 'the kube-apiserver configuration'} so the error can be tied to the load that reads it",),
    )


def _not_given(wiring: Wiring) -> list[str]:
    """The kinds of evidence that hold kube-apiserver's configuration and were not given (a note never
    asks for what the engineer already sent)."""
    return [what for what, kind in (("the master's /etc/kubernetes", "node files"), ("the etcd snapshot", "etcd snapshot"))
            if kind not in wiring.given and not (kind == "etcd snapshot" and "must-gather" in wiring.given)]


def wiring_gap(wiring: Wiring) -> str:
    return ("The evidence holds no kube-apiserver configuration: " + "; ".join(wiring.notes)) if wiring.notes else ""


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _expiry_errors(events: list[LogEvent], inventory: list[InventoryEntry]) -> list[Finding]:
    loaded_certs = loaded_certificates(events)
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
        names = "; ".join(f"CN={common_name(e.certificate)} ({', '.join(sorted(e.used_by)) or 'in a bundle'})" for e in matches)
        what = "expired at" if direction == "after" else "not valid before"
        # Not in the evidence, but the log itself may show which pair carried it (certDetail).
        logged = [c for c in loaded_certs if moment is not None
                  and (c.not_after_utc if direction == "after" else c.not_before_utc) == moment] if not matches else []
        in_log = (f" The log shows kube-apiserver serving it as {logged[-1].cert_name} ({logged[-1].describe()}, "
                  f"{_where(logged[-1].event)})." if logged else "")
        found.append(Finding(
            "logs.x509-expired", Severity.ERROR if matches else Severity.WARNING, "logs", "x509",
            f"{len(hits)} handshake(s) refused a certificate {what} {bound}",
            f"The log shows {len(hits)} verification failure(s) of a certificate {what} {bound}, first {_where(hits[0])}, "
            f"last {_where(hits[-1])}. "
            + (f"The certificate is {names}." if matches else
               ("No certificate in this evidence ends exactly then." + in_log if logged
                else "No certificate in this evidence ends exactly then: it belongs to a peer not in the evidence.")),
            Subject(source=_where(hits[0])), go_error=EXPIRED.search(hits[0].message).group(0).rstrip('" ,;)'),  # type: ignore[union-attr]  # hits holds only lines EXPIRED matched
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


def _etcd_client_errors(events: list[LogEvent], wiring: Wiring) -> list[Finding]:
    """kube-apiserver's failures to reach etcd over TLS, tied to the pair or CA that explains them."""
    failures: dict[tuple[str, str], list[tuple[LogEvent, str, tuple[str, ...]]]] = defaultdict(list)
    for event in events:
        failure = _etcd_failure(event.message)
        if failure is None:
            continue
        error, peer, files = failure
        if error.startswith("remote error: tls:"):
            role = "etcd-client"
        elif "x509: " in error:
            role = "etcd-ca"
        else:
            role = "etcd-client" if error.startswith(("open ", "tls: ")) else "etcd"
        failures[(role, error)].append((event, peer, files))
    apiserver = next((c for c in wiring.components if c.name == "kube-apiserver"), None)
    named_files = next((f for hits in failures.values() for _, _, f in hits if f), ())
    found = []
    for (role, error), hits in sorted(failures.items(), key=lambda item: (item[1][0][0].source, item[1][0][0].line_number)):
        first, last = hits[0][0], hits[-1][0]
        # The storage line names the files (key, cert, CA) for every failure of the same client.
        files = next((f for _, _, f in hits if f), ()) or named_files
        load = next((l for l in apiserver.loads if l.role == role), None) if apiserver is not None else None
        if load is not None:
            named = (f"{load.label}: cert {load.cert_path}, key {load.key_path}" if role == "etcd-client"
                     else f"{load.label}: {load.ca_path}")
        elif files and role == "etcd-client":
            named = f"the etcd client pair the log's storage configuration names: cert {files[1] if len(files) > 1 else '?'}, key {files[0]}"
        elif files and role == "etcd-ca":
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
        cert, key = (load.cert_path, load.key_path) if load is not None else ((files[1], files[0]) if len(files) > 1 else (None, None))
        found.append(Finding(
            "logs.etcd-client", Severity.ERROR if role != "etcd" else Severity.WARNING, "kube-apiserver", role,
            f"the log shows kube-apiserver's etcd connection failing: {error}",
            f"{len(hits)} line(s), first {_where(first)}, last {_where(last)} ({hits[0][1]}): `{error}`. {why}. "
            f"The pair or CA: {named}. The trust and validity findings on that load judge the files in the evidence today.",
            Subject(cert=cert if role == "etcd-client" else None, key=key if role == "etcd-client" else None,
                    object=load.object if load is not None else None, source=_where(first)),
            go_error=error, evidence=tuple(f"log: {_where(e)}" for e, _, _ in hits[:5]),
            label=load.label if load is not None else "etcd client (from the log)",
            remediation=(("Re-issue kube-apiserver's etcd client pair from the CA in etcd's --trusted-ca-file, or give etcd "
                          "the CA that issued it",) if role == "etcd-client" else
                         ("Make --etcd-cafile hold the CA that issued etcd's serving certificate, or re-issue that certificate",)
                         if role == "etcd-ca" else ("Check that etcd runs and listens where --etcd-servers points",)),
        ))
    return found


def _served_differs(events: list[LogEvent], wiring: Wiring) -> list[Finding]:
    """The pairs the log shows kube-apiserver serving (certDetail), matched to the wired loads by their
    dynamic name: where the evidence's certificate is another one, the file changed after that load."""
    last: dict[str, LoadedCert] = {}
    for entry in loaded_certificates(events):
        if entry.what in ("serving cert", "SNI cert"):
            last[entry.cert_name] = entry
    found = []
    for load in wiring.iter_loads():
        loaded = last.get(load.dynamic_name or "")
        if loaded is None or _same_certificate(loaded, load.cert) is not False:
            continue
        certificates, _ = bundle(load.cert.data) if load.cert is not None else ((), None)
        now = (f"CN={common_name(certificates[0])}, valid until {format_utc(certificates[0].not_valid_after_utc)}"
               if certificates else "another certificate")
        found.append(finding(
            load, "logs.served-certificate-differs", Severity.INFO,
            f"{load.label}: the log shows another certificate served than the evidence holds",
            f"{_where(loaded.event)}: kube-apiserver served {load.label} as {loaded.describe()}; the file in the evidence "
            f"({load.cert_path}) holds {now}. The pair was replaced after that load: a running kube-apiserver picks the new "
            "one up within a minute (dynamiccertificates), a crash-looping one at its next start.",
            material=load.cert, evidence=(f"log: {_where(loaded.event)}",),
        ))
    return found


def correlate_logs(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    if not events:
        return []
    return (_start_failures(events, wiring, ctx) + _etcd_client_errors(events, wiring) + _served_differs(events, wiring)
            + _expiry_errors(events, inventory) + _unknown_authority(events))
