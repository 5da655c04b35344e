"""psql's display settings (``\\pset``, ``-A``, ``-t``, ``-x``, ``\\timing``, FETCH_COUNT) and its
three line styles, as plain data the formatters read.

The field names and defaults are psql 15's ``printTableOpt`` ones, so that ``\\pset`` can list
them as psql does and every formatter reads the same values psql's ``print.c`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from nl2sql_shell.db.messages import MessageStyle

FORMATS = ("aligned", "asciidoc", "csv", "html", "latex", "latex-longtable", "troff-ms", "unaligned", "wrapped")
LINE_STYLES = ("ascii", "old-ascii", "unicode")


@dataclass(frozen=True)
class Part:
    """Which part of a result one formatter call prints, as psql's printTableOpt start_table,
    stop_table and prior_records (a FETCH_COUNT batch; a whole result is one part), with the
    footers that stand for the row count (a listing's) and the width psql formats for (0 when
    the output is no terminal). One object, so that every formatter takes the same five."""

    start: bool = True
    stop: bool = True
    prior_rows: int = 0
    footers: Sequence[str] | None = None
    output_columns: int = 0

    def footer_lines(self, settings: Settings, rows: int) -> list[str]:
        """psql's footers_with_default: the footers given, else ``(N rows)`` counting the parts
        before this one (``rows`` in this one), unless ``\\pset footer`` is off."""
        if self.footers is not None:
            return list(self.footers)
        total = self.prior_rows + rows
        return [("(1 row)" if total == 1 else f"({total} rows)")] if settings.footer else []


WHOLE = Part()


@dataclass
class Settings:
    """What ``\\pset`` and the display flags set; one per shell, read at each result."""

    format: str = "aligned"
    border: int = 1
    expanded: str = "off"  # "on" | "off" | "auto"
    tuples_only: bool = False
    footer: bool = True
    linestyle: str = "ascii"
    null: str = ""
    fieldsep: str = "|"
    fieldsep_zero: bool = False
    recordsep: str = "\n"
    recordsep_zero: bool = False
    csv_fieldsep: str = ","
    title: str | None = None
    tableattr: str | None = None
    columns: int = 0
    numericlocale: bool = False
    unicode_border_linestyle: str = "single"  # or "double"
    unicode_column_linestyle: str = "single"
    unicode_header_linestyle: str = "single"
    pager: int = 1  # 0 off, 1 on (when it does not fit), 2 always
    pager_min_lines: int = 0
    timing: bool = False
    quiet: bool = False  # -q / QUIET: no command tags, no \\x or \\timing messages
    fetch_count: int = 0  # psql's FETCH_COUNT; 0 (unset) fetches the whole result first
    show_all_results: bool = True  # psql's SHOW_ALL_RESULTS: off, a query of several statements shows its last result only
    messages: MessageStyle = field(default_factory=MessageStyle)  # VERBOSITY and SHOW_CONTEXT

    @property
    def csv(self) -> bool:
        return self.format == "csv"

    @property
    def logged(self) -> Settings:
        """How psql's -L log prints a result (print_aligned_text, whatever the output's format):
        aligned, or wrapped to `\\pset columns` alone, and expanded only where \\x auto finds it
        wider than a `\\pset columns` set (print_aligned_text's own test)."""
        auto = self.expanded == "auto" and self.columns > 0
        return replace(self, format="wrapped" if self.format == "wrapped" else "aligned", expanded="auto" if auto else "off")

    @property
    def field_separator(self) -> str:
        return "\0" if self.fieldsep_zero else self.fieldsep

    @property
    def record_separator(self) -> str:
        return "\0" if self.recordsep_zero else self.recordsep


@dataclass(frozen=True)
class Rule:
    """One horizontal rule of a line style: its fill and its left, middle and right joints."""

    hrule: str
    left: str
    mid: str
    right: str


@dataclass(frozen=True)
class LineStyle:
    """psql's ``printTextFormat``: rules at the top, below the header, at the bottom, and the
    vertical bars of data lines, plus the marks for newlines and wrapped values."""

    top: Rule
    middle: Rule
    bottom: Rule
    data: Rule
    midvrule_nl: str
    midvrule_wrap: str
    midvrule_blank: str
    header_nl_left: str
    header_nl_right: str
    nl_left: str
    nl_right: str
    wrap_left: str
    wrap_right: str
    wrap_right_border: bool
    old_ascii: bool = False


_ASCII_RULE = Rule("-", "+", "+", "+")
_ASCII_DATA = Rule("", "|", "|", "|")
ASCII = LineStyle(_ASCII_RULE, _ASCII_RULE, _ASCII_RULE, _ASCII_DATA, "|", "|", "|", " ", "+", " ", "+", ".", ".", True)
OLD_ASCII = LineStyle(_ASCII_RULE, _ASCII_RULE, _ASCII_RULE, _ASCII_DATA, ":", ";", " ", "+", " ", " ", " ", " ", " ", False, True)
# psql's unicode_style, single (0) and double (1) lines: rows (the rule under the header),
# columns (the bars between them) and the border around the table.
_ROW = ({"h": "\u2500", "vr": ("\u251c", "\u255f"), "vl": ("\u2524", "\u2562")}, {"h": "\u2550", "vr": ("\u255e", "\u2560"), "vl": ("\u2561", "\u2563")})
_COLUMN = (
    {"v": "\u2502", "vh": ("\u253c", "\u256a"), "uh": ("\u2534", "\u2567"), "dh": ("\u252c", "\u2564")},
    {"v": "\u2551", "vh": ("\u256b", "\u256c"), "uh": ("\u2568", "\u2569"), "dh": ("\u2565", "\u2566")},
)
_BORDER = (
    {"ur": "\u2514", "v": "\u2502", "dr": "\u250c", "h": "\u2500", "dl": "\u2510", "ul": "\u2518"},
    {"ur": "\u255a", "v": "\u2551", "dr": "\u2554", "h": "\u2550", "dl": "\u2557", "ul": "\u255d"},
)


def _unicode(border_style: str, column_style: str, header_style: str) -> LineStyle:
    """psql's refresh_utf8format for the three unicode_*_linestyle settings."""
    b, c, h = (0 if style == "single" else 1 for style in (border_style, column_style, header_style))
    border, column, header = _BORDER[b], _COLUMN[c], _ROW[h]
    return LineStyle(
        Rule(border["h"], border["dr"], column["dh"][b], border["dl"]),
        Rule(header["h"], header["vr"][b], column["vh"][h], header["vl"][b]),
        Rule(border["h"], border["ur"], column["uh"][b], border["ul"]),
        Rule("", border["v"], column["v"], border["v"]),
        column["v"],
        column["v"],
        column["v"],
        " ",
        "\u21b5",
        " ",
        "\u21b5",
        "\u2026",
        "\u2026",
        True,
    )


def line_style(settings: Settings) -> LineStyle:
    if settings.linestyle == "unicode":
        return _unicode(settings.unicode_border_linestyle, settings.unicode_column_linestyle, settings.unicode_header_linestyle)
    return OLD_ASCII if settings.linestyle == "old-ascii" else ASCII
