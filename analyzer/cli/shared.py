"""What several commands do the same way: verbosity, -o output, progress on stderr, opening the store, the scan's exit code."""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from analyzer.cli.app import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, stderr, stdout, verbosity
from analyzer.cli.options import Output
from analyzer.errors import UsageError

if TYPE_CHECKING:  # imported where used: the CLI starts without loading every room
    from analyzer.analysis.result import ScanResult
    from analyzer.decode.encryption import EncryptionConfig
    from analyzer.evidence.live import LiveTarget
    from analyzer.evidence.store import EtcdStore
    from analyzer.scan import ScanOptions

PROGRESS_THRESHOLD = 64 << 20  # show a progress bar for snapshots above this size


def setup(quiet: bool, verbose: int) -> None:
    """What every command does once it has imported what it needs, before its work."""
    verbosity.quiet, verbosity.verbose = quiet, verbose
    stderr.quiet = quiet  # progress bars and notes; errors are written by main() directly
    if not gc.isenabled():
        # The launcher (analyzer/__main__.py) kept the collector off for the imports: what they made
        # lives as long as the process, so it is frozen out of every later collection, and the
        # collector is on again for the work, whose garbage depends on the evidence.
        gc.freeze()
        gc.enable()


def only(output: Output, *allowed: Output, what: str) -> None:
    if output not in allowed:
        raise UsageError(f"{what} prints with -o {' or -o '.join(a.value for a in allowed)}, not -o {output.value}")


def load_encryption(path: Path | None) -> EncryptionConfig | None:
    if path is None:
        return None
    from analyzer.decode.encryption import load_encryption_config
    from analyzer.evidence.files import read_input_file

    return load_encryption_config(read_input_file(path), str(path))


def print_document(document: object, output: Output) -> None:
    """A JSON-shaped document as JSON or YAML on stdout."""
    if output is Output.YAML:
        import yaml

        # Through JSON first: the YAML is the JSON document, value for value (a StrEnum is a string to
        # json but an unknown type to yaml.safe_dump).
        plain = json.loads(json.dumps(document))
        sys.stdout.write(yaml.safe_dump(plain, sort_keys=False, default_flow_style=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def _progress(*columns: Any) -> Any:
    """rich's live progress on stderr, gone when done: rich is imported only when one is drawn."""
    from rich.console import Console
    from rich.progress import Progress

    return Progress(*columns, console=Console(stderr=True), transient=True)


@contextmanager
def progress_bar(label: str, total_bytes: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long passes, only when a person is watching."""
    if total_bytes < PROGRESS_THRESHOLD or not sys.stderr.isatty() or verbosity.quiet:
        yield None
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    with _progress(TextColumn(label), BarColumn(), TextColumn("{task.completed:,} revisions"), TimeElapsedColumn()) as bar:
        task = bar.add_task(label, total=None)
        yield lambda events: bar.update(task, completed=events)


@contextmanager
def open_store(snapshot: Path | None, target: LiveTarget | None, salvage: bool) -> Iterator[EtcdStore]:
    """The snapshot file, or the running etcd of --etcd: both are read the same way from here on."""
    if target is not None:
        from analyzer.scan import open_live_etcd

        with open_live_etcd(target) as live:
            yield live
        return
    from analyzer.evidence.snapshot_input import open_snapshot_input

    assert snapshot is not None  # the caller checked that exactly one of the two was given
    with open_snapshot_input(snapshot, salvage=salvage, progress=decompress_progress()) as opened:
        yield opened


@contextmanager
def scan_progress() -> Iterator[Callable[[int], None] | None]:
    """A spinner with the number of etcd revisions read, when a person is watching."""
    if not sys.stderr.isatty() or verbosity.quiet:
        yield None
        return
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    with _progress(SpinnerColumn(), TextColumn("reading etcd revisions: {task.completed:,}"), TimeElapsedColumn()) as bar:
        task = bar.add_task("scan", total=None)
        yield lambda events: bar.update(task, completed=events)


def scan_exit(result: ScanResult) -> typer.Exit:
    from analyzer.analysis.result import Outcome

    return typer.Exit({Outcome.CLEAN: EXIT_OK, Outcome.FAILING: EXIT_FINDINGS, Outcome.INCOMPLETE: EXIT_INCOMPLETE}[result.outcome])


def scan_options(evidence: list[Path], at: str | None, warn_days: int, encryption_config: list[Path] | None, log: list[Path] | None) -> ScanOptions:
    from analyzer.reftime import parse_reference_time
    from analyzer.scan import ScanOptions

    return ScanOptions(evidence, parse_reference_time(at), warn_days, encryption_config or [], log or [])


def print_scan(result: ScanResult, output: Output, reports: Sequence[tuple[str, str]] = ()) -> None:
    """The scan on stdout: the summary (every finding with -o wide or -v), or the report as JSON/YAML."""
    if output in (Output.JSON, Output.YAML):
        from analyzer.report.json_report import build_report

        print_document(build_report(result), output)
    elif not verbosity.quiet:
        from analyzer.report.terminal import scan_summary_view

        stdout.print(scan_summary_view(result, every_finding=output is Output.WIDE or verbosity.verbose > 0, reports=reports))


def decompress_progress() -> Callable[[str, int, int | None], None] | None:
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
