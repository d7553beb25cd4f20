"""What kube-apiserver logged it served: each loaded certificate's certDetail line, matched to the
pairs in the evidence; and the log lines as every log check reads them (``LogLines``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from analyzer.analysis.inventory import InventoryEntry
from analyzer.checks.context import CheckContext, finding
from analyzer.gomodel.clientgo import bundle, common_name
from analyzer.gomodel.klog import LogEvent, klog_value
from analyzer.model.findings import Finding, Severity
from analyzer.records import datarecord
from analyzer.reftime import format_utc
from analyzer.wiring.model import Material, PairPayload, State, Wiring

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


@datarecord
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


@datarecord
class LogLines:
    """A case's log lines as every log check reads them, kube-apiserver's certDetail lines among them
    parsed once (three checks read them)."""

    events: list[LogEvent]
    loaded: list[LoadedCert]


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


def earlier_load(load_name: str | None, loaded: list[LoadedCert], failure: LogEvent, material: Material | None = None) -> str:
    """A sentence on what the log shows this pair was before it failed, and whether the evidence still holds it."""
    earlier = _last_loaded(loaded, load_name, failure)
    if earlier is None:
        return ""
    sentence = (f" Earlier ({where_logged(earlier.event)}) kube-apiserver served this pair's certificate as {earlier.describe()}"
                f" ({earlier.what}, certDetail).")
    same = _same_certificate(earlier, material)
    if same is True:
        sentence += " The certificate in the evidence is that one: its key is what changed."
    elif same is False:
        sentence += " The certificate in the evidence is another one: the pair was replaced after that load."
    return sentence


def where_logged(event: LogEvent) -> str:
    when = f" at {format_utc(event.time_utc)}" if event.time_utc else ""
    return f"{event.source} line {event.line_number}{when}"


def served_differs(logs: LogLines, wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    """The pairs the log shows kube-apiserver serving (certDetail), matched to the wired loads by their
    dynamic name: where the evidence's certificate is another one, the file changed after that load."""
    last: dict[str, LoadedCert] = {}
    for entry in logs.loaded:
        if entry.what in ("serving cert", "SNI cert"):
            last[entry.cert_name] = entry
    found = []
    for load in wiring.iter_loads():
        match load.payload:
            case PairPayload(cert=cert, cert_path=cert_path):
                pass
            case _:  # klog's certDetail lines are about serving pairs
                continue
        loaded = last.get(load.dynamic_name or "")
        if loaded is None or _same_certificate(loaded, cert) is not False:
            continue
        certificates, _ = bundle(cert.data) if cert is not None else ((), None)
        now = (f"CN={common_name(certificates[0])}, valid until {format_utc(certificates[0].not_valid_after_utc)}"
               if certificates else "another certificate")
        found.append(finding(
            load, "logs.served-certificate-differs", Severity.INFO,
            f"{load.label}: the log shows another certificate served than the evidence holds",
            f"{where_logged(loaded.event)}: kube-apiserver served {load.label} as {loaded.describe()}; the file in the evidence "
            f"({cert_path}) holds {now}. The pair was replaced after that load: a running kube-apiserver picks the new "
            "one up within a minute (dynamiccertificates), a crash-looping one at its next start.",
            material=cert, evidence=(f"log: {where_logged(loaded.event)}",),
        ))
    return found
