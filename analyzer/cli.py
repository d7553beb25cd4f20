"""The command line: argv, exit codes and progress bars live here and nowhere else.

Each command declares its options (the shared ones are ``Annotated`` types defined once below) and
calls one library function; ``main`` turns every ``KforensicError`` into one line on stderr and
exit code 2. What goes to stdout is chosen with one option, ``-o table|wide|json|yaml``;
``--json/--html/--markdown FILE`` only ever name report files.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from analyzer import __version__
from analyzer.errors import KforensicError, UsageError

if TYPE_CHECKING:  # imported where used: the CLI starts without loading every room
    from analyzer.analysis.result import ScanResult
    from analyzer.decode.encryption import EncryptionConfig
    from analyzer.evidence.live import LiveTarget
    from analyzer.evidence.store import EtcdStore
    from analyzer.scan import ScanOptions

EXIT_OK = 0  # a verdict was reached and nothing is error-level
EXIT_FINDINGS = 1  # an error-level finding
EXIT_UNUSABLE = 2  # an input cannot be used (also click's exit code for bad usage)
EXIT_INTERNAL = 3  # a bug in kforensic
EXIT_INCOMPLETE = 4  # nothing error-level, but the evidence was damaged or not enough for a verdict

EXIT_CODES = (
    "Exit codes: 0 a verdict was reached and nothing is error-level; 1 an error-level finding; "
    "2 an input cannot be used (one line on stderr names it); 3 a bug in kforensic; "
    "4 nothing error-level, but the evidence was damaged or not enough to reach a verdict."
)

PROGRESS_THRESHOLD = 64 << 20  # show a progress bar for snapshots above this size


# -- help that reads well ---------------------------------------------------------------------------


class _Argument(TyperArgument):
    """An argument shown by its metavar alone (EVIDENCE..., FILE), never as a Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:  # noqa: ARG002 - typer's signature
        return None

    def _usage_display_name(self) -> str:
        name = self.metavar or self.name or ""
        return name if self.required else f"[{name}]"


def _readable(params: list[Any]) -> list[Any]:
    # typer labels every parameter with its Python type (<bool>, <list[Path]>, <str>); a flag needs
    # no placeholder and a value is named by its metavar.
    for param in params:
        if isinstance(param, TyperArgument) and not isinstance(param, _Argument) and hasattr(param, "display_type_rich"):
            param.__class__ = _Argument
        elif isinstance(param, TyperOption) and param.metavar is None and (param.is_flag or param.count):
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


app = typer.Typer(
    name="kforensic",
    cls=_Group,
    help=(
        "Find the certificate or key that took a Kubernetes or OpenShift control plane down, "
        "offline, from an etcd snapshot, a copy of /etc/kubernetes, and the apiserver's logs.\n\n"
        + EXIT_CODES
        + "\n\nNO_COLOR=1 turns colour off; KFORENSIC_DEBUG=1 (or -v) shows the traceback of a bug."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Piped output is read by people too (pasted into a case); do not fold it at 80 columns.
# Both consoles honour NO_COLOR (rich reads it).
stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class _Verbosity:
    quiet: bool = False
    verbose: int = 0


_verbosity = _Verbosity()


def _command(*examples: str, note: str = "", exits: str = EXIT_CODES) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command whose help ends with its exit codes and examples.

    Examples keep their line breaks (a long one continues with `` \\``) and fit 80 columns.
    """

    def register(function: Callable[..., None]) -> Callable[..., None]:
        lines = ["Examples:", ""]
        for example in examples:
            lines += ["  " + line for line in example.splitlines()] + [""]
        if note:
            lines += [note, ""]
        # One line per paragraph: rich help keeps a docstring's line breaks and would break twice.
        paragraphs = [" ".join(p.split("\n")) for p in inspect.cleandoc(function.__doc__ or "").split("\n\n")]
        help_text = "\n\n".join([*paragraphs, *([exits] if exits else [])])
        return app.command(cls=_Command, help=help_text, epilog=escape("\n".join(lines).rstrip()))(function)

    return register


# -- shared options ------------------------------------------------------------------------------


class Output(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"


OutputOpt = Annotated[
    Output,
    typer.Option(
        "--output",
        "-o",
        metavar="FORMAT",
        case_sensitive=False,
        help="What to print on stdout: table, wide (every column), json or yaml.",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print nothing but errors and the data asked for: no progress, notes or summary.")
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, show_default=False, help="Say more: every finding in the summary, the traceback of a bug.")
]
SnapshotArg = Annotated[
    Path, typer.Argument(metavar="SNAPSHOT", help="An etcd snapshot (`etcdctl snapshot save`) or a member/snap/db file.")
]
OptionalSnapshotArg = Annotated[
    Path | None,
    typer.Argument(metavar="[SNAPSHOT]", help="An etcd snapshot (`etcdctl snapshot save`) or a member/snap/db file; omit with --etcd."),
]
EvidenceArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="EVIDENCE...",
        help="Snapshots, node trees (directories or tar/zip archives), sosreports, cluster-backup "
        "directories, EncryptionConfigurations, logs, or a case directory holding several.",
    ),
]
SalvageOpt = Annotated[
    bool,
    typer.Option("--salvage", help="Also scan every page for revision records the damaged tree no longer reaches."),
]


# A running etcd instead of a snapshot (scan, info, get): one option block, declared once.
EtcdOpt = Annotated[
    list[str] | None,
    typer.Option("--etcd", metavar="URL", help="Read a running etcd at this client URL (repeatable: the first that answers is read), "
                 "with range requests only, at one revision.", rich_help_panel="Running etcd"),
]
EtcdCacertOpt = Annotated[Path | None, typer.Option("--etcd-cacert", metavar="FILE", help="CA bundle that verifies etcd's serving certificate.", rich_help_panel="Running etcd")]
EtcdCertOpt = Annotated[Path | None, typer.Option("--etcd-cert", metavar="FILE", help="Client certificate (a master's etcd client pair).", rich_help_panel="Running etcd")]
EtcdKeyOpt = Annotated[Path | None, typer.Option("--etcd-key", metavar="FILE", help="Private key of --etcd-cert.", rich_help_panel="Running etcd")]
EtcdTimeoutOpt = Annotated[float, typer.Option("--etcd-timeout", metavar="SECONDS", min=0.1, help="Seconds to wait for each etcd request.", rich_help_panel="Running etcd")]
EtcdRevisionOpt = Annotated[
    int | None, typer.Option("--etcd-revision", metavar="N", min=1, help="Read at this earlier revision instead of the current one.", rich_help_panel="Running etcd")
]


def _live_target(
    urls: list[str] | None, cacert: Path | None, cert: Path | None, key: Path | None, timeout: float, revision: int | None
) -> LiveTarget | None:
    """The --etcd option block as one value, or None when no --etcd was given."""
    from analyzer.evidence.live import ClientFiles, LiveTarget

    if not urls:
        if any((cacert, cert, key, revision)):
            raise UsageError("--etcd-cacert, --etcd-cert, --etcd-key and --etcd-revision need --etcd URL")
        return None
    return LiveTarget(tuple(urls), ClientFiles(cacert, cert, key), timeout, revision)


EncryptionConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--encryption-config",
        metavar="FILE",
        help="The cluster's EncryptionConfiguration, to open values encrypted at rest (aescbc, aesgcm, secretbox).",
    ),
]
EncryptionConfigsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--encryption-config",
        metavar="FILE",
        help="An EncryptionConfiguration (repeatable); ones inside the evidence are found by themselves.",
    ),
]
LogsOpt = Annotated[
    list[Path] | None,
    typer.Option("--log", metavar="FILE", help="A kube-apiserver log (repeatable): crictl logs, journal, termination.log."),
]
AtOpt = Annotated[
    str | None, typer.Option("--at", metavar="TIME", help="Reference time for every check (RFC 3339); default now.")
]
WarnDaysOpt = Annotated[
    int, typer.Option("--warn-days", metavar="DAYS", min=0, help="Warn about certificates expiring within this many days.")
]
RevealOpt = Annotated[
    bool,
    typer.Option("--reveal-secrets", help="Show Secret values on this terminal (never honoured by reports)."),
]
JsonFileOpt = Annotated[Path | None, typer.Option("--json", metavar="FILE", help="Write the JSON report to FILE.")]
HtmlFileOpt = Annotated[Path | None, typer.Option("--html", metavar="FILE", help="Write the HTML report to FILE.")]
MarkdownFileOpt = Annotated[Path | None, typer.Option("--markdown", metavar="FILE", help="Write a Markdown summary to FILE.")]


def _setup(quiet: bool, verbose: int) -> None:
    _verbosity.quiet, _verbosity.verbose = quiet, verbose
    stderr.quiet = quiet  # progress bars and notes; errors are written by main() directly


def _only(output: Output, *allowed: Output, what: str) -> None:
    if output not in allowed:
        raise UsageError(f"{what} prints with -o {' or -o '.join(a.value for a in allowed)}, not -o {output.value}")


def _load_encryption(path: Path | None) -> EncryptionConfig | None:
    if path is None:
        return None
    from analyzer.decode.encryption import load_encryption_config
    from analyzer.evidence.files import read_input_file

    return load_encryption_config(read_input_file(path), str(path))


def _print_document(document: object, output: Output) -> None:
    """A JSON-shaped document as JSON or YAML on stdout."""
    if output is Output.YAML:
        import yaml

        sys.stdout.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


@contextmanager
def _progress(label: str, total_bytes: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long passes, only when a person is watching."""
    if total_bytes < PROGRESS_THRESHOLD or not sys.stderr.isatty() or _verbosity.quiet:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed:,} revisions"), TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda events: bar.update(task, completed=events)


@contextmanager
def _open_store(snapshot: Path | None, target: LiveTarget | None, salvage: bool) -> Iterator[EtcdStore]:
    """The snapshot file, or the running etcd of --etcd: both are read the same way from here on."""
    if target is not None:
        from analyzer.scan import open_live_etcd

        with open_live_etcd(target) as live:
            yield live
        return
    from analyzer.evidence.detect import open_snapshot_input

    assert snapshot is not None  # the caller checked that exactly one of the two was given
    with open_snapshot_input(snapshot, salvage=salvage, progress=_decompress_progress()) as opened:
        yield opened


@contextmanager
def _scan_progress() -> Iterator[Callable[[int], None] | None]:
    """A spinner with the number of etcd revisions read, when a person is watching."""
    if not sys.stderr.isatty() or _verbosity.quiet:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("reading etcd revisions: {task.completed:,}"), TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("scan", total=None)
        yield lambda events: bar.update(task, completed=events)


def _scan_exit(result: ScanResult) -> typer.Exit:
    from analyzer.analysis.result import Outcome

    return typer.Exit({Outcome.CLEAN: EXIT_OK, Outcome.FAILING: EXIT_FINDINGS, Outcome.INCOMPLETE: EXIT_INCOMPLETE}[result.outcome])


def _scan_options(evidence: list[Path], at: str | None, warn_days: int, encryption_config: list[Path] | None, log: list[Path] | None) -> ScanOptions:
    from analyzer.reftime import parse_reference_time
    from analyzer.scan import ScanOptions

    return ScanOptions(evidence, parse_reference_time(at), warn_days, encryption_config or [], log or [])


def _print_scan(result: ScanResult, output: Output) -> None:
    """The scan on stdout: the summary (every finding with -o wide or -v), or the report as JSON/YAML."""
    if output in (Output.JSON, Output.YAML):
        from analyzer.report.json_report import build_report

        _print_document(build_report(result), output)
    elif not _verbosity.quiet:
        from analyzer.report.terminal import scan_summary_view

        stdout.print(scan_summary_view(result, every_finding=output is Output.WIDE or _verbosity.verbose > 0))


# -- commands ------------------------------------------------------------------------------------


@_command(
    "kforensic info snapshot_2024-05-01_134501.db",
    "kforensic info backup.db -o json | jq .live_keys",
    "kforensic info damaged.db --salvage",
    exits="Exit codes: 0 the snapshot is intact; 2 it cannot be used; 3 a bug in kforensic; "
    "4 the SHA-256 trailer does not match or part of it could not be read (the output says partial).",
)
def info(
    snapshot: OptionalSnapshotArg = None,
    output: OutputOpt = Output.TABLE,
    salvage: SalvageOpt = False,
    skip_hash_check: Annotated[
        bool,
        typer.Option(
            "--skip-hash-check",
            help="Do not verify the SHA-256 trailer (the slowest part on CPUs without SHA instructions); integrity shows 'unchecked'.",
        ),
    ] = False,
    etcd: EtcdOpt = None,
    etcd_cacert: EtcdCacertOpt = None,
    etcd_cert: EtcdCertOpt = None,
    etcd_key: EtcdKeyOpt = None,
    etcd_timeout: EtcdTimeoutOpt = 10.0,
    etcd_revision: EtcdRevisionOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """What a snapshot holds and whether it is intact: revision, keys, size, integrity, members, damage."""
    from analyzer.evidence.detect import open_snapshot_input
    from analyzer.evidence.etcd import Integrity
    from analyzer.report.terminal import snapshot_summary_view
    from analyzer.views.snapshot_summary import summarize_snapshot

    _setup(quiet, verbose)
    target = _live_target(etcd, etcd_cacert, etcd_cert, etcd_key, etcd_timeout, etcd_revision)
    if (target is None) == (snapshot is None):
        raise UsageError("give exactly one of SNAPSHOT or --etcd URL")
    if target is not None:
        from analyzer.views.live_summary import summarize_live
        from analyzer.report.terminal import live_summary_view
        from analyzer.scan import open_live_etcd

        with open_live_etcd(target) as live:
            live_summary = summarize_live(live)
        _print_document(live_summary.to_json(), output) if output in (Output.JSON, Output.YAML) else stdout.print(live_summary_view(live_summary))
        raise typer.Exit(EXIT_INCOMPLETE if live_summary.partial else EXIT_OK)
    assert snapshot is not None
    with open_snapshot_input(snapshot, salvage=salvage, progress=_decompress_progress()) as opened, _progress("reading revisions", opened.file_size) as progress:
        summary = summarize_snapshot(opened, progress, check_hash=not skip_hash_check)
    if output in (Output.JSON, Output.YAML):
        _print_document(summary.to_json(), output)
    else:
        stdout.print(snapshot_summary_view(summary))
    damaged = summary.damaged or summary.integrity.status is Integrity.MISMATCH
    raise typer.Exit(EXIT_INCOMPLETE if damaged else EXIT_OK)


@_command(
    "kforensic get backup.db --prefix /kubernetes.io/secrets/openshift-config/",
    "kforensic get backup.db --prefix /registry/secrets/ --keys-only",
    "kforensic get backup.db /registry/secrets/kube-system/bootstrap-token-abc \\\n"
    "    --history -o yaml",
    "kforensic get backup.db --prefix /registry/secrets/ -o json \\\n    --encryption-config enc.yaml --revision 41870",
    "kforensic get backup.db /registry/configmaps/kube-system/kubeadm-config \\\n    --raw > value.bin",
    exits="Exit codes: 0 the keys were read; 2 the snapshot cannot be used, the KEY is not in it, or the "
    "revision is compacted or in the future; 3 a bug in kforensic; 4 the snapshot is damaged, so keys may be missing.",
)
def get(
    snapshot: OptionalSnapshotArg = None,
    key: Annotated[str | None, typer.Argument(metavar="KEY", help="An exact etcd key, e.g. /registry/secrets/NS/NAME.")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", "-p", metavar="PREFIX", help="Every key starting with this.")] = None,
    revision: Annotated[
        int | None, typer.Option("--revision", metavar="N", min=1, help="Read the keys as they stood at revision N (etcdctl get --rev).")
    ] = None,
    history: Annotated[bool, typer.Option("--history", help="Every surviving revision, deletes included.")] = False,
    keys_only: Annotated[bool, typer.Option("--keys-only", help="Print the keys alone, one per line (a list with -o json/yaml).")] = False,
    output: OutputOpt = Output.TABLE,
    raw: Annotated[bool, typer.Option("--raw", help="Write the stored value bytes of one KEY to stdout.")] = False,
    encryption_config: EncryptionConfigOpt = None,
    reveal_secrets: RevealOpt = False,
    salvage: SalvageOpt = False,
    etcd: EtcdOpt = None,
    etcd_cacert: EtcdCacertOpt = None,
    etcd_cert: EtcdCertOpt = None,
    etcd_key: EtcdKeyOpt = None,
    etcd_timeout: EtcdTimeoutOpt = 10.0,
    etcd_revision: EtcdRevisionOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Keys of a snapshot with their revisions, version, size, value kind and decoded object.

    Secret values are redacted (size and SHA-256 prefix) unless --reveal-secrets is given;
    certificates (tls.crt, ca.crt, ca-bundle.crt, service-ca.crt) are public and shown.
    """
    from analyzer.report.terminal import key_table
    from analyzer.views.records import iter_key_records

    _setup(quiet, verbose)
    target = _live_target(etcd, etcd_cacert, etcd_cert, etcd_key, etcd_timeout, etcd_revision)
    if target is not None and snapshot is not None and key is None:
        key, snapshot = str(snapshot), None  # with --etcd the one positional argument is the KEY
    if (target is None) == (snapshot is None):
        raise UsageError("give exactly one of SNAPSHOT or --etcd URL")
    if (key is None) == (prefix is None):
        raise UsageError("give exactly one of KEY or --prefix")
    if raw and (key is None or history or keys_only):
        raise UsageError("--raw prints the value of exactly one KEY (without --history or --keys-only)")
    encryption = _load_encryption(encryption_config)
    with _open_store(snapshot, target, salvage) as opened, _progress("reading revisions", getattr(opened, "file_size", 0)) as progress:
        wanted = (key if key is not None else prefix or "").encode()
        records = list(
            iter_key_records(
                opened, wanted, exact=key is not None, history=history, decode=not raw and not keys_only, encryption=encryption, progress=progress, revision=revision
            )
        )
        if key is not None and not records:
            at = f" at revision {revision}" if revision is not None else ""
            raise UsageError(f"{snapshot}: key {key} is not in this snapshot{at}" + (" (it may be in the damaged part)" if opened.partial else ""))
        if raw:
            if not records:
                raise UsageError(f"{opened.source}: key {key} is not live at revision {opened.revision}")
            if "/secrets/" in wanted.decode("utf-8", "replace") and not reveal_secrets:
                raise UsageError("refusing to print a Secret's stored bytes; add --reveal-secrets if you mean it")
            sys.stdout.buffer.write(records[-1].value)
            return
        if keys_only:
            keys = list(dict.fromkeys(record.record.key_text for record in records))
            if output in (Output.JSON, Output.YAML):
                _print_document(keys, output)
            else:
                sys.stdout.write("".join(k + "\n" for k in keys))
        elif output in (Output.JSON, Output.YAML):
            _print_document([record.to_json(reveal_secrets=reveal_secrets) for record in records], output)
        else:
            stdout.print(key_table(records, history=history, wide=output is Output.WIDE, width=stdout.width))
        if not records:
            stderr.print(f"no keys under {prefix}", markup=False)
        if opened.partial:
            stderr.print(f"[red]partial: {opened.source} is damaged; some keys may be missing (see kforensic info)[/]")
            raise typer.Exit(EXIT_INCOMPLETE)


@_command(
    "etcdctl get /registry/secrets/ns/name --print-value-only \\\n"
    "    | kforensic decode - --etcd-key /registry/secrets/ns/name",
    "kforensic decode value.bin -o yaml --encryption-config encryption-config \\\n"
    "    --etcd-key /kubernetes.io/secrets/ns/name",
    exits="Exit codes: 0 decoded; 2 the value cannot be decoded or opened; 3 a bug in kforensic.",
)
def decode(
    value_file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="One raw etcd value, or the output of `etcdctl get` (with or without -w json); '-' reads stdin."),
    ] = Path("-"),
    output: OutputOpt = Output.JSON,
    etcd_key: Annotated[
        str | None,
        typer.Option("--etcd-key", metavar="KEY", help="The value's etcd key: AES-GCM authenticates it, and it picks the key's resource."),
    ] = None,
    encryption_config: EncryptionConfigOpt = None,
    reveal_secrets: RevealOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
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

    _setup(quiet, verbose)
    _only(output, Output.JSON, Output.YAML, what="decode")
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
        _print_document(documents[0]["object"], output)
        return
    _print_document(documents, output)
    if failed:
        raise DecodeError(f"{value_file}: {len(failed)} of {len(items)} values could not be decoded (first: {failed[0]})")


@_command(
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

    _setup(quiet, verbose)
    with detect_evidence(evidence) as found:
        listing = list_evidence(found)
    if output in (Output.JSON, Output.YAML):
        _print_document(listing.to_json(), output)
    else:
        stdout.print(listing_view(listing))
    damaged = bool(listing.problems) or any(node.partial for node in listing.nodes)
    raise typer.Exit(EXIT_INCOMPLETE if damaged else EXIT_OK)


@_command(
    "kforensic scan snapshot_2024-05-01_134501.db \\\n    master-0-etc-kubernetes.tar.gz --html report.html",
    "kforensic scan backup-dir/ --log termination.log --log kube-apiserver.log \\\n    --json report.json",
    "kforensic scan backup.db --encryption-config encryption-config \\\n    --at 2024-05-01T12:00:00Z -o json | jq .verdict",
    note="Evidence may be any mix of: etcd snapshots, copies of a master's /etc/kubernetes and "
    "/var/lib/kubelet/pki (directories or tar/zip archives), sosreports, OpenShift cluster-backup "
    "directories, static_kuberesources tarballs, EncryptionConfigurations and logs.",
)
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
    etcd: EtcdOpt = None,
    etcd_cacert: EtcdCacertOpt = None,
    etcd_cert: EtcdCertOpt = None,
    etcd_key: EtcdKeyOpt = None,
    etcd_timeout: EtcdTimeoutOpt = 10.0,
    etcd_revision: EtcdRevisionOpt = None,
) -> None:
    """Find the certificate, key or CA that keeps the control plane down, and say how to fix it."""
    from analyzer.report.outputs import OutputFormat, render_outputs, write_outputs
    from analyzer.scan import run_scan

    _setup(quiet, verbose)
    target = _live_target(etcd, etcd_cacert, etcd_cert, etcd_key, etcd_timeout, etcd_revision)
    if not evidence and target is None:
        raise UsageError("give EVIDENCE, or --etcd URL to read a running etcd")
    options = replace(_scan_options(evidence or [], at, warn_days, encryption_config, log), etcd=target)
    with _scan_progress() as progress:
        result = run_scan(replace(options, progress=progress, decompress_progress=_decompress_progress()))
    write_outputs(render_outputs(result, {OutputFormat.JSON: json_out, OutputFormat.HTML: html_out, OutputFormat.MARKDOWN: markdown_out}))
    if json_out is None or str(json_out) != "-":  # `--json -` (older scripts) already wrote to stdout
        _print_scan(result, output)
    raise _scan_exit(result)


@_command(
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

    _setup(quiet, verbose)
    options = _scan_options(evidence, at, warn_days, encryption_config, None)
    with _scan_progress() as progress:
        result = run_scan(replace(options, progress=progress, every_certificate=True))
    rows = certificate_rows(result.inventory, result.reference_utc)
    if output in (Output.JSON, Output.YAML):
        _print_document(certificates_json(rows, result.reference_utc), output)
    elif rows:
        stdout.print(certificates_table(rows, wide=output is Output.WIDE))
    else:
        stderr.print("no certificate was found in this evidence", markup=False)
    refused = any(row.status in REFUSED_STATES for row in rows)
    raise typer.Exit(EXIT_FINDINGS if refused else EXIT_INCOMPLETE if result.partial else EXIT_OK)


@_command(
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

    _setup(quiet, verbose)
    result, evidence, reports = scan_demo(out)
    if output is Output.TABLE and not quiet:
        stdout.print("evidence: " + ", ".join(path.name for path in evidence))
    _print_scan(result, output)
    if output is Output.TABLE and not quiet:
        stdout.print("reports: " + ", ".join(str(path) for path in reports))
    raise _scan_exit(result)


@_command(
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

    _setup(quiet, verbose)
    reference = parse_reference_time(at)
    found = run_recover(snapshot, secret, reference, encryption_config)
    if found.last_good.chosen is None:
        stderr.print("\n".join(no_working_pair_lines(found.last_good)), markup=False)
        raise typer.Exit(EXIT_FINDINGS)
    written = write_recovered(found.last_good, out)
    if not quiet:
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


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        stdout.print(f"kforensic {__version__}")
        raise typer.Exit(EXIT_OK)


def _error(message: str) -> None:
    # Written directly: --quiet silences notes and progress, never the reason for the exit code.
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def main() -> None:
    """Console entry point: the one place errors become exit codes."""
    try:
        app(prog_name="kforensic")
    except KforensicError as err:
        _error(f"kforensic: {err}")
        sys.exit(EXIT_UNUSABLE)
    except BrokenPipeError:
        # `kforensic get … | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_OK)
    except KeyboardInterrupt:
        _error("kforensic: interrupted")
        sys.exit(130)
    except Exception as err:  # a bug: one line, no traceback unless asked for
        if os.environ.get("KFORENSIC_DEBUG"):
            raise
        if _verbosity.verbose:
            traceback.print_exc()
        _error(
            f"kforensic: internal error ({type(err).__name__}); this is a bug in kforensic — "
            "rerun with -v or KFORENSIC_DEBUG=1 for the traceback and report it"
        )
        sys.exit(EXIT_INTERNAL)
