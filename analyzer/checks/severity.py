"""Severity by consequence: the rules every check follows, written once.

A severity says what will happen, not who is affected:

1. **critical**: a component cannot start (the load stops it), or kube-apiserver cannot reach its
   storage (a failing etcd client pair, etcd's own serving pair, the CAs either side verifies with):
   the control plane is down. Refused by some etcd members while another accepts, the pair is rule
   2: etcd's client sends requests only over connections whose handshake succeeded.
2. **error**: a connection will certainly fail. Whoever makes it: a component's kubeconfig, the
   kubelet's, or a person's ``admin.conf`` — an administrator's kubectl failing with ``x509:
   certificate signed by unknown authority`` is the very symptom of a regenerated CA, not a detail.
3. **warning**: it will fail later (expiring within the window), it is verified by nobody in this
   configuration (kube-apiserver without ``--kubelet-certificate-authority`` does not check the
   kubelet's serving certificate), some but not all of a bundle is bad, or the evidence cannot show
   it (scrubbed, elided, encrypted, not sent): "cannot tell", never "broken". Also a failure the
   distribution documents as the expected result of a supported change, with a working alternative
   beside it: OpenShift's generated break-glass ``lb-ext.kubeconfig`` trusts only the operator's
   serving signers, so once the user serves the API name with a named certificate it no longer
   verifies (OpenShift docs, "Adding API server certificates": kubeconfigs must then carry the user's
   CA), while ``localhost``/``lb-int``/``localhost-recovery`` still work.
   A fallback credential (the kubelet's bootstrap kubeconfig) that would fail is an error while the
   credential it stands in for is already unusable (its client certificate expired), else a warning.
4. **not a finding**: a file the installed version never writes on this node. kubeadm writes
   ``super-admin.conf`` only from v1.29, and only on the node where ``kubeadm init`` ran
   (cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go: CreateJoinControlPlaneKubeConfigFiles leaves it
   out); its absence says nothing. The wiring leaves such loads out (wiring/kubeadm.py
   OPTIONAL_FILES), so no check ever sees them.

The verdict's component table is computed from the same findings (analysis/verdict.py), so the
table and the findings cannot disagree.
"""

from __future__ import annotations

from analyzer.model.findings import Severity
from analyzer.wiring.model import STORAGE_ROLES, Load

def failure(load: Load, *, stops_component: bool | None = None) -> Severity:
    """A load that will certainly fail: critical when the control plane goes down with it, else error.

    ``stops_component`` overrides the load's own ``fatal`` (a pair that is fatal to load may be
    harmless once loaded, e.g. an expired serving pair: the process starts, the peers refuse it).
    """
    fatal = load.fatal if stops_component is None else stops_component
    return Severity.CRITICAL if fatal or load.role in STORAGE_ROLES else Severity.ERROR


def connection_fails() -> Severity:
    """Rule 2 for what is not a load (the CA copies handed to pods): a connection will certainly fail."""
    return Severity.ERROR


def fallback_credential(in_use: bool | None) -> Severity:
    """A credential read only when the primary one fails (the kubelet's bootstrap kubeconfig, rule 2 and
    3): certain to fail now when the primary is already unusable, later (or cannot tell) otherwise."""
    return Severity.ERROR if in_use else Severity.WARNING


def unverified_by_peer() -> Severity:
    """A defect nobody in this configuration checks: it bites the first client that does."""
    return Severity.WARNING


def partial_defect() -> Severity:
    """Part of a bundle is bad, the rest still verifies."""
    return Severity.WARNING


def documented_consequence() -> Severity:
    """Fails by design after a supported change, and a working alternative is at hand."""
    return Severity.WARNING


def later() -> Severity:
    """Works now, will not later: expires within the warning window, or a copy that the next sync
    or restart puts in place differs from what runs."""
    return Severity.WARNING


def advised() -> Severity:
    """The installer would have put it there (a SAN), but no client in the evidence depends on it."""
    return Severity.WARNING


def component_stops() -> Severity:
    """Refused before anything loads (a flag value that does not parse)."""
    return Severity.CRITICAL


def cannot_tell() -> Severity:
    """The evidence cannot show it: never error, never silence."""
    return Severity.WARNING
