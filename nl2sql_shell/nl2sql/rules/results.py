"""What a query shows and counts.

`SELECT DISTINCT ... GROUP BY ... ORDER BY count(*)` fails in PostgreSQL although the DISTINCT
changes nothing there: dropping it is a repair. The others change the rows of a query that
runs, to what a benchmark's gold queries tend to show (rewrites, off unless switched on):
GROUP BY keys and sort keys added to the select list, and count columns summed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from .base import Change, Context, Tables, column_ref, matches, shown, sql_of, type_family, type_of


# Functions that may return several rows: unnest, generate_series, and any sqlglot does not know.
_MAY_RETURN_SETS = (exp.Explode, exp.ExplodingGenerateSeries, exp.GenerateSeries, exp.Unnest, exp.Anonymous)


def idle_distinct(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """DISTINCT on a grouped query that selects every GROUP BY key is a no-op (the groups are
    already distinct), yet it makes PostgreSQL reject ORDER BY expressions not selected."""
    select = scope.expression
    distinct, group, order = select.args.get("distinct"), select.args.get("group"), select.args.get("order")
    if not isinstance(distinct, exp.Distinct) or distinct.args.get("on") or group is None or order is None:
        return
    selected = shown(select)
    # GROUP BY reads a name as the input column first, an output name only where none is one
    inputs = None if any(t is None for t in tables.values()) else {c.name for t in tables.values() for c in t.columns}
    grouped = {s.unalias() for s in select.selects} | {exp.column(s.alias) for s in select.selects if s.alias and inputs is not None and s.alias not in inputs}
    if not all(key in grouped for key in group.expressions) or any(s.find(*_MAY_RETURN_SETS) for s in select.selects):
        return  # (`unnest(array_agg(x))` makes several rows of a group: DISTINCT is no no-op)
    if all(o.this in selected for o in order.expressions):
        return  # PostgreSQL accepts it as it is
    select.set("distinct", None)
    yield Change("idle_distinct", "SELECT DISTINCT", "SELECT", "a grouped query's rows are already distinct; it made ORDER BY fail")


def group_keys(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`SELECT COUNT(*) FROM paper GROUP BY year` answers "per year" with numbers nobody can
    tell apart: when every selected value is an aggregate, show the GROUP BY keys first."""
    select = scope.expression
    group = select.args.get("group")
    if group is None or not group.expressions or not select.selects or select.args.get("distinct"):
        return  # `SELECT DISTINCT count(*) ... GROUP BY` asks for the counts alone
    if not all(s.unalias().find(exp.AggFunc) for s in select.selects):
        return
    keys = group.expressions
    if not all(isinstance(key, exp.Column) for key in keys):
        return  # ordinals (`GROUP BY 1`) and expressions stay as written
    if any(isinstance(o.this, exp.Literal) and o.this.is_number for o in (select.args.get("order") or exp.Order()).expressions):
        return  # `ORDER BY 1` would sort by the key put first
    before = _listed(select.selects)
    select.set("expressions", [key.copy() for key in keys] + list(select.selects))
    yield Change("group_keys", f"SELECT {before}", f"SELECT {_listed(select.selects)}", "the groups the counts belong to")


def sort_keys(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`SELECT lake_name FROM lake ORDER BY area DESC` answers "the largest lakes" without the
    areas that make them the largest: show each sort key that is not selected, after the rest.

    Not with DISTINCT (another column changes which rows are distinct), `*`, ordinals, or an
    expression of columns already shown."""
    select = scope.expression
    order = select.args.get("order")
    if order is None or select.args.get("distinct") or any(isinstance(s, exp.Star) or s.find(exp.Star) for s in select.selects):
        return
    visible = shown(select)
    missing: list[exp.Expression] = []
    for ordered in order.expressions:
        key = ordered.this
        if key in visible or not key.find(exp.Column) or key.find(exp.Window, exp.Subquery):
            continue
        if not isinstance(key, exp.Column) and all(column in visible for column in key.find_all(exp.Column)):
            continue  # `TO_DATE(month, 'Month')` of a shown `month` shows nothing new
        missing.append(key.copy())
        visible.add(key)
    if not missing:
        return
    before = _listed(select.selects)
    select.set("expressions", list(select.selects) + missing)
    yield Change("sort_keys", f"SELECT {before}", f"SELECT {_listed(select.selects)}", "the rows are sorted by it")


def _listed(expressions: list[exp.Expression]) -> str:
    return ", ".join(sql_of(e) for e in expressions)


_COUNT_NAME = re.compile(r"count|.+_count|.+_num|num(?!ber$).+|number_of_.+")


def count_column(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`COUNT(c.count)` counts the rows that have a count, not the check-ins they record: a
    numeric column named like a count (`count`, `review_count`, `num_enrolled`) is summed.

    So is `COUNT(*) AS citation_num` over the one table that has `citation_num`: the label
    names the column that holds the counts, and counting rows gives 1 per group."""
    for count in list(scope.expression.find_all(exp.Count)):
        if count.find_ancestor(exp.Select) is not scope.expression:
            continue
        column = count.this
        if isinstance(column, exp.Star):
            column = _labelled_count_column(count, tables)
        if not isinstance(column, exp.Column) or not matches(_COUNT_NAME, column.name):
            continue
        data_type = type_of(column, tables)
        if data_type is not None and type_family(data_type) == "number":
            written = sql_of(count)
            count.replace(exp.Sum(this=column.copy()))
            yield Change("count_column", written, f"SUM({column.sql()})", "the column holds counts; COUNT would count its rows")


def _labelled_count_column(count: exp.Count, tables: Tables) -> exp.Column | None:
    """The column `COUNT(*) AS name` is labelled after, in a query over that one table."""
    alias = count.parent
    if not isinstance(alias, exp.Alias) or len(tables) != 1:
        return None
    (name, table), = tables.items()
    return column_ref(alias.alias, name) if table is not None and table.column(alias.alias) is not None else None
