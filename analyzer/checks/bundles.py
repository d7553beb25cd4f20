"""Will the CA bundles and the lone keys load? And what does the component print when not.

CA files loaded by kube-apiserver and kube-controller-manager at start-up go through
dynamiccertificates: an empty file is ``missing content for CA bundle "<purpose>::<path>"``, a
bundle without a usable certificate is ``error loading CA bundle for "<name>": data does not
contain any valid RSA or ECDSA certificates`` (dynamic_cafile_content.go, client-go certutil).
kube-apiserver returns these errors as they are (BuiltInAuthenticationOptions.ToAuthenticationConfig);
kube-controller-manager and kube-scheduler wrap them in DelegatingAuthenticationOptions.ApplyTo:
``unable to load client CA provider: <err>`` and ``unable to create request header authentication
config: <err>`` (apiserver pkg/server/options/authentication.go).
"""

from __future__ import annotations

from analyzer.checks.context import CheckContext, finding
from analyzer.checks.pairs import file_name
from analyzer.checks.parsed import NO_CERTIFICATES, bundle, private_key, public_keys
from analyzer.checks.presence import unverifiable
from analyzer.checks.remediation import remedies
from analyzer.report.model import Finding, Severity
from analyzer.wiring.model import Load, Loader, Material, State

DELEGATING = ("kube-controller-manager", "kube-scheduler")  # delegating authentication: errors wrapped
_WRAP = {"client-ca": "unable to load client CA provider: {}", "requestheader-ca": "unable to create request header authentication config: {}"}


def _missing_file_error(path: str | None, material: Material) -> str:
    return f"open {path or material.location.host_path}: no such file or directory"


def predict_bundle_error(load: Load) -> tuple[str, str, str] | None:
    """(finding id, Go error, what is wrong) for a CA bundle, or None when it loads."""
    ca = load.ca
    assert ca is not None
    name = load.dynamic_name or load.ca_path or ""
    if ca.state is State.MISSING:
        return "bundle.file-missing", _missing_file_error(load.ca_path, ca), f"{file_name(ca, load.ca_path)} does not exist"
    if ca.state is State.EMPTY:
        error = f'missing content for CA bundle "{name}"' if load.dynamic_name else "no CA certificates (empty file)"
        return "bundle.file-empty", error, f"{file_name(ca, load.ca_path)} is empty (0 bytes)"
    certificates, error = bundle(ca.data)
    if error:
        go = f'error loading CA bundle for "{name}": {error}' if load.dynamic_name else error
        what = "holds no CA certificate" if error == NO_CERTIFICATES else "holds a certificate that does not parse"
        return "bundle.unparseable", go, f"{file_name(ca, load.ca_path)} {what}"
    return None


def check_bundle(load: Load, ctx: CheckContext) -> list[Finding]:
    if load.loader is not Loader.CA_BUNDLE or load.ca is None or unverifiable(load):
        return []
    predicted = predict_bundle_error(load)
    if predicted is None:
        return []
    finding_id, error, problem = predicted
    wrap = _WRAP.get(load.role, "{}") if load.component in DELEGATING and load.dynamic_name else "{}"
    go_error = wrap.format(error)
    fatal = load.fatal
    consequence = "it stops at start-up" if fatal else "connections verified with this bundle fail"
    return [finding(
        load, finding_id, Severity.CRITICAL if fatal else Severity.ERROR,
        f"{load.component} {'cannot start' if fatal else 'cannot verify peers'}: {load.label}: {problem}",
        f"{load.label} ({load.flag}={load.ca_path}): {problem}, read from {load.ca.location.describe()}; {load.component} {consequence}.",
        material=load.ca, go_error=go_error, blocks_start=fatal, remediation=remedies(load, finding_id, ctx), problem=problem,
    )]


def check_private_key(load: Load, ctx: CheckContext) -> list[Finding]:
    """Service-account signing keys: a key alone, no certificate."""
    if load.loader is not Loader.PRIVATE_KEY or load.key is None or unverifiable(load):
        return []
    key = load.key
    if key.state is State.MISSING:
        problem, error = f"{file_name(key, load.key_path)} does not exist", _missing_file_error(load.key_path, key)
    elif key.state is State.EMPTY:
        problem, error = f"{file_name(key, load.key_path)} is empty (0 bytes)", None
    else:
        parsed, why = private_key(key.data)
        if parsed is not None:
            return []
        problem, error = f"{file_name(key, load.key_path)} holds no private key that parses ({why})", None
    return [finding(
        load, "key.unparseable", Severity.CRITICAL if load.fatal else Severity.ERROR,
        f"{load.component} cannot start: {load.label}: {problem}",
        f"{load.label} ({load.flag}={load.key_path}): {problem}, read from {key.location.describe()}; "
        f"{load.component} validates this key at start-up and exits.",
        material=key, go_error=error, blocks_start=load.fatal, remediation=remedies(load, "key.unparseable", ctx), problem=problem,
    )]


def check_public_keys(load: Load, ctx: CheckContext) -> list[Finding]:
    """Service-account verification keys: every file must hold at least one public key."""
    if load.loader is not Loader.PUBLIC_KEYS or unverifiable(load):
        return []
    found = []
    for material in load.public_keys:
        if material.state is State.PRESENT:
            keys, why = public_keys(material.data)
            if keys:
                continue
            problem = f"{material.location.describe()} holds no public key ({why})"
        else:
            problem = f"{material.location.describe()} is {material.state.value}"
        found.append(finding(
            load, "keys.unparseable", Severity.CRITICAL if load.fatal else Severity.ERROR,
            # One finding per file: the title names it, so that findings of two files stay apart.
            f"{load.component} cannot start: {load.label}: {file_name(material, None)} is unusable", f"{load.label} ({load.flag}): {problem}.",
            material=material, blocks_start=load.fatal, remediation=remedies(load, "keys.unparseable", ctx), problem=problem,
        ))
    return found
