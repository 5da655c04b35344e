"""Joins through a table the query never reads but to pass a key on.

A 0.5B model joins tables on the way: `review r JOIN checkin c ON r.business_id =
c.business_id JOIN business b ON c.business_id = b.business_id`, then reads nothing of
`checkin`. Such a table only repeats rows (one per check-in), so every COUNT, SUM and AVG
over the result is wrong while the query runs without an error. When a table's only role is
to equate one of its columns with the others' (the join key passes through it), joining the
others directly on that key is what the question needed.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from nl2sql_shell.schema.model import Table

from .base import Change, Context, Tables, is_inner_join, sql_of


def pass_through_join(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """Drop each inner-joined table whose one column read is the key it equates with two or
    more other tables, and join those on that key directly (a rewrite: the query ran, and
    its rows change).

    A table joined to a single other one stays: `author JOIN writes ... COUNT(*)` counts
    the rows of `writes` on purpose."""
    while change := _drop_one(scope.expression, tables):
        yield change


def _drop_one(select: exp.Select, tables: Tables) -> Change | None:
    sources = _inner_join_sources(select)
    if sources is None or any(_reads_every_column(s) for s in select.selects):
        return None
    for position, (alias, _) in enumerate(sources):
        table = tables.get(alias)
        if table is None or _read_unqualified(select, table):
            continue
        references = [c for c in select.find_all(exp.Column) if c.table == alias]
        if not references or len({c.name for c in references}) != 1:
            continue
        if not all(_is_join_equality(c, alias, sources) for c in references) or len({_partner(c).table for c in references}) < 2:
            continue  # a table joined to one other only may be what COUNT(*) counts
        if (change := _bypass(select, sources, position, references)) is not None:
            return change
    return None


def _inner_join_sources(select: exp.Select) -> list[tuple[str, exp.Expression]] | None:
    """(alias, FROM or JOIN node) for each table, when every join is an inner join with ON;
    None for any other shape (LEFT joins keep rows, so dropping one is not neutral)."""
    from_ = select.args.get("from_")
    joins = select.args.get("joins") or []
    if from_ is None or not joins or not isinstance(from_.this, exp.Table):
        return None
    sources: list[tuple[str, exp.Expression]] = [(from_.this.alias_or_name, from_)]
    for join in joins:
        if not is_inner_join(join) or not isinstance(join.this, exp.Table) or join.args.get("on") is None:
            return None
        sources.append((join.this.alias_or_name, join))
    return sources


def _reads_every_column(selected: exp.Expression) -> bool:
    """`*` and `t.*` read every table's columns."""
    return isinstance(selected, exp.Star) or (isinstance(selected, exp.Column) and isinstance(selected.this, exp.Star))


def _read_unqualified(select: exp.Select, table: Table) -> bool:
    """Whether an unqualified column anywhere in the statement could be this table's."""
    return any(not c.table and table.column(c.name) is not None for c in select.find_all(exp.Column))


def _is_join_equality(column: exp.Column, alias: str, sources: list[tuple[str, exp.Expression]]) -> bool:
    """`alias.k = other.c`, standing alone or as one AND-ed part of a join's ON condition."""
    eq = column.parent
    if not isinstance(eq, exp.EQ):
        return False
    other = _partner(column)
    if not isinstance(other, exp.Column) or other.table == alias or other.table not in {a for a, _ in sources}:
        return False
    node = eq.parent
    while isinstance(node, (exp.And, exp.Paren)):
        node = node.parent
    return isinstance(node, exp.Join) and any(source is node for _, source in sources)


def _partner(column: exp.Column) -> exp.Expression:
    """The other side of the equality `column` is one side of."""
    eq = column.parent
    return eq.right if eq.left is column else eq.left


def _bypass(select: exp.Select, sources: list[tuple[str, exp.Expression]], position: int, references: list[exp.Column]) -> Change | None:
    """Remove the table at `position` and equate its neighbours directly.

    The table's own ON (or, for the FROM table, the first join's ON) must be exactly one
    equality with it: that equality names the column that takes its place elsewhere.
    """
    alias, node = sources[position]
    entry = node if position > 0 else sources[1][1]
    condition = entry.args["on"].unnest()
    own = next((c for c in references if c.parent is condition), None)
    if own is None:
        return None
    stand_in = _partner(own)
    if position == 0 and stand_in.table != sources[1][0]:
        return None
    rest = [c for c in references if c is not own]
    for column in rest:
        other = _partner(column)
        if (other.table, other.name) == (stand_in.table, stand_in.name):
            return None  # `x.k = x.k` would join nothing
    dropped = sql_of(node) if position > 0 else f"FROM {sql_of(node.this)}"
    for column in rest:
        column.replace(stand_in.copy())
    if position == 0:
        first = sources[1][1]
        select.set("from_", exp.From(this=first.this.copy()))
        first.pop()
    else:
        node.pop()
    return Change("pass_through_join", dropped, "", "nothing is read from it; it only repeated rows")
