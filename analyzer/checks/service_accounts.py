"""Service-account keys and tokens: the signing key must be among the verification keys, and the
CA handed to pods in token secrets must still be the cluster's.

kube-apiserver signs tokens with ``--service-account-signing-key-file`` and accepts those whose
signature one of ``--service-account-key-file`` verifies; kube-controller-manager signs legacy token
secrets with ``--service-account-private-key-file``. Token secrets carry ``ca.crt``, which pods use
to trust kube-apiserver: after a CA change, stale ones make every such pod fail its TLS handshake.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.checks.kubeconfigs import served_load
from analyzer.gomodel.dynamiccerts import is_ip
from analyzer.gomodel.verify import verifies
from analyzer.gomodel.clientgo import bundle, common_name, private_key, public_keys, sha256_fingerprint
from analyzer.checks.remediation import remedies
from analyzer.gomodel.keys import public_key_sha256
from analyzer.model.findings import Finding
from analyzer.model.findings import LoadKey, Subject
from analyzer.wiring.model import BundlePayload, Component, Load, Material, PairPayload, PrivateKeyPayload, PublicKeysPayload, State, Wiring
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Role


def _verification_keys(apiserver: Component) -> tuple[Load | None, set[str]]:
    load = apiserver.find_load(Role.SERVICE_ACCOUNT_KEYS)
    found: set[str] = set()
    for material in _key_files(load):
        if material.state is State.PRESENT:
            keys, _ = public_keys(material.data)
            found.update(key.public_key_sha256 for key in keys)
    return load, found


def _key_files(load: Load | None) -> tuple[Material, ...]:
    match load.payload if load else None:
        case PublicKeysPayload(keys=files):
            return files
    return ()


def _signing_fingerprint(load: Load | None) -> str | None:
    match load.payload if load else None:
        case PrivateKeyPayload(key=signing) if signing.state is State.PRESENT:
            key, _ = private_key(signing.data)
            return public_key_sha256(key.public_key()) if key else None
    return None


def check_service_account_keys(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    found: list[Finding] = []
    apiservers = [c for c in wiring.components if c.name == ComponentName.KUBE_APISERVER]
    for apiserver in apiservers:
        verify_load, verifying = _verification_keys(apiserver)
        if verify_load is None or not verifying or any(m.state is not State.PRESENT for m in _key_files(verify_load)):
            continue
        signers = [(apiserver, apiserver.find_load(Role.SERVICE_ACCOUNT_SIGNING_KEY), "tokens kube-apiserver issues")]
        signers += [
            (c, c.find_load(Role.SERVICE_ACCOUNT_PRIVATE_KEY), "token secrets kube-controller-manager mints")
            for c in wiring.components if c.name == ComponentName.KUBE_CONTROLLER_MANAGER and c.node == apiserver.node
        ]
        verify_paths = ", ".join(verify_load.payload.paths) if isinstance(verify_load.payload, PublicKeysPayload) else ""
        for component, load, what in signers:
            fingerprint = _signing_fingerprint(load)
            if load is None or not isinstance(load.payload, PrivateKeyPayload) or fingerprint is None or fingerprint in verifying:
                continue
            found.append(finding(
                load, "service-account.key-mismatch", severity.failure(load, stops_component=False),
                f"{component.name}: service-account signing key is not among kube-apiserver's verification keys",
                f"{load.label} ({load.flag}={load.payload.path}) has public key sha256:{fingerprint[:16]}, which none of "
                f"kube-apiserver's {verify_load.flag} files ({verify_paths}) holds: {what} are rejected "
                "(401 Unauthorized for every pod that uses them).",
                material=load.payload.key, peer="kube-apiserver", remediation=remedies(load, "service-account.key-mismatch", ctx),
            ))
    return found


def _reference(wiring: Wiring) -> tuple[Callable[[tuple[x509.Certificate, ...]], bool], str] | None:
    """How to tell a current copy from a stale one: (does this bundle verify?, what it is compared with).

    The truth is the certificate kube-apiserver serves to pods. In-cluster clients dial the service IP
    (KUBERNETES_SERVICE_HOST), so the pair is chosen as for that IP (checks/kubeconfigs.served_load).
    When the loaded pair differs from the object it is synced from (a pending sync, a stale
    checkpoint), a copy must verify both: what is served now and what the next restart serves.
    Without either, the cluster CA on a master's disk; without that, nothing can be judged.
    """
    for apiserver in (c for c in wiring.components if c.name == ComponentName.KUBE_APISERVER):
        serving = apiserver.find_load(Role.SERVING)
        expected = serving.payload.expected_names if serving is not None and isinstance(serving.payload, PairPayload) else ()
        host = next((n for n in expected if is_ip(n)), "kubernetes.default.svc")
        served = served_load(apiserver, host)
        chain = presented_chain(served) if served else ()
        served_cert = served.certificate if served is not None else None
        if served is None or served_cert is None or not chain:
            continue
        chains = [(chain, f"the certificate kube-apiserver serves to pods ({served.label}, CN={common_name(chain[0])}, "
                          f"issued by {chain[0].issuer.rfc4514_string()}), dialled as {host}")]
        for copy in served.copies:
            if copy.cert is not None and copy.cert.state is State.PRESENT and copy.cert.data != served_cert.data:
                pending = bundle(copy.cert.data)[0]
                if pending:
                    chains.append((pending, f"the one {copy.cert.location.describe()} holds for the next restart "
                                            f"(issued by {pending[0].issuer.rfc4514_string()})"))
        judged = tuple(c for c, _ in chains)
        return (lambda roots, judged=judged: all(verifies(c, roots)[0] for c in judged), " and ".join(text for _, text in chains))
    current = wiring.current_ca
    if current is not None and current.state is State.PRESENT:
        certificates, _ = bundle(current.data)
        if certificates:
            wanted = {sha256_fingerprint(c) for c in certificates}
            return (lambda roots: bool(wanted & {sha256_fingerprint(c) for c in roots}),
                    f"the cluster CA CN={common_name(certificates[0])} (sha256:{sha256_fingerprint(certificates[0])[:16]}, "
                    f"from {current.location.describe()})")
    return None


def _source(wiring: Wiring, trusted: Callable[[tuple[x509.Certificate, ...]], bool]) -> tuple[str, bool | None]:
    """Where the copies come from, and whether that source is itself stale (None: cannot tell)."""
    roots = [l for c in wiring.components if c.name == ComponentName.KUBE_CONTROLLER_MANAGER for l in c.loads if l.role == Role.ROOT_CA]
    readable = [(l, l.payload) for l in roots if isinstance(l.payload, BundlePayload) and l.payload.ca.state is State.PRESENT]
    if not readable:
        return ("kube-controller-manager's --root-ca-file is not in this evidence, so whether it publishes the right CA "
                "cannot be told", None)
    stale_sources = [(l, root) for l, root in readable if not trusted(bundle(root.ca.data)[0])]
    if stale_sources:
        load, root = stale_sources[0]
        held = ", ".join("CN=" + common_name(c) for c in bundle(root.ca.data)[0]) or "no certificate"
        return (f"the source is stale too: kube-controller-manager's --root-ca-file {root.path}"
                f"{' on ' + load.node if load.node else ''} holds {held}, so it keeps publishing the old CA", True)
    root = readable[0][1]
    blocked = [f"{c.label}" for c in wiring.components if c.name == ComponentName.KUBE_CONTROLLER_MANAGER]
    return (f"the source is right: kube-controller-manager's --root-ca-file {root.path} holds the current CA, and its "
            "tokens controller and root-ca-cert-publisher rewrite every copy that differs once it runs and reaches "
            f"kube-apiserver ({', '.join(blocked)}: see its own findings if it cannot)", False)


def _listed(materials: list[Material], limit: int = 10) -> str:
    shown = ", ".join(m.location.object or "?" for m in materials[:limit])
    return shown + (f" and {len(materials) - limit} more" if len(materials) > limit else "")


def check_service_account_tokens(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    """Stale trust, cluster-wide: token secrets and kube-root-ca.crt config maps whose CA no longer
    verifies kube-apiserver, grouped into one finding that names the source first."""
    copies = [m for m in (*wiring.service_account_tokens, *wiring.root_ca_configmaps) if m.state is State.PRESENT]
    reference = _reference(wiring)
    if not copies or reference is None:
        return []
    trusted, against = reference
    stale = [m for m in copies if not trusted(bundle(m.data)[0])]
    if not stale:
        return []
    tokens = [m for m in stale if m.location.kind == "Secret"]
    configmaps = [m for m in stale if m.location.kind == "ConfigMap"]
    source, source_stale = _source(wiring, trusted)
    carried = bundle(stale[0].data)[0]
    parts = ([f"{len(tokens)} service-account token secret(s)"] if tokens else []) + (
        [f"{len(configmaps)} kube-root-ca.crt config map(s)"] if configmaps else [])
    namespaces = sorted({m.location.object.split("/")[0] for m in stale if m.location.object})
    steps = []
    if source_stale is not False:
        root_ca = next((l for c in wiring.components if c.name == ComponentName.KUBE_CONTROLLER_MANAGER and (l := c.find_load(Role.ROOT_CA)) is not None), None)
        root_path = root_ca.payload.path if root_ca is not None and isinstance(root_ca.payload, BundlePayload) else None
        where = (f"{root_path}" + (f", written from Secret {root_ca.object}" if root_ca.object else "")) if root_ca else "--root-ca-file"
        steps.append(f"Fix the source first: kube-controller-manager's --root-ca-file ({where}) must hold the current "
                     "cluster CA; restart kube-controller-manager, otherwise it keeps publishing the old CA")
    steps += [
        "Let kube-controller-manager reach kube-apiserver (its kubeconfig must trust the current CA); its tokens controller "
        "rewrites ca.crt of every token secret and its root-ca-cert-publisher every kube-root-ca.crt config map",
        "Check: kubectl get configmap -A --field-selector metadata.name=kube-root-ca.crt -o yaml | grep -c 'BEGIN CERTIFICATE'",
        "Restart the pods of the affected namespaces: client-go reads the in-cluster CA once and does not reload it "
        "(kubernetes/kubernetes#119483): kubectl -n <namespace> rollout restart deployment,daemonset,statefulset",
    ]
    # Not a load: the copies are grouped under one subject of their own, the first stale one named.
    label, component = "CA copies handed to pods", ComponentName.SERVICE_ACCOUNT_TOKENS
    return [Finding(
        "service-account.token-ca-stale", severity.connection_fails(), component, Role.TOKEN_CA,
        f"{' and '.join(parts)} carry a CA that does not verify kube-apiserver",
        f"{_listed(tokens + configmaps)} hold ca.crt "
        f"{', '.join('CN=' + common_name(c) + ' sha256:' + sha256_fingerprint(c)[:16] for c in carried) or '(none)'}, "
        f"which does not verify {against}. Pods in {len(namespaces)} namespace(s) ({', '.join(namespaces[:10])}"
        f"{' …' if len(namespaces) > 10 else ''}) fail with x509: certificate signed by unknown authority. Source: {source}.",
        Subject(object=stale[0].location.object, source=stale[0].location.describe()), peer="kube-apiserver", remediation=tuple(steps),
        evidence=tuple(f"stale: {m.location.describe()}" for m in stale[:50]), label=label, load=LoadKey(component, None, 0, label),
    )]
