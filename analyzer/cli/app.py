"""The Typer application, its help classes, the consoles, and ``main``: the one place errors become exit codes."""

from __future__ import annotations

import copy
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.main import get_command_name

from analyzer import __version__
from analyzer.errors import KforensicError
from analyzer.records import datarecord
from analyzer.report.console import Console

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


# -- help that reads well ---------------------------------------------------------------------------
#
# typer labels every parameter with its Python type (<bool>, <list[Path]>, <path>); a flag needs no
# placeholder and a value is named by its metavar. The hook covers the two ways typer draws those
# labels: 0.29 asks the parameter (``display_type_rich``, ``_usage_display_name``); 0.28, the one
# pyproject.toml pins (0.29 imports pydantic on every run, see bench/README.md "Start-up"), asks the
# click type of an argument (typer/rich_utils.py ``_print_options_panel``: ``param.type.get_metavar``,
# ``<name>`` when it returns None) and builds the usage line from ``make_metavar(usage=True)``.


def _no_type_label(param: Any, ctx: Any) -> str:  # noqa: ARG001 - click's ParamType.get_metavar signature
    return ""


class _Argument(TyperArgument):
    """An argument shown by its metavar alone (EVIDENCE..., FILE), never as a Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:  # noqa: ARG002 - typer's signature
        return None

    def _usage_display_name(self) -> str:
        name = self.metavar or self.name or ""
        return name if self.required else f"[{name}]"

    def make_metavar(self, ctx: Any, *args: Any, usage: bool = False, **kwargs: Any) -> str:
        # typer 0.28 only (0.29 has no make_metavar): braces around a required argument in the usage line.
        if usage:
            return self._usage_display_name()
        base: Any = super()  # typed as Any: typer 0.29 has no make_metavar, and mypy runs against either
        return str(base.make_metavar(ctx, *args, **kwargs))


def _readable(params: list[Any]) -> list[Any]:
    for param in params:
        if isinstance(param, TyperArgument) and not isinstance(param, _Argument):
            param.__class__ = _Argument
            if not hasattr(TyperArgument, "display_type_rich"):  # typer 0.28: the label comes from the click type
                argument: Any = param  # typer 0.29's TyperArgument has no click type; mypy runs against either
                argument.type = copy.copy(argument.type)
                argument.type.get_metavar = _no_type_label
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
        + "\n\nNO_COLOR=1 turns colour off; KFORENSIC_DEBUG=1 (or -v) shows the traceback of a bug; "
        "KFORENSIC_CACHE_DIR=DIR keeps the HTML template compiled there when the compiled form kforensic ships does not fit the "
        "installed jinja2 (nothing is written there otherwise)."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Both honour NO_COLOR and FORCE_COLOR, and fold nothing but tables (analyzer/report/console.py).
stdout = Console()
stderr = Console(stderr=True)


@datarecord(frozen=False)
class Verbosity:
    quiet: bool = False
    verbose: int = 0


verbosity = Verbosity()


# typer draws help through rich markup (``rich_markup_mode="rich"``), where ``[word]`` is a style
# tag: an example such as ``-p '[{"op":"remove"}]'`` must reach the reader as written. The rule is
# rich's (rich/markup.py ``escape``): a backslash before each ``[`` that opens something shaped
# like a tag, ``[`` then a lowercase letter, ``#``, ``/`` or ``@``, up to the next ``]`` with no
# ``[`` between; backslashes already there are doubled. Written here because importing
# rich.markup imports rich.console, 25 ms on every run for a help text few runs print.
_MARKUP_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape_markup(text: str) -> str:
    escaped = _MARKUP_TAG.sub(lambda match: f"{match[1]}{match[1]}\\{match[2]}", text)
    # A lone backslash at the end would escape the closing of whatever markup follows the text.
    return escaped + "\\" if escaped.endswith("\\") and not escaped.endswith("\\\\") else escaped


def command(*examples: str, note: str = "", exits: str = EXIT_CODES) -> Callable[[Callable[..., None]], Callable[..., None]]:
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
        return app.command(cls=_Command, help=help_text, epilog=escape_markup("\n".join(lines).rstrip()))(function)

    return register


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


def application_for(argv: Sequence[str]) -> typer.Typer:
    """The application a run needs: only the command named first, when one is.

    typer turns every command's signature into click parameters before it reads the arguments
    (typer/main.py ``get_command``), 6-8 ms of every run for the seven commands it does not use.
    A group of the named command alone parses and answers the same (its usage, errors and help are
    the command's own); it stays a group because the root callback is registered. Anything else gets
    the whole application: no arguments, root options, a misspelt command (click suggests the
    nearest), and shell completion (typer's ``_KFORENSIC_COMPLETE``), which lists every command.
    """
    if not argv or os.environ.get("_KFORENSIC_COMPLETE"):
        return app
    named = [info for info in app.registered_commands if (info.name or get_command_name(info.callback.__name__ if info.callback else "")) == argv[0]]
    if not named:
        return app
    narrowed = copy.copy(app)
    narrowed.registered_commands = named
    return narrowed


def main() -> None:
    """Console entry point: the one place errors become exit codes."""
    try:
        application_for(sys.argv[1:])(prog_name="kforensic")
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
        if verbosity.verbose:
            traceback.print_exc()
        _error(
            f"kforensic: internal error ({type(err).__name__}); this is a bug in kforensic — "
            "rerun with -v or KFORENSIC_DEBUG=1 for the traceback and report it"
        )
        sys.exit(EXIT_INTERNAL)
