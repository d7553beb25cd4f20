"""Every finding id kforensic issues, and which registry issues it.

A finding id is stable (reports and people key on it), so the list is written out here: a new check
adds its id here, its function to its registry (``checks/registry.py`` for load, wiring and evidence
checks, ``analysis/logs/registry.py`` for log checks) and a test. ``tests/test_model_catalogue.py``
reads the source and fails on an id used but not listed, or listed but never issued.

The kinds: a LOAD finding judges one thing a component loads (or the wiring around it); an
EVIDENCE finding describes the input itself (damage, scrubbing, conflicts); a LOG finding is read
from a component's own log lines.
"""

from __future__ import annotations

from enum import StrEnum


class FindingKind(StrEnum):
    LOAD = "load"
    EVIDENCE = "evidence"
    LOG = "log"


_LOAD = frozenset({FindingKind.LOAD})
_EVIDENCE = frozenset({FindingKind.EVIDENCE})
_LOG = frozenset({FindingKind.LOG})

# pair.<failure>: gomodel.keypair.PairFailure's values, the ways tls.X509KeyPair refuses a pair.
_PAIR_FAILURES = (
    "cert-no-pem", "cert-inputs-switched", "cert-no-certificate-block", "key-no-pem", "key-is-certificate",
    "key-no-private-key-block", "leaf-unparseable", "key-unparseable", "key-pkcs8-unknown-type", "key-type-mismatch",
    "key-mismatch", "unknown-public-key-algorithm",
)  # fmt: skip
# evidence.<state>: a load whose material cannot be verified (checks/presence.py), by ContentState
# (evidence.scrubbed is listed below: it has two issuers).
_UNVERIFIABLE = ("not-in-evidence", "elided", "encrypted", "unreadable", "unreadable-certificate")

CATALOGUE: dict[str, frozenset[FindingKind]] = {
    **{f"pair.{failure}": _LOAD for failure in _PAIR_FAILURES},
    "pair.file-missing": _LOAD,
    "pair.file-empty": _LOAD,
    "bundle.empty-pool": _LOAD,
    "bundle.file-empty": _LOAD,
    "bundle.file-missing": _LOAD,
    "bundle.unparseable": _LOAD,
    "key.unparseable": _LOAD,
    "keys.unparseable": _LOAD,
    "validity.expired": _LOAD,
    "validity.expiring": _LOAD,
    "validity.not-yet-valid": _LOAD,
    "validity.ca-expired": _LOAD,
    "trust.unknown-authority": _LOAD,
    "trust.peer-not-in-evidence": _LOAD,
    "usage.incompatible": _LOAD,
    "names.missing": _LOAD,
    "names.advised-missing": _LOAD,
    "names.not-allowed": _LOAD,
    "drift.copies-differ": _LOAD,
    "annotations.drift": _LOAD,
    "history.changed": _LOAD,
    "policy.rsa-key-size": _LOAD,
    "configuration.flag-invalid": _LOAD,
    "kubeconfig.ca-unloadable": _LOAD,
    "kubeconfig.ca-does-not-trust-server": _LOAD,
    "kubeconfig.server-name-mismatch": _LOAD,
    "service-account.key-mismatch": _LOAD,
    "service-account.token-ca-stale": _LOAD,
    **{f"evidence.{state}": _LOAD for state in _UNVERIFIABLE},
    # The same id names a sosreport input (an evidence note) and a load whose material sos scrubbed.
    "evidence.scrubbed": frozenset({FindingKind.LOAD, FindingKind.EVIDENCE}),
    "evidence.encryption-config": _EVIDENCE,
    "evidence.live-damaged": _EVIDENCE,
    "evidence.must-gather": _EVIDENCE,
    "evidence.must-gather-roots": _EVIDENCE,
    "evidence.node-conflict": _EVIDENCE,
    "evidence.possibly-dirty": _EVIDENCE,
    "evidence.problem": _EVIDENCE,
    "evidence.snapshot-damaged": _EVIDENCE,
    "evidence.snapshot-freelist": _EVIDENCE,
    "evidence.snapshot-ignored": _EVIDENCE,
    "evidence.snapshot-integrity": _EVIDENCE,
    "evidence.snapshot-unreadable": _EVIDENCE,
    "etcd-client.accepted": _EVIDENCE,  # a running etcd accepted the client pair given with --etcd
    # A running etcd refused the pair: on the load that uses it, or on the input when no load does.
    "etcd-client.refused": frozenset({FindingKind.LOAD, FindingKind.EVIDENCE}),
    "wiring.note": _EVIDENCE,
    "logs.sni-failure": _LOG,
    "logs.start-failure": _LOG,
    "logs.unknown-authority": _LOG,
    "logs.x509-expired": _LOG,
    "logs.etcd-client": _LOG,
    "logs.served-certificate-differs": _LOG,
    "pair.from-log": _LOG,
}


def kinds_of(finding_id: str) -> frozenset[FindingKind]:
    """The registries that issue ``finding_id``; empty for an id nobody issues."""
    return CATALOGUE.get(finding_id, frozenset())
