"""What every rule shares: its contract (Effect), what it reports (Change), and the scope
helpers the families read the schema through."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql_shell.schema.model import Column, Schema, Table
from nl2sql_shell.schema.render import quote_name

from ..parsing import DIALECT

Tables = dict[str, "Table | None"]


def identifier(name: str) -> exp.Identifier:
    """A name as a correction must write it: quoted when PostgreSQL would otherwise fold it
    (`"PatientVisit"`) or read it as a keyword; a name written bare stays bare."""
    return exp.to_identifier(name, quoted=quote_name(name) != name)


def column_ref(name: str, table: str) -> exp.Column:
    """`table.name`, each part written as `identifier` writes it."""
    return exp.column(identifier(name), table=identifier(table))


def table_source(table: Table, schema: Schema) -> exp.Table:
    """A schema table as a FROM item: quoted where needed, with its schema when it is off the
    search_path (`billing.invoices`)."""
    return exp.Table(this=identifier(table.name), db=identifier(table.schema) if schema.needs_schema(table.schema, table.name) else None)


class Effect(Enum):
    """A rule's contract, which decides when it may run."""

    EQUIVALENT = "equivalent"  # the same result on every database: always allowed
    REPAIR = "repair"  # only for a query that fails a check or the server; keeps its meaning
    REWRITE = "rewrite"  # changes the result of a query that runs: off unless switched on


@dataclass(frozen=True)
class Change:
    """One correction: which rule made it, the SQL fragment before and after, and why."""

    rule: str
    before: str
    after: str
    why: str

    def __str__(self) -> str:
        if not self.after:
            return f"removed {self.before} ({self.why})"
        return f"{self.before} -> {self.after} ({self.why})"


@dataclass(frozen=True)
class Context:
    """What a rule may read beside the tree: the schema, and the text as the model wrote it."""

    schema: Schema
    sql: str


@dataclass(frozen=True)
class Rule:
    """A named correction with one apply function over the whole (mutable) sqlglot tree.

    `apply(tree, context)` changes the tree in place and returns a Change per correction,
    or [] when the rule does not fire."""

    name: str
    effect: Effect
    apply: Callable[[exp.Expression, Context], list[Change]]
    summary: str


ScopeRule = Callable[[Scope, Tables, Context], Iterable[Change]]


def each_scope(fn: ScopeRule, *, selects: bool = True, root_only: bool = False) -> Callable[[exp.Expression, Context], list[Change]]:
    """A tree-level apply function from one that corrects a single scope: the scopes are read
    afresh for each rule, so a rule sees what the rules before it changed."""

    def apply(tree: exp.Expression, context: Context) -> list[Change]:
        changes: list[Change] = []
        for scope in list(traverse_scope(tree)):
            if selects and not isinstance(scope.expression, exp.Select):
                continue
            if root_only and not scope.is_root:
                continue
            changes.extend(fn(scope, scope_tables(scope, context.schema), context))
        return changes

    apply.__name__ = apply.__qualname__ = fn.__name__
    apply.__doc__ = fn.__doc__
    return apply


def scope_tables(scope: Scope, schema: Schema) -> Tables:
    """Each alias of this scope and the schema table behind it (None: a subquery or unknown)."""
    tables: Tables = {}
    for alias, source in scope.sources.items():
        tables[alias] = schema.table(source.name, source.db or None) if isinstance(source, exp.Table) else None
    return tables


def declared_keys(table: Table, other: Table) -> list[tuple[str, str]] | None:
    """(column of ``table``, column of ``other``) of each foreign key between the two, either
    way: the joins the schema itself declares. Two of them (`sender_user_id`,
    `recipient_user_id`) are two readings, for the caller to refuse; None when one is of
    several columns (`(tenant_id, order_no)`), which no one-column join can say."""
    keys = [
        (fk.ref_columns, fk.columns) if flip else (fk.columns, fk.ref_columns)
        for child, parent, flip in ((table, other, False), (other, table, True))
        for fk in child.foreign_keys
        if (fk.ref_schema, fk.ref_table) == (parent.schema, parent.name)
    ]
    if any(len(mine) != 1 for mine, _ in keys):
        return None
    return [(mine[0], theirs[0]) for mine, theirs in keys]


def owners(name: str, tables: Tables) -> list[str]:
    """The aliases whose table has a column ``name``."""
    return [alias for alias, t in tables.items() if t is not None and t.column(name) is not None]


def column_type(column: exp.Column, tables: Tables) -> str | None:
    """The type of a qualified column."""
    found = column_of(column, tables) if column.table else None
    return found.data_type if found is not None else None


def column_of(column: exp.Column, tables: Tables) -> Column | None:
    """The schema's column a reference names: by its qualifier, or the one table here that
    has a column of that name."""
    if not column.table:
        found = owners(column.name, tables)
        return column_of(exp.column(column.name, found[0]), tables) if len(found) == 1 else None
    table = tables.get(column.table)
    return table.column(column.name) if table is not None else None


def type_of(column: exp.Column, tables: Tables) -> str | None:
    found = column_of(column, tables)
    return found.data_type if found is not None else None


_NUMERIC = ("smallint", "integer", "bigint", "numeric", "real", "double precision")
_TEXT = ("text", "character varying", "character", "name", "citext")
_POINTS_IN_TIME = ("date", "timestamp without time zone", "timestamp with time zone", "timestamp")


def type_family(data_type: str) -> str:
    """What PostgreSQL will compare without a cast: numbers with numbers, text with text,
    dates with timestamps."""
    base = data_type.split("(")[0].strip()
    base = re.sub(r"^(timestamp)\(\d+\)", r"\1", data_type.strip()) if base == "timestamp" else base
    return "number" if base in _NUMERIC else "text" if base in _TEXT else "time" if base in _POINTS_IN_TIME else base


def sql_of(node: exp.Expression) -> str:
    return node.sql(dialect=DIALECT)


def shown(select: exp.Select) -> set[exp.Expression]:
    """What the select list shows: each expression as written, and each alias as a column."""
    return {s.unalias() for s in select.selects} | {exp.column(s.alias) for s in select.selects if s.alias}


def is_inner_join(join: exp.Join) -> bool:
    """`JOIN` or `INNER JOIN`: rows without a partner drop out, so every row it keeps is
    paired (LEFT, RIGHT, FULL and CROSS joins differ)."""
    return not join.side and join.kind in ("", "INNER", None)


def matches(pattern: re.Pattern[str], name: str) -> bool:
    return pattern.fullmatch(name.lower()) is not None
