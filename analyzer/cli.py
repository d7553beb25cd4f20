"""The command line: argv, exit codes and progress bars live here and nowhere else.

Each command declares its options and calls one library function; ``main`` turns every
``KforensicError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from analyzer import __version__
from analyzer.errors import KforensicError, UsageError

if TYPE_CHECKING:  # imported where used: the CLI starts without loading every room
    from analyzer.decode.encryption import EncryptionConfig

EXIT_OK = 0
EXIT_FINDINGS = 1  # scan: an error-level finding; info: the snapshot is damaged or altered
EXIT_UNUSABLE = 2  # the input cannot be used at all (also click's exit code for bad usage)
EXIT_INTERNAL = 3  # a bug in kforensic

PROGRESS_THRESHOLD = 64 << 20  # show a progress bar for snapshots above this size

app = typer.Typer(
    name="kforensic",
    help=(
        "Find the certificate or key that took a Kubernetes or OpenShift control plane down, "
        "offline, from an etcd snapshot, a copy of /etc/kubernetes, and the apiserver's logs.\n\n"
        "Exit codes: 0 nothing wrong found; 1 something is wrong (an error-level finding, or a "
        "damaged snapshot); 2 an input cannot be used; 3 a bug in kforensic."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Piped output is read by people too (pasted into a case); do not fold it at 80 columns.
stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

# -- shared options ------------------------------------------------------------------------------

SnapshotArg = Annotated[
    Path, typer.Argument(metavar="SNAPSHOT", help="An etcd snapshot (`etcdctl snapshot save`) or a member/snap/db file.")
]
SalvageOpt = Annotated[
    bool,
    typer.Option("--salvage", help="Also scan every page for revision records the damaged tree no longer reaches."),
]


EncryptionConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--encryption-config",
        help="The cluster's EncryptionConfiguration, to open values encrypted at rest (aescbc, aesgcm, secretbox).",
    ),
]
RevealOpt = Annotated[
    bool,
    typer.Option("--reveal-secrets", help="Show Secret values on this terminal (never honoured by reports)."),
]


class GetFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


class ObjectFormat(StrEnum):
    JSON = "json"
    YAML = "yaml"


def _load_encryption(path: Path | None) -> EncryptionConfig | None:
    if path is None:
        return None
    from analyzer.decode.encryption import load_encryption_config
    from analyzer.evidence.files import read_input_file

    return load_encryption_config(read_input_file(path), str(path))


def _print_yaml(document: object) -> None:
    import yaml

    sys.stdout.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True))


@contextmanager
def _progress(label: str, total_bytes: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long passes, only when a person is watching."""
    if total_bytes < PROGRESS_THRESHOLD or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed:,} revisions"), TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda events: bar.update(task, completed=events)


def _print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


# -- commands ------------------------------------------------------------------------------------


@app.command(
    epilog=(
        "Examples:\n\n"
        "    kforensic info snapshot_2024-05-01_134501.db\n\n"
        "    kforensic info backup.db --json | jq .live_keys\n\n"
        "    kforensic info damaged.db --salvage"
    )
)
def info(
    snapshot: SnapshotArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    salvage: SalvageOpt = False,
    skip_hash_check: Annotated[
        bool,
        typer.Option(
            "--skip-hash-check",
            help="Do not verify the SHA-256 trailer (the slowest part on CPUs without SHA instructions); integrity shows 'unchecked'.",
        ),
    ] = False,
) -> None:
    """What a snapshot holds and whether it is intact: revision, keys, size, integrity, members, damage.

    Exit code 1 when the SHA-256 trailer does not match, part of the file could not be read (the
    output is then marked partial), or the freelist fails bbolt's check (pages named by id).
    """
    from analyzer.evidence.detect import open_snapshot_input
    from analyzer.evidence.etcd import Integrity
    from analyzer.report.terminal import snapshot_summary_view
    from analyzer.views.snapshot_summary import summarize_snapshot

    with open_snapshot_input(snapshot, salvage=salvage, progress=_decompress_progress()) as opened, _progress("reading revisions", opened.file_size) as progress:
        summary = summarize_snapshot(opened, progress, check_hash=not skip_hash_check)
    if as_json:
        _print_json(summary.to_json())
    else:
        stdout.print(snapshot_summary_view(summary))
    damaged = summary.damaged or summary.integrity.status is Integrity.MISMATCH
    raise typer.Exit(EXIT_FINDINGS if damaged else EXIT_OK)


@app.command(
    epilog=(
        "Examples:\n\n"
        "    kforensic get backup.db --prefix /kubernetes.io/secrets/openshift-config/\n\n"
        "    kforensic get backup.db /registry/secrets/kube-system/bootstrap-token-abcdef --history -o yaml\n\n"
        "    kforensic get backup.db --prefix /registry/secrets/ -o json --encryption-config enc.yaml\n\n"
        "    kforensic get backup.db /registry/configmaps/kube-system/kubeadm-config --raw > value.bin"
    )
)
def get(
    snapshot: SnapshotArg,
    key: Annotated[str | None, typer.Argument(help="An exact etcd key, e.g. /registry/secrets/NS/NAME.")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", "-p", help="Every live key starting with this.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Every surviving revision, deletes included.")] = False,
    output: Annotated[
        GetFormat, typer.Option("--output", "-o", help="A table for people; JSON or YAML with the decoded objects.")
    ] = GetFormat.TABLE,
    raw: Annotated[bool, typer.Option("--raw", help="Write the stored value bytes of one key to stdout.")] = False,
    encryption_config: EncryptionConfigOpt = None,
    reveal_secrets: RevealOpt = False,
    salvage: SalvageOpt = False,
) -> None:
    """Keys of a snapshot with their revisions, version, size, value kind and decoded object.

    Secret values are redacted (size and SHA-256 prefix) unless --reveal-secrets is given.
    """
    from analyzer.evidence.detect import open_snapshot_input
    from analyzer.report.terminal import key_table
    from analyzer.views.records import iter_key_records

    if (key is None) == (prefix is None):
        raise UsageError("give exactly one of KEY or --prefix")
    if raw and (key is None or history):
        raise UsageError("--raw prints the value of exactly one KEY (without --history)")
    encryption = _load_encryption(encryption_config)
    with open_snapshot_input(snapshot, salvage=salvage, progress=_decompress_progress()) as opened, _progress("reading revisions", opened.file_size) as progress:
        wanted = (key if key is not None else prefix or "").encode()
        records = list(
            iter_key_records(
                opened, wanted, exact=key is not None, history=history, decode=not raw, encryption=encryption, progress=progress
            )
        )
        if raw:
            if not records:
                raise UsageError(f"{snapshot}: key {key} is not live in this snapshot")
            if "/secrets/" in wanted.decode("utf-8", "replace") and not reveal_secrets:
                raise UsageError("refusing to print a Secret's stored bytes; add --reveal-secrets if you mean it")
            sys.stdout.buffer.write(records[-1].value)
            return
        if output is GetFormat.TABLE:
            stdout.print(key_table(records, history=history))
        else:
            documents = [record.to_json(reveal_secrets=reveal_secrets) for record in records]
            (_print_json if output is GetFormat.JSON else _print_yaml)(documents)
        if opened.partial:
            stderr.print(f"[red]partial: {opened.source} is damaged; some keys may be missing (see kforensic info)[/]")
            raise typer.Exit(EXIT_FINDINGS)


@app.command(
    epilog=(
        "Examples:\n\n"
        "    etcdctl get /registry/secrets/ns/name --print-value-only | kforensic decode - --etcd-key /registry/secrets/ns/name\n\n"
        "    etcdctl get /registry/configmaps/ns/ --prefix -w json | kforensic decode -\n\n"
        "    kforensic decode value.bin -o yaml --encryption-config encryption-config --etcd-key /kubernetes.io/secrets/ns/name"
    )
)
def decode(
    value_file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="One raw etcd value, or the output of `etcdctl get` (with or without -w json); '-' reads stdin.",
        ),
    ] = Path("-"),
    output: Annotated[ObjectFormat, typer.Option("--output", "-o", help="Output format.")] = ObjectFormat.JSON,
    etcd_key: Annotated[
        str | None, typer.Option("--etcd-key", help="The value's etcd key: AES-GCM authenticates it, and it picks the key's resource.")
    ] = None,
    encryption_config: EncryptionConfigOpt = None,
    reveal_secrets: RevealOpt = False,
) -> None:
    """Decode etcd values (protobuf, JSON, CBOR, or encrypted at rest) into API objects.

    Reads a raw value (etcdctl's trailing newline is recognised), `etcdctl get` output (key and
    value lines), or `etcdctl get -w json` output, where every key-value pair is decoded. One value
    prints its object; several print a list of {key, object}.
    """
    from analyzer.decode.etcdctl import InputForm, decode_input_value, load_input_values
    from analyzer.decode.redaction import redact_object
    from analyzer.errors import DecodeError
    from analyzer.evidence.files import read_input_file

    if str(value_file) == "-" and sys.stdin.isatty():
        stderr.print("kforensic: waiting for an etcd value on stdin (end with Ctrl-D; or give a FILE)", markup=False)
    try:
        form, items = load_input_values(read_input_file(value_file))
    except DecodeError as err:
        raise DecodeError(f"{value_file}: {err}") from None
    if etcd_key is not None and any(item.key not in (None, etcd_key.encode()) for item in items):
        raise UsageError(f"--etcd-key {etcd_key} differs from the key{'s' if len(items) > 1 else ''} in the {form.value}")
    encryption = _load_encryption(encryption_config)
    documents: list[dict[str, object]] = []
    failed: list[str] = []
    for item in items:
        decoded = decode_input_value(item, etcd_key=(etcd_key or "").encode(), encryption=encryption)
        name = item.key.decode("utf-8", "backslashreplace") if item.key is not None else str(value_file)
        if decoded.object is None:
            failed.append(f"{name}: {decoded.error}")
        obj = None if decoded.object is None else decoded.object if reveal_secrets else redact_object(decoded.object)
        documents.append({"key": name, "object": obj} if decoded.object is not None else {"key": name, "decode_error": decoded.error})
    if form is InputForm.RAW or len(items) == 1:
        if failed:
            raise DecodeError(failed[0] if form is not InputForm.RAW else f"{value_file}: {documents[0]['decode_error']}")
        (_print_json if output is ObjectFormat.JSON else _print_yaml)(documents[0]["object"])
        return
    (_print_json if output is ObjectFormat.JSON else _print_yaml)(documents)
    if failed:
        raise DecodeError(f"{value_file}: {len(failed)} of {len(items)} values could not be decoded (first: {failed[0]})")


@app.command(
    epilog=(
        "Examples:\n\n"
        "    kforensic ls master-0-etc-kubernetes.tar.gz\n\n"
        "    kforensic ls case/ --json | jq '.nodes[].name'\n\n"
        "    kforensic ls backup/ sosreport-master-1-2024-05-01-abcdefg.tar.xz"
    )
)
def ls(
    evidence: Annotated[
        list[Path],
        typer.Argument(
            metavar="EVIDENCE...",
            help="Snapshots, node trees (directories or archives), sosreports, cluster-backup directories, "
            "EncryptionConfigurations, logs, or a case directory holding several of them.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """What kforensic recognises in the evidence: per node, every file with its host path, kind and
    where it lies; snapshots, EncryptionConfigurations, logs and problems.

    Shows subjects, dates, sizes and fingerprints only, never key material or secret values.
    """
    from analyzer.evidence.detect import detect_evidence
    from analyzer.report.listing import listing_view
    from analyzer.views.listing import list_evidence

    with detect_evidence(evidence) as found:
        listing = list_evidence(found)
    if as_json:
        _print_json(listing.to_json())
    else:
        stdout.print(listing_view(listing))


@app.command(
    epilog=(
        "Examples:\n\n"
        "    kforensic scan snapshot_2024-05-01_134501.db master-0-etc-kubernetes.tar.gz --html report.html\n\n"
        "    kforensic scan backup-dir/ --log termination.log --log kube-apiserver.log --json report.json\n\n"
        "    kforensic scan backup.db --encryption-config encryption-config --at 2024-05-01T12:00:00Z\n\n"
        "Evidence may be any mix of: etcd snapshots, copies of a master's /etc/kubernetes and "
        "/var/lib/kubelet/pki (directories or tar/zip archives), sosreports, OpenShift cluster-backup "
        "directories, static_kuberesources tarballs, EncryptionConfigurations and logs."
    )
)
def scan(
    evidence: Annotated[list[Path], typer.Argument(metavar="EVIDENCE...", help="Snapshots, node trees, archives, backup directories, logs.")],
    at: Annotated[str | None, typer.Option("--at", help="Reference time for every check (RFC 3339); default now.")] = None,
    warn_days: Annotated[int, typer.Option("--warn-days", min=0, help="Warn about certificates expiring within this many days.")] = 30,
    encryption_config: Annotated[
        list[Path] | None,
        typer.Option("--encryption-config", help="An EncryptionConfiguration (repeatable); ones inside the evidence are found by themselves."),
    ] = None,
    log: Annotated[list[Path] | None, typer.Option("--log", help="A kube-apiserver log (repeatable): crictl logs, journal, termination.log.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here ('-' for stdout).")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    markdown_out: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown summary here.")] = None,
) -> None:
    """Find the certificate, key or CA that keeps the control plane down, and say how to fix it.

    Exit code 0 when no finding is error-level, 1 when any is (error or critical), 2 when an input
    cannot be used.
    """
    from analyzer.reftime import parse_reference_time
    from analyzer.report.outputs import OutputFormat, render_outputs, write_outputs
    from analyzer.report.terminal import scan_summary_view
    from analyzer.scan import ScanOptions, run_scan

    reference = parse_reference_time(at)
    options = ScanOptions(evidence, reference, warn_days, encryption_config or [], log or [])
    with _scan_progress() as progress:
        result = run_scan(replace(options, progress=progress, decompress_progress=_decompress_progress()))
    rendered = render_outputs(result, {OutputFormat.JSON: json_out, OutputFormat.HTML: html_out, OutputFormat.MARKDOWN: markdown_out})
    write_outputs(rendered)
    if json_out is None or str(json_out) != "-":
        stdout.print(scan_summary_view(result))
    raise typer.Exit(EXIT_FINDINGS if result.failing else EXIT_OK)


@app.command(
    epilog=(
        "Examples:\n\n"
        "    kforensic demo\n\n"
        "    kforensic demo --out /tmp/case-demo && xdg-open /tmp/case-demo/report.html"
    )
)
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html, report.json and report.md.")] = Path("kforensic-demo"),
) -> None:
    """Analyse the bundled example case (a broken OpenShift control plane) and write its reports.

    The example is real evidence made by kforensic's own fixture factory: an etcd snapshot with
    secrets encrypted at rest, a tarball of a master's /etc/kubernetes, and the kube-apiserver log.
    It is looked at on 2025-06-01T12:00:00Z, so the reports are the same on any day.
    """
    from analyzer.demo import REFERENCE_TIME, evidence_paths
    from analyzer.reftime import parse_reference_time
    from analyzer.report.outputs import OutputFormat, render_outputs, write_outputs
    from analyzer.report.terminal import scan_summary_view
    from analyzer.scan import ScanOptions, run_scan

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
    stdout.print("evidence: " + ", ".join(path.name for path in evidence))
    stdout.print(scan_summary_view(result))
    stdout.print("reports: " + ", ".join(str(path) for path in targets.values()))


@app.command(
    epilog=(
        "Examples:\n\n"
        "    kforensic recover backup.db openshift-kube-apiserver/user-serving-cert-000 --out ./recovered\n\n"
        "    kforensic recover backup.db user-serving-cert-000 --out ./recovered --encryption-config encryption-config"
    )
)
def recover(
    snapshot: SnapshotArg,
    secret: Annotated[str, typer.Argument(metavar="NAMESPACE/SECRET", help="The secret, or the pair's label from the report (user-serving-cert-000).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the files (created 0700); an existing file is never overwritten.")],
    at: Annotated[str | None, typer.Option("--at", help="Reference time (RFC 3339): a pair valid then is preferred; default now.")] = None,
    encryption_config: EncryptionConfigOpt = None,
) -> None:
    """Write the newest working certificate and key of a secret from the snapshot's history, as 0600 files.

    The one command that writes secret material, and only into --out. Exit code 1 when no surviving
    revision holds a pair that loads, 2 when an input cannot be used or a file exists.
    """
    from analyzer.reftime import parse_reference_time
    from analyzer.report.recovered import (
        no_working_pair_lines,
        recovery_lines,
        write_recovered,
    )
    from analyzer.scan import run_recover

    reference = parse_reference_time(at)
    found = run_recover(snapshot, secret, reference, encryption_config)
    if found.last_good.chosen is None:
        stderr.print("\n".join(no_working_pair_lines(found.last_good)), markup=False)
        raise typer.Exit(EXIT_FINDINGS)
    written = write_recovered(found.last_good, out)
    stdout.print("\n".join(recovery_lines(found.last_good, found.distribution, found.users, out, written, reference)), markup=False)


def _decompress_progress() -> Callable[[str, int, int | None], None] | None:
    """"decompressing X: 812 MiB of 2048 MiB" on stderr, rewritten in place, when a person is watching."""
    if not sys.stderr.isatty():
        return None
    shown = [0.0]

    def report(what: str, done: int, total: int | None) -> None:
        finished = total is not None and done >= total
        if not finished and time.monotonic() - shown[0] < 0.25:
            return
        shown[0] = time.monotonic()
        of = f" of {total >> 20} MiB" if total else ""
        sys.stderr.write("\r\x1b[K" if finished else f"\r\x1b[Kdecompressing {what}: {done >> 20} MiB{of}")
        sys.stderr.flush()

    return report


@contextmanager
def _scan_progress() -> Iterator[Callable[[int], None] | None]:
    """A spinner with the number of etcd revisions read, when a person is watching."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("reading etcd revisions: {task.completed:,}"), TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("scan", total=None)
        yield lambda events: bar.update(task, completed=events)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        stdout.print(f"kforensic {__version__}")
        raise typer.Exit(EXIT_OK)


def main() -> None:
    """Console entry point: the one place errors become exit codes."""
    try:
        app()
    except KforensicError as err:
        stderr.print(f"kforensic: {err}", markup=False)
        sys.exit(EXIT_UNUSABLE)
    except BrokenPipeError:
        # `kforensic get … | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_OK)
    except KeyboardInterrupt:
        stderr.print("kforensic: interrupted", markup=False)
        sys.exit(130)
    except Exception as err:  # a bug: one line, no traceback unless asked for
        if os.environ.get("KFORENSIC_DEBUG"):
            raise
        stderr.print(
            f"kforensic: internal error ({type(err).__name__}); this is a bug in kforensic — "
            "rerun with KFORENSIC_DEBUG=1 for the traceback and report it",
            markup=False,
        )
        sys.exit(EXIT_INTERNAL)
