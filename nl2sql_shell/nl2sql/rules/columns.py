"""Columns on the wrong alias, or unqualified where two joined tables have them.

Small models trained on Spider write `T1`/`T2` aliases and often put a column on the wrong
one (`T2.rating` where `rating` belongs to `T1`'s table), or leave a join column unqualified
where both joined tables have it. Both fail on the server, and the schema says which one
table was meant.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from nl2sql_shell.schema.words import closest_name

from .base import Change, Context, Tables, identifier, owners
from .names import SPELLING_CUTOFF


def column_owner(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`T2.rating` where T2's table has no `rating` but exactly one other table here has it."""
    if any(t is None for t in tables.values()):
        return  # a subquery's columns are unknown here: it might be the owner
    for column in scope.columns:
        qualifier = column.table
        table = tables.get(qualifier) if qualifier else None
        if isinstance(column.this, exp.Star) or table is None or table.column(column.name) is not None:
            continue
        found = owners(column.name, tables)
        if len(found) != 1 or _joins_nothing(column, found[0]):
            continue
        if closest_name(column.name, [c.name for c in table.columns], cutoff=SPELLING_CUTOFF, every_word=True) is not None:
            continue  # `v.name` where vets has full_name: its own column may be meant as well (two readings)
        column.set("table", identifier(found[0]))
        yield Change("column_owner", f"{qualifier}.{column.name}", f"{found[0]}.{column.name}", f"{table.name} has no column {column.name}")


def _joins_nothing(column: exp.Column, alias: str) -> bool:
    """Whether moving `column` to `alias` would leave both sides of an equality on `alias`:
    `ON r.cid = c.cid` where review has no cid becomes `c.cid = c.cid`, and `ON a.tenant_id =
    d.id` where a's table has no tenant_id becomes `d.tenant_id = d.id`. The query compared two
    tables; one compared with itself joins nothing, so the error stays."""
    eq = column.parent
    if not isinstance(eq, exp.EQ):
        return False
    other = eq.right if eq.left is column else eq.left
    return isinstance(other, exp.Column) and other.table == alias


def ambiguous_column(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """An unqualified column that several joined tables have, where the query equates them
    (`ON a.city_name = b.city_name`): every inner-joined choice gives the same value, so take
    the first. Under an outer join only the preserved side has the value on every row (the
    other side's is NULL where nothing matched), so it is taken; a FULL join has none."""
    nullable = _nullable(scope.expression)
    for column in scope.columns:
        if column.table or isinstance(column.this, exp.Star):
            continue
        found = owners(column.name, tables)
        if len(found) < 2 or not _equated(scope.expression, column, found):
            continue
        preserved = [alias for alias in found if alias not in nullable]
        if not preserved:
            continue
        column.set("table", identifier(preserved[0]))
        why = "ambiguous; the tables are joined on it" + (f", and {preserved[0]} is the side the outer join keeps" if nullable & set(found) else "")
        yield Change("ambiguous_column", column.name, f"{preserved[0]}.{column.name}", why)


def _nullable(select: exp.Expression) -> set[str]:
    """The aliases an outer join may fill with NULLs: the joined side of a LEFT JOIN, every
    table before a RIGHT JOIN, and both sides of a FULL one."""
    from_ = select.args.get("from_")
    seen = [from_.this.alias_or_name] if from_ is not None else []
    nullable: set[str] = set()
    for join in select.args.get("joins") or []:
        alias = join.this.alias_or_name
        side = (join.side or "").upper()
        if side in ("LEFT", "FULL"):
            nullable.add(alias)
        if side in ("RIGHT", "FULL"):
            nullable.update(seen)
        seen.append(alias)
    return nullable


def _equated(select: exp.Expression, column: exp.Column, aliases: list[str]) -> bool:
    """Whether every row the query keeps has `x.name = y.name` for every alias that has the
    column: an equality of a join's ON or of the WHERE, ANDed (not under OR or NOT), in this
    query. One compared in the select list or under OR holds for some rows only, and there
    the tables' values differ: which one was meant is not known."""
    conditions = [join.args.get("on") for join in select.args.get("joins") or []]
    if (where := select.args.get("where")) is not None:
        conditions.append(where.this)
    joined: set[str] = set()
    for eq in (part for condition in conditions if condition is not None for part in _conjuncts(condition)):
        if isinstance(eq, exp.EQ):
            left, right = eq.left, eq.right
            if isinstance(left, exp.Column) and isinstance(right, exp.Column) and left.name == right.name == column.name and left.table and right.table:
                joined |= {left.table, right.table}
    return set(aliases) <= joined


def _conjuncts(condition: exp.Expression) -> Iterator[exp.Expression]:
    """The parts of an AND chain (parentheses taken off), each a condition every row meets."""
    condition = condition.unnest()
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.left)
        yield from _conjuncts(condition.right)
    else:
        yield condition
