"""Do all copies of a pair agree? The file on the node, the etcd object it is synced from, the
revisioned copy and the user's source secret.

On OpenShift the cert-syncer writes files from etcd and the operator copies the user's secret; a
difference means one side was changed by hand or a sync is pending, and tells which copy will win
at the next restart or sync (layouts §4 (g)).
"""

from __future__ import annotations

import hashlib

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding
from analyzer.checks.remediation import remedies
from analyzer.model.findings import Finding
from analyzer.wiring.model import Copy, Load, Material, PairPayload, State
from analyzer.model.vocabulary import Distribution

_COPY_NAME = {
    Copy.SYNCED_FROM: "the etcd object it is synced from",
    Copy.REVISIONED: "the revisioned copy in etcd",
    Copy.USER_SOURCE: "the user's source secret",
    Copy.AGGREGATED_FROM: "the object the aggregate takes it from",
}


# bootkube's pod-checkpointer (pkg/checkpoint) refreshes its copy only from a running API server.
_CHECKPOINT = (
    "This is the pod-checkpointer's copy: while kube-apiserver is down nothing refreshes it, and the kubelet "
    "will keep restarting the stale checkpoint until the checkpointed files are replaced by hand."
)


def _digest(material: Material | None) -> str | None:
    if material is None or material.state not in (State.PRESENT, State.EMPTY):
        return None
    return hashlib.sha256(material.data).hexdigest()


def check_drift(load: Load, ctx: CheckContext) -> list[Finding]:
    match load.payload:
        case PairPayload(cert=cert, key=key):
            pass
        case _:  # only a pair is compared with its copies byte for byte (a bundle's copies feed the inventory and recovery)
            return []
    found = []
    for copy in load.copies:
        for what, loaded, other in (("certificate", cert, copy.cert), ("key", key, copy.key)):
            mine, theirs = _digest(loaded), _digest(other)
            if mine is None or theirs is None or mine == theirs:
                continue
            assert loaded is not None and other is not None
            found.append(finding(
                load, "drift.copies-differ", severity.later(),
                f"{load.label}: the loaded {what} differs from {_COPY_NAME[copy.copy]}",
                f"{load.component} reads {loaded.location.describe()} ({loaded.size} bytes, sha256:{mine[:16]}) but "
                f"{other.location.describe()} holds {other.size} bytes (sha256:{theirs[:16]}). "
                + (_CHECKPOINT if ctx.distribution == Distribution.SELF_HOSTED else
                   "The next sync or revision rollout replaces the loaded copy with the other one."),
                material=loaded,
                evidence=(f"loaded: {loaded.location.describe()}", f"{copy.copy.value}: {other.location.describe()}"),
                remediation=remedies(load, "drift.copies-differ", ctx),
            ))
    return found
