"""What one file is, as ``ls`` describes it, by what its bytes are (through the decoders): a static pod
manifest, a kubeconfig, certificates, a private or public key, a CA bundle, a KubeAPIServerConfig, an
EncryptionConfiguration, or other. Only subjects, dates, sizes, algorithms and SHA-256 fingerprints of
public keys leave this module: never key bytes or secret values.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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
from analyzer.records import datarecord
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


@datarecord
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


# --------------------------------------------------------------------------- describing a file


def utc_text(moment: datetime | None) -> str | None:
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
    summary = f"{count}CN={cn or '(none)'}{role}, not after {utc_text(not_after)}{extra}"
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
        return f"client CN={_cn(certificate.subject)}, not after {utc_text(certificate.not_valid_after_utc)}"
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
