"""Does each kubeconfig trust the certificate kube-apiserver really serves for its server name?

kube-apiserver picks the serving certificate by SNI (apiserver dynamiccertificates
named_certificates.go): names given with ``--tls-sni-cert-key`` win over names read from the
certificates, exact names over wildcards, earlier entries over later ones, and the default serving
pair answers the rest. The kubeconfig's certificate-authority must chain to that certificate and
the certificate must carry the host the kubeconfig dials — or client-go prints
``tls: failed to verify certificate: x509: …``. (Its client certificate against kube-apiserver's
client CA is the trust check's business.)
"""

from __future__ import annotations

import ipaddress
import re

from cryptography import x509

from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import bundle, common_name
from analyzer.checks.remediation import remedies
from analyzer.checks.trust import verifies
from analyzer.gomodel.keypair import find_hostname_error
from analyzer.model.findings import Finding, Severity
from analyzer.wiring.components import server_host
from analyzer.wiring.model import Component, Load, Loader, State, Wiring

TLS_VERIFY = "tls: failed to verify certificate: "
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _certificate_names(certificate: x509.Certificate) -> list[str]:
    """The SNI names of a certificate without explicit names (named_certificates.go getCertificateNames):
    the CN when it is a DNS-1123 subdomain and not an IP, then the DNS SANs. IP SANs never count."""
    names = []
    common_names = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    cn = str(common_names[-1].value) if common_names else ""  # pkix.Name keeps the last CN
    bare = cn.removeprefix("*.")
    if cn and not _is_ip(cn) and (cn == "*" or (len(bare) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(bare))):
        names.append(cn)
    try:
        names += certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return names


def _matches(pattern: str, host: str) -> tuple[bool, bool]:
    """(matches, exactly)"""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True, True
    if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
        return True, False
    return False, False


def served_load(apiserver: Component, host: str) -> Load | None:
    """The load whose certificate kube-apiserver presents for ``host``.

    The SNI map holds each entry's explicit names, else the names of its certificate; an explicit
    name overrides the same name from a certificate, an earlier entry a later one. crypto/tls looks
    the host up exactly, then with its first label as ``*``; a client dialling an IP sends no SNI,
    and kube-apiserver looks its local IP up exactly (tlsconfig.go GetConfigForClient). Anything
    else gets the default serving pair.
    """
    is_ip = _is_ip(host)
    best: tuple[tuple[int, int, int], Load] | None = None
    for load in apiserver.loads:
        if load.role != "sni":
            continue
        explicit = bool(load.names)
        chain = presented_chain(load)
        names = list(load.names) or (_certificate_names(chain[0]) if chain else [])
        for name in names:
            matched, exact = _matches(name, host)
            if matched and not (is_ip and not exact):
                rank = (0 if exact else 1, 0 if explicit else 1, load.order)
                if best is None or rank < best[0]:
                    best = (rank, load)
    if best is not None:
        return best[1]
    return next((load for load in apiserver.loads if load.role == "serving"), None)


def check_kubeconfig_servers(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    apiservers = {c.node: c for c in wiring.components if c.name == "kube-apiserver"}
    fallback = next(iter(apiservers.values()), None)
    found: list[Finding] = []
    for component in wiring.components:
        for load in component.loads:
            if load.loader is not Loader.KUBECONFIG or load.ca is None or load.ca.state is not State.PRESENT:
                continue
            host = server_host(load)
            apiserver = apiservers.get(load.node) or fallback
            if not host or apiserver is None:
                continue
            served = served_load(apiserver, host)
            chain = presented_chain(served) if served else ()
            if not chain:
                continue
            roots, _ = bundle(load.ca.data)
            trusted, error = verifies(chain, roots)
            if not trusted:
                found.append(finding(
                    load, "kubeconfig.ca-does-not-trust-server", Severity.ERROR,
                    f"{load.label}: its CA does not trust kube-apiserver's certificate for {host}",
                    f"{component.label} dials {load.server}; kube-apiserver answers {host} with {served.label} "  # type: ignore[union-attr]
                    f"(CN={common_name(chain[0])}, issued by {chain[0].issuer.rfc4514_string()}), but the kubeconfig's "
                    f"certificate-authority holds {', '.join('CN=' + common_name(r) for r in roots) or 'nothing'}. "
                    "This is what a regenerated CA looks like while kubeconfigs still carry the old one.",
                    material=load.ca, go_error=TLS_VERIFY + (error or ""), peer="kube-apiserver",
                    remediation=remedies(load, "kubeconfig.ca-does-not-trust-server", ctx),
                ))
            name_error = find_hostname_error(chain[0], host)
            if name_error:
                found.append(finding(
                    load, "kubeconfig.server-name-mismatch", Severity.ERROR,
                    f"{load.label}: kube-apiserver's certificate for {host} does not cover that name",
                    f"{component.label} dials {load.server}; the certificate served for it ({served.label}) does not cover {host}.",  # type: ignore[union-attr]
                    material=served.cert, go_error=TLS_VERIFY + name_error, peer="kube-apiserver",  # type: ignore[union-attr]
                    remediation=remedies(served, "names.missing", ctx),  # type: ignore[arg-type]
                ))
    return found
