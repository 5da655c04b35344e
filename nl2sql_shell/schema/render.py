"""Render tables as the compact CREATE TABLE text a model reads in its prompt.

Everything the model needs to write a correct query, and nothing else: types, NOT NULL, keys,
and as trailing ``--`` comments what the catalog says in words (comments, enum labels, sample
values, size). Text that comes from the database is data, never instructions: it is flattened
to one line and truncated so that it can never leave its comment, and values are quoted as
SQL literals. With the comments stripped, the text is valid PostgreSQL DDL.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from .model import Column, ForeignKey, Table
from .words import names_a_time

MAX_COMMENT_CHARS = 100
MAX_VALUE_CHARS = 60
MAX_ENUM_LABELS = 20

# PostgreSQL keywords that cannot be bare column or table names (pg_get_keywords() catcode R, T).
RESERVED_WORDS = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization binary both case cast
    check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user default
    deferrable desc distinct do else end except false fetch for foreign freeze from full grant
    group having ilike in initially inner intersect into is isnull join lateral leading left like
    limit localtime localtimestamp natural not notnull null offset on only or order outer
    overlaps placing primary references returning right select session_user similar some
    symmetric system_user table tablesample then to trailing true union unique user using
    variadic verbose when where window with""".split()
)
_BARE_NAME = re.compile(r"[a-z_][a-z0-9_$]*")
# format_type() spellings that sqlglot cannot parse, and PostgreSQL's equivalent it can.
_TYPE_ALIASES = {"bit varying": "varbit"}


# Whether a table, given as (schema, name), must be written with its schema (`Schema.needs_schema`),
# or a plain yes or no for every table.
Qualify = Callable[[str, str], bool] | bool


def render_schema(tables: Sequence[Table], *, qualify: Qualify, notes: bool = True) -> str:
    """CREATE TABLE statements for ``tables``; names carry their schema where ``qualify`` says;
    ``notes=False`` leaves out every comment (the plain DDL of eval's `raw` baseline)."""
    return "\n".join(render_table(t, qualify=qualify, notes=notes) for t in tables)


def render_table(table: Table, *, qualify: Qualify, notes: bool = True) -> str:
    lines = [f"-- {_flatten(table.comment, MAX_COMMENT_CHARS)}"] if table.comment and notes else []
    header = f"CREATE TABLE {_table_name(table.schema, table.name, qualify)} ("
    lines.append(_with_comment(header, _table_notes(table) if notes else ""))
    single_pk = table.primary_key[0] if len(table.primary_key) == 1 else None
    body = [(_column_def(c, c.name == single_pk), _column_notes(c) if notes else "") for c in table.columns]
    if len(table.primary_key) > 1:
        body.append((f"PRIMARY KEY ({_names(table.primary_key)})", ""))
    body += [(_foreign_key(fk, table.schema, qualify), "") for fk in table.foreign_keys]
    for i, (definition, notes) in enumerate(body):
        lines.append(_with_comment(definition + ("," if i < len(body) - 1 else ""), notes))
    lines.append(");")
    return "\n".join(lines)


def quote_name(name: str) -> str:
    """An identifier as PostgreSQL needs it written: bare when it can be, else double-quoted;
    one holding a line break or another control character as `U&"..."` with escapes, so that
    it stays on its line (a name is data: `"total\\n);\\n-- note to the model..."` must not
    read as the prompt's own lines)."""
    if _BARE_NAME.fullmatch(name) and name not in RESERVED_WORDS:
        return name
    if any(_unprintable(ch) for ch in name):
        return 'U&"' + "".join(_unicode_escape(ch) for ch in name) + '"'
    return '"' + name.replace('"', '""') + '"'


def _unprintable(char: str) -> bool:
    """A control character or a line or paragraph break: what could start a line of its own
    (a zero-width or bidi character, a no-break space, cannot; the checks read those as SQL)."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def _unicode_escape(char: str) -> str:
    """One character inside U&"...": escaped when unprintable, \\ and the quote doubled."""
    if char in "\\\"":
        return char * 2
    if _unprintable(char):
        return f"\\{ord(char):04X}" if ord(char) <= 0xFFFF else f"\\+{ord(char):06X}"
    return char


def _table_name(schema: str, name: str, qualify: Qualify) -> str:
    needed = qualify(schema, name) if callable(qualify) else qualify
    return f"{quote_name(schema)}.{quote_name(name)}" if needed else quote_name(name)


def _names(names: Sequence[str]) -> str:
    return ", ".join(quote_name(n) for n in names)


def _column_def(column: Column, primary_key: bool) -> str:
    data_type = _one_line(column.data_type)  # a type's own name may hold a line break
    for spelling, alias in _TYPE_ALIASES.items():
        if data_type.startswith(spelling):
            data_type = alias + data_type[len(spelling) :]
    constraint = " PRIMARY KEY" if primary_key else " NOT NULL" if column.not_null else ""
    return f"{quote_name(column.name)} {data_type}{constraint}"


def _foreign_key(fk: ForeignKey, schema: str, qualify: Qualify) -> str:
    target = _table_name(fk.ref_schema, fk.ref_table, qualify if callable(qualify) else qualify or fk.ref_schema != schema)
    return f"FOREIGN KEY ({_names(fk.columns)}) REFERENCES {target}({_names(fk.ref_columns)})"


def _table_notes(table: Table) -> str:
    notes = [] if table.kind == "table" else [table.kind]
    if table.row_estimate is not None:
        notes.append(f"~{_round(table.row_estimate)} rows")
    return "; ".join(notes)


def _column_notes(column: Column) -> str:
    notes = [_flatten(column.comment, MAX_COMMENT_CHARS)] if column.comment else []
    if column.domain:
        notes.append(f"domain {_one_line(column.domain)}")
    if column.enum_labels:
        notes.append(f"one of: {_literals(column.enum_labels[:MAX_ENUM_LABELS], more=len(column.enum_labels) > MAX_ENUM_LABELS)}")
    elif column.sample_values:
        notes.append(f"e.g. {_literals(column.sample_values)}")
    elif column.element_values:
        notes.append(f"elements e.g. {_literals(column.element_values)}")
    elif column.json_keys:
        notes.append(f"keys: {_literals(column.json_keys)}")
    elif column.value_range is not None and names_a_time(column.name):
        # a number that holds a time: its values say how (seconds since 1970, or 20260131)
        notes.append("from {} to {}".format(*(_number(v) for v in column.value_range)))
    return "; ".join(notes)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _with_comment(line: str, notes: str) -> str:
    return f"{line} -- {notes}" if notes else line


def _literals(values: Sequence[str], *, more: bool = False) -> str:
    """Values as the SQL literals a query must write to match them, exactly: spaces as they
    are, a line break or a backslash as an E'' escape; one too long to show whole is left out
    (a cut or flattened one would be copied, and match no row), and `...` says so."""
    shown = [_literal(v) for v in values if len(v) <= MAX_VALUE_CHARS]
    return ", ".join(shown + (["..."] if more or len(shown) < len(values) else []))


def _literal(value: str) -> str:
    if "\\" in value or any(_unprintable(ch) for ch in value):  # E'' reads its escapes whatever standard_conforming_strings says
        return "E'" + "".join(_E_ESCAPES.get(ch) or (f"\\u{ord(ch):04X}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08X}") if _unprintable(ch) or ch == "\\" else ch.replace("'", "''") for ch in value) + "'"
    return "'" + value.replace("'", "''") + "'"


_E_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def _one_line(text: str) -> str:
    """``text`` with its control characters written as escapes (\\u000A): on one line."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if _unprintable(ch) else ch for ch in text)


def _flatten(text: str, limit: int) -> str:
    """One line of printable text, at most ``limit`` characters: it cannot end its comment."""
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3].rstrip() + "..."


def _round(n: int) -> str:
    """Two significant digits are plenty for a size hint and cost fewer tokens."""
    if n < 100:
        return str(n)
    digits = len(str(n)) - 2
    return str(round(n, -digits))
