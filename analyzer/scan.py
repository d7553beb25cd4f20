"""A whole scan, room by room: evidence → decode → wiring → checks → verdict.

This is the only place that knows the order of the rooms; each room knows nothing of the ones
after it. The CLI calls ``run_scan`` and renders what it returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from analyzer import __version__
from analyzer.analysis.inventory import build_inventory, next_expiry, with_node_certificates
from analyzer.analysis.last_good import (
    LastGood,
    find_last_good,
    resolve_secret,
    recover_hints,
)
from analyzer.analysis.logs import correlate_logs
from analyzer.analysis.deadlines import deadlines
from analyzer.analysis.recovery import with_recovery
from analyzer.checks.etcd_client import client_pair_finding, explain_refusal, pair_problem, refusal_is_evidence, refused_pair_findings
from analyzer.analysis.result import InputRecord, ScanResult, evidence_time
from analyzer.analysis.verdict import build_verdict
from analyzer.checks.context import CheckContext
from analyzer.checks.registry import run_checks
from analyzer.decode.encryption import (
    EncryptionConfig,
    load_encryption_config,
    merge_encryption_configs,
)
from analyzer.errors import DecodeError, EtcdHandshakeRefused, EvidenceError, UsageError
from analyzer.evidence.detect import detect_evidence
from analyzer.evidence.inputs import LOG_READ_LIMIT, Evidence, InputKind
from analyzer.evidence.snapshot_input import open_snapshot_input
from analyzer.evidence.digest import input_sha256
from analyzer.evidence.node import join_nodes
from analyzer.evidence.files import read_input_file
from analyzer.gomodel.goversions import annotate as annotate_go_versions
from analyzer.gomodel.goversions import releases_in_log
from analyzer.gomodel.klog import LogEvent, iter_log_events
from analyzer.evidence.live_tls import HandshakeFacts, LiveTarget  # grpc (evidence.live) only with --etcd
from analyzer.model.findings import Finding, Severity, Subject
from analyzer.wiring.build import build_wiring
from analyzer.evidence.mustgather import iter_all_resource_files, roots_source
from analyzer.wiring.sources import CollectedObjects, EtcdObjects
from analyzer.model.vocabulary import Component, Role

if TYPE_CHECKING:
    from analyzer.evidence.live import LiveEtcd


@dataclass(frozen=True)
class ScanOptions:
    evidence: Sequence[str | Path]
    reference_utc: datetime
    warn_days: int = 30
    encryption_configs: Sequence[str | Path] = ()
    logs: Sequence[str | Path] = ()
    progress: Callable[[int], None] | None = None
    etcd: LiveTarget | None = None  # a running etcd to read instead of a snapshot
    # `certs`: also every certificate in the nodes' files that no load uses
    every_certificate: bool = False
    # (what, bytes so far, bytes expected): a snapshot decompressed from an archive or a .gz
    decompress_progress: Callable[[str, int, int | None], None] | None = None


def open_live_etcd(target: LiveTarget, now_utc: datetime | None = None) -> LiveEtcd:
    """A running etcd opened for reading. A refused handshake becomes one line naming the file the
    server (or our side) refused and Go's reason; the handshake happens now, whatever --at says."""
    now = now_utc or datetime.now(UTC)
    problem = pair_problem(target.files)
    if problem:
        raise EtcdHandshakeRefused(target.urls[0] if target.urls else "--etcd", problem, None)
    from analyzer.evidence.live import LiveEtcd

    try:
        return LiveEtcd(target.urls, target.files, timeout=target.timeout, revision=target.revision)
    except EtcdHandshakeRefused as err:
        if not isinstance(err.facts, HandshakeFacts):
            raise
        raise EtcdHandshakeRefused(err.source, explain_refusal(err.facts, now), err.facts) from None


def live_record(live: LiveEtcd) -> InputRecord:
    """The evidence table's row for a running etcd: where, at which revision, which cluster and members."""
    members = [{"id": m.id, "name": m.name, "peer_urls": list(m.peer_urls), "client_urls": list(m.client_urls)} for m in live.members()]
    notes = tuple(f"not read: {refused}" for refused in live.refused)
    details: dict[str, object] = {
        "endpoint": live.endpoint.url, "revision": live.revision, "current_revision": live.current_revision,
        "cluster_id": live.cluster_id, "member_id": live.member_id, "members": members, "server_version": live.server_version,
        "compaction_revision": live.compaction.finished, "client_cert": str(live.files.cert) if live.files.cert else None,
    }
    return InputRecord(live.endpoint.url, "etcd-live", "grpc", live.db_size, None, None, live.partial, notes, live.revision, details)


def _note(id_: str, severity: Severity, title: str, detail: str, source: str | None = None) -> Finding:
    """A finding about the evidence itself rather than a load."""
    return Finding(id=id_, severity=severity, component=Component.EVIDENCE, role=Role.INPUT, title=title, detail=detail,
                   subject=Subject(source=source), label="evidence")


def _encryption(options: ScanOptions, evidence: Evidence, notes: list[Finding]) -> tuple[EncryptionConfig | None, list[str]]:
    configs: list[EncryptionConfig] = []
    for path in options.encryption_configs:
        configs.append(load_encryption_config(read_input_file(path), str(path)))
    for found in evidence.encryption_configs:
        try:
            configs.append(load_encryption_config(found.data, found.source))
        except DecodeError as err:
            notes.append(_note("evidence.encryption-config", Severity.WARNING, "an EncryptionConfiguration in the evidence does not load", str(err), found.source))
    return merge_encryption_configs(configs), [config.source for config in configs]


def run_scan(options: ScanOptions) -> ScanResult:
    notes: list[Finding] = []
    with ExitStack() as stack:
        evidence = stack.enter_context(detect_evidence([*options.evidence, *options.logs], progress=options.decompress_progress))
        encryption, encryption_sources = _encryption(options, evidence, notes)
        inputs = []
        snapshots = [s for s in evidence.snapshots if s.problem is None]
        for source in evidence.snapshots:
            if source.problem is not None:
                notes.append(_note("evidence.snapshot-unreadable", Severity.WARNING, "an etcd snapshot in the evidence cannot be read in place",
                                   source.problem or "it lies inside an archive", source.source))
        # Several snapshots (one per master, or one per backup): the newest is analysed, by backup
        # time, then by etcd revision, then by name, so that the command line's order never decides.
        opened_all = [(source, stack.enter_context(source.open(progress=options.decompress_progress))) for source in snapshots]
        opened_all.sort(key=lambda pair: (pair[0].backup_utc is not None, pair[0].backup_utc or 0,
                                          pair[1].revision if pair[1].db.meta else 0, pair[0].source), reverse=True)
        snapshots = [source for source, _ in opened_all]
        objects = None
        opened = []
        live = None
        refusal: EtcdHandshakeRefused | None = None
        if options.etcd is not None:
            try:
                live = stack.enter_context(open_live_etcd(options.etcd))
                objects = EtcdObjects(live, encryption, options.progress)
            except EtcdHandshakeRefused as err:
                # etcd refusing the pair found on a master is evidence about that pair (checks/etcd_client.py):
                # the run goes on with the rest of the evidence; without any, it cannot, and exits 2.
                if not refusal_is_evidence(err.facts, bool(opened_all or evidence.nodes or evidence.must_gathers or evidence.logs)):
                    raise
                refusal = err
        for _source, snapshot in opened_all:
            snapshot.start_hash()  # beside the index pass below, on the other core (hashlib frees the GIL)
        for index, (source, snapshot) in enumerate(opened_all):
            if index == 0 and live is None:
                objects = EtcdObjects(snapshot, encryption, options.progress)
            integrity = snapshot.verify_integrity()
            opened.append((source, snapshot, integrity))
            if index > 0 or live is not None:
                analysed = f"etcd at {live.endpoint.url}" if live is not None else f"the newest snapshot ({snapshots[0].source})"
                notes.append(_note("evidence.snapshot-ignored", Severity.INFO, "another etcd snapshot was not analysed",
                                   f"{source.source}: only {analysed} is analysed", source.source))
            if integrity.status.value == "mismatch":
                notes.append(_note("evidence.snapshot-integrity", Severity.WARNING, f"{source.source}: SHA-256 trailer does not match",
                                   integrity.describe(), source.source))
            if source.possibly_dirty:
                notes.append(_note("evidence.possibly-dirty", Severity.INFO, f"{source.source} was taken with --force (__POSSIBLY_DIRTY__)",
                                   "cluster-backup.sh took this backup while operators were progressing; revisions may be mid-rollout.", source.source))
        for problem in evidence.problems:
            notes.append(_note("evidence.problem", Severity.WARNING, "part of the evidence was skipped", problem))
        nodes, conflicts = join_nodes(evidence.nodes)
        for conflict in conflicts:
            notes.append(_note("evidence.node-conflict", Severity.WARNING, f"two inputs describe node {conflict.node} differently",
                               conflict.describe(), " + ".join(conflict.inputs)))
        for node in evidence.nodes:
            if node.scrubbed:
                notes.append(_note("evidence.scrubbed", Severity.INFO, f"{node.input} is a sosreport: keys and kubeconfig data are scrubbed",
                                   "Pairs whose key was scrubbed are reported as unverifiable, not as broken.", node.input))

        if objects is None and evidence.must_gathers:
            # A must-gather stands in for the snapshot: the same objects, values of secrets elided.
            # Every root of every must-gather given (one per image directory), newest copy of each object.
            collected = CollectedObjects(roots_source(evidence.must_gathers), iter_all_resource_files(evidence.must_gathers))
            # It answers the questions the wiring asks of a snapshot (find, data, iter_objects, root, source).
            objects = cast(EtcdObjects, collected)
            notes.append(_note("evidence.must-gather", Severity.INFO, f"{collected.source} is a must-gather: secret values other than certificates are elided",
                               "Private keys and tokens read `<N> bytes long` (oc adm inspect elideSecret): the pairs they belong to "
                               "cannot be verified from this evidence; their certificates are checked.", collected.source))
            for problem in collected.problems:
                notes.append(_note("evidence.problem", Severity.WARNING, "part of the evidence was skipped", problem))
            if len(evidence.must_gathers) > 1:
                notes.append(_note("evidence.must-gather-roots", Severity.INFO, f"{len(evidence.must_gathers)} must-gather roots read together",
                                   "Objects are read from every root; one collected by several roots is taken from the copy with the "
                                   "highest resourceVersion: " + "; ".join(root.source for root in evidence.must_gathers), collected.source))
        wiring = build_wiring(nodes, objects)  # type: ignore[arg-type]  # MergedNode reads like a NodeEvidence
        # The handshake with the pair the user passed is a finding on the load that uses that pair.
        if live is not None:
            pair = client_pair_finding(live.files, live.endpoint.url, live.revision, datetime.now(UTC), wiring)
            notes.extend([pair] if pair else [])
        if refusal is not None and isinstance(refusal.facts, HandshakeFacts):
            notes.extend(refused_pair_findings(refusal.facts, refusal.problem, wiring, datetime.now(UTC)))
        # Reading values while wiring can find damage the index pass did not: judge the snapshots after it.
        snapshot_records: dict[str, InputRecord] = {}
        known: dict[str, str] = {}  # a snapshot inside a directory input (a cluster-backup directory) is hashed already
        for source, snapshot, integrity in opened:
            freelist = snapshot.check_freelist()
            if freelist.damage:
                notes.append(_note("evidence.snapshot-freelist", Severity.WARNING,
                                   f"{source.source}: the bbolt freelist is inconsistent (the data was read whole without it)",
                                   "; ".join(str(d) for d in freelist.damage)[:2000], source.source))
            if snapshot.partial:
                notes.append(_note("evidence.snapshot-damaged", Severity.WARNING, f"{source.source} is damaged: the analysis is partial",
                                   "; ".join(str(d) for d in dict.fromkeys(snapshot.damage))[:2000], source.source))
            snapshot_records[source.source] = InputRecord(
                source.source, InputKind.SNAPSHOT.value, "file", snapshot.file_size, snapshot.file_sha256(), integrity.status.value,
                snapshot.partial, (), snapshot.revision if snapshot.db.meta else None,
            )
            if source.opens_in_place and source.path is not None:
                known[str(Path(source.path).resolve())] = snapshot.file_sha256()
        if live is not None:
            if live.partial:
                notes.append(_note("evidence.live-damaged", Severity.WARNING, f"{live.endpoint.url}: part of etcd could not be read",
                                   "; ".join(str(d) for d in dict.fromkeys(live.damage))[:2000], live.endpoint.url))
            inputs.append(live_record(live))
        for detected in evidence.inputs:
            if detected.source in snapshot_records:
                inputs.append(replace(snapshot_records.pop(detected.source), format=detected.format))
                continue
            digest = input_sha256(detected.source, known) if detected.parent is None else None
            partial = any(node.partial for node in evidence.nodes if node.input == detected.source)
            inputs.append(InputRecord(detected.source, detected.kind.value, detected.format, detected.size, digest, None, partial, detected.notes))
        # Snapshots found inside a directory or an archive: listed after the inputs that hold them.
        inputs.extend(snapshot_records.values())
        for note in wiring.notes:
            notes.append(_note("wiring.note", Severity.INFO, note, note))
        ctx = CheckContext(options.reference_utc, options.warn_days, wiring.distribution)
        events: list[LogEvent] = []
        log_tails: list[tuple[str, bytes]] = []  # for the evidence's own time (its last dated line)
        for log in evidence.logs:
            try:
                log_tails.append((log.source, log.read_tail(LOG_READ_LIMIT)))
                events.extend(iter_log_events(log_tails[-1][1], log.source, options.reference_utc))
            except EvidenceError as err:
                notes.append(_note("evidence.problem", Severity.WARNING, "a log was not read", str(err), log.source))
        inventory = build_inventory(wiring, ctx)
        if options.every_certificate:
            inventory = with_node_certificates(inventory, evidence.nodes, ctx)
        findings = run_checks(wiring, ctx, extra=[*notes, *correlate_logs(events, wiring, inventory, ctx)])
        findings = with_recovery(wiring, findings, options.reference_utc)
        last_good: dict[str, int] = {}
        if objects is not None:
            findings, last_good = recover_hints(findings, wiring, objects, options.reference_utc)
        findings = annotate_go_versions(findings, [*wiring.releases, *releases_in_log(events)])
        verdict = build_verdict(wiring, findings, options.reference_utc, next_expiry(inventory, options.reference_utc))
        partial = any(record.partial for record in inputs) or any(f.id in ("evidence.snapshot-damaged", "evidence.problem") for f in findings)
        return ScanResult(__version__, options.reference_utc, options.warn_days, sorted(inputs, key=lambda r: r.path), wiring,
                          findings, verdict, inventory, encryption_sources, partial, deadlines(wiring, options.reference_utc),
                          evidence_time(wiring, log_tails, options.reference_utc), last_good)


@dataclass(frozen=True)
class RecoverResult:
    last_good: LastGood
    distribution: str
    users: dict[str, str]  # user-serving-cert-NNN -> the openshift-config secret it is copied from


def run_recover(snapshot: str | Path, target: str, reference_utc: datetime, encryption_config: str | Path | None = None) -> RecoverResult:
    """``kforensic recover``: find the newest working pair of one secret (writing it is the CLI's call)."""
    from analyzer.wiring.openshift import user_sources
    from analyzer.wiring.sources import OPENSHIFT

    encryption = load_encryption_config(read_input_file(encryption_config), str(encryption_config)) if encryption_config else None
    with open_snapshot_input(snapshot) as opened:  # a file, or ARCHIVE!member as info and get take it
        objects = EtcdObjects(opened, encryption)
        namespace, name = resolve_secret(objects, target)
        last_good = find_last_good(objects, namespace, name, reference_utc)
        openshift = objects.root == OPENSHIFT
        return RecoverResult(last_good, "openshift" if openshift else "kubeadm", user_sources(objects) if openshift else {})


def scan_demo(out: Path) -> tuple[ScanResult, list[Path], list[Path]]:
    """Scan the bundled example case as ``scan`` would and write its three reports into ``out``.

    Returns the result, the evidence and the reports written.
    """
    from analyzer.demo import REFERENCE_TIME, evidence_paths
    from analyzer.reftime import parse_reference_time
    from analyzer.report.outputs import OutputFormat, render_outputs, write_outputs

    evidence = evidence_paths()
    out = out.resolve()
    # The report lists inputs as given: name them as a case would, not by this installation's path.
    home = os.getcwd()
    os.chdir(evidence[0].parent)
    try:
        result = run_scan(ScanOptions([path.name for path in evidence], parse_reference_time(REFERENCE_TIME)))
    finally:
        os.chdir(home)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{out}: cannot create the output directory: {err.strerror or err}") from None
    targets = {OutputFormat.HTML: out / "report.html", OutputFormat.JSON: out / "report.json", OutputFormat.MARKDOWN: out / "report.md"}
    write_outputs(render_outputs(result, targets))
    return result, evidence, list(targets.values())
