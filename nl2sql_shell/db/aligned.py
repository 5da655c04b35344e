"""psql's aligned and wrapped tables and its expanded (``\\x``) records, byte for byte.

A rule-by-rule port of ``print_aligned_text`` and ``print_aligned_vertical`` from psql 15's
``fe_utils/print.c``: borders 0, 1 and 2, the ascii, old-ascii and unicode line styles, the
``+``/``.`` marks of multi-line and wrapped values, ``\\pset title``, and ``\\x auto``, which
goes vertical only when the table is wider than a known screen (psql knows none when its
output is not a terminal, so a pipe never switches). Big results of one-line printable values
take a shortcut that builds whole columns at a time; it prints the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat

from nl2sql_shell.db import cells
from nl2sql_shell.db.cells import Line
from nl2sql_shell.db.settings import WHOLE, LineStyle, Part, Rule, Settings, line_style

Value = str | None
Rows = Sequence[Sequence[Value]]
_NONE, _WRAP, _NEWLINE = 0, 1, 2


class _Widths:
    """Per column: widest cell and header, average width (the first scan); with one-line
    values, each value's width too (``cells``: None where every character is one cell wide,
    so that the width is len)."""

    def __init__(self, heads: list[list[Line]], columns: list[list[str]] | None, rows: Rows, null: str) -> None:
        count = len(heads)
        self.header = [cells.width(h) for h in heads]
        self.max = list(self.header)
        self.average = [0] * count
        self.cells: list[list[int] | None] = [None] * count
        if columns is not None:
            for j, column in enumerate(columns):
                text = "".join(column)
                if not text.isascii() and any(cells.char_width(ch) != 1 for ch in set(text) if not ch.isascii()):
                    self.cells[j] = [cells.display_width(v) for v in column]  # wide or combining characters
                lengths = self.cells[j] or list(map(len, column))
                if lengths:
                    self.max[j] = max(self.max[j], max(lengths))
                    self.average[j] = sum(lengths) // len(lengths)
            return
        for row in rows:
            for j, value in enumerate(row):
                w = cells.width(cells.lines(null if value is None else value))
                self.max[j] = max(self.max[j], w)
                self.average[j] += w
        if rows:
            self.average = [total // len(rows) for total in self.average]


def simple_columns(rows: Rows, count: int, null: str) -> list[list[str]] | None:
    """The values column by column, NULLs shown as ``null``, when each is one line of printable
    characters, nothing psql escapes or expands (the shortcut's condition); None otherwise."""
    columns = [list(column) for column in zip(*rows)] if rows else [[] for _ in range(count)]
    for j, column in enumerate(columns):
        if None in column:
            columns[j] = [null if v is None else v for v in column]
    joined = "".join("".join(column) for column in columns)
    return columns if joined.isprintable() else None


def _border_widths(count: int, border: int) -> int:
    if border == 0:
        return count
    if border == 1:
        return count * 3 - (1 if count else 0)
    return count * 3 + 1


def _hline(widths: list[int], border: int, rule: Rule) -> str:
    """psql's _print_horizontal_line."""
    out = rule.hrule if border == 1 else rule.left + rule.hrule if border == 2 else ""
    joint = " " if border == 0 else rule.hrule + rule.mid + rule.hrule
    out += joint.join(rule.hrule * w for w in widths)
    out += rule.hrule + rule.right if border == 2 else rule.hrule if border == 1 else ""
    return out + "\n"


class _Plan:
    """The first pass of print_aligned_text: cells, widths and (wrapped format) wrap widths."""

    def __init__(self, columns: Sequence[str], rows: Rows, settings: Settings, output_columns: int) -> None:
        self.border = border = min(settings.border, 2)
        count = len(columns)
        self.heads = [cells.lines(c) for c in columns]
        self.plain = simple_columns(rows, count, settings.null) if count else []
        widths = self.widths = _Widths(self.heads, self.plain, rows if count else [], settings.null)
        self.width_total = self.total_header = _border_widths(count, border)
        self.width_total += sum(widths.max)
        self.total_header += sum(widths.header)
        wrap = self.wrap = list(widths.max)
        if settings.format == "wrapped" and 0 < output_columns and output_columns >= self.total_header:
            while self.width_total > output_columns:
                worst, worst_ratio = -1, 0.0
                for j in range(count):
                    if widths.average[j] and wrap[j] > widths.header[j]:
                        ratio = wrap[j] / widths.average[j] + widths.max[j] * 0.01
                        if ratio > worst_ratio:
                            worst, worst_ratio = j, ratio
                if worst < 0:
                    break
                wrap[worst] -= 1
                self.width_total -= 1
        self.vertical = (
            settings.expanded == "auto" and output_columns > 0 and count > 1
            and (output_columns < self.total_header or output_columns < self.width_total)
        )


def auto_vertical(columns: Sequence[str], rows: Rows, settings: Settings, output_columns: int) -> bool:
    """Whether ``\\x auto`` shows these rows vertically (the table is wider than the screen)."""
    return _Plan(columns, rows, settings, output_columns).vertical


def aligned(columns: Sequence[str], numeric: Sequence[bool], rows: Rows, settings: Settings, part: Part = WHOLE) -> str:
    """psql's print_aligned_text (vertical where ``\\x auto`` finds the table too wide)."""
    plan = _Plan(columns, rows, settings, part.output_columns)
    if plan.vertical:
        return vertical(columns, rows, settings, part)
    border, style, count = plan.border, line_style(settings), len(columns)
    heads, plain, widths, wrap, width_total = plan.heads, plan.plain, plan.widths, plan.wrap, plan.width_total
    out: list[str] = []
    if part.start:
        if settings.title is not None and not settings.tuples_only:
            title_width = cells.width(cells.lines(settings.title))
            pad = 0 if title_width >= width_total else (width_total - title_width) // 2
            out.append(" " * pad + settings.title + "\n")
        if not settings.tuples_only:
            out += _header(heads, wrap, border, style)
    if count and plain is not None and wrap == widths.max:
        out.append(_plain_body(plain, widths.cells, wrap, numeric, border, style))
    elif count:
        for row in rows:
            out += _row([cells.lines(settings.null if v is None else v) for v in row], wrap, numeric, border, style)
    if part.stop:
        if border == 2:
            out.append(_hline(wrap, border, style.bottom))
        if not settings.tuples_only:
            out += [line + "\n" for line in part.footer_lines(settings, len(rows))]
        out.append("\n")
    return "".join(out)


def _header(heads: list[list[Line]], wrap: list[int], border: int, style: LineStyle) -> list[str]:
    out = [_hline(wrap, border, style.top)] if border == 2 else []
    count = len(heads)
    done = [False] * count
    remaining, line = count, 0
    while remaining:
        parts = [style.data.left] if border == 2 else []
        for i, head in enumerate(heads):
            if border != 0 or (not style.wrap_right_border and i > 0):
                parts.append(style.header_nl_left if line else " ")
            if not done[i]:
                text, w = head[line]
                space = wrap[i] - w
                parts.append(" " * (space // 2) + text + " " * ((space + 1) // 2))
                if line + 1 >= len(head):
                    remaining -= 1
                    done[i] = True
            else:
                parts.append(" " * wrap[i])
            if border != 0 or style.wrap_right_border:
                parts.append(style.header_nl_right if not done[i] else " ")
            if border != 0 and i < count - 1:
                parts.append(style.data.mid)
        line += 1
        if border == 2:
            parts.append(style.data.right)
        out.append("".join(parts) + "\n")
    out.append(_hline(wrap, border, style.middle))
    return out


def _plain_body(columns: list[list[str]], cell_widths: list[list[int] | None], widths: list[int], numeric: Sequence[bool], border: int, style: LineStyle) -> str:
    """The data lines of one-line values, a whole column at a time."""
    last = len(columns) - 1
    padded = []
    for j, column in enumerate(columns):
        width, measured = widths[j], cell_widths[j]
        if measured is not None and (numeric[j] or j < last or border == 2):
            pads = [" " * (width - w) for w in measured]
            padded.append(list(map(str.__add__, pads, column) if numeric[j] else map(str.__add__, column, pads)))
        elif numeric[j]:
            padded.append(list(map(str.rjust, column, repeat(width))))
        elif j < last or border == 2:
            padded.append(list(map(str.ljust, column, repeat(width))))
        else:
            padded.append(column)
    if not padded[0]:
        return ""
    separator = " " if border == 0 else f" {style.data.mid} "
    lead = "" if border == 0 else style.data.left + " " if border == 2 else " "
    tail = " " + style.data.right if border == 2 else ""
    return lead + (tail + "\n" + lead).join(map(separator.join, zip(*padded))) + tail + "\n"


def _row(row: list[list[Line]], wrap: list[int], numeric: Sequence[bool], border: int, style: LineStyle) -> list[str]:
    """One record's display lines: newlines in values and wrapping, as psql's do-while loop."""
    count = len(row)
    marks = [_NONE] * count
    current = [0] * count
    offset = [0] * count
    out = []
    more = True
    while more:
        more = False
        parts = [style.data.left] if border == 2 else []
        for j in range(count):
            cell = row[j]
            chars = wrap[j]
            final = border == 2 or j < count - 1
            if border != 0:
                parts.append(style.wrap_left if marks[j] == _WRAP else style.nl_left if marks[j] == _NEWLINE else " ")
            if current[j] >= len(cell):
                if final:
                    parts.append(" " * chars)
            else:
                text = cell[current[j]][0]
                end, chars = cells.cut(text, offset[j], wrap[j])
                chars = min(chars, wrap[j])
                piece = text[offset[j] : end]
                parts.append(" " * (wrap[j] - chars) + piece if numeric[j] else piece)
                offset[j] = end
                if end < len(text):
                    more = True
                else:
                    current[j] += 1
                    more = more or current[j] < len(cell)
                    offset[j] = 0
            marks[j] = _NONE
            if current[j] < len(cell):
                marks[j] = _WRAP if offset[j] else _NEWLINE if current[j] else _NONE
            if not numeric[j] and (final or marks[j] != _NONE):
                parts.append(" " * (wrap[j] - chars))
            if marks[j] == _WRAP:
                parts.append(style.wrap_right)
            elif marks[j] == _NEWLINE:
                parts.append(style.nl_right)
            elif final:
                parts.append(" ")
            if border != 0 and j < count - 1:
                if marks[j + 1] == _WRAP:
                    parts.append(style.midvrule_wrap)
                elif marks[j + 1] == _NEWLINE:
                    parts.append(style.midvrule_nl)
                elif current[j + 1] >= len(row[j + 1]):
                    parts.append(style.midvrule_blank)
                else:
                    parts.append(style.data.mid)
        if border == 2:
            parts.append(style.data.right)
        out.append("".join(parts) + "\n")
    return out


# --- expanded records (print_aligned_vertical) ---------------------------------------------


def _record_line(record: int, hwidth: int, dwidth: int, border: int, rule: Rule) -> str:
    """``-[ RECORD n ]-+----`` (``* Record n`` with border 0); the label eats into the rule."""
    out = rule.left + rule.hrule if border == 2 else rule.hrule if border == 1 else ""
    reclen = 0
    if record:
        label = f"* Record {record}" if border == 0 else f"[ RECORD {record} ]"
        out += label
        reclen = len(label)
    if border != 2:
        reclen += 1
    fill = rule.hrule if border > 0 else " "
    out += fill * max(hwidth - reclen, 0)
    reclen -= hwidth
    for joint in (rule.hrule, rule.mid, rule.hrule) if border > 0 else (" ",):
        if reclen <= 0:
            out += joint
        reclen -= 1
    out += fill * max(dwidth - max(reclen, 0), 0)
    if border == 2:
        out += rule.hrule + rule.right
    return out + "\n"


def vertical(columns: Sequence[str], rows: Rows, settings: Settings, part: Part = WHOLE) -> str:
    """psql's print_aligned_vertical (``\\x on``): one block per record, no row count."""
    border = min(settings.border, 2)
    style = line_style(settings)
    null = settings.null
    if (not rows or not columns) and part.start and part.stop:
        if settings.tuples_only:
            return "\n"
        return "".join(line + "\n" for line in part.footer_lines(settings, len(rows))) + "\n"
    heads = [cells.lines(c) for c in columns]
    # psql walks the cells, a record's header before its first: rows of no columns print none
    data = [[cells.lines(null if v is None else v) for v in row] for row in rows] if columns else []
    hwidth = max((cells.width(h) for h in heads), default=0)
    hmultiline = any(len(h) > 1 for h in heads)
    dwidth = max((cells.width(c) for row in data for c in row), default=0)
    dmultiline = any(len(c) > 1 for row in data for c in row)
    old = style.old_ascii
    out: list[str] = []
    if part.start and not settings.tuples_only and settings.title is not None:
        out.append(settings.title + "\n")
    if settings.format == "wrapped":
        dwidth, dmultiline = _wrapped_data_width(len(rows), hwidth, dwidth, hmultiline, dmultiline, border, old, settings.tuples_only, part.output_columns)
    record = part.prior_rows + 1
    lhwidth = hwidth + (1 if border < 2 and hmultiline and old else 0)
    for r, row in enumerate(data):
        rule = style.top if r == 0 else style.middle
        if not settings.tuples_only:
            out.append(_record_line(record, lhwidth, dwidth, border, rule))
            record += 1
        elif r != 0 or not part.start or border == 2:
            out.append(_record_line(0, lhwidth, dwidth, border, rule))
        for head, cell in zip(heads, row):
            out += _field(head, cell, hwidth, dwidth, hmultiline, dmultiline, border, style)
    if part.stop:
        if border == 2:
            out.append(_record_line(0, hwidth, dwidth, border, style.bottom))
        if not settings.tuples_only and part.footers:
            out.append("\n" if border < 2 else "")
            out += [line + "\n" for line in part.footers]
        out.append("\n")
    return "".join(out)


def _wrapped_data_width(nrows: int, hwidth: int, dwidth: int, hmultiline: bool, dmultiline: bool, border: int, old: bool, tuples_only: bool, output_columns: int) -> tuple[int, bool]:
    """The data column's width in ``\\pset format wrapped``, from the screen width."""
    if border == 0:
        swidth = 2 if hmultiline else 1
    elif border == 1:
        swidth = 4 if hmultiline and old else 3
    else:
        swidth = 7
    if dmultiline and border < 2 and not old:
        swidth += 1
    rwidth = 0
    if not tuples_only:
        rwidth = (1 + int(math.log10(nrows)) if nrows > 0 else 0) + (9, 12, 15)[border]
    while True:
        needed = max(hwidth + swidth + dwidth, rwidth)
        if output_columns > 0:
            least = max(hwidth + swidth + 3, rwidth)
            if output_columns >= needed:
                new = needed - hwidth - swidth
            elif output_columns < least:
                new = least - hwidth - swidth
            else:
                new = output_columns - hwidth - swidth
        else:
            new = needed - hwidth - swidth
        if new < dwidth and not dmultiline and border < 2 and not old:
            dmultiline = True
            swidth += 1
            continue
        return new, dmultiline


def _field(head: list[Line], data: list[Line], hwidth: int, dwidth: int, hmultiline: bool, dmultiline: bool, border: int, style: LineStyle) -> list[str]:
    """One ``name | value`` pair: header lines and (wrapped) value lines walked in parallel."""
    old = style.old_ascii
    out = []
    hline = dline = offset = 0
    hdone = ddone = False
    chars_left = data[0][1]
    while not (hdone and ddone):
        parts = [style.data.left] if border == 2 else []
        if not hdone:
            if border == 2 or (hmultiline and old):
                parts.append(style.header_nl_left if hline else " ")
            text, w = head[hline]
            parts.append(text + " " * max(hwidth - w, 0))
            marks = border > 0 or (hmultiline and not old)
            if hline + 1 < len(head):
                if marks:
                    parts.append(style.header_nl_right)
                hline += 1
            else:
                if marks:
                    parts.append(" ")
                hdone = True
        else:
            space = hwidth + border + (1 if border < 2 and hmultiline and old else 0) + (1 if border == 0 and not old and hmultiline else 0)
            parts.append(" " * max(space, 1))
        if border > 0:
            parts.append(style.midvrule_wrap if offset else style.data.mid if dline == 0 else style.midvrule_nl)
        if ddone:
            parts.append("\n" if border < 2 else " " * dwidth + "  " + style.data.right + "\n")
            out.append("".join(parts))
            continue
        parts.append(" " if offset == 0 else style.wrap_left)
        text = data[dline][0]
        end, used = cells.cut(text, offset, dwidth)
        parts.append(text[offset:end])
        chars_left -= used
        offset = end
        space = dwidth - used
        shows_marks = border > 1 or (dmultiline and not old)
        if chars_left:
            if shows_marks:
                parts.append(" " * max(space, 0) + style.wrap_right)
        elif dline + 1 < len(data):
            if shows_marks:
                parts.append(" " * max(space, 0) + style.nl_right)
            dline += 1
            offset = 0
            chars_left = data[dline][1]
        else:
            if border > 1:
                parts.append(" " * max(space, 0) + " ")
            ddone = True
        if border == 2:
            parts.append(style.data.right)
        out.append("".join(parts) + "\n")
    return out
