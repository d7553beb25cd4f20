"""A whole scan, room by room: open → wire → check → analyse → result.

This is the only place that knows the order of the rooms; each room knows nothing of the ones
after it. The CLI calls ``run_scan`` and renders what it returns. No finding is made here: what
opening the evidence found is written down (``EvidenceFacts``) and judged by the evidence checks,
beside the load, wiring and log checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from analyzer import __version__
from analyzer.analysis.inventory import InventoryEntry, build_inventory, next_expiry, with_node_certificates
from analyzer.analysis.last_good import (
    LastGood,
    find_last_good,
    resolve_secret,
    recover_hints,
)
from analyzer.analysis.logs import correlate_logs
from analyzer.analysis.deadlines import deadlines
from analyzer.analysis.recovery import with_recovery
from analyzer.checks.etcd_client import explain_refusal, pair_problem, refusal_is_evidence
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
from analyzer.evidence.etcd import Snapshot
from analyzer.evidence.facts import EtcdAccepted, EtcdRefused, EvidenceFacts, LiveDamage, MustGatherFacts, NodeConflict, SnapshotFacts
from analyzer.evidence.inputs import LOG_READ_LIMIT, Evidence, InputKind, SnapshotSource
from analyzer.evidence.snapshot_hash import Integrity, IntegrityResult
from analyzer.evidence.snapshot_input import open_snapshot_input
from analyzer.evidence.digest import input_sha256
from analyzer.evidence.node import NodeEvidence
from analyzer.model.nodes import NodeIdentity
from analyzer.evidence.files import read_input_file
from analyzer.gomodel.goversions import annotate as annotate_go_versions
from analyzer.gomodel.goversions import releases_in_log
from analyzer.gomodel.klog import LogEvent, iter_log_events
from analyzer.evidence.live_tls import HandshakeFacts, LiveTarget  # grpc (evidence.live) only with --etcd
from analyzer.model.findings import Finding
from analyzer.model.vocabulary import Distribution
from analyzer.records import datarecord
from analyzer.wiring.build import build_wiring
from analyzer.wiring.model import Wiring
from analyzer.wiring.nodes import identify_nodes, join_nodes
from analyzer.evidence.mustgather import iter_all_resource_files, roots_source
from analyzer.wiring.sources import CollectedObjects, EtcdObjects

if TYPE_CHECKING:
    from analyzer.evidence.live import LiveEtcd


@datarecord
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


@datarecord(frozen=False)
class OpenedCase:
    """What opening holds open: the evidence, its snapshots (newest first), a running etcd, the objects read."""

    evidence: Evidence
    encryption_sources: list[str]
    encryption_errors: list[tuple[str, str]]  # (source, why) for an EncryptionConfiguration that does not load
    snapshots: list[tuple[SnapshotSource, Snapshot, IntegrityResult]]
    live: LiveEtcd | None
    refusal: EtcdHandshakeRefused | None  # etcd refused the client pair, and the run goes on without it
    objects: EtcdObjects | None  # what the wiring reads: the live etcd, the newest snapshot or the must-gathers
    collected: CollectedObjects | None  # the must-gathers, when they stand in for the snapshot


@datarecord
class ReadLogs:
    events: list[LogEvent]
    tails: list[tuple[str, bytes]]  # for the evidence's own time (its last dated line)
    unread: list[tuple[str, str]]  # (source, why)


def _encryption(options: ScanOptions, evidence: Evidence) -> tuple[EncryptionConfig | None, list[str], list[tuple[str, str]]]:
    configs: list[EncryptionConfig] = []
    errors: list[tuple[str, str]] = []
    for path in options.encryption_configs:
        configs.append(load_encryption_config(read_input_file(path), str(path)))
    for found in evidence.encryption_configs:
        try:
            configs.append(load_encryption_config(found.data, found.source))
        except DecodeError as err:
            errors.append((found.source, str(err)))
    return merge_encryption_configs(configs), [config.source for config in configs], errors


def open_case(options: ScanOptions, stack: ExitStack) -> OpenedCase:
    """Detect the evidence, open its snapshots (and a running etcd) and pick what the wiring reads."""
    evidence = stack.enter_context(detect_evidence([*options.evidence, *options.logs], progress=options.decompress_progress))
    encryption, encryption_sources, encryption_errors = _encryption(options, evidence)
    # Several snapshots (one per master, or one per backup): the newest is analysed, by backup
    # time, then by etcd revision, then by name, so that the command line's order never decides.
    opened_all = [(source, stack.enter_context(source.open(progress=options.decompress_progress)))
                  for source in evidence.snapshots if source.problem is None]
    opened_all.sort(key=lambda pair: (pair[0].backup_utc is not None, pair[0].backup_utc or 0,
                                      pair[1].revision if pair[1].db.meta else 0, pair[0].source), reverse=True)
    objects = None
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
    opened = []
    for index, (source, snapshot) in enumerate(opened_all):
        if index == 0 and live is None:
            objects = EtcdObjects(snapshot, encryption, options.progress)
        opened.append((source, snapshot, snapshot.verify_integrity()))
    collected = None
    if objects is None and evidence.must_gathers:
        # A must-gather stands in for the snapshot: the same objects, values of secrets elided.
        # Every root of every must-gather given (one per image directory), newest copy of each object.
        collected = CollectedObjects(roots_source(evidence.must_gathers), iter_all_resource_files(evidence.must_gathers))
        # It answers the questions the wiring asks of a snapshot (find, data, iter_objects, root, source).
        objects = cast(EtcdObjects, collected)
    return OpenedCase(evidence, encryption_sources, encryption_errors, opened, live, refusal, objects, collected)


def read_logs(evidence: Evidence, reference_utc: datetime) -> ReadLogs:
    logs = ReadLogs([], [], [])
    for log in evidence.logs:
        try:
            logs.tails.append((log.source, log.read_tail(LOG_READ_LIMIT)))
            logs.events.extend(iter_log_events(logs.tails[-1][1], log.source, reference_utc))
        except EvidenceError as err:
            logs.unread.append((log.source, str(err)))
    return logs


def evidence_facts(case: OpenedCase, conflicts: list[NodeConflict], logs: ReadLogs) -> EvidenceFacts:
    """What the evidence checks judge. After the wiring: reading values while wiring can find damage
    the index pass did not (it does not decode values). After the wiring the damage is final: the
    wiring reads every surviving revision of every object it resolves (EtcdObjects._object_revisions),
    and the analysis after the checks (recover_hints, the last working pair) reads only revisions of
    those same objects; tests/test_damage_log.py holds this with a damaged old revision."""
    evidence, live = case.evidence, case.live
    analysed = (f"etcd at {live.endpoint.url}" if live is not None
                else f"the newest snapshot ({case.snapshots[0][0].source})" if case.snapshots else "")
    snapshots = []
    for index, (source, snapshot, integrity) in enumerate(case.snapshots):
        freelist = snapshot.check_freelist()
        snapshots.append(SnapshotFacts(
            source.source,
            analysed if index > 0 or live is not None else None,
            integrity.describe() if integrity.status is Integrity.MISMATCH else None,
            source.possibly_dirty,
            tuple(str(d) for d in freelist.damage),
            tuple(str(d) for d in snapshot.damage),
        ))
    handshake: EtcdAccepted | EtcdRefused | None = None
    if live is not None and live.files.cert is not None:
        handshake = EtcdAccepted(live.files, live.endpoint.url, live.revision)
    elif case.refusal is not None and isinstance(case.refusal.facts, HandshakeFacts):
        handshake = EtcdRefused(case.refusal.facts, case.refusal.problem)
    gathered = None
    if case.collected is not None:
        gathered = MustGatherFacts(case.collected.source, tuple(root.source for root in evidence.must_gathers))
    return EvidenceFacts(
        encryption_config_errors=tuple(case.encryption_errors),
        unreadable_snapshots=tuple((s.source, s.problem) for s in evidence.snapshots if s.problem is not None),
        snapshots=tuple(snapshots),
        skipped=(*evidence.problems, *(case.collected.problems if case.collected is not None else ())),
        node_conflicts=tuple(conflicts),
        scrubbed_inputs=tuple(node.input for node in evidence.nodes if node.scrubbed),
        must_gather=gathered,
        handshake=handshake,
        handshake_utc=datetime.now(UTC) if handshake is not None else None,  # the handshake happens now, whatever --at says
        live_damage=LiveDamage(live.endpoint.url, tuple(str(d) for d in live.damage)) if live is not None and live.partial else None,
        unread_logs=tuple(logs.unread),
    )


def input_records(case: OpenedCase, identities: dict[NodeEvidence, NodeIdentity]) -> list[InputRecord]:
    """The evidence table: every input as given (its nodes named), a running etcd, and the snapshots found inside inputs."""
    evidence, live = case.evidence, case.live
    inputs = [live_record(live)] if live is not None else []
    snapshot_records: dict[str, InputRecord] = {}
    known: dict[str, str] = {}  # a snapshot inside a directory input (a cluster-backup directory) is hashed already
    for source, snapshot, integrity in case.snapshots:
        snapshot_records[source.source] = InputRecord(
            source.source, InputKind.SNAPSHOT.value, "file", snapshot.file_size, snapshot.file_sha256(), integrity.status.value,
            snapshot.partial, (), snapshot.revision if snapshot.db.meta else None,
        )
        if source.opens_in_place and source.path is not None:
            known[str(Path(source.path).resolve())] = snapshot.file_sha256()
    for detected in evidence.inputs:
        if detected.source in snapshot_records:
            inputs.append(replace(snapshot_records.pop(detected.source), format=detected.format))
            continue
        digest = input_sha256(detected.source, known) if detected.parent is None else None
        partial = any(node.partial for node in evidence.nodes if node.input == detected.source)
        notes = detected.named(identities.__getitem__).notes
        inputs.append(InputRecord(detected.source, detected.kind.value, detected.format, detected.size, digest, None, partial, notes))
    # Snapshots found inside a directory or an archive: listed after the inputs that hold them.
    inputs.extend(snapshot_records.values())
    return sorted(inputs, key=lambda r: r.path)


def run_scan(options: ScanOptions) -> ScanResult:
    """open → wire → check → analyse → result."""
    with ExitStack() as stack:
        case = open_case(options, stack)
        identities = identify_nodes(case.evidence.nodes)
        nodes, conflicts = join_nodes(identities)
        wiring = build_wiring(nodes, case.objects)
        logs = read_logs(case.evidence, options.reference_utc)
        facts = evidence_facts(case, conflicts, logs)
        inputs = input_records(case, identities)
        ctx = CheckContext(options.reference_utc, options.warn_days, wiring.distribution)
        inventory = build_inventory(wiring, ctx)
        if options.every_certificate:
            inventory = with_node_certificates(inventory, nodes, ctx)
        findings = run_checks(wiring, ctx, facts, logged=correlate_logs(logs.events, wiring, inventory, ctx))
        return analyse(options, case, wiring, findings, inventory, logs, inputs)


def analyse(options: ScanOptions, case: OpenedCase, wiring: Wiring, findings: list[Finding],
            inventory: list[InventoryEntry], logs: ReadLogs, inputs: list[InputRecord]) -> ScanResult:
    """What the findings mean for the cluster: recovery, the last good copies, the verdict, the result."""
    reference = options.reference_utc
    findings = with_recovery(wiring, findings, reference)
    last_good: dict[str, int] = {}
    if case.objects is not None:
        findings, last_good = recover_hints(findings, wiring, case.objects, reference)
    findings = annotate_go_versions(findings, [*wiring.releases, *releases_in_log(logs.events)])
    verdict = build_verdict(wiring, findings, reference, next_expiry(inventory, reference))
    partial = any(record.partial for record in inputs) or any(f.id in ("evidence.snapshot-damaged", "evidence.problem") for f in findings)
    return ScanResult(__version__, reference, options.warn_days, inputs, wiring, findings, verdict, inventory,
                      case.encryption_sources, partial, deadlines(wiring, reference), evidence_time(wiring, logs.tails, reference), last_good)


@datarecord
class RecoverResult:
    last_good: LastGood
    distribution: Distribution
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
        return RecoverResult(last_good, Distribution.OPENSHIFT if openshift else Distribution.KUBEADM, user_sources(objects) if openshift else {})


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
