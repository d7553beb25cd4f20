"""Is each certificate allowed to do what its role asks (extended key usage)?

Go requires the ExtKeyUsage of the verified chain to allow the use: ServerAuth for a serving
certificate, ClientAuth for a client one; a certificate without the extension, or with
anyExtendedKeyUsage, allows everything (crypto/x509 verify.go checkChainForKeyUsage). etcd uses
its peer certificate in both directions, so it needs both. Key usage bits are not checked by Go
for TLS peers and are not checked here.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import common_name, sha256_fingerprint
from analyzer.checks.remediation import remedies
from analyzer.gomodel.verify import ERR_INCOMPATIBLE_USAGE
from analyzer.model.findings import Finding
from analyzer.wiring.model import KubeconfigPayload, Load

SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
_NEEDS = {
    "serving": (SERVER,), "sni": (SERVER,), "etcd-server": (SERVER,), "kubelet-serving": (SERVER,),
    "etcd-peer": (SERVER, CLIENT),
    "etcd-client": (CLIENT,), "kubelet-client": (CLIENT,), "proxy-client": (CLIENT,),
    # OpenShift's etcd-metrics grpc-proxy: serves Prometheus, dials etcd (cluster-etcd-operator pod.yaml).
    "etcd-metrics-serving": (SERVER,), "etcd-metrics-client": (CLIENT,),
}
_NAMES = {SERVER: "serverAuth", CLIENT: "clientAuth"}


def required_usages(load: Load) -> tuple[x509.ObjectIdentifier, ...]:
    if isinstance(load.payload, KubeconfigPayload):  # client-go presents its client pair
        return (CLIENT,)
    return _NEEDS.get(load.role, ())


def allowed_usages(certificate: x509.Certificate) -> set[x509.ObjectIdentifier] | None:
    """The EKUs a certificate carries; None means unrestricted."""
    try:
        usages = set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
    return None if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages else usages


def check_usage(load: Load, ctx: CheckContext) -> list[Finding]:
    chain = presented_chain(load)
    needed = required_usages(load)
    if not chain or not needed:
        return []
    allowed = allowed_usages(chain[0])
    missing = [usage for usage in needed if allowed is not None and usage not in allowed]
    if not missing:
        return []
    peer = load.peer.name if load.peer else "its peers"
    names = " and ".join(_NAMES[m] for m in missing)
    carried = ", ".join(sorted(getattr(u, "_name", u.dotted_string) for u in allowed or ())) or "none"
    return [finding(
        load, "usage.incompatible", severity.failure(load, stops_component=False),
        f"{load.label}: certificate lacks {names}",
        f"{load.label} (CN={common_name(chain[0])}) carries extended key usages {carried} but its role needs {names}; "
        f"{peer} reject it during the handshake.",
        material=load.certificate, go_error=ERR_INCOMPATIBLE_USAGE, peer=peer, remediation=remedies(load, "usage.incompatible", ctx),
        fingerprint=sha256_fingerprint(chain[0]),
    )]
