"""analyzer.checks.evidence: each evidence check over the smallest EvidenceFacts showing what it judges."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from analyzer.checks.evidence import (
    DETAIL_LIMIT,
    check_etcd_handshake,
    check_live_damage,
    check_must_gather,
    check_node_conflicts,
    check_snapshots,
    check_unread_logs,
    check_wiring_notes,
)
from analyzer.checks.registry import EVIDENCE_CHECKS, run_checks
from analyzer.checks.context import CheckContext
from analyzer.evidence.facts import EtcdAccepted, EvidenceFacts, LiveDamage, MustGatherFacts, NodeConflict, SnapshotFacts
from analyzer.evidence.live_tls import ClientFiles
from analyzer.model.catalogue import FindingKind, kinds_of
from analyzer.model.findings import Severity
from analyzer.wiring.model import Wiring

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
WIRING = Wiring("kubeadm")


def snapshot(**changes: object) -> SnapshotFacts:
    base: dict = {"source": "snap.db", "analysed_instead": None, "integrity_mismatch": None, "possibly_dirty": False,
                  "freelist_damage": (), "damage": ()}
    return SnapshotFacts(**{**base, **changes})


def test_a_sound_snapshot_that_is_analysed_says_nothing():
    assert check_snapshots(EvidenceFacts(snapshots=(snapshot(),)), WIRING) == []


def test_each_snapshot_fact_is_its_own_finding():
    facts = EvidenceFacts(snapshots=(snapshot(analysed_instead="the newest snapshot (new.db)", integrity_mismatch="expected a, got b",
                                              possibly_dirty=True, freelist_damage=("page 7: freed twice",),
                                              damage=("page 9: bad type",)),))
    found = {f.id: f for f in check_snapshots(facts, WIRING)}
    assert sorted(found) == ["evidence.possibly-dirty", "evidence.snapshot-damaged", "evidence.snapshot-freelist",
                             "evidence.snapshot-ignored", "evidence.snapshot-integrity"]
    assert found["evidence.snapshot-ignored"].detail == "snap.db: only the newest snapshot (new.db) is analysed"
    assert found["evidence.snapshot-damaged"].severity is Severity.WARNING and found["evidence.snapshot-damaged"].detail == "page 9: bad type"
    assert all(f.component == "evidence" and f.subject.source == "snap.db" for f in found.values())


def test_damage_lists_are_cut():
    facts = EvidenceFacts(live_damage=LiveDamage("https://etcd:2379", tuple(f"key {i} unreadable" for i in range(500))))
    (found,) = check_live_damage(facts, WIRING)
    assert found.id == "evidence.live-damaged" and len(found.detail) == DETAIL_LIMIT


def test_several_must_gather_roots_are_named_together():
    one = check_must_gather(EvidenceFacts(must_gather=MustGatherFacts("mg", ("mg/a",))), WIRING)
    two = check_must_gather(EvidenceFacts(must_gather=MustGatherFacts("mg", ("mg/a", "mg/b"))), WIRING)
    assert [f.id for f in one] == ["evidence.must-gather"]
    assert [f.id for f in two] == ["evidence.must-gather", "evidence.must-gather-roots"] and two[1].detail.endswith("mg/a; mg/b")


def test_a_node_conflict_names_both_inputs():
    conflict = NodeConflict("master-0", ("a.tar", "b.tar"), ("/etc/kubernetes/pki/ca.crt",), ("master-0 (a.tar)", "master-0 (b.tar)"))
    (found,) = check_node_conflicts(EvidenceFacts(node_conflicts=(conflict,)), WIRING)
    assert found.subject.source == "a.tar + b.tar" and "/etc/kubernetes/pki/ca.crt" in found.detail


def test_an_accepted_pair_no_load_uses_is_a_finding_on_the_evidence(tmp_path):
    accepted = EtcdAccepted(ClientFiles(cert=tmp_path / "missing.crt", key=Path("k")), "https://etcd:2379", 42)
    (found,) = check_etcd_handshake(EvidenceFacts(handshake=accepted, handshake_utc=NOW), WIRING)
    assert (found.id, found.component) == ("etcd-client.accepted", "evidence") and "revision 42" in found.detail
    assert check_etcd_handshake(EvidenceFacts(), WIRING) == []


def test_every_evidence_check_issues_evidence_kinds_only():
    wiring = Wiring("kubeadm")
    wiring.notes.append("RKE's wiring is not modelled")
    facts = EvidenceFacts(encryption_config_errors=(("enc.yaml", "not YAML"),), unreadable_snapshots=(("a.zip!snap.db", ""),),
                          snapshots=(snapshot(damage=("x",)),), skipped=("a: b",), scrubbed_inputs=("sos",),
                          must_gather=MustGatherFacts("mg", ("mg/a", "mg/b")), live_damage=LiveDamage("u", ("d",)),
                          unread_logs=(("big.log", "too big"),))
    found = [f for check in EVIDENCE_CHECKS for f in check(facts, wiring)]
    assert {f.id for f in found} >= {"evidence.encryption-config", "evidence.snapshot-unreadable", "evidence.problem",
                                     "evidence.scrubbed", "wiring.note", "evidence.live-damaged"}
    assert all(FindingKind.EVIDENCE in kinds_of(f.id) for f in found)
    assert next(f for f in found if f.id == "evidence.snapshot-unreadable").detail == "it lies inside an archive"


def test_run_checks_runs_the_evidence_checks_only_when_given_facts():
    facts = EvidenceFacts(skipped=("first",), unread_logs=(("a.log", "one"),))
    found = run_checks(WIRING, CheckContext(NOW), facts)
    assert [(f.title, f.detail) for f in found if f.id == "evidence.problem"] == [
        ("a log was not read", "one"), ("part of the evidence was skipped", "first")]
    assert [f for f in run_checks(WIRING, CheckContext(NOW)) if f.component == "evidence"] == []
    assert check_unread_logs(facts, WIRING)[0].subject.source == "a.log"
    assert check_wiring_notes(facts, WIRING) == []


def test_two_unread_logs_are_two_findings_not_one():
    # The evidence findings share their titles; what was skipped, and where, is what tells them apart.
    facts = EvidenceFacts(skipped=("a.tar: cut short", "b.tar: cut short"), unread_logs=(("a.log", "too big"), ("b.log", "too big")))
    found = [f for f in run_checks(WIRING, CheckContext(NOW), facts) if f.id == "evidence.problem"]
    assert sorted(((f.subject.source or ""), f.detail) for f in found) == [
        ("", "a.tar: cut short"), ("", "b.tar: cut short"), ("a.log", "too big"), ("b.log", "too big")]
