"""What to do about a finding, as commands fit for the distribution: one table, looked up by key.

The control plane is down when kforensic is used, so every procedure starts with what works
without the API (files on the masters, kubeadm on the node) and only then uses ``oc``/``kubectl``
to make the fix stick (OpenShift's operators copy secrets back over files; kubeadm's renewals
must be picked up by restarting the static pods).

``REMEDIES`` maps ``(finding id, Distribution)`` to a procedure; the rows live beside the facts
they rest on, one module per distribution in ``checks/remedies/``. The lookup, in order:

1. the exact ``(finding id, distribution)`` row;
2. otherwise the generic step (``remedies.common.no_known_procedure``), which says that no tested
   procedure is known and what to check. It is deliberate only for the distributions in
   ``UNMODELLED`` and the rows in ``NO_PROCEDURE``: ``tests/test_checks_remediation.py`` walks the
   catalogue and fails on any other load finding id left to it, and on any id the source passes to
   ``remedies()`` by name (a log finding asking for a load's procedure, "pair.from-log").

A check adding a load finding therefore adds its id to the catalogue and one row per distribution
here (or says in ``REMEDIED_ELSEWHERE`` why its remediation is written by the check itself).
"""

from __future__ import annotations

from analyzer.checks.context import CheckContext
from analyzer.checks.remedies import kubeadm, kubespray, openshift, rke2, selfhosted
from analyzer.checks.remedies.common import Procedure, Row, no_known_procedure
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.model import Load

REMEDIES: dict[Row, Procedure] = {
    **kubeadm.TABLE, **kubespray.TABLE, **openshift.TABLE, **rke2.TABLE, **selfhosted.TABLE,
}

# Distributions no row is written for, and why the generic step is the honest answer there.
UNMODELLED: dict[Distribution, str] = {
    Distribution.RKE: "RKE (1) trees are recognised but not wired (wiring/build.py): no load, so no load finding, reaches a check",
    Distribution.UNKNOWN: "the wiring wires an unrecognised tree as kubeadm (wiring/build.py); any other name has no known tooling",
}
# Single rows deliberately left to the generic step: none today.
NO_PROCEDURE: dict[Row, str] = {}
# Load finding ids whose check writes its own remediation (or none), with where and why.
REMEDIED_ELSEWHERE: dict[str, str] = {
    "annotations.drift": "checks/annotations.py: the operator's own rotation annotations name the secret to re-issue",
    "history.changed": "checks/history.py: information about past revisions, nothing to repair",
    "configuration.flag-invalid": "checks/configuration.py: the flag's own syntax is the fix",
    "kubeconfig.server-name-mismatch": "checks/kubeconfigs.py: the fix is names.missing on the pair that serves the host",
    "service-account.token-ca-stale": "checks/service_accounts.py: steps built from the stale copies it found",
    "etcd-client.refused": "checks/etcd_client.py: the running etcd's answer names the CA to use",
    "trust.peer-not-in-evidence": "checks/unseen_peers.py: the peers missing from the evidence are to be collected, not repaired",
    "evidence.not-in-evidence": "checks/presence.py: missing evidence calls for more evidence, not a repair",
    "evidence.elided": "checks/presence.py: missing evidence calls for more evidence, not a repair",
    "evidence.encrypted": "checks/presence.py: missing evidence calls for more evidence, not a repair",
    "evidence.unreadable": "checks/presence.py: missing evidence calls for more evidence, not a repair",
    "evidence.unreadable-certificate": "checks/presence.py: missing evidence calls for more evidence, not a repair",
    "evidence.scrubbed": "checks/presence.py: missing evidence calls for more evidence, not a repair",
}


def distribution_of(ctx: CheckContext) -> Distribution:
    try:
        return Distribution(ctx.distribution)
    except ValueError:
        return Distribution.UNKNOWN


def find_procedure(finding_id: str, distribution: Distribution) -> Procedure | None:
    """The table's row for this finding on this distribution, or None when only the generic step is left."""
    return REMEDIES.get((finding_id, distribution))


def remedies(load: Load, finding_id: str, ctx: CheckContext) -> tuple[str, ...]:
    distribution = distribution_of(ctx)
    procedure = find_procedure(finding_id, distribution)
    if procedure is None:
        return no_known_procedure(load, finding_id, distribution)
    return procedure(load)
