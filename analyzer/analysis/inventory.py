"""Every certificate the analysis touched: who it is, who signed it, when it ends, where it lies.

Built from the wiring (loaded copies, other copies, CA bundles, kubeconfig CAs), one entry per
certificate fingerprint, listing every place it was found and every load that uses it. Public
material only: subjects, names, dates, fingerprints.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from dataclasses import field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from analyzer.checks.context import CheckContext
from analyzer.gomodel.x509parse import public_key_of, serial_of
from analyzer.gomodel.clientgo import bundle, common_name, sha256_fingerprint
from analyzer.checks.validity import validity_state
from analyzer.evidence.tree import EntryKind
from analyzer.records import datarecord
from analyzer.wiring.nodes import Node
from analyzer.wiring.model import Load, Material, State, Wiring
from analyzer.reftime import format_utc

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "any",
}


def _public_key(certificate: x509.Certificate) -> str:
    key = public_key_of(certificate)
    if key is None:
        return "unknown algorithm"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__


def _extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> Any:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


@datarecord(frozen=False)
class InventoryEntry:
    certificate: x509.Certificate
    fingerprint: str
    state: str  # at the reference time: valid | expiring | expired | not-yet-valid
    locations: set[str] = field(default_factory=set)
    used_by: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, object]:
        cert = self.certificate
        sans = _extension(cert, x509.SubjectAlternativeName)
        usage = _extension(cert, x509.KeyUsage)
        extended = _extension(cert, x509.ExtendedKeyUsage)
        constraints = _extension(cert, x509.BasicConstraints)
        key_usage = []
        if usage is not None:
            for name in ("digital_signature", "key_encipherment", "key_cert_sign", "crl_sign"):
                if getattr(usage, name):
                    key_usage.append(name)
        return {
            "fingerprint_sha256": self.fingerprint,
            "subject": cert.subject.rfc4514_string(),
            "common_name": common_name(cert),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": format(serial_of(cert), "x"),
            "not_before": format_utc(cert.not_valid_before_utc),
            "not_after": format_utc(cert.not_valid_after_utc),
            "state": self.state,
            "is_ca": bool(constraints.ca) if constraints is not None else False,
            "sans": sorted([f"DNS:{n}" for n in sans.get_values_for_type(x509.DNSName)] + [f"IP:{ip}" for ip in sans.get_values_for_type(x509.IPAddress)]) if sans else [],
            "key_usage": key_usage,
            "extended_key_usage": sorted(_EKU_NAMES.get(u, u.dotted_string) for u in extended) if extended else [],
            "public_key": _public_key(cert),
            "locations": sorted(self.locations),
            "used_by": sorted(self.used_by),
        }


def _materials(load: Load) -> Iterator[tuple[Material, str]]:
    use = f"{load.component}{' on ' + load.node if load.node else ''}: {load.label}"
    for what, part in load.materials():
        if what in ("certificate", "CA bundle"):
            yield part, use
    for copy in load.copies:
        for material in (copy.cert,):
            if material is not None:
                yield material, f"{use} ({copy.copy.value} copy)"
    if load.peer is not None:
        for ca, _ref in load.peer.bundles():
            if ca is not None:
                yield ca, f"{load.peer.name}: trust bundle for {load.label}"


def build_inventory(wiring: Wiring, ctx: CheckContext) -> list[InventoryEntry]:
    entries: dict[str, InventoryEntry] = {}
    sources = [pair for load in wiring.iter_loads() for pair in _materials(load)]
    sources += [(m, "service-account token secret ca.crt") for m in wiring.service_account_tokens]
    for material, use in sources:
        if material.state is not State.PRESENT:
            continue
        certificates, _error = bundle(material.data)
        for certificate in certificates:
            fingerprint = sha256_fingerprint(certificate)
            entry = entries.setdefault(fingerprint, InventoryEntry(certificate, fingerprint, validity_state(certificate, ctx)))
            entry.locations.add(material.location.describe())
            entry.used_by.add(use)
    return sorted(entries.values(), key=lambda e: (e.certificate.not_valid_after_utc, e.fingerprint))


# A certificate file is small; a bigger file under a node's mounts is something else.
NODE_CERTIFICATE_LIMIT = 1 << 20


def with_node_certificates(inventory: list[InventoryEntry], nodes: Iterable[Node], ctx: CheckContext) -> list[InventoryEntry]:
    """The inventory plus every PEM certificate in the nodes' files that no load uses (kubeadm's
    etcd healthcheck client, a renewed pair's old copy): ``certs`` lists what the evidence holds,
    not only what is wired. Such entries have places but no ``used_by``."""
    entries = {entry.fingerprint: entry for entry in inventory}
    for node in sorted(nodes, key=lambda n: (n.name, n.input)):
        for host_path, entry in node.iter_host_entries():
            if entry.kind is not EntryKind.FILE or (entry.size or 0) > NODE_CERTIFICATE_LIMIT:
                continue
            found = node.read_host_file(host_path, NODE_CERTIFICATE_LIMIT)
            if not found.data or b"-----BEGIN CERTIFICATE-----" not in found.data:
                continue
            certificates, _error = bundle(found.data)
            for certificate in certificates:
                fingerprint = sha256_fingerprint(certificate)
                known = entries.setdefault(fingerprint, InventoryEntry(certificate, fingerprint, validity_state(certificate, ctx)))
                known.locations.add(f"{host_path} on {node.name}")
    return sorted(entries.values(), key=lambda e: (e.certificate.not_valid_after_utc, e.fingerprint))


def next_expiry(inventory: list[InventoryEntry], reference_utc: datetime) -> dict[str, object] | None:
    """The certificate that expires first after the reference time: the next outage."""
    upcoming = [e for e in inventory if e.certificate.not_valid_after_utc > reference_utc]
    if not upcoming:
        return None
    first = min(upcoming, key=lambda e: (e.certificate.not_valid_after_utc, e.fingerprint))
    used = sorted(first.used_by)
    return {
        "fingerprint_sha256": first.fingerprint,
        "label": f"CN={common_name(first.certificate)}" + (f" ({used[0]})" if used else ""),
        "not_after": format_utc(first.certificate.not_valid_after_utc),
        "days_left": (first.certificate.not_valid_after_utc - reference_utc).days,
    }
