"""Will the CA bundles and the lone keys load? And what does the component print when not.

CA files loaded through dynamiccertificates (kube-apiserver's and kube-controller-manager's
client CAs, the kubelet's) refuse an empty file with ``missing content for CA bundle
"<purpose>::<path>"`` and a bundle without a usable certificate with ``error loading CA bundle
for "<name>": data does not contain any valid RSA or ECDSA certificates`` (dynamic_cafile_content.go,
client-go certutil); the component's code may wrap that error (``Load.error_format``).

Others build a trust pool from what parses and never fail: etcd's tlsutil.NewCertPool (etcd's own
CA files, and kube-apiserver's --etcd-cafile through the etcd client) and client-go's transport
(--kubelet-certificate-authority). An empty or unusable file gives a process that starts and then
refuses every peer it verifies.
"""

from __future__ import annotations

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding
from analyzer.checks.pairs import file_name
from analyzer.gomodel.dynamiccerts import ca_bundle_error, missing_ca_content, open_missing
from analyzer.gomodel.clientgo import NO_CERTIFICATES, bundle, private_key, public_keys
from analyzer.checks.presence import unverifiable
from analyzer.checks.remediation import remedies
from analyzer.model.findings import Finding
from analyzer.model.vocabulary import Role
from analyzer.wiring.model import STORAGE_ROLES, BundlePayload, Load, Material, PrivateKeyPayload, PublicKeysPayload, State

POOL_BUNDLES = (Role.ETCD_CA, Role.ETCD_TRUSTED_CA, Role.ETCD_PEER_TRUSTED_CA, Role.KUBELET_CA)


def _missing_file_error(path: str | None, material: Material) -> str:
    return open_missing(path or material.location.host_path or "")


def predict_bundle_error(load: Load) -> tuple[str, str, str] | None:
    """(finding id, Go error, what is wrong) for a CA bundle, or None when it loads.

    A pool bundle (POOL_BUNDLES) only fails when the file cannot be read; its empty pool is
    ``bundle.empty-pool``, whose error is what every handshake verified with it reports.
    """
    assert isinstance(load.payload, BundlePayload), "the caller passes a CA bundle's load"
    ca, path = load.payload.ca, load.payload.path
    name = load.dynamic_name or path
    if ca.state is State.MISSING:
        return "bundle.file-missing", load.error_format.format(_missing_file_error(path, ca)), f"{file_name(ca, path)} does not exist"
    certificates, error = bundle(ca.data) if ca.state is not State.EMPTY else ([], NO_CERTIFICATES)
    if not error:
        return None
    what = ("is empty (0 bytes)" if ca.state is State.EMPTY else
            "holds no CA certificate" if error == NO_CERTIFICATES else "holds a certificate that does not parse")
    problem = f"{file_name(ca, path)} {what}"
    if load.role in POOL_BUNDLES and error == NO_CERTIFICATES:
        return "bundle.empty-pool", "x509: certificate signed by unknown authority", problem
    if load.dynamic_name is None:
        go = error
    elif ca.state is State.EMPTY:
        go = missing_ca_content(name)
    else:
        go = ca_bundle_error(name, error)
    return ("bundle.file-empty" if ca.state is State.EMPTY else "bundle.unparseable"), load.error_format.format(go), problem


def _empty_pool(load: Load, bundle_load: BundlePayload, ctx: CheckContext, problem: str) -> list[Finding]:
    storage = load.role in STORAGE_ROLES
    return [finding(
        load, "bundle.empty-pool", severity.failure(load, stops_component=False),
        f"{load.label}: {problem}; every peer it verifies is refused",
        f"{load.label} ({load.flag}={bundle_load.path}): {problem}, read from {bundle_load.ca.location.describe()}. "
        f"{load.component} starts but gets no CA certificate from it, so every TLS handshake it verifies with this bundle fails"
        + ("; without etcd, kube-apiserver never becomes ready." if storage else "."),
        material=bundle_load.ca, go_error="x509: certificate signed by unknown authority", peer="its peers",
        remediation=remedies(load, "bundle.empty-pool", ctx), problem=problem,
    )]


def check_bundle(load: Load, ctx: CheckContext) -> list[Finding]:
    match load.payload:
        case BundlePayload() as bundle_load if not unverifiable(load):
            pass
        case _:
            return []
    predicted = predict_bundle_error(load)
    if predicted is None:
        return []
    finding_id, go_error, problem = predicted
    if finding_id == "bundle.empty-pool":
        return _empty_pool(load, bundle_load, ctx, problem)
    fatal = load.fatal
    consequence = "it stops at start-up" if fatal else "connections verified with this bundle fail"
    return [finding(
        load, finding_id, severity.failure(load, stops_component=fatal),
        f"{load.component} {'cannot start' if fatal else 'cannot verify peers'}: {load.label}: {problem}",
        f"{load.label} ({load.flag}={bundle_load.path}): {problem}, read from {bundle_load.ca.location.describe()}; {load.component} {consequence}.",
        material=bundle_load.ca, go_error=go_error, blocks_start=fatal, remediation=remedies(load, finding_id, ctx), problem=problem,
    )]


def check_private_key(load: Load, ctx: CheckContext) -> list[Finding]:
    """Service-account signing keys: a key alone, no certificate."""
    match load.payload:
        case PrivateKeyPayload(path=path, key=key) if not unverifiable(load):
            pass
        case _:
            return []
    if key.state is State.MISSING:
        problem, error = f"{file_name(key, path)} does not exist", _missing_file_error(path, key)
    elif key.state is State.EMPTY:
        problem, error = f"{file_name(key, path)} is empty (0 bytes)", None
    else:
        parsed, why = private_key(key.data)
        if parsed is not None:
            return []
        problem, error = f"{file_name(key, path)} holds no private key that parses ({why})", None
    return [finding(
        load, "key.unparseable", severity.failure(load),
        f"{load.component} cannot start: {load.label}: {problem}",
        f"{load.label} ({load.flag}={path}): {problem}, read from {key.location.describe()}; "
        f"{load.component} validates this key at start-up and exits.",
        material=key, go_error=error, blocks_start=load.fatal, remediation=remedies(load, "key.unparseable", ctx), problem=problem,
    )]


def check_public_keys(load: Load, ctx: CheckContext) -> list[Finding]:
    """Service-account verification keys: every file must hold at least one public key."""
    match load.payload:
        case PublicKeysPayload(keys=files) if not unverifiable(load):
            pass
        case _:
            return []
    found = []
    for material in files:
        if material.state is State.PRESENT:
            keys, why = public_keys(material.data)
            if keys:
                continue
            problem = f"{material.location.describe()} holds no public key ({why})"
        else:
            problem = f"{material.location.describe()} is {material.state.value}"
        found.append(finding(
            load, "keys.unparseable", severity.failure(load),
            # One finding per file: the title names it, so that findings of two files stay apart.
            f"{load.component} cannot start: {load.label}: {file_name(material, None)} is unusable", f"{load.label} ({load.flag}): {problem}.",
            material=material, blocks_start=load.fatal, remediation=remedies(load, "keys.unparseable", ctx), problem=problem,
        ))
    return found
