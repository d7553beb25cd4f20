"""Who loads what, from where: the model the checks read.

A ``Load`` is one thing a component is configured to load (a serving pair, an SNI pair, a CA
bundle, a kubeconfig's client pair), in the order the component loads it, with the paths exactly
as the component sees them. What every load has (component, role, place in start-up, flag, the
etcd object behind it, its copies and its peer) is the header; what depends on the shape is one
typed payload (``PairPayload``, ``BundlePayload``, ``PrivateKeyPayload``, ``PublicKeysPayload``,
``KubeconfigPayload``) whose fields each mean one thing, and checks ``match`` on it. Each path
resolves to ``Material``: the bytes the component would read, with their provenance, plus the
other copies of the same data (the etcd secret it is synced from, the revisioned copy, the user's
source secret) so that drift can be shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import field
from datetime import datetime
from enum import StrEnum

from analyzer.model.findings import LoadKey
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import ContentState, Distribution, Role
from analyzer.records import datarecord


# What is at a location: the one content state (model.vocabulary), under the short name the wiring uses.
State = ContentState


class Loader(StrEnum):
    """How the component reads the material; it decides the exact error it prints."""

    DYNAMIC_PAIR = "dynamic-pair"  # apiserver dynamiccertificates: missing-content check, then X509KeyPair
    TLS_PAIR = "tls-pair"  # tls.LoadX509KeyPair
    CA_BUNDLE = "ca-bundle"  # a PEM bundle of CA certificates
    PUBLIC_KEYS = "public-keys"  # service-account verification keys (files or directories)
    PRIVATE_KEY = "private-key"  # a signing key without a certificate
    KUBECONFIG = "kubeconfig"  # client-go: client pair and CA from a kubeconfig


# What kube-apiserver's storage hangs on: its etcd client pair and CA, etcd's serving pair and the
# CAs etcd verifies with. When one fails, kube-apiserver never becomes ready.
STORAGE_ROLES = frozenset({Role.ETCD_CLIENT, Role.ETCD_CA, Role.ETCD_SERVER, Role.ETCD_TRUSTED_CA, Role.ETCD_PEER_TRUSTED_CA})


@datarecord
class Change:
    """One surviving revision of an etcd object, as far as it concerns one data key."""

    revision: int
    event: str  # put | delete
    value_sha256: str | None  # of the data key's value at that revision; never the value
    value_size: int | None
    manager: str | None  # the managedFields entry written last
    time_utc: datetime | None


@datarecord
class Location:
    """Where one copy of the material lives, precise enough for a person to find it."""

    input: str  # the evidence input it came from
    host_path: str | None = None  # on the node
    tree_path: str | None = None  # inside the evidence tree
    node: str | None = None
    etcd_key: str | None = None
    object: str | None = None  # namespace/name
    kind: str | None = None  # Secret | ConfigMap | kubeconfig
    data_key: str | None = None  # tls.key, ca-bundle.crt, client-key-data
    revision: int | None = None  # etcd mod_revision of the object
    via: tuple[str, ...] = ()  # symlinks followed, kubeconfig that named it

    def describe(self) -> str:
        if self.etcd_key:
            return f"{self.kind or 'object'} {self.object} key {self.data_key} (etcd {self.etcd_key} @ revision {self.revision})"
        where = self.host_path or self.tree_path or self.input
        node = f" on {self.node}" if self.node else ""
        via = f" via {' -> '.join(self.via)}" if self.via else ""
        return f"{where}{node}{via}"


@datarecord
class Material:
    state: State
    location: Location
    data: bytes = field(default=b"", repr=False)
    detail: str | None = None  # why it is not verifiable, in words
    history: tuple[Change, ...] = ()
    history_complete: bool = True  # False when compaction removed older revisions
    # The metadata.annotations of the etcd object it was read from (OpenShift's rotation annotations
    # say when the operator believes the certificate ends); empty for files.
    annotations: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        return len(self.data)


class Copy(StrEnum):
    """Which copy of the data a Material is, for drift and for remediation."""

    SYNCED_FROM = "synced-from"  # the etcd object the file is synced from
    REVISIONED = "revisioned"  # <name>-<revision> in etcd
    USER_SOURCE = "user-source"  # the user's secret in openshift-config
    AGGREGATED_FROM = "aggregated-from"  # the per-node secret or bundle an aggregate (etcd-all-certs) takes it from


@datarecord
class CopyOf:
    copy: Copy
    cert: Material | None  # the copy of a pair's certificate, or of a CA bundle
    key: Material | None  # the copy of a pair's key


@datarecord
class Peer:
    """The other side that verifies this material, and what it verifies with."""

    name: str  # "etcd", "kubelets", "clients of kube-apiserver"
    usage: str  # "server" (peer verifies us as a server) or "client"
    ca: Material | None = None  # the bundle the peer trusts
    ca_ref: str | None = None  # how the peer is configured with it, for the report
    names: tuple[str, ...] = ()  # host names or IPs the peer dials (serving roles)
    allowed_names: tuple[str, ...] = ()  # requestheader-allowed-names
    # More verifiers of the same connection, each with its own bundle and reference: kube-apiserver's
    # etcd client pair is verified by every etcd member it may dial (wiring/etcd_members.py), and one
    # that refuses it is a failure however many accept it.
    also: tuple[tuple[Material, str], ...] = ()

    def bundles(self) -> tuple[tuple[Material | None, str | None], ...]:
        """Every (bundle, reference) the other side verifies with: its own first, then ``also``'s."""
        return ((self.ca, self.ca_ref), *self.also)


@datarecord
class PairPayload:
    """A certificate and its key, loaded together: through dynamiccertificates (``dynamic``: kube-apiserver's
    serving, SNI and proxy pairs, the CSR signer) or straight through ``tls.LoadX509KeyPair``."""

    cert_path: str | None  # as the component sees them
    key_path: str | None
    cert: Material | None
    key: Material | None
    dynamic: bool
    sni_names: tuple[str, ...] = ()  # names given with --tls-sni-cert-key: SNI selection uses them instead of the certificate's
    allowed_names: tuple[str, ...] = ()  # --requestheader-allowed-names: the CNs aggregated servers accept from the proxy pair
    expected_names: tuple[str, ...] = ()  # names clients dial: the certificate must cover them
    advised_names: tuple[str, ...] = ()  # names the installer would put in (a warning when absent)


@datarecord
class BundlePayload:
    """A PEM bundle of CA certificates."""

    path: str
    ca: Material


@datarecord
class PrivateKeyPayload:
    """A signing key without a certificate (service-account tokens)."""

    path: str
    key: Material


@datarecord
class PublicKeysPayload:
    """Service-account verification keys: the files or directories configured, and every file read from them."""

    paths: tuple[str, ...]
    keys: tuple[Material, ...]


@datarecord
class KubeconfigPayload:
    """A kubeconfig as client-go reads it: its client pair and CA, each embedded or from a file it names, and its server."""

    path: str  # the kubeconfig itself
    cert: Material | None
    key: Material | None
    ca: Material | None  # its certificate-authority
    cert_file: str | None = None  # client-certificate, when the kubeconfig names a file rather than embedding data
    key_file: str | None = None  # client-key
    ca_file: str | None = None  # certificate-authority
    server: str | None = None
    tls_server_name: str | None = None


Payload = PairPayload | BundlePayload | PrivateKeyPayload | PublicKeysPayload | KubeconfigPayload


@datarecord
class Load:
    """One thing a component loads, at its place in the component's start-up: what every load has, and
    the shape-specific rest in ``payload`` (checks ``match`` on it)."""

    component: ComponentName
    node: str | None
    role: Role
    order: int  # position in start-up order within the component
    fatal: bool  # the component does not start when this fails to load
    label: str  # "SNI pair 6 of 6, user-serving-cert-000"
    payload: Payload
    flag: str | None = None  # how it is configured: "--tls-sni-cert-key" / "namedCertificates[5]"
    object: str | None = None  # namespace/name of the etcd object behind the files
    source_object: str | None = None  # the user's secret behind a synced copy
    copies: tuple[CopyOf, ...] = ()
    peer: Peer | None = None
    # The endpoints it dials whose peer is not in the evidence, when no peer it dials is (kube-apiserver's
    # etcd client pair: wiring/etcd_members.py): whether its peers accept it cannot be told.
    unseen_peers: tuple[str, ...] = ()
    dynamic_name: str | None = None  # "sni-serving-cert::<cert>::<key>", as klog names a dynamiccertificates load
    error_format: str = "{}"  # how the component's code wraps this load's error, for Go's exact words

    @property
    def ref(self) -> LoadKey:
        """What a finding about this load carries to name it (wiring.iter_loads gives each a distinct one)."""
        return LoadKey(self.component, self.node, self.order, self.label)

    @property
    def loader(self) -> Loader:
        """How the component reads it (the JSON report's "loader")."""
        match self.payload:
            case PairPayload(dynamic=True):
                return Loader.DYNAMIC_PAIR
            case PairPayload():
                return Loader.TLS_PAIR
            case BundlePayload():
                return Loader.CA_BUNDLE
            case PrivateKeyPayload():
                return Loader.PRIVATE_KEY
            case PublicKeysPayload():
                return Loader.PUBLIC_KEYS
            case KubeconfigPayload():
                return Loader.KUBECONFIG

    @property
    def certificate(self) -> Material | None:
        """The certificate it presents to a peer: a pair's, or a kubeconfig's client certificate; None for CAs and lone keys."""
        match self.payload:
            case PairPayload(cert=cert) | KubeconfigPayload(cert=cert):
                return cert
        return None

    def materials(self) -> tuple[tuple[str, Material], ...]:
        """Every part it reads, named, in order: certificate, key, CA bundle, public keys."""
        match self.payload:
            case PairPayload(cert=cert, key=key):
                parts: tuple[tuple[str, Material | None], ...] = (("certificate", cert), ("key", key))
            case KubeconfigPayload(cert=cert, key=key, ca=ca):
                parts = (("certificate", cert), ("key", key), ("CA bundle", ca))
            case BundlePayload(ca=ca):
                parts = (("CA bundle", ca),)
            case PrivateKeyPayload(key=key):
                parts = (("key", key),)
            case PublicKeysPayload(keys=keys):
                parts = tuple(("public key", material) for material in keys)
        return tuple((what, material) for what, material in parts if material is not None)

    def history_materials(self) -> tuple[Material, ...]:
        """What etcd history is told for: every part it reads and every copy of it, except a public key
        directory's files, which are not followed through etcd history."""
        parts = [material for what, material in self.materials() if what != "public key"]
        return (*parts, *(m for copy in self.copies for m in (copy.cert, copy.key) if m is not None))

    def paths(self) -> tuple[str, ...]:
        """The files it is configured with, as the component sees them."""
        match self.payload:
            case PairPayload(cert_path=cert, key_path=key):
                found: tuple[str | None, ...] = (cert, key)
            case KubeconfigPayload(path=path, cert_file=cert, key_file=key, ca_file=ca):
                found = (path, cert, key, ca)
            case BundlePayload(path=path) | PrivateKeyPayload(path=path):
                found = (path,)
            case PublicKeysPayload(paths=paths):
                found = paths
        return tuple(path for path in found if path)


@datarecord(frozen=False)
class Component:
    name: ComponentName
    node: str | None
    distribution: Distribution
    configured_by: str  # where the wiring came from, in words
    loads: list[Load] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Configuration the component refuses before it loads anything (a flag value that does not parse).
    flag_errors: list[str] = field(default_factory=list)
    # The hosts of the client URLs it is configured with: for kube-apiserver those it dials
    # (--etcd-servers), for etcd those it serves at (--advertise-client-urls, --listen-client-urls).
    endpoints: tuple[str, ...] = ()
    # kube-apiserver's --etcd-servers as host[:port], as written: what a finding about them names.
    dials: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} on {self.node}" if self.node else self.name

    def find_load(self, *roles: Role) -> Load | None:
        """Its first load, in start-up order, with one of these roles; None when it has none."""
        return next((load for load in self.loads if load.role in roles), None)

    def find_bundle(self, role: Role) -> BundlePayload | None:
        """The CA bundle of its first load with this role; None when it has no such load or that load is
        not a bundle (a later load with the same role is not looked at)."""
        load = self.find_load(role)
        return load.payload if load is not None and isinstance(load.payload, BundlePayload) else None


@datarecord(frozen=False)
class Wiring:
    distribution: Distribution
    components: list[Component] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be wired, and why
    service_account_tokens: list[Material] = field(default_factory=list)  # ca.crt of token secrets
    root_ca_configmaps: list[Material] = field(default_factory=list)  # ca.crt of every kube-root-ca.crt config map
    current_ca: Material | None = None  # the cluster CA on a master's disk: the reference when no served chain is read
    # Per node: the bundle clients use to verify kube-apiserver's serving pairs, and where it is.
    serving_trust: dict[str | None, tuple[Material, str]] = field(default_factory=dict)
    # Kubernetes releases the evidence names, with where: ("v1.28.3", "kubeadm-config kubernetesVersion").
    releases: list[tuple[str, str]] = field(default_factory=list)
    given: tuple[str, ...] = ()  # the kinds of evidence the wiring had: "etcd snapshot", "node files"

    def iter_loads(self) -> Iterator[Load]:
        for component in self.components:
            yield from component.loads

    def loads_by_ref(self) -> dict[LoadKey, Load]:
        """Every load under the key a finding about it carries (``Finding.load``): how findings are joined back to their loads."""
        return {load.ref: load for load in self.iter_loads()}


@datarecord
class LoadFiles:
    """Where a load's files are, as the component sees them: the one reading of a payload's paths by
    part. A kubeconfig's "cert" is the kubeconfig itself (the file a person edits or regenerates), its
    key and CA the files it names, if any; public keys are listed together as the key."""

    cert: str | None
    key: str | None
    ca: str | None

    @property
    def any(self) -> str | None:
        return self.cert or self.key or self.ca


def load_files(load: Load) -> LoadFiles:
    match load.payload:
        case PairPayload(cert_path=cert, key_path=key):
            return LoadFiles(cert, key, None)
        case KubeconfigPayload(path=path, key_file=key, ca_file=ca):
            return LoadFiles(path, key, ca)
        case BundlePayload(path=path):
            return LoadFiles(None, None, path)
        case PrivateKeyPayload(path=path):
            return LoadFiles(None, path, None)
        case PublicKeysPayload(paths=paths):
            return LoadFiles(None, ", ".join(paths), None)
