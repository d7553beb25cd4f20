"""Does each serving certificate carry the names its clients dial?

Required names are the ones the configuration shows clients using (kubeconfig servers, SNI
``names``, the service IP, the load balancers): a missing one is an error, in Go's own words
(``x509: certificate is valid for …, not …``). Advised names are the rest of what the installer
puts in (kubeadm's list, layouts §1.3): a missing one is a warning.
"""

from __future__ import annotations

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import common_name, sha256_fingerprint
from analyzer.checks.remediation import remedies
from analyzer.gomodel.hostname import find_hostname_error
from analyzer.model.findings import Finding
from analyzer.wiring.model import Load, PairPayload
from analyzer.model.vocabulary import Role


def check_names(load: Load, ctx: CheckContext) -> list[Finding]:
    match load.payload:
        case PairPayload(expected_names=expected, advised_names=advised) if expected or advised:
            pass
        case _:
            return []
    chain = presented_chain(load)
    if not chain:
        return []
    leaf = chain[0]
    found = []
    for names, level, finding_id in ((expected, severity.failure(load, stops_component=False), "names.missing"),
                                     (advised, severity.advised(), "names.advised-missing")):
        missing = [(name, error) for name in names if (error := find_hostname_error(leaf, name))]
        if not missing:
            continue
        listed = ", ".join(name for name, _ in missing)
        consequence = (
            "clients dialling these names refuse the connection" if finding_id == "names.missing"
            else "the installer would have included these; clients using them would refuse the connection"
        )
        found.append(finding(
            load, finding_id, level, f"{load.label}: certificate does not cover {listed}",
            f"{load.label} (CN={common_name(leaf)}) does not cover {listed}; {consequence}.",
            material=load.certificate, go_error=missing[0][1], remediation=remedies(load, finding_id, ctx),
            peer=load.peer.name if load.peer else "clients of " + load.component,
            fingerprint=sha256_fingerprint(leaf),
        ))
    return found


# k8s.io/apiserver pkg/authentication/request/x509: what an aggregated API server answers when the
# front proxy's client certificate is not among --requestheader-allowed-names.
NOT_ALLOWED = "x509: subject with cn={} is not in the allowed list"


def check_allowed_client_names(load: Load, ctx: CheckContext) -> list[Finding]:
    """The aggregator's proxy client: its CN must be one of --requestheader-allowed-names (empty: any)."""
    peer = load.peer
    chain = presented_chain(load)
    if load.role != Role.PROXY_CLIENT or peer is None or not peer.allowed_names or not chain:
        return []
    name = common_name(chain[0])
    if name in peer.allowed_names:
        return []
    return [finding(
        load, "names.not-allowed", severity.failure(load, stops_component=False), f"{load.label}: CN={name} is not in --requestheader-allowed-names",
        f"{load.label} presents CN={name}, but aggregated API servers accept the front proxy only as "
        f"{', '.join(peer.allowed_names)}; every request kube-apiserver proxies to them (metrics, custom APIs) is refused.",
        material=load.certificate, go_error=NOT_ALLOWED.format(name), peer=peer.name, fingerprint=sha256_fingerprint(chain[0]),
        remediation=remedies(load, "names.not-allowed", ctx),
    )]
