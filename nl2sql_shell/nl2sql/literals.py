"""Comparisons with a value that no row holds: `state.country_name = 'Nepal'`.

A small model that knows a question names "Nepal" often puts it on the wrong column of the
right database: a column of the same kind on another table, or a name column of a table it
joined anyway. The query runs, returns nothing, and looks like an answer. Whether any row
holds the value is a fact the database can tell in one indexed or sequential probe, so a
query proven harmless is asked it before it is trusted alone: a query that compares a text
column with a value no row has is still a candidate, but no longer the answer without a vote,
and a candidate whose values all exist is preferred to it (pipeline.py). Nothing is rewritten,
and a question about a value that really is absent ("orders from Narnia") still gets its
empty answer when every candidate agrees on it.

Only `column = 'text'`, `column LIKE 'pattern'` and `column ILIKE 'pattern'` on a text column
of a table of the schema (not a view, not a CTE) are probed, read-only, under a statement timeout, outside the user's
own transaction, and not on tables too large to scan quickly, nor on one whose scan would run
code the proof does not find harmless; anything else counts as found.
"""

from __future__ import annotations

import psycopg
from psycopg import pq, sql
from sqlglot import exp

from nl2sql_shell.db.execute import catalog_reads
from nl2sql_shell.schema.model import Schema, Table
from nl2sql_shell.schema.values import plainly_scannable, scannable

from .parsing import PARSE_ERRORS, parse_one

TIMEOUT_MS = 500
MAX_PROBES = 8
_OPERATORS = {exp.EQ: "=", exp.Like: "LIKE", exp.ILike: "ILIKE"}


def unfound_values(conn: psycopg.Connection, schema: Schema, query: str) -> tuple[str, ...]:
    """The comparisons of ``query`` (as SQL text) that no row of their table satisfies."""
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return ()
    try:
        tree = parse_one(query)
    except PARSE_ERRORS:
        return ()
    probes = list(dict.fromkeys(_comparisons(tree, schema)))[:MAX_PROBES]
    plain = plainly_scannable(conn, [table for table, *_ in probes])
    probes = [probe for probe in probes if probe[0] in plain]
    unfound = []
    try:
        with catalog_reads(conn, TIMEOUT_MS), conn.cursor() as cur:
            for table, column, operator, value in probes:
                statement = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {}::text " + operator + " %s)").format(sql.Identifier(table.schema, table.name), sql.Identifier(column))
                if not cur.execute(statement, (value,)).fetchone()[0]:
                    unfound.append(f"{schema.reference(table)}.{column} {operator} '{value}'")
    except psycopg.Error:
        return ()  # a probe that cannot run tells nothing
    return tuple(unfound)


def _comparisons(tree: exp.Expression, schema: Schema):
    """(table, column, operator, value) for each text comparison whose column can be placed."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for select in tree.find_all(exp.Select):
        tables = _tables(select, schema, ctes)
        for node in select.find_all(*_OPERATORS):
            if node.find_ancestor(exp.Select) is not select or node.args.get("negate") or isinstance(node.parent, exp.Not):
                continue  # a nested query's comparison is placed with its own tables; NOT LIKE wants no match
            column, value = node.left, node.right
            if isinstance(column, exp.Literal):
                column, value = value, column
            if not (isinstance(column, exp.Column) and isinstance(value, exp.Literal) and value.is_string):
                continue
            owners = [t for alias, t in tables.items() if (alias == column.table.lower() if column.table else True) and _is_text(t, column.name)]
            if len(owners) == 1:
                yield owners[0], owners[0].column(column.name).name, _OPERATORS[type(node)], value.this


def _tables(select: exp.Select, schema: Schema, ctes: set[str]) -> dict[str, Table]:
    """The schema tables this SELECT reads directly and that may be probed (`scannable`), by
    the alias it gives them; a CTE of the same name hides its table."""
    found = {}
    for source in [select.args.get("from_"), *(select.args.get("joins") or [])]:
        node = source.this if source is not None else None
        if not isinstance(node, exp.Table) or (not node.db and node.name.lower() in ctes):
            continue
        table = schema.table(node.name, node.db or None)
        if table is not None and scannable(table):
            found[node.alias_or_name.lower()] = table
    return found


def _is_text(table: Table, name: str) -> bool:
    column = table.column(name)
    return column is not None and column.is_text
