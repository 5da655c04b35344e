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

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, TokenError, UnsupportedError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql_shell.schema.model import Column, Schema, Table, is_key_name

from .bridges import insert_bridges
from .joins import drop_pass_through_joins
from .months import order_months
from .owners import read_from_owner
from .parsing import DIALECT, parse_statements, same_column


@dataclass
class Fixed:
    """The statement after corrections (unchanged when `changes` is empty)."""

    sql: str
    changes: list[str] = field(default_factory=list)


def fix_sql(sql: str, schema: Schema) -> Fixed:
    """Requalify columns that sit on the wrong alias or are ambiguous between joined tables,
    mend join conditions that cannot join (through a linking table where one is needed: see
    bridges.py), read missing columns from the table that has them (owners.py), drop tables
    joined only to pass a key on (joins.py), sum count columns instead of counting them, order
    month names as months (months.py), spell MySQL-isms the PostgreSQL way, and drop a
    DISTINCT that only makes ORDER BY fail; a ratio over an empty group gives NULL, not an error."""
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
        if scope.is_root and isinstance(scope.expression, exp.Select):
            changes.extend(change for change in (_label_groups(scope.expression), _show_sort_keys(scope.expression)) if change)
        tables = _scope_tables(scope, schema)
        changes.extend(_repair_join_conditions(scope, tables))
        if isinstance(scope.expression, exp.Select):
            changes.extend(insert_bridges(scope.expression, tables, schema))
        changes.extend(_year_numbers(scope, tables))
        for column in scope.columns:
            if isinstance(column.this, exp.Star):
                continue
            if column.table:
                change = _move_to_owner(column, tables)
            else:
                change = _qualify_join_column(column, tables)
            if change:
                changes.append(change)
        changes.extend(_sum_count_columns(scope, tables))
        if change := read_from_owner(scope, schema):
            changes.append(change)
        if isinstance(scope.expression, exp.Select):
            changes.extend(drop_pass_through_joins(scope.expression, tables))
            changes.extend(order_months(scope, tables))
    changes.extend(_postgres_spelling(tree, sql))
    changes.extend(_sqlite_now(tree))
    changes.extend(_guard_divisions(tree))
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
    if len(owners) != 1 or _equals_itself(column, owners[0]):
        return None
    column.set("table", exp.to_identifier(owners[0]))
    return f"{qualifier}.{column.name} -> {owners[0]}.{column.name} ({table.name} has no column {column.name})"


def _equals_itself(column: exp.Column, alias: str) -> bool:
    """Whether moving `column` to `alias` would make `alias.c = alias.c` of a join condition
    (`ON r.cid = c.cid` where review has no cid): that joins nothing, so leave the error."""
    eq = column.parent
    if not isinstance(eq, exp.EQ):
        return False
    other = eq.right if eq.left is column else eq.left
    return same_column(other, exp.column(column.name, table=alias))


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
    selected = _shown(select)
    if not all(key in selected for key in group.expressions):
        return None
    if all(o.this in selected for o in order.expressions):
        return None  # PostgreSQL accepts it as it is
    select.set("distinct", None)
    return "dropped DISTINCT (a grouped query's rows are already distinct; it made ORDER BY fail)"


def _shown(select: exp.Select) -> set[exp.Expression]:
    """What the select list shows: each expression as written, and each alias as a column."""
    return {s.unalias() for s in select.selects} | {exp.column(s.alias) for s in select.selects if s.alias}


def _label_groups(select: exp.Select) -> str | None:
    """`SELECT COUNT(*) FROM paper GROUP BY year` answers "per year" with numbers nobody can
    tell apart: when every selected value is an aggregate, show the GROUP BY keys first."""
    group = select.args.get("group")
    if group is None or not group.expressions or not select.selects or select.args.get("distinct"):
        return None  # `SELECT DISTINCT count(*) ... GROUP BY` asks for the counts alone
    if not all(s.unalias().find(exp.AggFunc) for s in select.selects):
        return None
    keys = group.expressions
    if not all(isinstance(key, exp.Column) for key in keys):
        return None  # ordinals (`GROUP BY 1`) and expressions stay as written
    select.set("expressions", [key.copy() for key in keys] + list(select.selects))
    return f"added {', '.join(key.sql(dialect=DIALECT) for key in keys)} to the selected columns (the groups the counts belong to)"


def _show_sort_keys(select: exp.Select) -> str | None:
    """`SELECT lake_name FROM lake ORDER BY area DESC` answers "the largest lakes" without the
    areas that make them the largest: show each sort key that is not selected, after the rest.

    Not with DISTINCT (another column changes which rows are distinct), `*`, ordinals, or an
    expression of columns already shown."""
    order = select.args.get("order")
    if order is None or select.args.get("distinct") or any(isinstance(s, exp.Star) or s.find(exp.Star) for s in select.selects):
        return None
    shown = _shown(select)
    missing: list[exp.Expression] = []
    for ordered in order.expressions:
        key = ordered.this
        if key in shown or not key.find(exp.Column) or key.find(exp.Window, exp.Subquery):
            continue
        if not isinstance(key, exp.Column) and all(column in shown for column in key.find_all(exp.Column)):
            continue  # `TO_DATE(month, 'Month')` of a shown `month` shows nothing new
        missing.append(key.copy())
        shown.add(key)
    if not missing:
        return None
    select.set("expressions", list(select.selects) + missing)
    return f"added {', '.join(key.sql(dialect=DIALECT) for key in missing)} to the selected columns (the rows are sorted by it)"


_NUMERIC = ("smallint", "integer", "bigint", "numeric", "real", "double precision")
_TEXT = ("text", "character varying", "character", "name", "citext")


def _type_family(data_type: str) -> str:
    """What PostgreSQL will compare without a cast: numbers with numbers, text with text."""
    base = data_type.split("(")[0].strip()
    return "number" if base in _NUMERIC else "text" if base in _TEXT else base


def _column_type(column: exp.Column, tables: dict[str, Table | None]) -> str | None:
    table = tables.get(column.table)
    found = table.column(column.name) if table is not None else None
    return found.data_type if found is not None else None


def _repair_join_conditions(scope: Scope, tables: dict[str, Table | None]) -> list[str]:
    """Equalities between two columns that cannot be what the model meant.

    `ON d.did = d.did` (a column equal to itself) joins nothing: the other side belongs to the
    joined table when it has that column. `b.bid = c.business_id` between a bigint and a text
    column fails on the server: when one side's table has a column named like the other side,
    of a comparable type, that is the join the schema offers.
    """
    changes: list[str] = []
    for join in scope.expression.args.get("joins") or []:
        condition = join.args.get("on")
        joined = join.this.alias_or_name if isinstance(join.this, exp.Table) else None
        if condition is None or joined is None:
            continue
        for eq in condition.find_all(exp.EQ):
            left, right = eq.left, eq.right
            if not (isinstance(left, exp.Column) and isinstance(right, exp.Column) and left.table and right.table):
                continue
            before = f"{left.table}.{left.name} = {right.table}.{right.name}"
            if same_column(left, right):
                change = _point_at_joined_table(left, right, joined, tables)
            else:
                change = _same_named_join_column(left, right, tables) or _shared_key_column(left, right, tables) or _common_key(left, right, tables)
            if change:
                changes.append(f"{before} -> {left.table}.{left.name} = {right.table}.{right.name} ({change})")
    return changes


def _point_at_joined_table(left: exp.Column, right: exp.Column, joined: str, tables: dict[str, Table | None]) -> str | None:
    """Make `x.c = x.c` join the table of this JOIN with the one other table here that has `c`."""
    name = left.name
    if left.table != joined:
        table = tables.get(joined)
        if table is None or table.column(name) is None:
            return None
        right.set("table", exp.to_identifier(joined))
        return "a column equal to itself joins nothing"
    others = [alias for alias in _owners(name, tables) if alias != joined]
    if len(others) != 1:
        return None
    left.set("table", exp.to_identifier(others[0]))
    return "a column equal to itself joins nothing"


def _same_named_join_column(left: exp.Column, right: exp.Column, tables: dict[str, Table | None]) -> str | None:
    """Swap one side of a join between incomparable types for its same-named comparable column."""
    left_type, right_type = _column_type(left, tables), _column_type(right, tables)
    if left_type is None or right_type is None or _type_family(left_type) == _type_family(right_type):
        return None
    for keep, swap in ((right, left), (left, right)):
        if (twin := _comparable_twin(swap, keep, tables)) is not None:
            swapped_type = _column_type(swap, tables)
            swap.set("this", exp.to_identifier(twin.name))
            return f"{swapped_type} cannot equal {_column_type(keep, tables)}"
    return None


def _comparable_twin(swap: exp.Column, keep: exp.Column, tables: dict[str, Table | None]) -> Column | None:
    """The column of `swap`'s table named like `keep`, when the server can compare the two."""
    table = tables.get(swap.table)
    twin = table.column(keep.name) if table is not None else None
    keep_type = _column_type(keep, tables)
    if twin is None or keep_type is None or _type_family(twin.data_type) != _type_family(keep_type):
        return None
    return twin


def _shared_key_column(left: exp.Column, right: exp.Column, tables: dict[str, Table | None]) -> str | None:
    """`ON a.oid = da.aid` where author also has `aid`: both tables carry the key `aid`, and
    `oid` (author's organization) is a key of another table, so the join meant `a.aid = da.aid`.

    Only key-like names on both sides, only where the other table lacks the swapped-out name
    (`ON o.customer_id = c.id` stays: `id` is no shared key), and only for comparable types."""
    if not (is_key_name(left.name) and is_key_name(right.name)):
        return None
    for keep, swap in ((right, left), (left, right)):
        keep_table = tables.get(keep.table)
        if keep_table is None or keep_table.column(swap.name) is not None:
            continue
        if (twin := _comparable_twin(swap, keep, tables)) is not None:
            swap.set("this", exp.to_identifier(twin.name))
            return f"both tables have the key {twin.name}"
    return None


def _common_key(left: exp.Column, right: exp.Column, tables: dict[str, Table | None]) -> str | None:
    """`ON c.id = b.category_id` where business has no category_id fails on the server; when
    the two tables share exactly one key column of comparable types (category.business_id and
    business.business_id), that is the join the schema offers.

    Only for a condition that cannot run as written, and never between two roles of one table."""
    left_table, right_table = tables.get(left.table), tables.get(right.table)
    if left_table is None or right_table is None or left_table is right_table:
        return None
    missing = [c.sql() for c, t in ((left, left_table), (right, right_table)) if t.column(c.name) is None]
    if not missing:
        return None
    shared = [
        column.name
        for column in left_table.columns
        if is_key_name(column.name)
        and (other := right_table.column(column.name)) is not None
        and _type_family(column.data_type) == _type_family(other.data_type)
    ]
    if len(shared) != 1:
        return None
    for side in (left, right):
        side.set("this", exp.to_identifier(shared[0]))
    return f"{missing[0]} does not exist; both tables have the key {shared[0]}"


def _year_numbers(scope: Scope, tables: dict[str, Table | None]) -> list[str]:
    """`EXTRACT(YEAR FROM p.year)` (or `YEAR(p.year)`) on an integer column fails: the column
    already is the year."""
    changes: list[str] = []
    for node in list(scope.expression.find_all(exp.Extract, exp.Year)):
        column = node.expression if isinstance(node, exp.Extract) else node.this
        if isinstance(node, exp.Extract) and node.this.name.upper() != "YEAR":
            continue
        if not isinstance(column, exp.Column) or node.find_ancestor(exp.Select) is not scope.expression:
            continue
        data_type = _column_type(column, tables) if column.table else _sole_type(column.name, tables)
        if data_type is not None and _type_family(data_type) == "number":
            written = f"YEAR({column.sql()})" if isinstance(node, exp.Year) else node.sql(dialect=DIALECT)
            node.replace(column.copy())
            changes.append(f"{written} -> {column.sql()} (a {data_type} column that already holds the year)")
    return changes


_COUNT_NAME = re.compile(r"count|.+_count|.+_num|num(?!ber$).+|number_of_.+")


def _sum_count_columns(scope: Scope, tables: dict[str, Table | None]) -> list[str]:
    """`COUNT(c.count)` counts the rows that have a count, not the check-ins they record: a
    numeric column named like a count (`count`, `review_count`, `num_enrolled`) is summed.

    So is `COUNT(*) AS citation_num` over the one table that has `citation_num`: the label
    names the column that holds the counts, and counting rows gives 1 per group."""
    changes: list[str] = []
    for count in list(scope.expression.find_all(exp.Count)):
        if count.find_ancestor(exp.Select) is not scope.expression:
            continue
        column = count.this
        if isinstance(column, exp.Star):
            column = _labelled_count_column(count, tables)
        if not isinstance(column, exp.Column) or not _COUNT_NAME.fullmatch(column.name):
            continue
        data_type = _column_type(column, tables) if column.table else _sole_type(column.name, tables)
        if data_type is not None and _type_family(data_type) == "number":
            written = count.sql(dialect=DIALECT)
            count.replace(exp.Sum(this=column.copy()))
            changes.append(f"{written} -> SUM({column.sql()}) (the column holds counts; COUNT would count its rows)")
    return changes


def _labelled_count_column(count: exp.Count, tables: dict[str, Table | None]) -> exp.Column | None:
    """The column `COUNT(*) AS name` is labelled after, in a query over that one table."""
    alias = count.parent
    if not isinstance(alias, exp.Alias) or len(tables) != 1:
        return None
    (name, table), = tables.items()
    return exp.column(alias.alias, table=name) if table is not None and table.column(alias.alias) is not None else None


def _sole_type(name: str, tables: dict[str, Table | None]) -> str | None:
    owners = _owners(name, tables)
    return _column_type(exp.column(name, owners[0]), tables) if len(owners) == 1 else None


_MYSQL_DATE_PARTS = {exp.Year: "YEAR", exp.Month: "MONTH", exp.Day: "DAY"}
_BARE_DOUBLE = re.compile(r"\bdouble\b(?!\s+precision)", re.IGNORECASE)


def _postgres_spelling(tree: exp.Expression, sql: str) -> list[str]:
    """Name the MySQL spellings that rendering the tree in PostgreSQL's dialect rewrites:
    `YEAR(d)` becomes `EXTRACT(YEAR FROM d)`, the type `double` becomes `double precision`."""
    changes = [f"{part}(...) -> EXTRACT({part} FROM ...)" for node_type, part in _MYSQL_DATE_PARTS.items() if tree.find(node_type)]
    if _BARE_DOUBLE.search(sql) and any(t.this == exp.DataType.Type.DOUBLE for t in tree.find_all(exp.DataType)):
        changes.append("double -> double precision")
    return changes


_SQLITE_MODIFIER = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s+(year|month|day|hour|minute|second)s?\s*$", re.IGNORECASE)


def _sqlite_now(tree: exp.Expression) -> list[str]:
    """SQLite's `DATE('now', '-10 years')` (Spider-trained models write it) is an error in
    PostgreSQL, where it reads `CURRENT_DATE - INTERVAL '10 years'`."""
    changes: list[str] = []
    for node in list(tree.find_all(exp.Date, exp.Datetime)):
        args = [node.this, *(node.args.get(key) for key in ("zone", "expression"))]
        args = [arg for arg in args if arg is not None]
        if not all(isinstance(arg, exp.Literal) and arg.is_string for arg in args) or args[0].name.lower() != "now":
            continue
        modifiers = [_SQLITE_MODIFIER.match(arg.name) for arg in args[1:]]
        if not all(modifiers) or (isinstance(node, exp.Date) and not modifiers):
            continue  # PostgreSQL reads date('now') itself
        result: exp.Expression = exp.CurrentDate() if isinstance(node, exp.Date) else exp.CurrentTimestamp()
        for match in modifiers:
            sign, amount, unit = match.groups()
            interval = exp.Interval(this=exp.Literal.string(f"{amount} {unit.lower()}{'s' * (amount != '1')}"))
            result = exp.Add(this=result, expression=interval) if sign == "+" else exp.Sub(this=result, expression=interval)
        written = node.sql(dialect=DIALECT)
        node.replace(result)
        changes.append(f"{written} -> {result.sql(dialect=DIALECT)} (SQLite's date arithmetic)")
    return changes


def _guard_divisions(tree: exp.Expression) -> list[str]:
    """`x / COUNT(...)` fails the whole query when one group counts zero; NULLIF makes that
    ratio NULL (what "no ratio" means) and leaves every other value as it was."""
    changes: list[str] = []
    for div in list(tree.find_all(exp.Div)):
        denominator = div.expression
        inner = denominator.unnest()
        while isinstance(inner, exp.Cast):
            inner = inner.this.unnest()
        if not isinstance(inner, exp.AggFunc):
            continue
        div.set("expression", exp.Nullif(this=denominator.copy(), expression=exp.Literal.number(0)))
        name = inner.sql_name()
        changes.append(f"/ {name}(...) -> / NULLIF({name}(...), 0) (one group counting zero would fail the whole query)")
    return changes
