"""The etcd client pair the user passed with ``--etcd-cert``/``--etcd-key``, judged by a real etcd.

When kforensic reads a running etcd, the handshake itself is evidence about the pair found on a
master: etcd accepted it (so kube-apiserver's etcd client pair, if it is this one, is not what keeps
the control plane down) or refused it, and then why, in the words Go would use. When the pair is
one a component in the evidence loads (the same certificate), the outcome is a finding on that load;
a refusal then does not end the run, the rest of the evidence is analysed without etcd's objects.

etcd 3.5 is built with Go 1.16, whose TLS server answers every client-certificate verification
failure with the one alert "bad certificate" (crypto/tls handshake_server.go
processCertsFromClient; Go 1.21 added "unknown CA" and "certificate expired" alerts). The alert
alone never says why, so the reason is worked out here from the files and the server's chain, the
way Go's crypto/x509 decides, and etcd's own log line is predicted:
``tls: failed to verify client's certificate: <x509 error>`` (Go 1.16 wording; newer Go says
``tls: failed to verify certificate: ...``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from analyzer.checks import severity
from analyzer.checks.context import finding, presented_chain, subject_of
from analyzer.evidence.live_tls import ClientFiles, HandshakeFacts  # not .live: that imports grpc
from analyzer.wiring.model import Load, Wiring
from analyzer.gomodel.keypair import load_x509_key_pair
from analyzer.gomodel.pem import iter_pem_blocks
from analyzer.gomodel.hostname import find_hostname_error
from analyzer.gomodel.verify import ERR_INCOMPATIBLE_USAGE, find_validity_error, verifies
from analyzer.model.findings import Finding, Severity, Subject
from analyzer.model.vocabulary import Component, Role
from analyzer.model.vocabulary import Component as ComponentName


def _certificates(path: Path | None) -> tuple[x509.Certificate, ...]:
    if path is None:
        return ()
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ()
    found = []
    for block in iter_pem_blocks(data):
        if block.type == "CERTIFICATE":
            try:
                found.append(x509.load_der_x509_certificate(block.der))
            except ValueError:
                continue
    return tuple(found)


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def pair_problem(files: ClientFiles) -> str | None:
    """Go's tls.X509KeyPair over the two files: None when they load, else one line naming them."""
    if files.cert is None or files.key is None:
        return None
    try:
        result = load_x509_key_pair(Path(files.cert).read_bytes(), Path(files.key).read_bytes())
    except OSError:
        return None  # the reader names an unreadable file itself
    if result.ok:
        return None
    return f"--etcd-cert {files.cert} and --etcd-key {files.key} do not load as a pair: {result.go_error or result.detail}"


def explain_refusal(facts: HandshakeFacts, now_utc: datetime) -> str:
    """One line: which of the given files the handshake refused, and Go's reason where it can be told."""
    files = facts.files
    if facts.stage == "server-untrusted":
        return f"the TLS handshake failed: {_server_untrusted(facts, now_utc)}"
    if facts.stage == "pair-unusable":
        return f"the TLS handshake failed: the given files do not load: {facts.detail}"
    if facts.stage == "client-refused":
        alert = f"TLS alert \"{facts.alert}\"" if facts.alert else facts.detail
        if files.cert is None:
            return (f"etcd refused the handshake ({alert}): it requires a client certificate (--client-cert-auth) "
                    "and none was given; pass the master's etcd client pair with --etcd-cert and --etcd-key")
        reason = client_reason(files, now_utc)
        return (f"etcd refused the client certificate --etcd-cert {files.cert} ({alert}): {reason}; "
                f"etcd logs it as \"tls: failed to verify client's certificate: {reason.split(' (')[0]}\"")
    return f"the TLS handshake failed: {facts.detail}"


def _server_untrusted(facts: HandshakeFacts, now_utc: datetime) -> str:
    files = facts.files
    chain = tuple(x509.load_der_x509_certificate(der) for der in facts.peer_chain_der)
    given = f"--etcd-cacert {files.cacert}" if files.cacert else "the system's CA certificates"
    if not chain:
        return f"the server's certificate is not trusted by {given} ({facts.detail})"
    leaf = chain[0]
    host = facts.endpoint.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    roots = _certificates(files.cacert)
    trusted, go_error = verifies(chain, roots) if roots else (False, None)
    reason = go_error if not trusted else (find_validity_error(leaf, now_utc) or find_hostname_error(leaf, host))
    return f"{given} does not verify the server's certificate ({_name(leaf)}, issued by {leaf.issuer.rfc4514_string()}): {reason or facts.detail}"


def client_reason(files: ClientFiles, now_utc: datetime) -> str:
    """Why a Go server would refuse this client certificate, most decisive first."""
    certs = _certificates(files.cert)
    if not certs:
        return "the file holds no certificate"
    leaf = certs[0]
    expired = find_validity_error(leaf, now_utc)
    if expired:
        return expired
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
            return ERR_INCOMPATIBLE_USAGE
    except x509.ExtensionNotFound:
        pass
    roots = _certificates(files.cacert)
    trusted, go_error = verifies(certs, roots) if roots else (False, None)
    if not trusted and go_error:
        return f"{go_error} (judged against --etcd-cacert {files.cacert}; etcd trusts the CA of its --trusted-ca-file)"
    return ("x509: certificate signed by unknown authority (most likely: it chains to --etcd-cacert, but etcd's "
            "--trusted-ca-file holds another CA)")


def matching_loads(files: ClientFiles, wiring: Wiring | None) -> list[Load]:
    """The loads in the evidence whose certificate is the one given with --etcd-cert (the same leaf)."""
    given = _certificates(files.cert)
    if not given or wiring is None:
        return []
    leaf = given[0]
    return [load for load in wiring.iter_loads() if (chain := presented_chain(load)) and chain[0] == leaf]


def refusal_is_evidence(facts: object, other_evidence: bool) -> bool:
    """Whether a refused handshake is a finding rather than the end of the run: etcd refused the client
    certificate the user passed (not our side refusing theirs, not files that do not load), and there
    is other evidence to analyse. Without other evidence the run cannot proceed: exit 2 as before."""
    return other_evidence and isinstance(facts, HandshakeFacts) and facts.stage == "client-refused" and facts.files.cert is not None


def refused_pair_findings(facts: HandshakeFacts, explanation: str, wiring: Wiring, now_utc: datetime) -> list[Finding]:
    """etcd refused the pair: a finding on each load that uses it, else one on the evidence."""
    files = facts.files
    reason = client_reason(files, now_utc).split(" (")[0]
    alert = f"remote error: tls: {facts.alert}" if facts.alert else None
    what = (f"At {now_utc:%Y-%m-%dT%H:%M:%SZ} etcd at {facts.endpoint} refused the TLS handshake with client certificate "
            f"{files.cert}: {explanation}")
    found = []
    for load in matching_loads(files, wiring):
        found.append(finding(
            load, "etcd-client.refused", severity.failure(load),
            f"{load.label}: etcd at {facts.endpoint} refuses this client certificate ({reason})",
            f"{what}. {load.component} on {load.node or 'this cluster'} loads this certificate ({subject_of(load).cert}) to reach etcd: "
            "every connection it makes is refused the same way"
            + ("; kube-apiserver cannot reach its storage and will not become ready." if load.component == ComponentName.KUBE_APISERVER else "."),
            material=load.certificate, go_error=alert or reason, peer="etcd",
            remediation=("Re-issue this pair from the CA in etcd's --trusted-ca-file (or give etcd the CA that issued it), "
                         "then restart the component",),
        ))
    if found:
        return found
    return [Finding(
        id="etcd-client.refused", severity=severity.cannot_tell(), component=Component.EVIDENCE, role=Role.ETCD_CLIENT,
        title=f"etcd at {facts.endpoint} refused the client pair {files.cert} ({reason})",
        detail=(f"{what}. No component in the evidence loads this certificate, so which one it would stop cannot be told; "
                "the rest of the evidence is analysed without etcd's objects."),
        subject=Subject(cert=str(files.cert), key=str(files.key), source=facts.endpoint), go_error=alert or reason,
        label="etcd client pair",
        remediation=("Pass the etcd client pair a master's kube-apiserver uses (--etcd-certfile/--etcd-keyfile) to judge it, "
                     "or the node's files so it can be tied to its component",),
    )]


def client_pair_finding(files: ClientFiles, endpoint: str, revision: int, now_utc: datetime,
                        wiring: Wiring | None = None) -> Finding | None:
    """The pair etcd accepted, as a finding on that pair (on the load that uses it, when one does)."""
    if files.cert is None:
        return None
    loads = matching_loads(files, wiring)
    if loads:
        load = loads[0]
        return finding(
            load, "etcd-client.accepted", Severity.INFO, f"{load.label}: etcd at {endpoint} accepts this client certificate",
            (f"The TLS handshake with {files.cert} (the certificate {load.component} loads from {subject_of(load).cert}) succeeded at "
             f"{now_utc:%Y-%m-%dT%H:%M:%SZ}, and etcd answered reads at revision {revision}: this pair is not what keeps "
             f"{load.component} from etcd."),
            material=load.certificate, peer="etcd",
        )
    certs = _certificates(files.cert)
    leaf = certs[0] if certs else None
    described = f"{_name(leaf)}, valid until {leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}" if leaf else "no parseable certificate"
    return Finding(
        id="etcd-client.accepted",
        severity=Severity.INFO,
        component=Component.EVIDENCE,
        role=Role.ETCD_CLIENT,
        title=f"etcd at {endpoint} accepted the client pair {files.cert}",
        detail=(f"The TLS handshake with client certificate {files.cert} ({described}) and key {files.key} succeeded "
                f"at {now_utc:%Y-%m-%dT%H:%M:%SZ}, and etcd answered reads at revision {revision}. A component configured "
                "with this pair can reach etcd today."),
        subject=Subject(cert=str(files.cert), key=str(files.key), source=endpoint),
        label="etcd client pair",
    )
