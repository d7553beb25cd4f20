"""What the terminal draws: styled text, tables and the console that prints them.

The tables look the way rich draws them with its HEAVY_HEAD box and no outer edge (``┃`` between
header cells, ``━╇━`` under the header, ``│`` between body cells), which is what kforensic printed
when it drew them with rich. It no longer does: importing ``rich.console`` and ``rich.table`` and
laying a scan's summary out through them cost 30-40 ms of CPU per run, a tenth of a scan of the
bundled demo (issue 16's small case; bench/README.md "The terminal without rich"). What kforensic
draws is small: lines of text in a few styles, and tables whose cells wrap by words. rich stays for
the progress bars of long passes (imported only when one is shown) and for typer's ``--help``.

Nothing here interprets markup: a ``[`` in a path or a secret's name is printed as it is.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO, TypeAlias

from analyzer.records import datarecord

Span: TypeAlias = tuple[str, str]  # characters and their style ("" for none)
Line: TypeAlias = list[Span]

# Piped output is pasted into a case and read there: it is not folded at 80 columns, only tables
# wider than this are (their cells wrap), as they did with rich's console at width 200.
PIPE_WIDTH = 200
_NARROWEST = 12  # a wrapping column's width when the console has no room for the table at all

# ECMA-48 Select Graphic Rendition parameters of the style words kforensic uses.
_ATTRIBUTES = {"bold": "1", "dim": "2", "italic": "3", "underline": "4", "reverse": "7"}
_COLOURS = {"black": 0, "red": 1, "green": 2, "yellow": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7}


def sgr_parameters(style: str, *, colour: bool) -> list[str]:
    """The SGR parameters of a style such as ``"bold white on red"``; without ``colour`` (NO_COLOR)
    only the attributes, which is what rich and https://no-color.org ask for."""
    parameters: list[str] = []
    words = style.split()
    for index, word in enumerate(words):
        if word == "on":
            continue
        background = index > 0 and words[index - 1] == "on"
        if word in _COLOURS:
            if colour:
                parameters.append(str((40 if background else 30) + _COLOURS[word]))
        elif word in _ATTRIBUTES and not background:
            parameters.append(_ATTRIBUTES[word])
        else:
            raise ValueError(f"unknown style word {word!r} in {style!r}")
    return parameters


@functools.cache
def checked_style(style: str) -> str:
    """``style`` once its words are known: a misspelt style fails where it is written, on a pipe
    as in a terminal (escape codes are made only for a terminal)."""
    sgr_parameters(style, colour=True)
    return style


# rich's Text drops BEL, BS, VT, FF and CR (rich/control.py STRIP_CONTROL_CODES); the other C0
# controls and DEL go too, ESC first: a certificate's subject, a tar member's name or a log line
# is evidence, and must not move the cursor or restyle the terminal it is shown in. A tab becomes
# a space, so that a cell's width is its characters.
_CONTROLS = {code: None for code in (*range(0x09), *range(0x0B, 0x20), 0x7F)} | {0x09: " "}


def _clean(text: str) -> str:
    return text.translate(_CONTROLS) if not text.isprintable() else text


class Text:
    """Characters in styles, which may span several lines; a style is words such as ``"bold red"``
    or ``"bold white on red"``. Adding two texts keeps each one's styles. Control characters other
    than the line break are dropped."""

    __slots__ = ("spans",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self.spans: list[Span] = [(_clean(text), checked_style(style))] if text else []

    @classmethod
    def assemble(cls, *parts: str | Span) -> Text:
        """A text of plain strings and (string, style) pairs, in order."""
        text = cls()
        for part in parts:
            text.spans += cls(part).spans if isinstance(part, str) else cls(*part).spans
        return text

    def __add__(self, other: Text | str) -> Text:
        text = Text()
        text.spans = self.spans + (other if isinstance(other, Text) else Text(other)).spans
        return text

    @property
    def plain(self) -> str:
        return "".join(chars for chars, _ in self.spans)

    def lines(self, base_style: str = "") -> list[Line]:
        """The text split at its line breaks, each span's style after ``base_style``."""
        lines: list[Line] = [[]]
        for chars, style in self.spans:
            style = f"{base_style} {style}".strip() if base_style else style
            first, *rest = chars.split("\n")
            if first:
                lines[-1].append((first, style))
            for piece in rest:
                lines.append([(piece, style)] if piece else [])
        return lines

    def __repr__(self) -> str:
        return f"Text({self.plain!r})"


@datarecord
class Column:
    header: str
    justify: str  # left | right
    no_wrap: bool  # the column keeps its longest line whole (dates, keys that are copied)
    min_width: int
    style: str


class Table:
    """Rows of cells under a bold header, drawn like rich's HEAVY_HEAD box without its edge; or,
    from ``grid``, bare columns a few spaces apart (label and value lines).

    When the table is wider than the console, the widest of the columns that may wrap are narrowed
    first; a cell wraps at spaces, and a word longer than its column is folded (never cut: a path
    or a name stays whole, across lines).
    """

    def __init__(self, *, title: str = "", title_style: str = "italic", header_style: str = "bold", pad_edge: bool = True) -> None:
        self.title = _clean(title)
        self.title_style = checked_style(title_style)
        self.header_style = checked_style(header_style)
        self.columns: list[Column] = []
        self.rows: list[list[Text]] = []
        self.show_header = True
        self.between = " │ "  # a cell's padding, the rule, the next cell's padding
        self.edge = " " if pad_edge else ""  # the padding before the first cell and after the last

    @classmethod
    def grid(cls, gap: int = 2) -> Table:
        """No header and no rules: columns ``gap`` spaces apart (rich's ``Table.grid(padding=(0, gap))``)."""
        table = cls()
        table.show_header = False
        table.between = " " * gap
        table.edge = ""
        return table

    def add_column(self, header: str = "", *, justify: str = "left", no_wrap: bool = False, min_width: int = 0, style: str = "") -> None:
        if justify not in ("left", "right"):
            raise ValueError(f"justify must be left or right, not {justify!r}")
        self.columns.append(Column(_clean(header), justify, no_wrap, min_width, checked_style(style)))

    def add_row(self, *cells: str | Text) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"a row of {len(cells)} cells in a table of {len(self.columns)} columns")
        self.rows.append([cell if isinstance(cell, Text) else Text(cell) for cell in cells])

    def _widths(self, width: int) -> list[int]:
        # Widths are counted in characters. What kforensic prints is ASCII and a few one-column
        # symbols (…, →); rich counts terminal cells, which differ only for wide (East Asian)
        # characters, where a row here may come out a column or two wider than the console.
        texts = [[cell.plain for cell in row] for row in self.rows]
        if self.show_header:
            texts.append([column.header for column in self.columns])
        columns = range(len(self.columns))
        longest_line = [max((len(line) for row in texts for line in row[i].split("\n")), default=0) for i in columns]
        most = [max(line, column.min_width) for line, column in zip(longest_line, self.columns, strict=True)]
        room = width - 2 * len(self.edge) - len(self.between) * (len(self.columns) - 1)
        if sum(most) <= room:
            return most
        # The widest columns that may wrap give way first: each gets at most `cap` characters, the
        # largest cap that fits, and words are folded where a column is narrower than them. This is
        # rich's rule (rich/table.py ``_collapse_widths``: narrow the widest towards the next
        # widest), so a long path in one column does not squeeze every other column to its words.
        least = [m if c.no_wrap else max(1, c.min_width) for m, c in zip(most, self.columns, strict=True)]
        if sum(least) > room:
            # The columns that may not wrap fill the console alone. A column a character wide would
            # print one character a line; a dozen keeps words readable, and the terminal folds
            # the rows instead.
            return [m if c.no_wrap else max(c.min_width, min(m, _NARROWEST)) for m, c in zip(most, self.columns, strict=True)]
        low, high = 0, max(most)
        while low < high:
            cap = (low + high + 1) // 2
            if sum(max(lo, min(m, cap)) for lo, m in zip(least, most, strict=True)) <= room:
                low = cap
            else:
                high = cap - 1
        widths = [max(lo, min(m, low)) for lo, m in zip(least, most, strict=True)]
        # What the cap leaves over goes a character each to the capped columns, leftmost first, so
        # that a table that has to wrap takes the console's whole width, as rich's does.
        spare = room - sum(widths)
        for index, (grown, m) in enumerate(zip(widths, most, strict=True)):
            if spare and grown == low < m:
                widths[index] += 1
                spare -= 1
        return widths

    def lines(self, width: int) -> list[Line]:
        if not self.columns:
            return []
        widths = self._widths(width)
        out: list[Line] = [[(self.title, self.title_style)]] if self.title else []
        if self.show_header:
            out += self._row_lines([Text(c.header, self.header_style) for c in self.columns], widths, self.between.replace("│", "┃"), bottom=True)
            rule = "━╇━".join("━" * w for w in widths)
            out.append([(f"━{rule}━" if self.edge else rule, "")])
        for row in self.rows:
            out += self._row_lines(row, widths, self.between)
        return out

    def _row_lines(self, cells: Sequence[Text], widths: Sequence[int], between: str, *, bottom: bool = False) -> list[Line]:
        wrapped = [
            [piece for line in cell.lines(column.style) for piece in ([line] if column.no_wrap else wrap(line, width))]
            for cell, column, width in zip(cells, self.columns, widths, strict=True)
        ]
        height = max(len(cell) for cell in wrapped)
        if bottom:  # a wrapped header: the short ones sit on its last line, next to the column
            wrapped = [[[]] * (height - len(cell)) + cell for cell in wrapped]
        lines: list[Line] = []
        for index in range(height):
            line: Line = [(self.edge, "")]
            for number, (cell, column, width) in enumerate(zip(wrapped, self.columns, widths, strict=True)):
                if number:
                    line.append((between, ""))
                content = cell[index] if index < len(cell) else []
                pad = (" " * (width - sum(len(chars) for chars, _ in content)), "")
                line += [pad, *content] if column.justify == "right" else [*content, pad]
            lines.append(_rstrip(line))
        return lines


def wrap(line: Line, width: int) -> list[Line]:
    """A styled line broken at spaces into lines of at most ``width`` characters; a word longer
    than that is folded. The spaces at a break are dropped; leading indentation is kept."""
    plain = "".join(chars for chars, _ in line)
    if len(plain) <= width or width < 1:
        return [line]
    pieces: list[Line] = []
    start = 0
    while len(plain) - start > width:
        cut = plain.rfind(" ", start + 1, start + width + 1)
        if cut <= start or not plain[start:cut].strip():
            pieces.append(_slice(line, start, start + width))
            start += width
        else:
            pieces.append(_slice(line, start, cut))
            start = cut
        while start < len(plain) and plain[start] == " ":
            start += 1
    if start < len(plain):
        pieces.append(_slice(line, start, len(plain)))
    return pieces


def _slice(line: Line, start: int, end: int) -> Line:
    out: Line = []
    offset = 0
    for chars, style in line:
        low, high = max(start, offset), min(end, offset + len(chars))
        if low < high:
            out.append((chars[low - offset : high - offset], style))
        offset += len(chars)
    return out


def _rstrip(line: Line) -> Line:
    """Without the padding after the last character (rich pads every line to the table's width;
    a pasted table is easier to read without it)."""
    while line and not line[-1][1]:
        chars = line[-1][0].rstrip(" ")
        if chars:
            line[-1] = (chars, "")
            break
        line.pop()
    return line


class Group:
    """Several things printed one after another."""

    __slots__ = ("parts",)

    def __init__(self, *parts: Renderable) -> None:
        self.parts = parts


Renderable: TypeAlias = "str | Text | Table | Group"


def render_lines(renderable: Renderable, width: int) -> list[Line]:
    """The lines of a renderable at a console width. Text is never folded: a command in a fix is
    copied whole, and the terminal folds what is too long for it."""
    if isinstance(renderable, Group):
        return [line for part in renderable.parts for line in render_lines(part, width)]
    if isinstance(renderable, Table):
        return renderable.lines(width)
    return (renderable if isinstance(renderable, Text) else Text(renderable)).lines()


def plain_text(renderable: Renderable, width: int = PIPE_WIDTH) -> str:
    """What a pipe receives: the lines without escape codes."""
    return "".join(_line_text(line, False, False) + "\n" for line in render_lines(renderable, width))


class Console:
    """Prints renderables on stdout or stderr, with escape codes only where rich would draw them
    (``_styling``). The stream is looked up at each print, so a replaced ``sys.stdout`` (a test's
    capture) is the one written."""

    def __init__(self, *, stderr: bool = False) -> None:
        self.stderr = stderr
        self.quiet = False

    @property
    def file(self) -> TextIO:
        return sys.stderr if self.stderr else sys.stdout

    @property
    def width(self) -> int:
        # COLUMNS first, then the terminal's own size (shutil.get_terminal_size), as rich reads
        # them; 80 on a dumb terminal, as rich has it.
        if not _isatty(self.file):
            return PIPE_WIDTH
        return 80 if _dumb() else shutil.get_terminal_size((PIPE_WIDTH, 24)).columns

    def print(self, renderable: Renderable = "") -> None:
        if self.quiet:
            return
        styled, colour = _styling(self.file)
        self.file.write("".join(_line_text(line, styled, colour) + "\n" for line in render_lines(renderable, self.width)))
        self.file.flush()


def _isatty(file: TextIO) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # a closed or foreign stream
        return False


def _dumb() -> bool:
    return os.environ.get("TERM", "").lower() in ("dumb", "unknown")


def _styling(file: TextIO) -> tuple[bool, bool]:
    """(escape codes at all, colours among them), decided as rich 15 decides them, so that the
    summary and typer's help (which rich draws) agree (rich/console.py ``is_terminal``,
    ``is_dumb_terminal``, ``_detect_color_system``, and ``no_color`` in ``__init__``):
    TTY_COMPATIBLE=0 or 1 says whether the stream is a terminal; otherwise FORCE_COLOR, when set,
    does (set but empty: not one); otherwise the stream itself. A dumb terminal gets no escape
    codes, even forced. NO_COLOR, when not empty, keeps bold and dim and drops the colours."""
    environ = os.environ
    compatible = environ.get("TTY_COMPATIBLE", "")
    force = environ.get("FORCE_COLOR")
    if compatible in ("0", "1"):
        terminal = compatible == "1"
    elif force is not None:
        terminal = force != ""
    else:
        terminal = _isatty(file)
    styled = terminal and not _dumb()
    return styled, styled and environ.get("NO_COLOR", "") == ""


def _line_text(line: Iterable[Span], styled: bool, colour: bool) -> str:
    if not styled:
        return "".join(chars for chars, _ in line)
    out = []
    for chars, style in line:
        parameters = sgr_parameters(style, colour=colour) if style else []
        out.append(f"\x1b[{';'.join(parameters)}m{chars}\x1b[0m" if parameters else chars)
    return "".join(out)
