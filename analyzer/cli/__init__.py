"""The command line: argv, exit codes and progress bars live here and nowhere else.

Each command declares its options (the shared ones are ``Annotated`` types defined once in
``options``) and calls one library function; ``main`` turns every ``KforensicError`` into one line
on stderr and exit code 2. What goes to stdout is chosen with one option, ``-o table|wide|json|yaml``;
``--json/--html/--markdown FILE`` only ever name report files.

``app`` (the Typer application) and ``main`` (the console entry point) live in ``app``; the
commands register themselves on import, in the order ``--help`` lists them.
"""

from analyzer.cli import snapshot as _snapshot  # noqa: F401 - registers info, get, decode
from analyzer.cli import case as _case  # noqa: F401 - registers ls, scan, certs, demo, recover
from analyzer.cli.app import (
    EXIT_CODES,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_UNUSABLE,
    app,
    main,
)
from analyzer.cli.options import Output

__all__ = ["EXIT_CODES", "EXIT_FINDINGS", "EXIT_INCOMPLETE", "EXIT_INTERNAL", "EXIT_OK", "EXIT_UNUSABLE", "Output", "app", "main"]
