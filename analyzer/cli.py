"""The command line: argv, exit codes and progress bars live here and nowhere else.

Each command declares its options and calls one library function; ``main`` turns every
``KforensicError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from analyzer import __version__
from analyzer.errors import KforensicError, UsageError

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


class GetFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


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
) -> None:
    """What a snapshot holds and whether it is intact: revision, keys, size, integrity, members, damage.

    Exit code 1 when the SHA-256 trailer does not match or part of the file could not be read
    (the output is then marked partial).
    """
    from analyzer.evidence.etcd import Integrity, Snapshot
    from analyzer.evidence.snapshot_summary import summarize_snapshot
    from analyzer.report.terminal import snapshot_summary_view

    with Snapshot(snapshot, salvage=salvage) as opened, _progress("reading revisions", opened.file_size) as progress:
        summary = summarize_snapshot(opened, progress)
    if as_json:
        _print_json(summary.to_json())
    else:
        stdout.print(snapshot_summary_view(summary))
    damaged = summary.partial or summary.integrity.status is Integrity.MISMATCH
    raise typer.Exit(EXIT_FINDINGS if damaged else EXIT_OK)


@app.command(
    epilog=(
        "Examples:\n\n"
        "    kforensic get backup.db --prefix /kubernetes.io/secrets/openshift-config/\n\n"
        "    kforensic get backup.db /registry/secrets/kube-system/bootstrap-token-abcdef --history\n\n"
        "    kforensic get backup.db /registry/configmaps/kube-system/kubeadm-config --raw > value.bin"
    )
)
def get(
    snapshot: SnapshotArg,
    key: Annotated[str | None, typer.Argument(help="An exact etcd key, e.g. /registry/secrets/NS/NAME.")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", "-p", help="Every live key starting with this.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Every surviving revision, deletes included.")] = False,
    output: Annotated[GetFormat, typer.Option("--output", "-o", help="Table for people, JSON for programs.")] = GetFormat.TABLE,
    raw: Annotated[bool, typer.Option("--raw", help="Write the stored value bytes of one key to stdout.")] = False,
    reveal_secrets: Annotated[
        bool, typer.Option("--reveal-secrets", help="Allow --raw on Secrets (prints secret values on this terminal).")
    ] = False,
    salvage: SalvageOpt = False,
) -> None:
    """Keys of a snapshot with their revisions, version, size and value kind."""
    from analyzer.evidence.etcd import Snapshot
    from analyzer.decode.records import iter_key_records
    from analyzer.report.terminal import key_table

    if (key is None) == (prefix is None):
        raise UsageError("give exactly one of KEY or --prefix")
    if raw and (key is None or history):
        raise UsageError("--raw prints the value of exactly one KEY (without --history)")
    with Snapshot(snapshot, salvage=salvage) as opened, _progress("reading revisions", opened.file_size) as progress:
        wanted = (key if key is not None else prefix or "").encode()
        exact = key is not None
        records = list(iter_key_records(opened, wanted, exact=exact, history=history, progress=progress))
        if raw:
            if not records:
                raise UsageError(f"{snapshot}: key {key} is not live in this snapshot")
            if "/secrets/" in key and not reveal_secrets:  # type: ignore[operator]
                raise UsageError("refusing to print a Secret's stored bytes; add --reveal-secrets if you mean it")
            sys.stdout.buffer.write(records[-1].value)
            return
        if output is GetFormat.JSON:
            _print_json([record.to_json() for record in records])
        else:
            stdout.print(key_table(records, history=history))
        if opened.partial:
            stderr.print(f"[red]partial: {opened.source} is damaged; some keys may be missing (see kforensic info)[/]")
            raise typer.Exit(EXIT_FINDINGS)


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
