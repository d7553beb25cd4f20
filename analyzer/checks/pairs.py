"""Will the certificate/key pair load? The exact error the component prints when it does not.

kube-apiserver's serving, SNI and proxy pairs go through dynamiccertificates, which reads both
files, refuses an empty one with ``missing content for serving cert "<purpose>::<cert>::<key>"``
and then calls Go's ``tls.X509KeyPair`` (apiserver dynamic_serving_content.go). Other pairs
(etcd's, kube-apiserver's etcd and kubelet client pairs, kubeconfigs) go straight to
``X509KeyPair``. A file that is not there fails its read: ``open <path>: no such file or
directory``. SNI failures are wrapped ``failed to load SNI cert and key: <err>`` — with no path,
which is why the log alone never names the pair (layouts §3.1).
"""

from __future__ import annotations

import posixpath

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding
from analyzer.gomodel.clientgo import key_pair, leaf, sha256_fingerprint
from analyzer.checks.presence import unverifiable
from analyzer.checks.remediation import remedies
from analyzer.gomodel.dynamiccerts import missing_serving_content, open_missing
from analyzer.gomodel.keypair import PairFailure
from analyzer.model.findings import Finding
from analyzer.wiring.model import KubeconfigPayload, Load, Material, PairPayload, State
from analyzer.reftime import format_utc

_PROBLEM = {
    PairFailure.CERT_NO_PEM: "holds no PEM data",
    PairFailure.CERT_INPUTS_SWITCHED: "holds a private key: certificate and key are swapped",
    PairFailure.CERT_NO_CERTIFICATE_BLOCK: "holds no CERTIFICATE block",
    PairFailure.KEY_NO_PEM: "holds no PEM data",
    PairFailure.KEY_IS_CERTIFICATE: "holds a certificate, not a key",
    PairFailure.KEY_NO_PRIVATE_KEY_BLOCK: "holds no PRIVATE KEY block",
    PairFailure.LEAF_UNPARSEABLE: "holds a certificate Go cannot parse",
    PairFailure.KEY_UNPARSEABLE: "holds no private key Go can parse",
    PairFailure.KEY_PKCS8_UNKNOWN_TYPE: "holds a PKCS#8 key of a type Go does not load",
    PairFailure.KEY_TYPE_MISMATCH: "holds a key of another type than the certificate's",
    PairFailure.KEY_MISMATCH: "holds a key that does not belong to the certificate",
    PairFailure.UNKNOWN_PUBLIC_KEY_ALGORITHM: "holds a certificate whose key algorithm Go does not know",
}
_KEY_SIDE = {
    PairFailure.KEY_NO_PEM, PairFailure.KEY_IS_CERTIFICATE, PairFailure.KEY_NO_PRIVATE_KEY_BLOCK, PairFailure.KEY_UNPARSEABLE,
    PairFailure.KEY_PKCS8_UNKNOWN_TYPE, PairFailure.KEY_TYPE_MISMATCH, PairFailure.KEY_MISMATCH,
}


def file_name(material: Material, path: str | None) -> str:
    """tls.key, client-key-data, apiserver.key: what a person calls the file."""
    if material.location.data_key:
        return material.location.data_key
    return posixpath.basename(path or material.location.host_path or "") or "the file"


def _wrap(load: Load, error: str) -> str:
    return load.error_format.format(error)


def _pair(load: Load) -> tuple[Material, Material, str | None, str | None, bool] | None:
    """(certificate, key, their paths, whether dynamiccertificates reads them) of a load read as a pair;
    None for other loads and for a pair missing a part. A kubeconfig's parts are shown by the kubeconfig's
    path, its key by the file it names when it names one."""
    match load.payload:
        case PairPayload(cert=cert, key=key, cert_path=cert_path, key_path=key_path, dynamic=dynamic):
            pass
        case KubeconfigPayload(cert=cert, key=key, path=cert_path, key_file=key_path):
            dynamic = False
        case _:
            return None
    if cert is None or key is None:
        return None
    return cert, key, cert_path, key_path or cert_path, dynamic


def predict_load_error(load: Load) -> tuple[str, Material, str, str] | None:
    """(finding id, the material at fault, the Go error, what is wrong in words), or None when the pair loads.

    Only for pairs whose two parts are in the evidence; the caller skips unverifiable ones.
    """
    pair = _pair(load)
    assert pair is not None
    cert, key, cert_path, key_path, dynamic = pair
    for material, path in ((cert, cert_path), (key, key_path)):
        if material.state is State.MISSING:
            shown = path or material.location.host_path or "the file"
            return "pair.file-missing", material, _wrap(load, open_missing(shown)), f"{file_name(material, path)} does not exist"
    if dynamic and (cert.state is State.EMPTY or key.state is State.EMPTY):
        empty, path = (cert, cert_path) if cert.state is State.EMPTY else (key, key_path)
        error = missing_serving_content(load.dynamic_name or "")
        return "pair.file-empty", empty, _wrap(load, error), f"{file_name(empty, path)} is empty (0 bytes)"
    result = key_pair(cert.data, key.data)
    if result.ok:
        return None
    failure = result.failure
    assert failure is not None
    at_fault, path = (key, key_path) if failure in _KEY_SIDE else (cert, cert_path)
    problem = f"{file_name(at_fault, path)} {_PROBLEM[failure]}"
    if result.detail:
        problem += f" ({result.detail})"
    return f"pair.{failure.value}", at_fault, _wrap(load, result.go_error or ""), problem


def check_pair(load: Load, ctx: CheckContext) -> list[Finding]:
    pair = _pair(load)
    if pair is None or unverifiable(load):
        return []
    predicted = predict_load_error(load)
    if predicted is None:
        return []
    finding_id, at_fault, go_error, problem = predicted
    fatal = load.fatal
    kubeconfig = isinstance(load.payload, KubeconfigPayload)
    if kubeconfig:
        consequence = f"{load.component} cannot authenticate to kube-apiserver with this kubeconfig"
    elif fatal:
        consequence = f"{load.component} stops at start-up and restarts in a loop (crash-loop)"
    else:
        consequence = f"{load.component} cannot open connections that need this pair"
    where = at_fault.location.describe()
    detail = f"{load.label} ({load.flag}): {problem}. Read from {where}. {consequence}."
    cert = pair[0]
    certificate = leaf(cert.data) if cert.state is State.PRESENT else None
    return [finding(
        load, finding_id, severity.failure(load),
        f"{load.component} {'cannot start' if fatal else 'cannot use'}: {load.label}: {problem.split(' (')[0]}",
        detail, material=at_fault, go_error=go_error, blocks_start=fatal,
        peer=None if fatal else (load.peer.name if load.peer else "kube-apiserver" if kubeconfig else None),
        remediation=remedies(load, finding_id, ctx), fingerprint=sha256_fingerprint(certificate) if certificate else None,
        evidence=tuple(f"history: {line}" for line in _history_lines(at_fault)), problem=problem,
    )]


def _history_lines(material: Material) -> list[str]:
    lines = []
    for change in material.history:
        when = format_utc(change.time_utc) if change.time_utc else "time unknown"
        size = f"{change.value_size} bytes, sha256:{change.value_sha256[:16]}" if change.value_sha256 else "key absent"
        lines.append(f"revision {change.revision} {change.event} by {change.manager or 'unknown'} at {when}: {size}")
    return lines
