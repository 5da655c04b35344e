"""Training pairs as the shell will meet them: a PostgreSQL schema rendered by the inference
renderer, and PostgreSQL SQL.

sql-create-context pairs come from Spider's SQLite databases: a one-line `CREATE TABLE head
(head_ID NUMERIC, name TEXT)` and answers in SQLite's dialect, where `"Alabama"` is a string
when no column has that name. At inference the model sees `render_schema` output of a live
PostgreSQL catalog (folded lower-case names, PostgreSQL types) and must write PostgreSQL, so
an adapter trained on the raw pairs would learn a prompt it never gets and a dialect that
fails. Anything that does not parse is kept as it was.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from nl2sql_shell.schema.model import Column, Table
from nl2sql_shell.schema.render import render_schema

_ERRORS = (ParseError, TokenError, ValueError, RecursionError)
_TYPE_NAMES = {"decimal": "numeric", "int": "integer", "varchar": "character varying", "double": "double precision"}  # as format_type() prints them


def inference_schema(context: str) -> tuple[str, frozenset[str]]:
    """The CREATE TABLE text rendered as the shell renders a live schema, and every table and
    column name in it (lower case); the context unchanged when it does not parse."""
    try:
        statements = sqlglot.parse(context, read="sqlite")
    except _ERRORS:
        return context, frozenset()
    tables = [_table(s) for s in statements if isinstance(s, exp.Create) and isinstance(s.this, exp.Schema)]
    if not tables or len(tables) != len([s for s in statements if s is not None]):
        return context, frozenset()
    names = {t.name for t in tables} | {c.name for t in tables for c in t.columns}
    return render_schema(tables, qualify=False), frozenset(names)


def _table(create: exp.Create) -> Table:
    definition = create.this
    columns = tuple(Column(column.name.lower(), _type_name(column)) for column in definition.expressions if isinstance(column, exp.ColumnDef))
    return Table("public", definition.this.name.lower(), columns=columns)


def _type_name(column: exp.ColumnDef) -> str:
    kind = column.args.get("kind")
    name = kind.sql(dialect="postgres").lower() if kind is not None else "text"
    return _TYPE_NAMES.get(name, name)


def postgres_answer(answer: str, names: frozenset[str]) -> str:
    """The SQLite answer in PostgreSQL: double-quoted words that name no table or column are
    the strings SQLite reads them as; the rest transpiled by sqlglot."""
    try:
        tree = sqlglot.parse_one(answer, read="sqlite")
    except _ERRORS:
        return answer
    for ordered in tree.find_all(exp.Ordered):  # PostgreSQL's own NULL order: no NULLS FIRST/LAST written
        ordered.set("nulls_first", bool(ordered.args.get("desc")))
    for identifier in list(tree.find_all(exp.Identifier)):
        if identifier.quoted and identifier.name.lower() not in names and isinstance(identifier.parent, exp.Column) and not identifier.parent.table:
            identifier.parent.replace(exp.Literal.string(identifier.name))
    try:
        return tree.sql(dialect="postgres")
    except _ERRORS:
        return answer
