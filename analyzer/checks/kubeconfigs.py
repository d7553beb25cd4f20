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



from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import bundle, common_name, root_ca_error
from analyzer.checks.remediation import remedies
from analyzer.gomodel.dynamiccerts import certificate_names, is_ip, sni_matches
from analyzer.gomodel.hostname import find_hostname_error
from analyzer.gomodel.verify import verifies
from analyzer.gomodel.wrappers import wrap
from analyzer.model.findings import Finding
from analyzer.wiring.components import server_host
from analyzer.wiring.model import Component, KubeconfigPayload, Load, PairPayload, State, Wiring
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Role

TLS_VERIFY = "tls: failed to verify certificate: "
def served_load(apiserver: Component, host: str) -> Load | None:
    """The load whose certificate kube-apiserver presents for ``host``.

    The SNI map holds each entry's explicit names, else the names of its certificate; an explicit
    name overrides the same name from a certificate, an earlier entry a later one. crypto/tls looks
    the host up exactly, then with its first label as ``*``; a client dialling an IP sends no SNI,
    and kube-apiserver looks its local IP up exactly (tlsconfig.go GetConfigForClient). Anything
    else gets the default serving pair.
    """
    host_is_ip = is_ip(host)
    best: tuple[tuple[int, int, int], Load] | None = None
    for load in apiserver.loads:
        match load.payload:
            case PairPayload(sni_names=given) if load.role == Role.SNI:
                pass
            case _:
                continue
        explicit = bool(given)
        chain = presented_chain(load)
        names = list(given) or (certificate_names(chain[0]) if chain else [])
        for name in names:
            matched, exact = sni_matches(name, host)
            if matched and not (host_is_ip and not exact):
                rank = (0 if exact else 1, 0 if explicit else 1, load.order)
                if best is None or rank < best[0]:
                    best = (rank, load)
    if best is not None:
        return best[1]
    return apiserver.find_load(Role.SERVING)


BOOTSTRAP = "kubelet-bootstrap-kubeconfig"


def bootstrap_in_use(component: Component, ctx: CheckContext) -> bool | None:
    """Whether the kubelet falls back to its bootstrap kubeconfig now: its kubeconfig's client
    certificate (or its rotated pem) is gone or outside its validity at the reference time
    (pkg/kubelet/certificate/bootstrap/bootstrap.go isClientConfigStillValid). None: cannot tell."""
    primary = component.find_load(Role.KUBELET_KUBECONFIG, Role.KUBELET_CLIENT)
    certificate = primary.certificate if primary is not None else None
    if primary is None or certificate is None:
        return True if primary is None else None
    if certificate.state in (State.MISSING, State.EMPTY):
        return True
    chain = presented_chain(primary)
    if not chain:
        return None
    leaf = chain[0]
    return not (leaf.not_valid_before_utc <= ctx.reference_utc <= leaf.not_valid_after_utc)


def _bootstrap_note(component: Component, in_use: bool | None) -> str:
    if in_use:
        return (" The kubelet uses this bootstrap kubeconfig now: its own client certificate is gone or expired, so it cannot "
                "get a new one and the node stays NotReady.")
    if in_use is None:
        return " Whether the kubelet needs it now cannot be told: its own client certificate cannot be read from this evidence."
    return (" The kubelet reads it only when its own client certificate is gone or expired; until then this is latent, "
            "and then the node cannot re-bootstrap.")


def check_kubeconfig_servers(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    apiservers = {c.node: c for c in wiring.components if c.name == ComponentName.KUBE_APISERVER}
    fallback = next(iter(apiservers.values()), None)
    found: list[Finding] = []
    for component in wiring.components:
        for load in component.loads:
            match load.payload:
                case KubeconfigPayload(ca=ca) as kubeconfig if ca is not None and ca.state is State.PRESENT:
                    pass
                case _:
                    continue
            ca_error = root_ca_error(ca.data)
            if ca_error is not None:  # client-go fails before it dials (transport.go rootCertPool)
                found.append(finding(
                    load, "kubeconfig.ca-unloadable", severity.failure(load, stops_component=False),
                    f"{load.label}: its certificate-authority data holds no certificate client-go can load",
                    f"{component.label} cannot build its TLS configuration, so it never reaches {kubeconfig.server}.",
                    material=ca, go_error=wrap("client-go-root-ca", ca_error), peer="kube-apiserver",
                    remediation=remedies(load, "kubeconfig.ca-unloadable", ctx),
                ))
                continue
            host = server_host(kubeconfig)
            apiserver = apiservers.get(load.node) or fallback
            if not host or apiserver is None:
                continue
            served = served_load(apiserver, host)
            chain = presented_chain(served) if served else ()
            if served is None or not chain:
                continue
            roots, _ = bundle(ca.data)
            trusted, error = verifies(chain, roots)
            in_use = bootstrap_in_use(component, ctx) if load.role == BOOTSTRAP else None
            if not trusted:
                # A generated break-glass kubeconfig behind a user's named certificate fails by design.
                by_design = component.name == ComponentName.NODE_KUBECONFIGS and served is not None and served.source_object is not None
                level = (severity.documented_consequence() if by_design else severity.fallback_credential(in_use) if load.role == BOOTSTRAP
                         else severity.failure(load, stops_component=False))
                found.append(finding(
                    load, "kubeconfig.ca-does-not-trust-server", level,
                    f"{load.label}: its CA does not trust kube-apiserver's certificate for {host}",
                    f"{component.label} dials {kubeconfig.server}; kube-apiserver answers {host} with {served.label} "
                    f"(CN={common_name(chain[0])}, issued by {chain[0].issuer.rfc4514_string()}), but the kubeconfig's "
                    f"certificate-authority holds {', '.join('CN=' + common_name(r) for r in roots) or 'nothing'}. "
                    + ("OpenShift generates this kubeconfig with its own serving signers only; since the user serves "
                       f"{host} with their own certificate ({served.source_object if served else ''}), it needs the user's CA added "
                       "(the localhost and lb-int kubeconfigs beside it still work)."
                       if by_design else "This is what a regenerated CA looks like while kubeconfigs still carry the old one.")
                    + (_bootstrap_note(component, in_use) if load.role == BOOTSTRAP else ""),
                    material=ca, go_error=TLS_VERIFY + (error or ""), peer="kube-apiserver",
                    remediation=remedies(load, "kubeconfig.ca-does-not-trust-server", ctx),
                ))
            name_error = find_hostname_error(chain[0], host)
            if name_error:
                found.append(finding(
                    load, "kubeconfig.server-name-mismatch",
                    severity.fallback_credential(in_use) if load.role == BOOTSTRAP else severity.failure(load, stops_component=False),
                    f"{load.label}: kube-apiserver's certificate for {host} does not cover that name",
                    f"{component.label} dials {kubeconfig.server}; the certificate served for it ({served.label}) does not cover {host}.",
                    material=served.certificate, go_error=TLS_VERIFY + name_error, peer="kube-apiserver",
                    remediation=remedies(served, "names.missing", ctx),
                ))
    return found
