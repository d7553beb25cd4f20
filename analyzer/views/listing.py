"""What ``kforensic ls`` shows: every recognised input, and per node every file with what it is.

Data only, no rendering. A file is described by what its bytes are, through the decoders
(``decode.pem``, ``decode.kubeconfig``, ``decode.manifest``, ``decode.openshift_config``,
``decode.encryption``): a static pod manifest, a kubeconfig, certificates (how many, the first
subject CN, the first not-after), a private key (algorithm and public-key fingerprint), a public
key, a CA bundle, a KubeAPIServerConfig, an EncryptionConfiguration (providers and key names), or
other. Nothing here ever holds on to key bytes or secret values: only subjects, dates, sizes,
algorithms and SHA-256 fingerprints of public keys leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography import x509

from analyzer.decode.encryption import load_encryption_config
from analyzer.decode.kubeconfig import KubeconfigMaterial, load_kubeconfig
from analyzer.decode.manifest import load_static_pod
from analyzer.decode.openshift_config import load_kube_apiserver_config
from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.keys import EncryptedPrivateKey, load_certificates, load_private_key, load_public_keys
from analyzer.gomodel.pem import inspect_material, is_private_key_type, iter_pem_blocks
from analyzer.errors import DecodeError
from analyzer.evidence.tree import Entry, EntryKind
from analyzer.evidence.detect import DetectedInput, Evidence, SnapshotSource
from analyzer.evidence.node import Mount, NodeEvidence
from analyzer.reftime import format_utc

MAX_YAML_BYTES = 4 << 20  # larger files are not parsed to be described


class FileKind(StrEnum):
    STATIC_POD = "static-pod-manifest"
    KUBECONFIG = "kubeconfig"
    CERTIFICATE = "certificate"
    CA_BUNDLE = "ca-bundle"
    CERT_AND_KEY = "certificate-and-key"  # the kubelet's pki pems: certificate, then key
    PRIVATE_KEY = "private-key"
    PUBLIC_KEY = "public-key"
    KUBE_APISERVER_CONFIG = "kube-apiserver-config"
    ENCRYPTION_CONFIG = "encryption-config"
    OTHER = "other"


@dataclass(frozen=True)
class FileFacts:
    """What a file holds. ``state`` is a ``MaterialState`` value: present, scrubbed, empty, ..."""

    kind: FileKind
    state: str
    summary: str = ""
    certificates: int = 0
    first_subject_cn: str | None = None
    not_after_utc: datetime | None = None
    key_algorithm: str | None = None
    public_key_sha256: str | None = None

    @property
    def scrubbed(self) -> bool:
        return self.state in (MaterialState.SCRUBBED.value, MaterialState.ELIDED.value)


@dataclass(frozen=True)
class ListedFile:
    """One host file (or link) of a node and where it lies in the evidence."""

    host_path: str
    where: str | None  # "<input>!<member>" or "<directory>/<path>"
    tree_path: str | None  # the same, inside the node's evidence tree
    size: int | None
    mtime_utc: datetime | None
    facts: FileFacts | None  # None when the file could not be read
    link_target: str | None = None  # a symlink's target, as stored
    resolves_to: str | None = None  # the evidence location the link leads to
    problem: str | None = None


@dataclass(frozen=True)
class NodeListing:
    name: str
    name_source: str
    input: str
    distribution: str
    scrubbed: bool
    partial: bool
    mounts: tuple[Mount, ...]
    files: tuple[ListedFile, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ListedConfig:
    source: str
    node: str | None
    host_path: str | None
    size: int
    summary: str


@dataclass(frozen=True)
class ListedLog:
    source: str
    format: str
    size: int
    node: str | None


@dataclass(frozen=True)
class EvidenceListing:
    inputs: tuple[DetectedInput, ...]
    nodes: tuple[NodeListing, ...]
    snapshots: tuple[SnapshotSource, ...]
    encryption_configs: tuple[ListedConfig, ...]
    logs: tuple[ListedLog, ...]
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": [_input_json(item) for item in self.inputs],
            "nodes": [_node_json(node) for node in self.nodes],
            "snapshots": [_snapshot_json(snapshot) for snapshot in self.snapshots],
            "encryption_configs": [
                {"source": c.source, "node": c.node, "host_path": c.host_path, "size": c.size, "summary": c.summary}
                for c in self.encryption_configs
            ],
            "logs": [{"source": log.source, "format": log.format, "size": log.size, "node": log.node} for log in self.logs],
            "problems": list(self.problems),
        }


# --------------------------------------------------------------------------- describing a file


def _utc_text(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment else None


def _cn(name: x509.Name) -> str | None:
    try:
        values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    except ValueError:
        return None
    return str(values[0].value) if values else None


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _certificate_facts(kind: FileKind, certificates: tuple[x509.Certificate, ...], state: str, extra: str = "") -> FileFacts:
    first = certificates[0]
    cn = _cn(first.subject)
    not_after = first.not_valid_after_utc
    if kind is FileKind.CERTIFICATE and len(certificates) > 1 and all(_is_ca(c) for c in certificates):
        kind = FileKind.CA_BUNDLE
    role = " (CA)" if _is_ca(first) and len(certificates) == 1 else ""
    count = f"{len(certificates)} certificates, first " if len(certificates) > 1 else ""
    summary = f"{count}CN={cn or '(none)'}{role}, not after {_utc_text(not_after)}{extra}"
    return FileFacts(kind, state, summary, len(certificates), cn, not_after)


def _key_text(algorithm: str, bits: int, curve: str | None) -> str:
    return f"{algorithm} {curve}" if curve else f"{algorithm} {bits}"


def _private_key_facts(data: bytes, state: str) -> FileFacts:
    try:
        key = load_private_key(data)
    except EncryptedPrivateKey as exc:
        return FileFacts(FileKind.PRIVATE_KEY, state, f"encrypted ({exc.scheme})")
    except DecodeError as exc:
        return FileFacts(FileKind.PRIVATE_KEY, MaterialState.MALFORMED.value, str(exc))
    algorithm = _key_text(key.algorithm.value, key.size_bits, key.curve)
    summary = f"{algorithm} ({key.encoding.value}), public key sha256 {key.public_key_sha256[:16]}…"
    return FileFacts(FileKind.PRIVATE_KEY, state, summary, key_algorithm=algorithm, public_key_sha256=key.public_key_sha256)


def _pem_facts(data: bytes, state: str) -> FileFacts | None:
    types = [block.type for block in iter_pem_blocks(data)]
    if not types:
        return None
    has_cert = "CERTIFICATE" in types
    has_key = any(is_private_key_type(t) for t in types)
    has_public = any(t in ("PUBLIC KEY", "RSA PUBLIC KEY") for t in types)
    try:
        if has_cert and has_key:
            key = _private_key_facts(data, state)
            return _certificate_facts(FileKind.CERT_AND_KEY, load_certificates(data), state, f"; key {key.summary}")
        if has_cert:
            return _certificate_facts(FileKind.CERTIFICATE, load_certificates(data), state)
        if has_key:
            return _private_key_facts(data, state)
        if has_public:
            keys = load_public_keys(data)
            first = keys[0]
            algorithm = _key_text(first.algorithm.value, first.size_bits, first.curve)
            summary = f"{len(keys)} keys, first " if len(keys) > 1 else ""
            return FileFacts(FileKind.PUBLIC_KEY, state, f"{summary}{algorithm}, sha256 {first.public_key_sha256[:16]}…",
                             key_algorithm=algorithm, public_key_sha256=first.public_key_sha256)
    except DecodeError as exc:
        return FileFacts(FileKind.OTHER, MaterialState.MALFORMED.value, f"PEM that does not parse: {exc}")
    return FileFacts(FileKind.OTHER, state, f"PEM blocks: {', '.join(dict.fromkeys(types))}")


def _scrubbed_pem_facts(hints: tuple[str, ...]) -> FileFacts | None:
    """A file whose PEM blocks sos replaced: its kind is read from what sos left behind."""
    pem_hints = [hint for hint in hints if hint not in ("BASE64 PEM", "field")]
    if not pem_hints:
        return None
    has_cert = any("CERTIFICATE" in hint for hint in pem_hints)
    has_key = any("PRIVATE KEY" in hint for hint in pem_hints)
    kind = (
        FileKind.CERT_AND_KEY if has_cert and has_key else FileKind.CERTIFICATE if has_cert
        else FileKind.PRIVATE_KEY if has_key else FileKind.PUBLIC_KEY if any("PUBLIC" in h for h in pem_hints)
        else FileKind.OTHER
    )  # fmt: skip
    return FileFacts(kind, MaterialState.SCRUBBED.value, f"scrubbed by sos ({', '.join(pem_hints)})")


def _material_text(label: str, material: KubeconfigMaterial) -> str | None:
    if material.data_state is MaterialState.PRESENT and label == "client certificate":
        try:
            certificate = load_certificates(material.data)[0]
        except DecodeError:
            return f"{label} does not parse"
        return f"client CN={_cn(certificate.subject)}, not after {_utc_text(certificate.not_valid_after_utc)}"
    if material.data_state is not None and material.data_state is not MaterialState.EMPTY:
        return f"{label} data {material.data_state.value}"
    if material.path_scrubbed:
        return f"{label} path scrubbed"
    if material.path:
        return f"{label} file {material.path}"
    return None


def _yaml_facts(host_path: str, data: bytes, state: str) -> FileFacts | None:
    if len(data) > MAX_YAML_BYTES:
        return None
    try:
        document = load_yaml_mapping(data, "file")
    except DecodeError:
        return None
    kind, api_version = document.get("kind"), str(document.get("apiVersion") or "")
    try:
        if kind == "Pod":
            pod = load_static_pod(data)
            revision = f", revision {pod.revision}" if pod.revision is not None else ""
            return FileFacts(FileKind.STATIC_POD, state, f"{pod.component}{revision}, {len(pod.flags)} flags")
        if kind == "Config" and ("clusters" in document or "users" in document):
            config = load_kubeconfig(data, host_path)
            parts = [f"user {config.user.name}" if config.user else "no user"]
            if config.cluster and config.cluster.server:
                parts.append(f"server {config.cluster.server}")
            if config.user:
                cert = _material_text("client certificate", config.user.client_certificate)
                parts += [cert] if cert else []
            return FileFacts(FileKind.KUBECONFIG, state, ", ".join(parts))
        if kind == "KubeAPIServerConfig" and api_version.startswith("kubecontrolplane.config.openshift.io"):
            apiserver_config = load_kube_apiserver_config(data)
            named = len(apiserver_config.serving_info.named_certificates)
            return FileFacts(FileKind.KUBE_APISERVER_CONFIG, state, f"{named} named certificates")
        if kind in ("EncryptionConfiguration", "EncryptionConfig"):
            return FileFacts(FileKind.ENCRYPTION_CONFIG, state, describe_encryption_config(data, host_path))
    except DecodeError as exc:
        return FileFacts(FileKind.OTHER, MaterialState.MALFORMED.value, f"{kind} that does not load: {exc}")
    return FileFacts(FileKind.OTHER, state, f"YAML of kind {kind}" if kind else "YAML without a kind")


def describe_encryption_config(data: bytes, source: str) -> str:
    """Providers in order with key names (never the secrets)."""
    try:
        config = load_encryption_config(data, source)
    except DecodeError as exc:
        return f"does not load: {exc}"
    providers = [key.describe() if key.provider != "identity" else "identity" for key in config.keys]
    return ", ".join(dict.fromkeys(providers)) or "no providers"


def describe_file(host_path: str, data: bytes) -> FileFacts:
    """What the bytes of one file are, by their content."""
    material = inspect_material(data)
    state = material.state.value
    if material.state is MaterialState.EMPTY:
        return FileFacts(FileKind.OTHER, state, "empty")
    if material.state is MaterialState.SCRUBBED:
        facts = _yaml_facts(host_path, data, state) or _scrubbed_pem_facts(material.scrub_hints)
        return facts or FileFacts(FileKind.OTHER, state, "scrubbed by sos")
    facts = _pem_facts(data, state) if material.state is MaterialState.PRESENT else None
    if facts is None:
        # YAML holds no PEM or DER at top level, which inspect_material calls malformed.
        facts = _yaml_facts(host_path, data, MaterialState.PRESENT.value)
    if facts is None and material.state is MaterialState.PRESENT:
        try:
            facts = _certificate_facts(FileKind.CERTIFICATE, load_certificates(data), state, " (DER)")
        except DecodeError:
            facts = None
    return facts or FileFacts(FileKind.OTHER, state, "")


# --------------------------------------------------------------------------- nodes


def _listed_file(node: NodeEvidence, host_path: str, entry: Entry) -> ListedFile:
    """A file, or a link with what it resolves to (links are followed as host paths)."""
    found = node.read_host_file(host_path)
    facts = describe_file(host_path, found.data) if found.data is not None else None
    resolved = node.where(found.tree_path) if found.tree_path is not None else None
    if entry.kind is EntryKind.SYMLINK:
        return ListedFile(host_path, node.where(entry.path), entry.path, found.size, entry.mtime_utc, facts,
                          entry.link_target or "", resolved, found.problem)
    return ListedFile(host_path, resolved, found.tree_path, found.size, found.mtime_utc, facts, None, None,
                      found.problem)


def list_node(node: NodeEvidence) -> NodeListing:
    files = tuple(
        _listed_file(node, host_path, entry)
        for host_path, entry in node.iter_host_entries()
        if entry.kind is not EntryKind.DIR
    )
    return NodeListing(
        node.name, node.name_source, node.input, node.distribution.value, node.scrubbed, node.partial,
        node.mounts, files, node.notes,
    )


def list_evidence(evidence: Evidence) -> EvidenceListing:
    """Everything ``ls`` shows, from what ``detect_evidence`` found."""
    configs = tuple(
        ListedConfig(c.source, c.node, c.host_path, len(c.data), describe_encryption_config(c.data, c.source))
        for c in evidence.encryption_configs
    )
    logs = tuple(ListedLog(log.source, log.format.value, log.size, log.node) for log in evidence.logs)
    return EvidenceListing(
        evidence.inputs,
        tuple(list_node(node) for node in evidence.nodes),
        evidence.snapshots,
        configs,
        logs,
        evidence.problems,
    )


# --------------------------------------------------------------------------- JSON


def _input_json(item: DetectedInput) -> dict[str, Any]:
    return {"source": item.source, "kind": item.kind.value, "format": item.format, "size": item.size,
            "parent": item.parent, "notes": list(item.notes)}


def _facts_json(facts: FileFacts | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    return {
        "kind": facts.kind.value,
        "state": facts.state,
        "scrubbed": facts.scrubbed,
        "summary": facts.summary,
        "certificates": facts.certificates,
        "first_subject_cn": facts.first_subject_cn,
        "not_after": _utc_text(facts.not_after_utc),
        "key_algorithm": facts.key_algorithm,
        "public_key_sha256": facts.public_key_sha256,
    }


def _node_json(node: NodeListing) -> dict[str, Any]:
    return {
        "name": node.name,
        "name_source": node.name_source,
        "input": node.input,
        "distribution": node.distribution,
        "scrubbed": node.scrubbed,
        "partial": node.partial,
        "mounts": [{"host_path": m.host_path, "tree_path": m.tree_path, "reason": m.reason} for m in node.mounts],
        "files": [
            {
                "host_path": f.host_path,
                "where": f.where,
                "tree_path": f.tree_path,
                "size": f.size,
                "mtime": _utc_text(f.mtime_utc),
                "link_target": f.link_target,
                "resolves_to": f.resolves_to,
                "problem": f.problem,
                **(_facts_json(f.facts) or {"kind": None}),
            }
            for f in node.files
        ],
        "notes": list(node.notes),
    }


def _snapshot_json(snapshot: SnapshotSource) -> dict[str, Any]:
    return {
        "source": snapshot.source,
        "path": str(snapshot.path) if snapshot.path is not None else None,
        "offset": snapshot.offset,
        "size": snapshot.size,
        "possibly_dirty": snapshot.possibly_dirty,
        "backup_stamp": snapshot.backup_stamp,
        "backup_time": _utc_text(snapshot.backup_utc),
        "recognised_by": snapshot.recognised_by,
        "problem": snapshot.problem,
        "access": snapshot.access,
    }
