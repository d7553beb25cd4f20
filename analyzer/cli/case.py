"""The commands that read a whole case: ls, scan, certs, demo and recover."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from analyzer.cli.app import EXIT_CODES, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, command, stderr, stdout
from analyzer.cli.options import (
    AtOpt,
    EncryptionConfigOpt,
    EncryptionConfigsOpt,
    EvidenceArg,
    HtmlFileOpt,
    JsonFileOpt,
    LogsOpt,
    MarkdownFileOpt,
    Output,
    OutputOpt,
    QuietOpt,
    SnapshotArg,
    VerboseOpt,
    WarnDaysOpt,
    etcd_source,
)
from analyzer.cli.shared import decompress_progress, print_document, print_scan, scan_exit, scan_options, scan_progress, setup
from analyzer.errors import UsageError

if TYPE_CHECKING:
    from analyzer.evidence.live import LiveTarget


@command(
    "kforensic ls master-0-etc-kubernetes.tar.gz",
    "kforensic ls case/ -o json | jq '.nodes[].name'",
    "kforensic ls backup/ sosreport-master-1-2024-05-01-abcdefg.tar.xz",
    exits="Exit codes: 0 listed; 2 an input cannot be used; 3 a bug in kforensic; "
    "4 part of the evidence is damaged or was skipped (see its problems).",
)
def ls(
    evidence: EvidenceArg,
    output: OutputOpt = Output.TABLE,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """What kforensic recognises in the evidence: per node, every file with its host path, kind and
    where it lies; snapshots, EncryptionConfigurations, logs and problems.

    Shows subjects, dates, sizes and fingerprints only, never key material or secret values.
    """
    from analyzer.evidence.detect import detect_evidence
    from analyzer.report.listing import listing_view
    from analyzer.views.listing import list_evidence
    from analyzer.wiring.nodes import identify_nodes

    setup(quiet, verbose)
    with detect_evidence(evidence) as found:
        listing = list_evidence(found, identify_nodes(found.nodes).__getitem__)
    if output in (Output.JSON, Output.YAML):
        print_document(listing.to_json(), output)
    else:
        stdout.print(listing_view(listing))
    damaged = bool(listing.problems) or any(node.partial for node in listing.nodes)
    raise typer.Exit(EXIT_INCOMPLETE if damaged else EXIT_OK)


@command(
    "kforensic scan snapshot_2024-05-01_134501.db \\\n    master-0-etc-kubernetes.tar.gz --html report.html",
    "kforensic scan backup-dir/ --log termination.log --log kube-apiserver.log \\\n    --json report.json",
    "kforensic scan backup.db --encryption-config encryption-config \\\n    --at 2024-05-01T12:00:00Z -o json | jq .verdict",
    note="Evidence may be any mix of: etcd snapshots, copies of a master's /etc/kubernetes and "
    "/var/lib/kubelet/pki (directories or tar/zip archives), sosreports, OpenShift cluster-backup "
    "directories, static_kuberesources tarballs, EncryptionConfigurations and logs.",
)
@etcd_source
def scan(
    evidence: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="EVIDENCE...",
            help="Snapshots, node trees (directories or tar/zip archives), sosreports, cluster-backup "
            "directories, EncryptionConfigurations, logs, or a case directory holding several; omit with --etcd.",
        ),
    ] = None,
    at: AtOpt = None,
    warn_days: WarnDaysOpt = 30,
    encryption_config: EncryptionConfigsOpt = None,
    log: LogsOpt = None,
    json_out: JsonFileOpt = None,
    html_out: HtmlFileOpt = None,
    markdown_out: MarkdownFileOpt = None,
    output: OutputOpt = Output.TABLE,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    etcd: LiveTarget | None = None,  # the --etcd option block (etcd_source)
) -> None:
    """Find the certificate, key or CA that keeps the control plane down, and say how to fix it."""
    from analyzer.report.outputs import OutputFormat, render_outputs, write_outputs
    from analyzer.scan import run_scan

    setup(quiet, verbose)
    if not evidence and etcd is None:
        raise UsageError("give EVIDENCE, or --etcd URL to read a running etcd")
    options = replace(scan_options(evidence or [], at, warn_days, encryption_config, log), etcd=etcd)
    with scan_progress() as progress:
        result = run_scan(replace(options, progress=progress, decompress_progress=decompress_progress()))
    requested = {OutputFormat.JSON: json_out, OutputFormat.HTML: html_out, OutputFormat.MARKDOWN: markdown_out}
    write_outputs(render_outputs(result, requested))
    if json_out is None or str(json_out) != "-":  # `--json -` (older scripts) already wrote to stdout
        print_scan(result, output, [(kind.value, str(path.resolve())) for kind, path in requested.items() if path is not None and str(path) != "-"])
    raise scan_exit(result)


@command(
    "kforensic certs snapshot.db master-0-etc-kubernetes.tar.gz",
    "kforensic certs backup-dir/ --at 2025-01-01T00:00:00Z -o wide",
    "kforensic certs sosreport-master-0.tar.xz -o json \\\n    | jq '.certificates[] | select(.status != \"valid\")'",
    exits="Exit codes: 0 every certificate listed is valid at --at; 1 one is expired or not yet valid; "
    "2 an input cannot be used; 3 a bug in kforensic; 4 none is refused, but the evidence was damaged.",
)
def certs(
    evidence: EvidenceArg,
    at: AtOpt = None,
    warn_days: WarnDaysOpt = 30,
    encryption_config: EncryptionConfigsOpt = None,
    output: OutputOpt = Output.TABLE,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Every certificate found, sorted by expiry, like `kubeadm certs check-expiration`.

    Evaluated at --at: leaf pairs, CAs and bundles, kubelet client and serving certificates, those
    embedded in kubeconfigs, and their copies in etcd; with where each lies and what loads it.
    """
    from analyzer.report.certificates import REFUSED_STATES, certificate_rows, certificates_json, certificates_table
    from analyzer.scan import run_scan

    setup(quiet, verbose)
    options = scan_options(evidence, at, warn_days, encryption_config, None)
    with scan_progress() as progress:
        result = run_scan(replace(options, progress=progress, every_certificate=True))
    rows = certificate_rows(result.inventory, result.reference_utc)
    if output in (Output.JSON, Output.YAML):
        print_document(certificates_json(rows, result.reference_utc), output)
    elif rows:
        stdout.print(certificates_table(rows, wide=output is Output.WIDE))
    else:
        stderr.print("no certificate was found in this evidence")
    refused = any(row.status in REFUSED_STATES for row in rows)
    raise typer.Exit(EXIT_FINDINGS if refused else EXIT_INCOMPLETE if result.partial else EXIT_OK)


@command(
    "kforensic demo",
    "kforensic demo --out /tmp/case-demo && xdg-open /tmp/case-demo/report.html",
    exits="Exit codes as for scan on the same evidence (the example case exits 1: it is broken).\n\n" + EXIT_CODES,
)
def demo(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Directory for report.html, report.json and report.md.")
    ] = Path("kforensic-demo"),
    output: OutputOpt = Output.TABLE,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Analyse the bundled example case (a broken OpenShift control plane) and write its reports.

    The example is real evidence made by kforensic's own fixture factory: an etcd snapshot with
    secrets encrypted at rest, a tarball of a master's /etc/kubernetes, and the kube-apiserver log.
    It is looked at on 2025-06-01T12:00:00Z, so the reports are the same on any day.
    """
    from analyzer.scan import scan_demo

    setup(quiet, verbose)
    result, evidence, reports = scan_demo(out)
    if output is Output.TABLE and not quiet:
        stdout.print("evidence: " + ", ".join(path.name for path in evidence))
    print_scan(result, output, [(path.suffix.lstrip(".").replace("md", "markdown"), str(path)) for path in reports])
    raise scan_exit(result)


@command(
    "kforensic recover backup.db openshift-kube-apiserver/user-serving-cert-000 \\\n    --out ./recovered",
    "kforensic recover backup.db user-serving-cert-000 --out ./recovered \\\n    --encryption-config encryption-config",
    exits="Exit codes: 0 a working pair was written; 1 no surviving revision holds a pair that loads; "
    "2 an input cannot be used or a file exists; 3 a bug in kforensic.",
)
def recover(
    snapshot: SnapshotArg,
    secret: Annotated[str, typer.Argument(metavar="NAMESPACE/SECRET", help="The secret, or the pair's label from the report (user-serving-cert-000).")],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Directory for the files (created 0700); an existing file is never overwritten.")
    ],
    at: Annotated[
        str | None, typer.Option("--at", metavar="TIME", help="Reference time (RFC 3339): a pair valid then is preferred; default now.")
    ] = None,
    encryption_config: EncryptionConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Write the newest working certificate and key of a secret from the snapshot's history, as 0600 files.

    The one command that writes secret material, and only into --out.
    """
    from analyzer.reftime import parse_reference_time
    from analyzer.report.recovered import (
        no_working_pair_lines,
        recovery_lines,
        write_recovered,
    )
    from analyzer.scan import run_recover

    setup(quiet, verbose)
    reference = parse_reference_time(at)
    found = run_recover(snapshot, secret, reference, encryption_config)
    if found.last_good.chosen is None:
        stderr.print("\n".join(no_working_pair_lines(found.last_good)))
        raise typer.Exit(EXIT_FINDINGS)
    written = write_recovered(found.last_good, out)
    if not quiet:
        stdout.print("\n".join(recovery_lines(found.last_good, found.distribution, found.users, out, written, reference)))
