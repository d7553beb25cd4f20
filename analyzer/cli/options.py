"""The options shared by several commands, each declared once as an ``Annotated`` type.

The ``--etcd`` block (a running etcd instead of a snapshot: URL, CA, client pair, timeout,
revision) is six options that info, get and scan all take; ``etcd_source`` adds them to a command
and hands it one ``LiveTarget | None``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from analyzer.errors import UsageError

if TYPE_CHECKING:  # imported where used: the CLI starts without loading grpc
    from analyzer.evidence.live import LiveTarget


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


# -- a running etcd instead of a snapshot (info, get, scan) -----------------------------------------

_PANEL = "Running etcd"
_ETCD_OPTIONS: dict[str, tuple[Any, Any]] = {
    "etcd": (
        Annotated[
            list[str] | None,
            typer.Option("--etcd", metavar="URL", rich_help_panel=_PANEL, help="Read a running etcd at this client URL "
                         "(repeatable: the first that answers is read), with range requests only, at one revision."),
        ],
        None,
    ),
    "etcd_cacert": (
        Annotated[Path | None, typer.Option("--etcd-cacert", metavar="FILE", rich_help_panel=_PANEL, help="CA bundle that verifies etcd's serving certificate.")],
        None,
    ),
    "etcd_cert": (
        Annotated[Path | None, typer.Option("--etcd-cert", metavar="FILE", rich_help_panel=_PANEL, help="Client certificate (a master's etcd client pair).")],
        None,
    ),
    "etcd_key": (Annotated[Path | None, typer.Option("--etcd-key", metavar="FILE", rich_help_panel=_PANEL, help="Private key of --etcd-cert.")], None),
    "etcd_timeout": (
        Annotated[float, typer.Option("--etcd-timeout", metavar="SECONDS", min=0.1, rich_help_panel=_PANEL, help="Seconds to wait for each etcd request.")],
        10.0,
    ),
    "etcd_revision": (
        Annotated[int | None, typer.Option("--etcd-revision", metavar="N", min=1, rich_help_panel=_PANEL, help="Read at this earlier revision instead of the current one.")],
        None,
    ),
}


def live_target(
    etcd: list[str] | None, etcd_cacert: Path | None, etcd_cert: Path | None, etcd_key: Path | None, etcd_timeout: float, etcd_revision: int | None
) -> LiveTarget | None:
    """The --etcd option block as one value, or None when no --etcd was given."""
    from analyzer.evidence.live_tls import ClientFiles, LiveTarget  # not .live: no grpc without --etcd

    if not etcd:
        if any((etcd_cacert, etcd_cert, etcd_key, etcd_revision)):
            raise UsageError("--etcd-cacert, --etcd-cert, --etcd-key and --etcd-revision need --etcd URL")
        return None
    return LiveTarget(tuple(etcd), ClientFiles(etcd_cacert, etcd_cert, etcd_key), etcd_timeout, etcd_revision)


def etcd_source(function: Callable[..., None]) -> Callable[..., None]:
    """Give a command the --etcd option block; the command itself takes ``etcd: LiveTarget | None``.

    Typer reads a command's options from its signature, so the wrapper shows the command's own
    parameters (their annotations evaluated: typer needs the ``Annotated`` objects, not strings)
    followed by the six options, and folds those into one value before calling the command.
    """
    own = [
        parameter
        for parameter in inspect.signature(function, eval_str=True, locals={"LiveTarget": object}).parameters.values()
        if parameter.name != "etcd"
    ]
    block = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        for name, (annotation, default) in _ETCD_OPTIONS.items()
    ]

    @functools.wraps(function)
    def command(**values: Any) -> None:
        options = {name: values.pop(name) for name in _ETCD_OPTIONS}
        function(**values, etcd=live_target(**options))

    parameters = [*own, *block]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # inspect.signature reads it; typeshed has no such attribute
    command.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return command
