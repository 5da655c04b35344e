"""psql's display settings (``\\pset``, ``-A``, ``-t``, ``-x``, ``\\timing``, FETCH_COUNT) and its
three line styles, as plain data the formatters read.

The field names and defaults are psql 15's ``printTableOpt`` ones, so that ``\\pset`` can list
them as psql does and every formatter reads the same values psql's ``print.c`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("aligned", "asciidoc", "csv", "html", "latex", "latex-longtable", "troff-ms", "unaligned", "wrapped")
SUPPORTED_FORMATS = ("aligned", "csv", "html", "unaligned", "wrapped")
LINE_STYLES = ("ascii", "old-ascii", "unicode")


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
    pager: int = 1  # 0 off, 1 on (when it does not fit), 2 always
    pager_min_lines: int = 0
    timing: bool = False
    quiet: bool = False  # -q / QUIET: no command tags, no \\x or \\timing messages
    fetch_count: int = 0  # psql's FETCH_COUNT; 0 (unset) fetches the whole result first

    @property
    def csv(self) -> bool:
        return self.format == "csv"

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
# Single-line box drawing, psql's default unicode_{border,column,header}_linestyle.
UNICODE = LineStyle(
    Rule("\u2500", "\u250c", "\u252c", "\u2510"),
    Rule("\u2500", "\u251c", "\u253c", "\u2524"),
    Rule("\u2500", "\u2514", "\u2534", "\u2518"),
    Rule("", "\u2502", "\u2502", "\u2502"),
    "\u2502",
    "\u2502",
    "\u2502",
    " ",
    "\u21b5",
    " ",
    "\u21b5",
    "\u2026",
    "\u2026",
    True,
)


def line_style(settings: Settings) -> LineStyle:
    return {"ascii": ASCII, "old-ascii": OLD_ASCII, "unicode": UNICODE}[settings.linestyle]
