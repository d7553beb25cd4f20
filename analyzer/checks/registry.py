"""Every check, in explicit lists, and the one function that runs them.

Three registries issue findings: load checks (one load at a time), wiring checks (the whole wiring)
and evidence checks (``EvidenceFacts``, what opening the evidence found). The fourth, the log
checks, lives in ``analysis/logs`` because a log line is tied to a certificate through the
inventory, which is built above the checks; its findings reach ``run_checks`` as ``logged``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from analyzer.checks.annotations import check_rotation_annotations
from analyzer.checks.configuration import check_flags
from analyzer.checks.bundles import check_bundle, check_private_key, check_public_keys
from analyzer.checks.context import CheckContext
from analyzer.checks.drift import check_drift
from analyzer.checks.evidence import (
    check_encryption_configs,
    check_etcd_handshake,
    check_live_damage,
    check_must_gather,
    check_node_conflicts,
    check_scrubbed_inputs,
    check_skipped_parts,
    check_snapshots,
    check_unread_logs,
    check_unreadable_snapshots,
    check_wiring_notes,
)
from analyzer.checks.etcd_trust import check_etcd_dropped_ca
from analyzer.checks.history import check_history
from analyzer.checks.key_size import check_rsa_key_size
from analyzer.checks.kubeconfigs import check_kubeconfig_servers
from analyzer.checks.names import check_allowed_client_names, check_names
from analyzer.checks.pairs import check_pair
from analyzer.checks.presence import check_unverifiable
from analyzer.checks.service_accounts import check_service_account_keys, check_service_account_tokens
from analyzer.checks.trust import check_trust
from analyzer.checks.unseen_peers import check_unseen_peers
from analyzer.checks.usage import check_usage
from analyzer.checks.validity import check_bundle_validity, check_validity
from analyzer.evidence.facts import EvidenceFacts
from analyzer.model.findings import Finding
from analyzer.model.vocabulary import Component
from analyzer.wiring.model import Load, Wiring

LoadCheck = Callable[[Load, CheckContext], list[Finding]]
WiringCheck = Callable[[Wiring, CheckContext], list[Finding]]
EvidenceCheck = Callable[[EvidenceFacts, Wiring], list[Finding]]

LOAD_CHECKS: tuple[LoadCheck, ...] = (
    check_unverifiable,
    check_pair,
    check_bundle,
    check_private_key,
    check_public_keys,
    check_validity,
    check_bundle_validity,
    check_trust,
    check_unseen_peers,
    check_usage,
    check_names,
    check_allowed_client_names,
    check_drift,
    check_rotation_annotations,
    check_history,
    check_rsa_key_size,
)
WIRING_CHECKS: tuple[WiringCheck, ...] = (
    check_flags,
    check_kubeconfig_servers,
    check_service_account_keys,
    check_service_account_tokens,
    check_etcd_dropped_ca,
)
EVIDENCE_CHECKS: tuple[EvidenceCheck, ...] = (
    check_encryption_configs,
    check_unreadable_snapshots,
    check_snapshots,
    check_skipped_parts,
    check_node_conflicts,
    check_scrubbed_inputs,
    check_must_gather,
    check_etcd_handshake,
    check_live_damage,
    check_unread_logs,
    check_wiring_notes,
)


def run_checks(wiring: Wiring, ctx: CheckContext, facts: EvidenceFacts | None = None, logged: Iterable[Finding] = ()) -> list[Finding]:
    """All findings, each once, most severe and earliest in start-up first.

    A finding said twice (same id, component, node, load and title) is kept once, the last said.
    Findings about the evidence itself share a title ("part of the evidence was skipped") and differ
    in what and where, so for them the source and the detail are part of what makes one distinct:
    two unread logs are two findings."""
    found: list[Finding] = []
    for load in wiring.iter_loads():
        for check in LOAD_CHECKS:
            found.extend(check(load, ctx))
    for wiring_check in WIRING_CHECKS:
        found.extend(wiring_check(wiring, ctx))
    if facts is not None:
        for evidence_check in EVIDENCE_CHECKS:
            found.extend(evidence_check(facts, wiring))
    found.extend(logged)
    unique = {_identity(f): f for f in found}
    return sorted(unique.values(), key=lambda f: f.sort_key)


def _identity(finding: Finding) -> tuple[object, ...]:
    """What makes two findings the same one (run_checks keeps one of each)."""
    same = (finding.id, finding.component, finding.subject.node, finding.order, finding.title)
    if finding.component == Component.EVIDENCE:
        return (*same, finding.subject.source, finding.detail)
    return same
