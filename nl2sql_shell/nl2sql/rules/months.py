"""Month names stored as text, ordered and compared as months.

A column holding 'January', 'February', ... sorts alphabetically (April, August, December)
and `month BETWEEN 'June' AND 'December'` compares letters, so both run without an error and
answer something else. The column's sample values (read with the schema) show that it holds
month names; `TO_DATE(month, 'Month')` gives PostgreSQL a value that sorts in calendar order.
"""

from __future__ import annotations

import calendar

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from nl2sql_shell.schema.model import Column

from .base import Change, Context, Tables, sql_of

_MONTHS = {name.lower() for name in calendar.month_name if name}
_ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE)


def month_order(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """Sort keys and range comparisons on a month-name column use calendar order (a rewrite:
    the query ran, and its order or rows change)."""
    select = scope.expression
    order = select.args.get("order")
    distinct = select.args.get("distinct") is not None  # its ORDER BY may only name what is selected
    for ordered in order.expressions if order is not None and not distinct else []:
        if _month_column(ordered.this, tables) is not None:
            written = sql_of(ordered.this)
            ordered.set("this", _as_date(ordered.this))
            yield Change("month_order", f"ORDER BY {written}", f"ORDER BY {sql_of(ordered.this)}", "month names sort alphabetically")
    for node in list(select.find_all(exp.Between, *_ORDERING)):
        if node.find_ancestor(exp.Select) is not select:
            continue
        column, *bounds = (node.this, node.args["low"], node.args["high"]) if isinstance(node, exp.Between) else (node.left, node.right)
        if _month_column(column, tables) is None or not all(_is_month_name(b) for b in bounds):
            continue
        written = sql_of(node)
        for part in (column, *bounds):
            part.replace(_as_date(part))
        yield Change("month_order", written, sql_of(node), "month names compare alphabetically")


def _month_column(node: exp.Expression, tables: Tables) -> Column | None:
    """The schema column behind `node` when it is a text column of month names."""
    if not isinstance(node, exp.Column):
        return None
    if node.table:
        owners = [tables.get(node.table)]
    else:
        owners = [t for t in tables.values() if t is not None and t.column(node.name) is not None]
    if len(owners) != 1 or owners[0] is None or (column := owners[0].column(node.name)) is None:
        return None
    samples = column.sample_values
    return column if samples and all(value.lower() in _MONTHS for value in samples) else None


def _is_month_name(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string and node.name.lower() in _MONTHS


def _as_date(node: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="TO_DATE", expressions=[node.copy(), exp.Literal.string("Month")])
