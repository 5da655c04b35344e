"""Deterministic corrections of the model's SQL that need no second trip through the model.

Small models trained on Spider write `T1`/`T2` aliases and often put a column on the wrong
one (`T2.rating` where `rating` belongs to `T1`'s table), leave a join column unqualified
where both joined tables have it, and write `SELECT DISTINCT ... GROUP BY ... ORDER BY
count(*)`, which PostgreSQL rejects although the DISTINCT changes nothing there. Each mistake
has exactly one sensible correction, which costs microseconds here and a whole repair round
(tens of seconds on a CPU) through the model, which small models mostly fail anyway. Each correction is described in words, so the
user sees what was changed before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, TokenError, UnsupportedError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql_shell.schema.model import Schema, Table

from .check import parse_statements
from .safety import DIALECT


@dataclass
class Fixed:
    """The statement after corrections (unchanged when `changes` is empty)."""

    sql: str
    changes: list[str] = field(default_factory=list)


def fix_sql(sql: str, schema: Schema) -> Fixed:
    """Requalify columns that sit on the wrong alias or are ambiguous between joined tables,
    and drop a DISTINCT that only makes ORDER BY fail."""
    try:
        statements = parse_statements(sql)
    except (ParseError, TokenError):
        return Fixed(sql)
    if len(statements) != 1:
        return Fixed(sql)
    tree = statements[0]
    normalize_identifiers(tree, dialect=DIALECT)
    try:
        scopes = list(traverse_scope(tree))
    except OptimizeError:
        return Fixed(sql)
    changes: list[str] = []
    for scope in scopes:
        if isinstance(scope.expression, exp.Select) and (change := _drop_idle_distinct(scope.expression)):
            changes.append(change)
        tables = _scope_tables(scope, schema)
        for column in scope.columns:
            if isinstance(column.this, exp.Star):
                continue
            if column.table:
                change = _move_to_owner(column, tables)
            else:
                change = _qualify_join_column(column, tables)
            if change:
                changes.append(change)
    if not changes:
        return Fixed(sql)
    try:
        text = tree.sql(dialect=DIALECT, pretty=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError:
        return Fixed(sql)
    return Fixed(text, list(dict.fromkeys(changes)))


def _scope_tables(scope: Scope, schema: Schema) -> dict[str, Table | None]:
    """Each alias of this scope and the schema table behind it (None: a subquery or unknown)."""
    tables: dict[str, Table | None] = {}
    for alias, source in scope.sources.items():
        tables[alias] = schema.table(source.name, source.db or None) if isinstance(source, exp.Table) else None
    return tables


def _move_to_owner(column: exp.Column, tables: dict[str, Table | None]) -> str | None:
    """`T2.rating` where T2's table has no `rating` but exactly one other table here has it."""
    qualifier = column.table
    table = tables.get(qualifier)
    if table is None or table.column(column.name) is not None:
        return None
    if any(t is None for t in tables.values()):
        return None  # a subquery's columns are unknown here: it might be the owner
    owners = _owners(column.name, tables)
    if len(owners) != 1:
        return None
    column.set("table", exp.to_identifier(owners[0]))
    return f"{qualifier}.{column.name} -> {owners[0]}.{column.name} ({table.name} has no column {column.name})"


def _qualify_join_column(column: exp.Column, tables: dict[str, Table | None]) -> str | None:
    """An unqualified column that several joined tables have, where the query equates them
    (`ON a.city_name = b.city_name`): every choice gives the same value, so take the first."""
    owners = _owners(column.name, tables)
    if len(owners) < 2 or not _equated(column, owners):
        return None
    column.set("table", exp.to_identifier(owners[0]))
    return f"{column.name} -> {owners[0]}.{column.name} (ambiguous; the tables are joined on it)"


def _owners(name: str, tables: dict[str, Table | None]) -> list[str]:
    """The aliases whose table has a column ``name``."""
    return [alias for alias, t in tables.items() if t is not None and t.column(name) is not None]


def _equated(column: exp.Column, aliases: list[str]) -> bool:
    """Whether the statement has `x.name = y.name` joining every alias that has the column."""
    statement = column.root()
    joined: set[str] = set()
    for eq in statement.find_all(exp.EQ):
        left, right = eq.left, eq.right
        if isinstance(left, exp.Column) and isinstance(right, exp.Column) and left.name == right.name == column.name and left.table and right.table:
            joined |= {left.table, right.table}
    return set(aliases) <= joined


def _drop_idle_distinct(select: exp.Select) -> str | None:
    """DISTINCT on a grouped query that selects every GROUP BY key is a no-op (the groups are
    already distinct), yet it makes PostgreSQL reject ORDER BY expressions not selected."""
    distinct, group, order = select.args.get("distinct"), select.args.get("group"), select.args.get("order")
    if not isinstance(distinct, exp.Distinct) or distinct.args.get("on") or group is None or order is None:
        return None
    selected = {s.unalias() for s in select.selects} | {exp.column(s.alias) for s in select.selects if s.alias}
    if not all(key in selected for key in group.expressions):
        return None
    if all(o.this in selected for o in order.expressions):
        return None  # PostgreSQL accepts it as it is
    select.set("distinct", None)
    return "dropped DISTINCT (a grouped query's rows are already distinct; it made ORDER BY fail)"
