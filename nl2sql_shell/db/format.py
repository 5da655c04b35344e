"""Render query results byte for byte as psql 15 does (``\\pset`` defaults, ``linestyle ascii``).

Users compare our output with psql's, paste it into bug reports and diff it, so the layout
must not drift: this module follows ``fe_utils/print.c`` and ``fe_utils/mbprint.c`` rule by
rule (column widths in terminal cells, centred headers, ``+`` continuation marks, the
``(N rows)`` footer, the trailing blank line) rather than approximating them.

Values are the exact text the server sent (see `text_loading`), ``None`` for NULL, which
psql shows as an empty string.

Streaming mirrors psql's ``FETCH_COUNT`` (see `stream`): the formatters take ``start``
(print the header), ``stop`` (print the footer and closing newline) and ``prior_rows`` (rows
already printed, for ``(N rows)`` and expanded record numbers). psql formats each batch on
its own widths; ``start=False, stop=False`` is a bare continuation batch, and an empty batch
with ``start=False, stop=True`` is just the footer. The pieces concatenate to psql's bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import psycopg
from psycopg.adapt import Loader

Value = str | None
Rows = Sequence[Sequence[Value]]

# psql's column_type_alignment(): these types are right-aligned, everything else left.
_NUMERIC_OIDS = frozenset(
    {
        20,  # int8
        21,  # int2
        23,  # int4
        26,  # oid
        28,  # xid
        29,  # cid
        700,  # float4
        701,  # float8
        790,  # money
        1700,  # numeric
        5069,  # xid8
    }
)
_INVALID_OID = 0  # psycopg falls back to the loader of oid 0 for types it does not know


def is_numeric_oid(oid: int) -> bool:
    """Whether psql right-aligns a column of this type in aligned output."""
    return oid in _NUMERIC_OIDS


class _ServerTextLoader(Loader):
    """Keeps a value as the text the server sent, so it prints as psql prints it."""

    def __init__(self, oid: int, context: psycopg.adapt.AdaptContext | None = None):
        super().__init__(oid, context)
        encoding = self.connection.info.encoding if self.connection else "utf-8"
        # SQL_ASCII passes bytes through unchecked; a UTF-8 terminal shows them as UTF-8.
        self._encoding = "utf-8" if encoding == "ascii" else encoding

    def load(self, data: bytes | bytearray | memoryview) -> str:
        return bytes(data).decode(self._encoding, errors="replace")


def text_loading(target: psycopg.Connection | psycopg.Cursor) -> None:
    """Make ``target`` load every text-format value as the server's text, NULL as ``None``.

    psycopg would otherwise turn numerics into Decimal, timestamps into datetime, arrays
    into lists..., whose ``str()`` differs from PostgreSQL's output functions. Overriding
    the loader of every type psycopg knows, plus the fallback for unknown oids (enums,
    domains over unknown types, user types), covers all columns. Results must be fetched
    in text format, psycopg's default (not ``binary=True``).
    """
    adapters = target.adapters
    oids = {_INVALID_OID}
    for info in adapters.types:
        oids.add(info.oid)
        oids.add(info.array_oid)
    for oid in oids:
        adapters.register_loader(oid, _ServerTextLoader)


def describe(cursor: psycopg.Cursor) -> tuple[list[str], list[bool]]:
    """Column names and right-alignment flags of the cursor's current result."""
    description = cursor.description or []
    return [c.name for c in description], [is_numeric_oid(c.type_code) for c in description]


# --- cell layout (mbprint.c: pg_wcssize / pg_wcsformat) -------------------------------

Line = tuple[str, int]  # displayed text of one line, its width in terminal cells


def _format_line(raw: str) -> Line:
    """One line as psql displays it: tabs expanded, control characters escaped.

    Only reached for non-ASCII or control characters, so wcwidth (slow to import) loads here.
    """
    from wcwidth import wcwidth

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
            piece, w = ch, max(wcwidth(ch), 0)
        parts.append(piece)
        width += w
    return "".join(parts), width


def _lines(value: Value) -> list[Line]:
    """A value (NULL shown empty) split into its displayed lines."""
    text = value or ""
    if text.isascii() and text.isprintable():  # the common case, kept fast for big results
        return [(text, len(text))]
    return [_format_line(raw) for raw in text.split("\n")]


def _width(lines: list[Line]) -> int:
    return max(w for _, w in lines)


def _row_count(total: int) -> str:
    """psql's default footer."""
    return "(1 row)" if total == 1 else f"({total} rows)"


def _closing(total: int, footer: bool, tuples_only: bool) -> str:
    """End of an aligned table: the row count unless switched off, then a blank line."""
    return f"{_row_count(total)}\n\n" if footer and not tuples_only else "\n"


# --- aligned (print_aligned_text, border 1) --------------------------------------------


def _aligned_widths(heads: list[list[Line]], cells: list[list[list[Line]]]) -> list[int]:
    widths = [_width(h) for h in heads]
    for row in cells:
        widths = [max(w, _width(c)) for w, c in zip(widths, row)]
    return widths


def _aligned_header(heads: list[list[Line]], widths: list[int]) -> list[str]:
    """Centred column names (each line ends with a space, as psql's does) and the rule."""
    out = []
    for k in range(max((len(h) for h in heads), default=0)):
        parts = []
        for head, width in zip(heads, widths):
            if k < len(head):
                text, w = head[k]
                pad = width - w
                mark = "+" if k + 1 < len(head) else " "
                parts.append(f" {' ' * (pad // 2)}{text}{' ' * ((pad + 1) // 2)}{mark}")
            else:
                parts.append(" " * (width + 2))
        out.append("|".join(parts) + "\n")
    out.append("-" + "-+-".join("-" * w for w in widths) + "-\n")
    return out


def _aligned_row(row: list[list[Line]], widths: list[int], numeric: Sequence[bool]) -> list[str]:
    """One record, as many display lines as its tallest cell; the last column is not padded."""
    out = []
    last = len(row) - 1
    for k in range(max(len(c) for c in row)):
        parts = []
        for j, (cell, width) in enumerate(zip(row, widths)):
            if k >= len(cell):
                parts.append(" " if j == last else " " * (width + 2))
                continue
            text, w = cell[k]
            more = k + 1 < len(cell)
            if numeric[j]:
                body = " " * (width - w) + text
            elif j < last or more:
                body = text + " " * (width - w)
            else:
                body = text
            parts.append(" " + body + ("+" if more else " " if j < last else ""))
        out.append("|".join(parts) + "\n")
    return out


def aligned(
    columns: Sequence[str],
    numeric: Sequence[bool],
    rows: Rows,
    *,
    tuples_only: bool = False,
    footer: bool = True,
    start: bool = True,
    stop: bool = True,
    prior_rows: int = 0,
) -> str:
    """psql's default output; ``tuples_only`` is ``-t``, ``footer=False`` ``\\pset footer off``."""
    heads = [_lines(c) for c in columns]
    cells = [[_lines(v) for v in row] for row in rows] if columns else []
    widths = _aligned_widths(heads, cells)
    out = _aligned_header(heads, widths) if start and not tuples_only else []
    for row in cells:
        out += _aligned_row(row, widths, numeric)
    if stop:
        out.append(_closing(prior_rows + len(rows), footer, tuples_only))
    return "".join(out)


def choose_expanded(columns: Sequence[str], rows: Rows, terminal_width: int) -> bool:
    """``\\x auto``: psql goes vertical when the aligned table is wider than the terminal.

    A single column never switches (vertical would be wider still); neither does an
    unknown width (``terminal_width <= 0``, output not to a terminal).
    """
    if len(columns) < 2 or terminal_width <= 0:
        return False
    heads = [_lines(c) for c in columns]
    widths = _aligned_widths(heads, [[_lines(v) for v in row] for row in rows])
    return sum(widths) + 3 * len(widths) - 1 > terminal_width


# --- expanded (print_aligned_vertical, border 1) ---------------------------------------


def _record_rule(record: int, hwidth: int, dwidth: int) -> str:
    """``-[ RECORD n ]----+----``; the label eats into the dashes when it is wider."""
    label = f"[ RECORD {record} ]" if record else ""
    reclen = len(label) + 1
    out = "-" + label + "-" * max(hwidth - reclen, 0)
    reclen -= hwidth
    for ch in "-+-":
        if reclen <= 0:
            out += ch
        reclen -= 1
    return out + "-" * max(dwidth - max(reclen, 0), 0) + "\n"


def _vertical_field(head: list[Line], data: list[Line], hwidth: int, dwidth: int) -> str:
    """One ``name | value`` pair; header and value lines are walked in parallel."""
    out = []
    hline = dline = 0
    hdone = ddone = False
    while not (hdone and ddone):
        if hdone:
            line = " " * (hwidth + 1)
        else:
            text, w = head[hline]
            hdone = hline + 1 == len(head)
            line = text + " " * (hwidth - w) + (" " if hdone else "+")
            hline += 1
        line += "|"
        if not ddone:
            text, w = data[dline]
            line += " " + text
            ddone = dline + 1 == len(data)
            if not ddone:
                line += " " * (dwidth - w) + "+"
            dline += 1
        out.append(line + "\n")
    return "".join(out)


def expanded(
    columns: Sequence[str],
    rows: Rows,
    *,
    tuples_only: bool = False,
    footer: bool = True,
    start: bool = True,
    stop: bool = True,
    prior_rows: int = 0,
) -> str:
    """psql's ``\\x on`` output: one ``-[ RECORD n ]`` block per row, no row-count footer."""
    if (not rows or not columns) and start and stop:
        return _closing(prior_rows + len(rows), footer, tuples_only)
    heads = [_lines(c) for c in columns]
    cells = [[_lines(v) for v in row] for row in rows] if columns else []
    hwidth = max((_width(h) for h in heads), default=0)
    dwidth = max((_width(c) for row in cells for c in row), default=0)
    out = []
    for r, row in enumerate(cells):
        if not tuples_only:
            out.append(_record_rule(prior_rows + r + 1, hwidth, dwidth))
        elif r or not start:
            out.append(_record_rule(0, hwidth, dwidth))
        out += [_vertical_field(h, c, hwidth, dwidth) for h, c in zip(heads, row)]
    if stop:
        out.append("\n")
    return "".join(out)


# --- unaligned and CSV -------------------------------------------------------------------


def unaligned(
    columns: Sequence[str],
    rows: Rows,
    *,
    tuples_only: bool = False,
    footer: bool = True,
    start: bool = True,
    stop: bool = True,
    prior_rows: int = 0,
    field_sep: str = "|",
) -> str:
    """psql ``-A`` output (``-A -t`` with ``tuples_only``); values are printed raw.

    As in psql, a record separator is written before the next record rather than after
    the last one, so a continuation batch starts with a newline and ``stop`` ends the line.
    """
    out = []
    need_sep = not start
    if start and not tuples_only:
        out.append(field_sep.join(columns))
        need_sep = True
    for row in rows if columns else []:
        out.append(("\n" if need_sep else "") + field_sep.join(v or "" for v in row))
        need_sep = True
    if stop:
        if footer and not tuples_only:
            out.append(("\n" if need_sep else "") + _row_count(prior_rows + len(rows)))
            need_sep = True
        if need_sep:
            out.append("\n")
    return "".join(out)


def _csv_field(value: Value, sep: str) -> str:
    """Quote like psql: separator, CR, LF or quote inside, or a lone ``\\.``."""
    text = value or ""
    if sep in text or any(c in text for c in '\r\n"') or text == "\\." or sep in "\\.":
        return '"' + text.replace('"', '""') + '"'
    return text


def csv(
    columns: Sequence[str],
    rows: Rows,
    *,
    tuples_only: bool = False,
    start: bool = True,
    sep: str = ",",
) -> str:
    """psql ``--csv`` output: a header line (first batch, not ``-t``), no footer."""
    lines = [columns] if start and not tuples_only else []
    lines += rows if columns else []
    return "".join(sep.join(_csv_field(v, sep) for v in line) + "\n" for line in lines)


# --- streaming -------------------------------------------------------------------------

Render = Callable[[Rows, bool, bool, int], str]


def stream(render: Render, fetchmany: Callable[[int], Rows], fetch_count: int) -> Iterator[str]:
    """psql's ``FETCH_COUNT`` loop: fetch and format batch after batch, each on its own widths.

    ``render(rows, start, stop, prior_rows)`` formats one batch, e.g.
    ``lambda rows, start, stop, prior: aligned(cols, numeric, rows, start=start, stop=stop,
    prior_rows=prior)``. The first batch shorter than ``fetch_count`` (possibly empty) is
    the last and carries the footer, as in psql.
    """
    start, prior = True, 0
    while True:
        rows = fetchmany(fetch_count)
        stop = len(rows) < fetch_count
        yield render(rows, start, stop, prior)
        if stop:
            return
        start, prior = False, prior + len(rows)
