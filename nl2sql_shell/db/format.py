"""Render query results byte for byte as psql 15 does, in every ``\\pset format`` we offer.

Users compare our output with psql's, paste it into bug reports and diff it, so the layout
must not drift: this module and `aligned` follow ``fe_utils/print.c`` rule by rule (column
widths in terminal cells, centred headers, ``+`` continuation marks, the ``(N rows)`` footer,
the trailing blank line, unaligned separators, CSV quoting, HTML escapes) rather than
approximating them. `render` picks the format from the `Settings` (``\\pset``).

Values are the exact text the server sent (see `text_loading`), ``None`` for NULL, which
psql shows as ``\\pset null`` (empty by default).

Streaming mirrors psql's ``FETCH_COUNT`` (see `stream`): the formatters take a `Part` whose
``start`` prints the header, ``stop`` the footer and closing newline, and ``prior_rows`` counts
the rows already printed, for ``(N rows)`` and expanded record numbers. psql formats each batch on
its own widths; ``start=False, stop=False`` is a bare continuation batch, and an empty batch
with ``start=False, stop=True`` is just the footer. The pieces concatenate to psql's bytes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from itertools import repeat
from operator import contains

import psycopg
from psycopg import pq
from psycopg.adapt import AdaptersMap, Loader
from psycopg.types.string import TextLoader

from nl2sql_shell.db.aligned import aligned as _aligned
from nl2sql_shell.db.as_sent import text_encoding
from nl2sql_shell.db.aligned import vertical
from nl2sql_shell.db.settings import WHOLE, Part, Settings

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
        self._encoding = text_encoding(encoding)

    def load(self, data: bytes | bytearray | memoryview) -> str:
        return bytes(data).decode(self._encoding, errors="replace")


def text_loading(target: psycopg.Connection | psycopg.Cursor) -> None:
    """Make ``target`` load every text-format value as the server's text, NULL as ``None``.

    psycopg would otherwise turn numerics into Decimal, timestamps into datetime, arrays
    into lists..., whose ``str()`` differs from PostgreSQL's output functions. Overriding
    the loader of every type psycopg knows, plus the fallback for unknown oids (enums,
    domains over unknown types, user types), covers all columns. Results must be fetched
    in text format, psycopg's default (not ``binary=True``). On a UTF-8 connection psycopg's
    own text loader does it (in C: two million rows load in a fraction of the time).
    """
    connection = target if isinstance(target, psycopg.Connection) else target.connection
    _register_text_loaders(target.adapters, connection.info.encoding)


def _register_text_loaders(adapters: AdaptersMap, encoding: str) -> None:
    loader = TextLoader if encoding == "utf-8" else _ServerTextLoader
    oids = {_INVALID_OID}
    for info in adapters.types:
        oids.add(info.oid)
        oids.add(info.array_oid)
    for oid in oids:
        adapters.register_loader(oid, loader)


class TextCursor(psycopg.Cursor):
    """A cursor whose values load as `text_loading` makes them load, from loaders made once per
    connection and client encoding: registered on each cursor, they cost more than a short
    statement itself (a script of 10,000 INSERTs spent 60% of its time there)."""

    @property
    def adapters(self) -> AdaptersMap:
        return _text_adapters(self.connection)


_TEXT_ADAPTERS: weakref.WeakKeyDictionary[psycopg.Connection, tuple[str, AdaptersMap]] = weakref.WeakKeyDictionary()


def _text_adapters(conn: psycopg.Connection) -> AdaptersMap:
    encoding = conn.info.encoding
    made = _TEXT_ADAPTERS.get(conn)
    if made is None or made[0] != encoding:  # `\encoding` changes which loader reads the text
        adapters = AdaptersMap(conn.adapters)
        _register_text_loaders(adapters, encoding)
        made = _TEXT_ADAPTERS[conn] = (encoding, adapters)
    return made[1]


class _TextAsStr(TextLoader):
    """psycopg's text loader, but text under SQL_ASCII as str (its bytes read as UTF-8, bytes
    that are not replaced) where psycopg gives bytes: the catalog's names are str to every
    reader here. Under any other client encoding it is psycopg's own."""

    def load(self, data: bytes | bytearray | memoryview) -> str:
        value = super().load(data)
        return value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")


def text_as_str(conn: psycopg.Connection) -> None:
    """Text, names and types psycopg knows no loader for as str on ``conn`` (see _TextAsStr)."""
    for name in ("text", "varchar", "bpchar", "name", 18):  # (18: "char")
        conn.adapters.register_loader(name, _TextAsStr)
    conn.adapters.register_loader(_INVALID_OID, _TextAsStr)


_ROWS = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)


def result_columns(cursor: psycopg.Cursor) -> list[tuple[str, int]] | None:
    """The current result's columns (name, type oid); None when it returned no rows (a
    command), as psycopg's ``description``. psycopg decodes names strictly, and under
    SQL_ASCII as ASCII: a column named `café` there was a traceback where psql prints its
    bytes. Here they read as the result's text does (`text_as_str`)."""
    result = cursor.pgresult
    if result is None or not (result.nfields or result.status in _ROWS):
        return None
    return list(zip(column_names(result, cursor.connection.info.encoding), (result.ftype(i) for i in range(result.nfields)), strict=True))


def column_names(result: pq.abc.PGresult, encoding: str) -> list[str]:
    """A result's column names in the client encoding (psycopg's name for it), as its text
    reads: under SQL_ASCII ("ascii") UTF-8, bytes that are not replaced."""
    return [(result.fname(i) or b"").decode(text_encoding(encoding), "replace") for i in range(result.nfields)]


def describe(cursor: psycopg.Cursor) -> tuple[list[str], list[bool]]:
    """Column names and right-alignment flags of the cursor's current result."""
    described = result_columns(cursor) or []
    return [name for name, _ in described], [is_numeric_oid(oid) for _, oid in described]


# --- choosing the format ---------------------------------------------------------------


def render(
    columns: Sequence[str],
    numeric: Sequence[bool],
    rows: Rows,
    settings: Settings,
    *,
    start: bool = True,
    stop: bool = True,
    prior_rows: int = 0,
    output_columns: int = 0,
    footers: Sequence[str] | None = None,
) -> str:
    """One result (or one batch of it) in the format ``\\pset`` chose, as psql's printTable.
    ``output_columns`` is the screen's width, 0 when the output is not a terminal."""
    part = Part(start, stop, prior_rows, footers, output_columns)
    if settings.numericlocale and any(numeric):
        from nl2sql_shell.db.numeric_locale import localize_rows

        rows = localize_rows(rows, numeric)
    on = settings.expanded == "on"
    if settings.format == "unaligned":
        return (unaligned_vertical if on else unaligned)(columns, rows, settings, part)
    if settings.format == "csv":
        return (csv_vertical(columns, rows, settings) if on else csv(columns, rows, settings, start=start))
    if settings.format == "html":
        from nl2sql_shell.db.html import html

        return html(columns, numeric, rows, settings, part, vertical=on)
    if settings.format in ("asciidoc", "latex", "latex-longtable", "troff-ms"):
        from nl2sql_shell.db.documents import document

        return document(columns, numeric, rows, settings, part, vertical=on)
    return (vertical(columns, rows, settings, part) if on else _aligned(columns, numeric, rows, settings, part))


def aligned(columns: Sequence[str], numeric: Sequence[bool], rows: Rows, settings: Settings | None = None, **overrides: object) -> str:
    """A whole result as an aligned table; ``overrides`` set Settings fields for this one
    (``tuples_only=True``, ``footer=False``, ``title=...``), as a listing's own options."""
    return _aligned(columns, numeric, rows, replace(settings or Settings(), **overrides))


def _null(rows: Rows, null: str) -> Rows:
    """Rows with NULL shown as ``\\pset null``; the same list when there is none."""
    if not any(map(contains, rows, repeat(None))):
        return rows
    return [tuple(null if v is None else v for v in row) for row in rows]


# --- unaligned (print_unaligned_text / print_unaligned_vertical) ------------------------


def unaligned(columns: Sequence[str], rows: Rows, settings: Settings, part: Part = WHOLE) -> str:
    """psql ``-A``: values raw, between ``fieldsep``; ``recordsep`` goes before the next record
    rather than after the last one, so a continuation batch starts with one and ``stop`` ends
    the output with a newline (a zero byte with ``-0``)."""
    fsep, rsep = settings.field_separator, settings.record_separator
    out = []
    need_sep = not part.start
    if part.start and not settings.tuples_only:
        if settings.title is not None:
            out.append(settings.title + rsep)
        out.append(fsep.join(columns))
        need_sep = True
    if columns and rows:
        out.append((rsep if need_sep else "") + rsep.join(map(fsep.join, _null(rows, settings.null))))
        need_sep = True
    if part.stop:
        if not settings.tuples_only:
            for line in part.footer_lines(settings, len(rows)):
                out.append((rsep if need_sep else "") + line)
                need_sep = True
        if need_sep:
            out.append(rsep if settings.recordsep_zero else "\n")
    return "".join(out)


def unaligned_vertical(columns: Sequence[str], rows: Rows, settings: Settings, part: Part = WHOLE) -> str:
    """psql ``-A -x``: ``name|value`` lines, records apart by two record separators."""
    fsep, rsep = settings.field_separator, settings.record_separator
    out = []
    need_sep = not part.start
    if part.start and not settings.tuples_only and settings.title is not None:
        out.append(settings.title)
        need_sep = True
    for row in _null(rows, settings.null) if columns else []:
        out.append((rsep + rsep if need_sep else "") + rsep.join(name + fsep + value for name, value in zip(columns, row)))
        need_sep = True
    if part.stop:
        if not settings.tuples_only and part.footers:
            out.append(rsep + "".join(rsep + line for line in part.footers))
        if need_sep:
            out.append(rsep if settings.recordsep_zero else "\n")
    return "".join(out)


# --- CSV (print_csv_text / print_csv_vertical) ----------------------------------------------


def _csv_field(text: str, sep: str) -> str:
    """Quote like psql: separator, CR, LF or quote inside, or a lone ``\\.``."""
    if sep in text or any(c in text for c in '\r\n"') or text == "\\." or sep in "\\.":
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_line(values: Sequence[str], sep: str) -> str:
    return sep.join(_csv_field(v, sep) for v in values) + "\n"


def csv(columns: Sequence[str], rows: Rows, settings: Settings, *, start: bool = True) -> str:
    """psql ``--csv``: a header line (first batch, not ``-t``), no title, no footer."""
    sep = settings.csv_fieldsep
    out = [_csv_line(columns, sep)] if start and not settings.tuples_only else []
    if columns and rows:
        rows = _null(rows, settings.null)
        joined = "".join(map("".join, rows))
        if sep in "\\." or any(c in joined for c in (sep, "\r", "\n", '"', "\\.")):
            out += [_csv_line(row, sep) for row in rows]
        else:  # nothing to quote: the whole batch at once
            out.append("\n".join(map(sep.join, rows)) + "\n")
    return "".join(out)


def csv_vertical(columns: Sequence[str], rows: Rows, settings: Settings) -> str:
    """psql ``--csv -x``: one ``name,value`` line per field, nothing else."""
    sep = settings.csv_fieldsep
    return "".join(_csv_line((name, value), sep) for row in _null(rows, settings.null) for name, value in zip(columns, row))


# --- streaming -------------------------------------------------------------------------

Render = Callable[[Rows, bool, bool, int], str]


def stream(render: Render, fetchmany: Callable[[int], Rows], fetch_count: int) -> Iterator[str]:
    """psql's ``FETCH_COUNT`` loop: fetch and format batch after batch, each on its own widths.

    ``render(rows, start, stop, prior_rows)`` formats one batch. The first batch shorter than
    ``fetch_count`` (possibly empty) is the last and carries the footer, as in psql.
    """
    start, prior = True, 0
    while True:
        rows = fetchmany(fetch_count)
        stop = len(rows) < fetch_count
        yield render(rows, start, stop, prior)
        if stop:
            return
        start, prior = False, prior + len(rows)
