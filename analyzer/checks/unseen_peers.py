"""A client pair whose verifiers are known and not in the evidence: cannot tell (severity rule 3).

The wiring ties kube-apiserver's etcd client pair to the etcd members its ``--etcd-servers`` names
(wiring/etcd_members.py); when none of them is in the evidence it links no peer and keeps the
endpoints on the load (``Load.unseen_peers``), because another member standing in would judge a
connection kube-apiserver never makes. Without this finding the load would read "ok" though
nobody judged it.
"""

from __future__ import annotations

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding
from analyzer.model.findings import Finding
from analyzer.wiring.model import Load


def check_unseen_peers(load: Load, ctx: CheckContext) -> list[Finding]:
    if not load.unseen_peers:
        return []
    dialed = ", ".join(load.unseen_peers)
    return [finding(
        load, "trust.peer-not-in-evidence", severity.cannot_tell(),
        "the etcd members it dials are not in the evidence",
        f"{load.component} dials etcd at {dialed} (--etcd-servers), and no etcd in the evidence is known to serve "
        "there: whether they accept its etcd client pair, this evidence cannot tell",
        remediation=(f"Collect the etcd configuration (static pod manifest or service flags, and its --trusted-ca-file) "
                     f"of the members at {dialed}, and run the analysis again with it.",),
    )]
