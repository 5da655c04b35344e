"""A value's display lines and widths in terminal cells, as psql 15's ``mbprint.c`` counts them.

psql measures every code point on its own (``ucs_wcwidth``): combining marks (Unicode
categories Mn and Me) take no cell, East Asian wide and fullwidth characters two, everything
else one. A zero-width joiner is a format character (Cf), so psql gives it one cell and a
ZWJ emoji sequence of three people is 2+1+2+1+2 = 8 cells wide, not the 2 a terminal may draw:
we count as psql does, so that the columns line up exactly where psql's do.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

Line = tuple[str, int]  # displayed text of one line, its width in terminal cells
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def char_width(ch: str) -> int:
    """psql 15's ``ucs_wcwidth`` of a printable character (controls are escaped before this)."""
    category = unicodedata.category(ch)
    if category in ("Mn", "Me"):
        return 0
    if category == "Cn":  # unassigned: Python calls them all wide, psql's table only planes 2 and 3
        return 2 if 0x20000 <= ord(ch) <= 0x3FFFD else 1
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """The width of one line of printable characters (nothing to escape): its length, less or
    more for each non-ASCII character that is not one cell wide."""
    return len(text) + sum(char_width(ch) - 1 for ch in _NON_ASCII.findall(text))


def _format_line(raw: str) -> Line:
    """One line as psql displays it: tabs expanded, control characters escaped."""
    parts: list[str] = []
    width = 0
    for ch in raw:
        code = ord(ch)
        if ch == "\r":
            piece, w = "\\r", 2
        elif ch == "\t":
            w = 8 - width % 8
            piece = " " * w
        elif code < 0x20 or code == 0x7F:
            piece, w = f"\\x{code:02X}", 4
        elif 0x80 <= code < 0xA0:
            piece, w = f"\\u{code:04X}", 6
        else:
            piece, w = ch, (1 if code < 0x7F else char_width(ch))
        parts.append(piece)
        width += w
    return "".join(parts), width


_ASCII_HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn"))
# Unicode's Default_Ignorable_Code_Point characters that are letters or marks (variation
# selectors, the combining grapheme joiner, Hangul and Khmer fillers, Mongolian selectors), and
# the blank braille pattern: drawn as nothing, or as a blank, so "t\uFE00" reads as "t".
_BLANK_LETTERS = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def visible_sql(sql: str) -> str:
    """The model's SQL as a confirmation shows it: `visible`, and a tab as ``\\t`` too (in a
    quoted name or a string it reads as a space: "xy<TAB>z" looked like the person's "xy z"),
    and a letter of another script inside a word of Latin letters as its escape (`'p\\u0430id'`:
    a Cyrillic а read as the Latin a, and `status <> 'pаid'` updated every row)."""
    shown = visible(sql).replace("\t", "\\t")
    return shown if shown.isascii() else _LETTERS.sub(_unmixed, shown)


_LETTERS = re.compile(r"[^\W\d_]+")


def _unmixed(match: re.Match[str]) -> str:
    """A word of ASCII letters and letters of another script than Latin, those escaped."""
    word = match.group()
    if word.isascii() or not any(ch.isascii() for ch in word):
        return word
    return "".join(ch if ch.isascii() or unicodedata.name(ch, "").startswith("LATIN") else _escape_char(ch) for ch in word)


def visible(text: str) -> str:
    """Text that the model wrote or the catalog holds, made safe to show on a terminal: every
    character that could move the cursor, change colours, reorder or hide what is shown
    (controls other than newline and tab, bidi and zero-width marks, line separators, spaces
    other than the ASCII one, letters and marks drawn as nothing or blank) is written as an escape (``\\x1B``, ``\\u202E``), so that a
    query shown for confirmation reads as the query that runs."""
    if text.isascii():
        return _ASCII_HIDDEN.sub(_escape, text) if not text.isprintable() else text
    return "".join(
        _escape_char(ch) if ch != " " and ch not in "\n\t" and (unicodedata.category(ch) in _HIDDEN_CATEGORIES or _BLANK_LETTERS.match(ch)) else ch for ch in text
    )


def _escape(match: re.Match[str]) -> str:
    return _escape_char(match.group())


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch == "\r":
        return "\\r"
    if code < 0x80:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def lines(text: str) -> list[Line]:
    """A value split into its displayed lines (psql's ``pg_wcsformat``)."""
    if text.isascii() and text.isprintable():  # the common case, kept fast for big results
        return [(text, len(text))]
    return [_format_line(raw) for raw in text.split("\n")]


def width(cell: list[Line]) -> int:
    """The widest of a value's lines (psql's ``pg_wcssize``)."""
    return max(w for _, w in cell)


def cut(text: str, start: int, target: int) -> tuple[int, int]:
    """psql's ``strlen_max_width`` on a displayed line: how far from ``start`` fits in
    ``target`` cells (at least one character), and the cells that takes."""
    if text.isascii():
        end = min(len(text), start + max(target, 1))
        return end, end - start
    used = 0
    pos = start
    while pos < len(text):
        ch = text[pos]
        w = 1 if ch.isascii() else char_width(ch)
        if target < used + w and used != 0:
            break
        used += w
        pos += 1
    return pos, used
