"""The error a component exited with at start, and the pair or file it names (or, for an SNI pair,
the one after the last pair the log shows loaded)."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict

from analyzer.analysis.inventory import InventoryEntry
from analyzer.analysis.logs.served import LoadedCert, LogLines, earlier_load, where_logged
from analyzer.checks.bundles import predict_bundle_error
from analyzer.checks.context import CheckContext, finding, subject_of
from analyzer.checks.pairs import predict_load_error
from analyzer.checks.presence import unverifiable
from analyzer.checks.remediation import remedies
from analyzer.decode.flags import parse_named_cert_key
from analyzer.errors import DecodeError
from analyzer.gomodel.goversions import PREDICTED_GO, older_go_wording_of
from analyzer.gomodel.klog import LogEvent, klog_value
from analyzer.gomodel.wrappers import wrap
from analyzer.model.findings import Finding, Severity, Subject
from analyzer.wiring.components import object_hint
from analyzer.wiring.model import BundlePayload, Component, KubeconfigPayload, Load, PairPayload, Wiring
from analyzer.wiring.openshift_releases import SNI_ORDER_SOURCE, default_sni_order, openshift_host_path
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Role

SNI_FAILURE = wrap("sni", "")



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
        sni = [load for load in apiserver.loads if load.role == Role.SNI]
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
        return next((load for load in apiserver.loads if path in load.paths()), None)
    # The default serving pair fails with X509KeyPair's bare error, before any pair is logged as loaded.
    if error.startswith(("tls: ", "x509: ")) and not any(name.startswith("serving-cert::") for name in loaded):
        return apiserver.find_load(Role.SERVING)
    return None


def _error_today(load: Load) -> str | None:
    """The error the load's files in the evidence give now, or None when they load."""
    match load.payload:
        case BundlePayload():
            bundle_error = predict_bundle_error(load)
            return bundle_error[1] if bundle_error else None
        case PairPayload(cert=cert, key=key) | KubeconfigPayload(cert=cert, key=key) if cert is not None and key is not None:
            pair_error = predict_load_error(load)
            return pair_error[2] if pair_error else None
    return None


def start_failures(logs: LogLines, wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    by_source: dict[str, list[LogEvent]] = defaultdict(list)
    for event in logs.events:
        by_source[event.source].append(event)
    apiservers = [c for c in wiring.components if c.name == ComponentName.KUBE_APISERVER]
    loaded_certs = logs.loaded
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
        evidence = (f"log: {where_logged(event)}",) + tuple(f"log: loaded {name}" for name in loaded[-3:])
        paths = subject_of(failing)
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
            f"{where_logged(event)}: `{logged_error}`. As {before}: {failing.label} "
            f"({'cert ' + str(paths.cert) + ', key ' + str(paths.key) if paths.cert else paths.ca or paths.key}). {agreement}"
            + earlier_load(failing.dynamic_name, loaded_certs, event, failing.certificate),
            go_error=logged_error, evidence=evidence, blocks_start=blocks, problem=f"`{logged_error}` in the log",
            remediation=remedies(failing, "pair.from-log", ctx),
        ))
    return found


def _sni_failure_from_log(event: LogEvent, logged_error: str, loaded: list[str], sni_flag: LogEvent | None,
                          wiring: Wiring, loaded_certs: list[LoadedCert]) -> Finding:
    """An SNI failure with no kube-apiserver wired: the pair named from the log alone, or said to be unknown."""
    last = next((name for name in reversed(loaded) if name.startswith("sni-serving-cert::")), None)
    evidence = (f"log: {where_logged(event)}",) + tuple(f"log: loaded {name}" for name in loaded[-3:])
    named = sni_after(loaded, sni_flag)
    if named is None:
        why = (f"the last SNI pair it loaded was {last}, but the log shows neither the configured list "
               "(FLAG: --tls-sni-cert-key at -v=1) nor a layout whose order is known" if last
               else "it loaded no SNI pair before failing, and the log does not show the configured list")
        wanted = _not_given(wiring)
        return Finding(
            "logs.sni-failure", Severity.CRITICAL, ComponentName.KUBE_APISERVER, Role.SNI, "kube-apiserver failed to load an SNI pair (from the log)",
            f"{where_logged(event)}: `{logged_error}`. Cannot tell which pair: {why}. {wiring_gap(wiring)}",
            Subject(source=where_logged(event)), go_error=logged_error, evidence=evidence, label="SNI pair (from the log)", blocks_start=True,
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
        "logs.sni-failure", Severity.CRITICAL, ComponentName.KUBE_APISERVER, Role.SNI, f"the log shows kube-apiserver stopping at SNI pair {secret}",
        f"{where_logged(event)}: `{logged_error}`. The message names no file; the pair that failed is the one after the last SNI pair "
        f"it loaded ({last.split('::', 1)[1] if last else 'none'}), from {how}: cert {cert}, key {key}"
        + (f", Secret {obj}" if obj else "") + f".{where_on_disk}{user} The files themselves are not in this evidence, so the log is the witness."
        + earlier_load(f"sni-serving-cert::{cert}::{key}", loaded_certs, event),
        Subject(cert=cert, key=key, object=obj, source=where_logged(event)), go_error=logged_error, evidence=evidence,
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
        detail = (f"{where_logged(event)}: `{logged_error}`. The error names {what}" + (f" ({files})" if files else "")
                  + (f", written from {obj} (on the master under {posixpath.dirname(host)}/)" if obj and host else "")
                  + ". The files themselves are not in this evidence, so the log is the witness.")
    else:
        detail = (f"{where_logged(event)}: `{logged_error}`. Cannot tell which file: the error names none and the evidence holds no "
                  f"kube-apiserver configuration. {wiring_gap(wiring)}")
    # A pair or bundle named by dynamiccertificates, or the first pair's bare error, is kube-apiserver's own
    # load; a file in an os error could be any component's, so it stays the log's.
    apiserver = named is not None or (bool(what) and opened is None)
    if opened is not None and named is None:
        detail += " The evidence holds no kube-apiserver configuration to tie it to a component's load."
    return Finding(
        "logs.start-failure", Severity.CRITICAL if apiserver else Severity.ERROR, ComponentName.KUBE_APISERVER if apiserver else ComponentName.LOGS, Role.START_UP,
        f"the log shows kube-apiserver stopping at {what}" if apiserver else
        (f"a component exited at start-up on {path} (from the log)" if path else "a component exited at start-up (from the log)"),
        detail, Subject(cert=cert, key=key, object=obj, source=where_logged(event)), go_error=logged_error,
        evidence=(f"log: {where_logged(event)}",), label=f"{what} (from the log)" if apiserver else "start-up failure (from the log)",
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
