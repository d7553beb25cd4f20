"""Evidence checks: what the evidence itself says about how far the analysis can be trusted.

Each is a pure function over ``EvidenceFacts`` (what opening the evidence found) and the wiring,
registered in ``EVIDENCE_CHECKS`` (``checks/registry.py``). A finding about the input, not a load,
is the component ``evidence``; the one exception is etcd's verdict on a client pair, which belongs
to the load that uses the pair when one does (``checks/etcd_client.py``).
"""

from __future__ import annotations

from analyzer.checks.etcd_client import client_pair_finding, refused_pair_findings
from analyzer.evidence.facts import EtcdAccepted, EtcdRefused, EvidenceFacts
from analyzer.model.findings import Finding, Severity, Subject
from analyzer.model.vocabulary import Component, Role
from analyzer.wiring.model import Wiring

DETAIL_LIMIT = 2000  # damage lists are cut here: the report names the damage, it does not list every page

SKIPPED = "part of the evidence was skipped"


def note(id_: str, severity: Severity, title: str, detail: str, source: str | None = None) -> Finding:
    """A finding about the evidence itself rather than a load."""
    return Finding(id=id_, severity=severity, component=Component.EVIDENCE, role=Role.INPUT, title=title, detail=detail,
                   subject=Subject(source=source), label="evidence")


def check_encryption_configs(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    return [note("evidence.encryption-config", Severity.WARNING, "an EncryptionConfiguration in the evidence does not load", why, source)
            for source, why in facts.encryption_config_errors]


def check_unreadable_snapshots(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    return [note("evidence.snapshot-unreadable", Severity.WARNING, "an etcd snapshot in the evidence cannot be read in place",
                 why or "it lies inside an archive", source)
            for source, why in facts.unreadable_snapshots]


def check_snapshots(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    """Per snapshot: not the one analysed, a trailer that does not match, taken dirty, a bad freelist, damage."""
    found = []
    for snapshot in facts.snapshots:
        source = snapshot.source
        if snapshot.analysed_instead is not None:
            found.append(note("evidence.snapshot-ignored", Severity.INFO, "another etcd snapshot was not analysed",
                              f"{source}: only {snapshot.analysed_instead} is analysed", source))
        if snapshot.integrity_mismatch is not None:
            found.append(note("evidence.snapshot-integrity", Severity.WARNING, f"{source}: SHA-256 trailer does not match",
                              snapshot.integrity_mismatch, source))
        if snapshot.possibly_dirty:
            found.append(note("evidence.possibly-dirty", Severity.INFO, f"{source} was taken with --force (__POSSIBLY_DIRTY__)",
                              "cluster-backup.sh took this backup while operators were progressing; revisions may be mid-rollout.", source))
        if snapshot.freelist_damage:
            found.append(note("evidence.snapshot-freelist", Severity.WARNING,
                              f"{source}: the bbolt freelist is inconsistent (the data was read whole without it)",
                              "; ".join(snapshot.freelist_damage)[:DETAIL_LIMIT], source))
        if snapshot.partial:
            found.append(note("evidence.snapshot-damaged", Severity.WARNING, f"{source} is damaged: the analysis is partial",
                              "; ".join(snapshot.damage)[:DETAIL_LIMIT], source))
    return found


def check_skipped_parts(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    return [note("evidence.problem", Severity.WARNING, SKIPPED, problem) for problem in facts.skipped]


def check_node_conflicts(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    return [note("evidence.node-conflict", Severity.WARNING, f"two inputs describe node {conflict.node} differently",
                 conflict.describe(), " + ".join(conflict.inputs))
            for conflict in facts.node_conflicts]


def check_scrubbed_inputs(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    return [note("evidence.scrubbed", Severity.INFO, f"{source} is a sosreport: keys and kubeconfig data are scrubbed",
                 "Pairs whose key was scrubbed are reported as unverifiable, not as broken.", source)
            for source in facts.scrubbed_inputs]


def check_must_gather(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    gathered = facts.must_gather
    if gathered is None:
        return []
    found = [note("evidence.must-gather", Severity.INFO, f"{gathered.source} is a must-gather: secret values other than certificates are elided",
                  "Private keys and tokens read `<N> bytes long` (oc adm inspect elideSecret): the pairs they belong to "
                  "cannot be verified from this evidence; their certificates are checked.", gathered.source)]
    if len(gathered.roots) > 1:
        found.append(note("evidence.must-gather-roots", Severity.INFO, f"{len(gathered.roots)} must-gather roots read together",
                          "Objects are read from every root; one collected by several roots is taken from the copy with the "
                          "highest resourceVersion: " + "; ".join(gathered.roots), gathered.source))
    return found


def check_etcd_handshake(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    """What a running etcd said of the client pair: a finding on the load that uses the pair."""
    handshake, now = facts.handshake, facts.handshake_utc
    if handshake is None or now is None:
        return []
    if isinstance(handshake, EtcdAccepted):
        accepted = client_pair_finding(handshake.files, handshake.endpoint, handshake.revision, now, wiring)
        return [accepted] if accepted else []
    assert isinstance(handshake, EtcdRefused)
    return refused_pair_findings(handshake.facts, handshake.explanation, wiring, now)


def check_live_damage(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    live = facts.live_damage
    if live is None:
        return []
    return [note("evidence.live-damaged", Severity.WARNING, f"{live.endpoint}: part of etcd could not be read",
                 "; ".join(live.damage)[:DETAIL_LIMIT], live.endpoint)]


def check_unread_logs(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    return [note("evidence.problem", Severity.WARNING, "a log was not read", why, source) for source, why in facts.unread_logs]


def check_wiring_notes(facts: EvidenceFacts, wiring: Wiring) -> list[Finding]:
    """What the wiring could not model in this evidence, said once each."""
    return [note("wiring.note", Severity.INFO, text, text) for text in wiring.notes]
