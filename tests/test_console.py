"""The terminal drawing of analyzer/report/console.py: the look of rich's tables (checked against rich
itself, which typer brings), wrapping that never loses a character, styles, colour decisions, and
the escape of typer's help markup (checked against rich's own escape)."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.cli.app import escape_markup
from analyzer.report.console import PIPE_WIDTH, Console, Group, Table, Text, plain_text, render_lines, sgr_parameters, wrap

rich_console = pytest.importorskip("rich.console", reason="rich (typer's dependency) is the reference for the tables' look")
rich_table = pytest.importorskip("rich.table")
rich_text = pytest.importorskip("rich.text")
rich_markup = pytest.importorskip("rich.markup")

# -- the same table drawn by rich and by kforensic --------------------------------------------------
#
# A table is described once and built twice, with rich's API (the way kforensic's views used to
# build it) and with ours. Where it fits the width, the drawings must be the same, line for line,
# except for rich's padding after the last character (ours strips it).

Cell = tuple[str, str]  # text, style


def _rich(title: str, grid: bool, pad_edge: bool, columns: list[tuple[str, str, bool]], rows: list[list[Cell]], width: int = PIPE_WIDTH) -> str:
    if grid:
        table = rich_table.Table.grid(padding=(0, 2))
    else:
        table = rich_table.Table(title=title or None, title_justify="left", show_edge=False, header_style="bold", pad_edge=pad_edge)
    for header, justify, no_wrap in columns:
        table.add_column(header, justify=justify, no_wrap=no_wrap, overflow="fold")
    for row in rows:
        table.add_row(*(rich_text.Text(text, style=style) for text, style in row))
    console = rich_console.Console(file=io.StringIO(), width=width, color_system=None, soft_wrap=True)
    console.print(table)
    return "".join(line.rstrip() + "\n" for line in console.file.getvalue().splitlines())


def _ours(title: str, grid: bool, pad_edge: bool, columns: list[tuple[str, str, bool]], rows: list[list[Cell]], width: int = PIPE_WIDTH) -> Table:
    table = Table.grid() if grid else Table(title=title, pad_edge=pad_edge)
    for header, justify, no_wrap in columns:
        table.add_column(header, justify=justify, no_wrap=no_wrap)
    for row in rows:
        table.add_row(*(Text(text, style) for text, style in row))
    return table


SHAPES = {
    "components": (
        "", False, True,
        [("component", "left", False), ("node", "left", False), ("verdict", "left", False)],
        [[("kube-apiserver", ""), ("master-0", ""), ("does not start: SNI pair 6 of 6", "red")],
         [("etcd", ""), ("", ""), ("starts and every connection checked is accepted", "green")]],
    ),
    "multi-line cells and a right-justified column": (
        "live keys per resource", False, True,
        [("resource", "left", False), ("keys", "right", False), ("finding, and why", "left", False)],
        [[("secrets", ""), ("1234", ""), ("a title\nand its reason, dimmed", "dim")],
         [("configmaps", ""), ("7", ""), ("", "")]],
    ),
    "no padding at the edges": (
        "Inputs", False, False,
        [("input", "left", False), ("kind", "left", True), ("size", "right", False)],
        [[("  case/snapshot.db", ""), ("etcd snapshot", "yellow"), ("1.0 MiB", "")], [("case/node.tar.gz", ""), ("node tree", ""), ("", "")]],
    ),
    "grid": (
        "", True, False,
        [("", "left", False), ("", "left", False)],
        [[("snapshot", "bold"), ("/cases/0042/snapshot.db", "")], [("integrity", "bold"), ("hash matches", "green")]],
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_a_table_that_fits_is_drawn_as_rich_draws_it(shape):
    assert plain_text(_ours(*shape)) == _rich(*shape)


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./:@", min_size=1, max_size=12)
_CELL = st.lists(_WORD, max_size=6).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    headers=st.lists(_WORD, min_size=1, max_size=5),
    justify=st.lists(st.sampled_from(["left", "right"]), min_size=5, max_size=5),
    pad_edge=st.booleans(),
    cells=st.lists(st.lists(_CELL, min_size=5, max_size=5), max_size=5),
)
def test_any_table_that_fits_is_drawn_as_rich_draws_it(headers, justify, pad_edge, cells):
    columns = [(header, justify[i], False) for i, header in enumerate(headers)]
    rows = [[(cell, "") for cell in row[: len(headers)]] for row in cells]
    shape = ("", False, pad_edge, columns, rows)
    assert plain_text(_ours(*shape), 1000) == _rich(*shape, width=1000)  # wide enough for any of them


# -- narrower than the table: wrapped, never cut ------------------------------------------------------


def _columns_of(drawn: str, widths: list[int]) -> list[list[str]]:
    """Each column's text read back from a drawing's body rows, by the columns' offsets: the
    edge's pad, then per column its width and " │ " after it."""
    lines = drawn.splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("━")) + 1 :]  # a header may wrap too
    starts = [1 + sum(widths[:i]) + 3 * i for i in range(len(widths))]
    return [[line[start : start + width] for line in body] for start, width in zip(starts, widths, strict=True)]


@settings(max_examples=80, deadline=None)
@given(
    cells=st.lists(st.lists(_CELL, min_size=3, max_size=3), min_size=1, max_size=4),
    no_wrap=st.lists(st.booleans(), min_size=3, max_size=3),
    width=st.integers(min_value=20, max_value=90),
)
def test_a_table_wider_than_the_console_wraps_its_cells_and_loses_nothing(cells, no_wrap, width):
    table = Table()
    for index in range(3):
        table.add_column(f"h{index}", no_wrap=no_wrap[index])
    for row in cells:
        table.add_row(*row)
    drawn = plain_text(table, width)
    lines = drawn.splitlines()
    widths = table._widths(width)
    if sum(widths) + 2 + 3 * 2 <= width:  # the columns' narrowest widths fit: so does every line
        assert all(len(line) <= width for line in lines), drawn
        rule = next(line for line in lines if line.startswith("━"))
        if max(len(line) for line in plain_text(table, 10_000).splitlines()) > width:
            assert len(rule) == width  # a table that has to wrap takes the whole width, as rich's does
    # Every column's characters come back in order: a break drops spaces, never anything else.
    for index, column in enumerate(_columns_of(drawn, widths)):
        assert "".join(column).replace(" ", "") == "".join(row[index] for row in cells).replace(" ", "")
    for index in range(3):
        if no_wrap[index]:  # a column that may not wrap keeps each cell on one line
            for row in cells:
                assert any(row[index] in line for line in lines)


def test_wrapping_breaks_at_spaces_keeps_indentation_and_folds_a_long_word():
    line = [("  indented words that", ""), (" wrap", "red")]
    assert [["".join(c for c, _ in piece)] for piece in wrap(line, 12)] == [["  indented"], ["words that"], ["wrap"]]
    assert [piece[0][1] for piece in wrap(line, 12)][-1] == "red"  # a span keeps its style across a break
    folded = wrap([("/etc/kubernetes/static-pod-resources", "")], 10)
    assert ["".join(c for c, _ in piece) for piece in folded] == ["/etc/kuber", "netes/stat", "ic-pod-res", "ources"]


def test_a_no_wrap_column_keeps_its_width_and_the_others_give_way():
    table = Table()
    table.add_column("KEY", no_wrap=True)
    table.add_column("OBJECT")
    table.add_row("/registry/secrets/openshift-config/api-cert", "Secret openshift-config/api-cert of type kubernetes.io/tls")
    lines = plain_text(table, 60).splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert "/registry/secrets/openshift-config/api-cert" in lines[2]


def test_text_keeps_each_part_in_its_style_and_splits_at_line_breaks():
    text = Text.assemble(("node ", "bold"), ("master-0", "bold cyan"), "  (hostname)\n", "  from case.tar") + Text(" x", "dim")
    assert text.plain == "node master-0  (hostname)\n  from case.tar x"
    assert text.lines() == [[("node ", "bold"), ("master-0", "bold cyan"), ("  (hostname)", "")], [("  from case.tar", ""), (" x", "dim")]]
    assert Text("a", "red").lines("bold") == [[("a", "bold red")]]
    assert render_lines(Group("plain", Text(), Text("[red]not markup[/]")), 80) == [[("plain", "")], [], [("[red]not markup[/]", "")]]


def test_a_row_must_have_a_cell_for_each_column():
    table = Table()
    table.add_column("a")
    with pytest.raises(ValueError, match="a row of 2 cells in a table of 1 columns"):
        table.add_row("x", "y")
    with pytest.raises(ValueError, match="justify"):
        table.add_column("b", justify="centre")


# -- styles and when they are drawn --------------------------------------------------------------------


def test_style_words_become_sgr_parameters():
    assert sgr_parameters("bold white on red", colour=True) == ["1", "37", "41"]
    assert sgr_parameters("black on yellow", colour=True) == ["30", "43"]
    assert sgr_parameters("bold white on red", colour=False) == ["1"]  # NO_COLOR: attributes only
    assert sgr_parameters("dim", colour=False) == ["2"]
    with pytest.raises(ValueError, match="unknown style word 'blinking'"):
        sgr_parameters("bold blinking", colour=True)


def test_a_misspelt_style_fails_where_it_is_written_on_a_pipe_too():
    # Escape codes are made only for a terminal; the style is checked when it is set, so the tests
    # (on pipes) see every style the views use.
    for make in (
        lambda: Text("x", "bright_red"),
        lambda: Text.assemble("a", ("b", "bold blinking")),
        lambda: Table().add_column("h", style="bolder"),
        lambda: Table(title="t", title_style="italics"),
    ):
        with pytest.raises(ValueError, match="unknown style word"):
            make()


def test_control_characters_never_reach_the_terminal():
    # Evidence strings (a subject, a member name, a log line) must not move the cursor or restyle
    # the terminal; rich dropped BEL, BS, VT, FF and CR, and ESC goes too.
    hostile = "secret\rEVIL\x1b[31mred\x07\x08\x0b\x0c\x7f\ttab"
    assert plain_text(Text(hostile)) == "secretEVIL[31mred tab\n"
    table = Table(title="t\x1b]0;title\x07")
    table.add_column("h\r")
    table.add_row(hostile)
    drawn = plain_text(table)
    assert "\x1b" not in drawn and "\r" not in drawn and "\x07" not in drawn
    assert "EVIL[31mred tab" in drawn


def test_a_wrapped_header_sits_on_its_last_line_as_rich_draws_it():
    table = Table()
    table.add_column("severity")
    table.add_column("finding, and why")
    table.add_row("critical", "kube-apiserver cannot start")
    header = plain_text(table, 24).splitlines()[:2]
    assert header[0].split("┃")[0].strip() == "" and header[1].split("┃")[0].strip() == "severity"


def test_a_console_too_narrow_for_the_unwrappable_columns_keeps_words_readable():
    table = Table()
    for header in ("NOT BEFORE", "NOT AFTER"):
        table.add_column(header, no_wrap=True)
    table.add_column("WHERE")
    table.add_row("2025-05-15T00:00:00Z", "2025-06-14T00:00:00Z", "/etc/kubernetes/static-pod-resources/kube-apiserver-certs")
    lines = plain_text(table, 40).splitlines()
    assert len(lines) < 10  # not a character a line
    assert "/etc/kubern" in lines[2]


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


_ENVIRONMENTS = [
    {},
    {"TERM": "dumb"},
    {"TERM": "unknown"},
    {"NO_COLOR": "1"},
    {"NO_COLOR": ""},
    {"FORCE_COLOR": "1"},
    {"FORCE_COLOR": ""},
    {"FORCE_COLOR": "1", "NO_COLOR": "1"},
    {"FORCE_COLOR": "1", "TERM": "dumb"},
    {"TTY_COMPATIBLE": "0"},
    {"TTY_COMPATIBLE": "1"},
    {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
    {"TTY_COMPATIBLE": "1", "NO_COLOR": "1"},
]


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipe"])
@pytest.mark.parametrize("env", _ENVIRONMENTS, ids=[" ".join(f"{k}={v}" for k, v in e.items()) or "plain" for e in _ENVIRONMENTS])
def test_escape_codes_and_colours_are_decided_as_rich_decides_them(monkeypatch, tty, env):
    # The summary must agree with typer's help and the progress bars, which rich still draws.
    for name in ("TERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rich_side = rich_console.Console(file=_Stream(tty))
    rich_styled = rich_side.color_system is not None
    stream = _Stream(tty)
    monkeypatch.setattr("sys.stdout", stream)
    Console().print(Group(Text(" BROKEN ", "bold white on red"), "plain"))
    written = stream.getvalue()
    assert ("\x1b[" in written) is rich_styled
    assert bool(re.search(r"\x1b\[[0-9;]*(?:37|41)", written)) is (rich_styled and not rich_side.no_color)
    assert re.sub(r"\x1b\[[0-9;]*m", "", written) == " BROKEN \nplain\n"


def test_the_console_writes_where_stdout_is_now_and_is_silent_when_quiet(monkeypatch):
    console = Console(stderr=True)
    later = io.StringIO()
    monkeypatch.setattr("sys.stderr", later)  # replaced after the console was made
    console.print("note")
    console.quiet = True
    console.print("hidden")
    assert later.getvalue() == "note\n"
    assert console.width == PIPE_WIDTH  # not a terminal: tables fold at 200 columns only


# -- typer's help markup ------------------------------------------------------------------------------

_MARKUP_SAMPLES = [
    "plain",
    """oc patch apiserver cluster --type=json -p '[{"op":"remove","path":"/spec/servingCerts/namedCertificates/0"}]'""",
    "[red]looks like a tag[/red] and [bold]another[/]",
    "[A] uppercase is no tag, [1] neither, [#ff0000] is, [@click] is, [/] is",
    "a \\[escaped] one, \\\\[double] one",
    "ends with a backslash \\",
    "ends with two \\\\",
]


@pytest.mark.parametrize("text", _MARKUP_SAMPLES)
def test_help_markup_is_escaped_as_rich_escapes_it(text):
    assert escape_markup(text) == rich_markup.escape(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="[]\\/#@aZ1 -'\"{}", max_size=30))
def test_any_help_text_is_escaped_as_rich_escapes_it_and_renders_as_written(text):
    escaped = escape_markup(text)
    assert escaped == rich_markup.escape(text)
