"""Service-account keys and tokens: the signing key must be among the verification keys, and the
CA handed to pods in token secrets must still be the cluster's.

kube-apiserver signs tokens with ``--service-account-signing-key-file`` and accepts those whose
signature one of ``--service-account-key-file`` verifies; kube-controller-manager signs legacy token
secrets with ``--service-account-private-key-file``. Token secrets carry ``ca.crt``, which pods use
to trust kube-apiserver: after a CA change, stale ones make every such pod fail its TLS handshake.
"""

from __future__ import annotations

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding
from analyzer.gomodel.clientgo import bundle, common_name, private_key, public_keys, sha256_fingerprint
from analyzer.checks.remediation import remedies
from analyzer.gomodel.pem import public_key_sha256
from analyzer.model.findings import Finding
from analyzer.wiring.model import Component, Load, Loader, State, Wiring


def _verification_keys(apiserver: Component) -> tuple[Load | None, set[str]]:
    load = next((l for l in apiserver.loads if l.role == "service-account-keys"), None)
    found: set[str] = set()
    for material in load.public_keys if load else ():
        if material.state is State.PRESENT:
            keys, _ = public_keys(material.data)
            found.update(key.public_key_sha256 for key in keys)
    return load, found


def _signing_fingerprint(load: Load | None) -> str | None:
    if load is None or load.key is None or load.key.state is not State.PRESENT:
        return None
    key, _ = private_key(load.key.data)
    return public_key_sha256(key.public_key()) if key else None


def check_service_account_keys(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    found: list[Finding] = []
    apiservers = [c for c in wiring.components if c.name == "kube-apiserver"]
    for apiserver in apiservers:
        verify_load, verifying = _verification_keys(apiserver)
        if verify_load is None or not verifying or any(m.state is not State.PRESENT for m in verify_load.public_keys):
            continue
        signers = [(apiserver, next((l for l in apiserver.loads if l.role == "service-account-signing-key"), None), "tokens kube-apiserver issues")]
        signers += [
            (c, next((l for l in c.loads if l.role == "service-account-private-key"), None), "token secrets kube-controller-manager mints")
            for c in wiring.components if c.name == "kube-controller-manager" and c.node == apiserver.node
        ]
        for component, load, what in signers:
            fingerprint = _signing_fingerprint(load)
            if fingerprint is None or fingerprint in verifying:
                continue
            found.append(finding(
                load, "service-account.key-mismatch", severity.failure(load, stops_component=False),  # type: ignore[arg-type]  # a signer without a key has no fingerprint and was skipped
                f"{component.name}: service-account signing key is not among kube-apiserver's verification keys",
                f"{load.label} ({load.flag}={load.key_path}) has public key sha256:{fingerprint[:16]}, which none of "  # type: ignore[union-attr]  # a signer without a key has no fingerprint and was skipped
                f"kube-apiserver's {verify_load.flag} files ({verify_load.key_path}) holds: {what} are rejected "
                "(401 Unauthorized for every pod that uses them).",
                material=load.key, peer="kube-apiserver", remediation=remedies(load, "service-account.key-mismatch", ctx),  # type: ignore[union-attr, arg-type]  # a signer without a key has no fingerprint and was skipped
            ))
    return found


def check_service_account_tokens(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    current = wiring.current_ca
    if current is None or current.state is not State.PRESENT or not wiring.service_account_tokens:
        return []
    current_certificates, _ = bundle(current.data)
    if not current_certificates:
        return []
    wanted = {sha256_fingerprint(c) for c in current_certificates}
    stale = []
    for material in wiring.service_account_tokens:
        if material.state is not State.PRESENT:
            continue
        carried, _ = bundle(material.data)
        if not wanted & {sha256_fingerprint(c) for c in carried}:
            stale.append((material, carried))
    if not stale:
        return []
    first, carried = stale[0]
    objects = ", ".join(m.location.object or "?" for m, _ in stale[:10]) + (f" and {len(stale) - 10} more" if len(stale) > 10 else "")
    load = Load(component="service-account tokens", node=None, role="token-ca", order=0, loader=Loader.CA_BUNDLE, fatal=False,
                label="service-account token secrets", object=first.location.object)
    return [finding(
        load, "service-account.token-ca-stale", severity.failure(load, stops_component=False),
        f"{len(stale)} service-account token secret(s) carry a CA that is no longer the cluster's",
        f"{objects} hold ca.crt {', '.join('CN=' + common_name(c) + ' sha256:' + sha256_fingerprint(c)[:16] for c in carried) or '(none)'}, "
        f"but kube-apiserver's certificates chain to CN={common_name(current_certificates[0])} "
        f"(sha256:{sha256_fingerprint(current_certificates[0])[:16]}, from {current.location.describe()}). "
        "Pods using these tokens fail to verify kube-apiserver.",
        material=first, peer="kube-apiserver", remediation=remedies(load, "service-account.token-ca-stale", ctx),
    )]
