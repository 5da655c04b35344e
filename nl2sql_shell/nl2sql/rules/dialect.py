"""Spellings of other databases, and date functions applied to numbers.

A model trained on MySQL and SQLite writes `YEAR(d)`, `CAST(x AS double)` and
`DATE('now', '-10 years')`; PostgreSQL rejects each, and has one spelling that means the same.
`EXTRACT(YEAR FROM n)` on a number fails too, and so does comparing a number with a time
(`created_at > now() - interval '30 days'` where created_at is a bigint); what it meant
depends on what the number holds. The column's name says whether it is a year
(`year_founded`: the number is the year) or a point in time (`sent_epoch`, `created_at`,
`reading_ts`, `date_key`); its values, when statistics or a probe of a small table give
them, say how a point in time is written: seconds since 1970 (`to_timestamp(n)`),
milliseconds (`to_timestamp(n / 1000.0)`) or a date in digits, 20260131 (`to_date(n::text,
'YYYYMMDD')`). With no values known, a name that is not finer than seconds reads as seconds.
Any other number stays an error: a guess would answer another question. `to_timestamp(n)`
of a column whose values are not seconds runs, but the check of times.py fails it, and it
reads as what the values hold (times.py says how each is read).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.optimizer.scope import Scope
from sqlglot.tokens import TokenType

from ..parsing import DIALECT
from nl2sql_shell.schema.model import Column
from nl2sql_shell.schema.words import names_a_time

from .base import Change, Context, Tables, column_of, matches, sql_of, type_family, type_of
from .times import SAYS, as_time, misread, time_held

_YEAR_NAME = re.compile(r"(?:\w*_)?(?:year|yr)(?:_\w+)?|\w+year")
_TIME_TYPES = (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.DATETIME)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T][\d:.]+)?")
_DATE_PARTS = {exp.Year: "YEAR", exp.Month: "MONTH", exp.Day: "DAY"}


def _numbers_in_date_functions(scope: Scope, tables: Tables) -> Iterator[tuple[exp.Expression, exp.Column, str, str]]:
    """(node, column, unit, type) for each `EXTRACT(unit FROM n)` or `YEAR(n)` of this scope
    whose argument is a numeric column."""
    for node in list(scope.expression.find_all(exp.Extract, *_DATE_PARTS)):
        if node.find_ancestor(exp.Select) is not scope.expression:
            continue
        column = node.expression if isinstance(node, exp.Extract) else node.this
        unit = node.this.name.upper() if isinstance(node, exp.Extract) else _DATE_PARTS[type(node)]
        if not isinstance(column, exp.Column):
            continue
        data_type = type_of(column, tables)
        if data_type is not None and type_family(data_type) == "number":
            yield node, column, unit, data_type


def _written(node: exp.Expression, column: exp.Column, unit: str) -> str:
    return f"{unit}({column.sql()})" if not isinstance(node, exp.Extract) else sql_of(node)


def _years(column: Column | None) -> bool:
    """Whether a column's values, where known, are years (a thousand to three thousand)."""
    return column is not None and (column.value_range is None or (1000 <= column.value_range[0] and column.value_range[1] <= 3000))


def year_column(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`EXTRACT(YEAR FROM p.year)` (or `YEAR(p.year)`) on a numeric column named as a year
    fails: the column already is the year."""
    for node, column, unit, data_type in _numbers_in_date_functions(scope, tables):
        if unit != "YEAR" or not matches(_YEAR_NAME, column.name) or names_a_time(column.name) or not _years(column_of(column, tables)):
            continue  # (`year_start_epoch` holds seconds: epoch_seconds reads it)
        written = _written(node, column, unit)
        node.replace(column.copy())
        yield Change("year_column", written, column.sql(), f"{_a(data_type)} column that already holds the year")


def epoch_seconds(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`EXTRACT(YEAR FROM sent_epoch)` on a number named as a point in time fails: the date it
    holds is `to_timestamp(sent_epoch)` (or what `as_time` reads its values as)."""
    for node, column, unit, data_type in _numbers_in_date_functions(scope, tables):
        held = time_held(column, tables)
        if held is None:
            continue
        written = _written(node, column, unit)
        replaced = exp.Extract(this=exp.var(unit), expression=as_time(column, held))
        node.replace(replaced)
        yield Change("epoch_seconds", written, sql_of(replaced), f"{_a(data_type)} column of {SAYS[held]}")


def epoch_comparison(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`created_at > now() - interval '30 days'` where created_at is a number named as a point
    in time fails (bigint > timestamp): the time it holds is `to_timestamp(created_at)` (or
    what `as_time` reads its values as)."""
    comparisons = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
    for node in list(scope.expression.find_all(*comparisons)):
        if node.find_ancestor(exp.Select) is not scope.expression:
            continue
        others = [node.args.get("low"), node.args.get("high")] if isinstance(node, exp.Between) else [node.expression, node.this]
        sides = [node.this] if isinstance(node, exp.Between) else [node.this, node.expression]
        for side in sides:
            other = [o for o in others if o is not side and o is not None]
            data_type = type_of(side, tables) if isinstance(side, exp.Column) else None
            if data_type is None or type_family(data_type) != "number" or not other or not all(_is_time(o) for o in other):
                continue
            held = time_held(side, tables)
            if held is None:
                continue
            written = sql_of(side)
            stamp = as_time(side, held)
            side.replace(stamp)
            yield Change("epoch_comparison", written, sql_of(stamp), f"{_a(data_type)} column of {SAYS[held]}, compared with a time")


def time_conversion(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`to_timestamp(date_key)` where date_key's values are dates in digits (or milliseconds;
    or `to_timestamp(n / 1000)` of seconds) reads them in the wrong unit, which the check of
    times.py fails: the column reads as what its values hold. `CAST(created_at AS date)` of a
    number named as a point in time fails in the server: it is the cast of the time it holds."""
    for node in list(scope.expression.find_all(exp.UnixToTime)):
        if node.find_ancestor(exp.Select) is not scope.expression or (found := misread(node, tables)) is None:
            continue
        column, held, _ = found
        written, stamp = sql_of(node), as_time(column, held)
        node.replace(stamp)
        yield Change("time_conversion", written, sql_of(stamp), f"its values are {SAYS[held]}")
    for node in list(scope.expression.find_all(exp.Cast)):
        column = node.this.unnest()
        if node.find_ancestor(exp.Select) is not scope.expression or node.to.this not in _TIME_TYPES or not isinstance(column, exp.Column):
            continue
        data_type = type_of(column, tables)
        if data_type is None or type_family(data_type) != "number" or (held := time_held(column, tables)) is None:
            continue
        written, stamp = sql_of(column), as_time(column, held)
        column.replace(stamp)
        yield Change("time_conversion", written, sql_of(stamp), f"{_a(data_type)} column of {SAYS[held]}, cast to a time")


def _a(data_type: str) -> str:
    return f"{'an' if data_type[:1] in 'aeiou' else 'a'} {data_type}"


def _is_time(node: exp.Expression) -> bool:
    """A date or timestamp as the model wrote it: now(), CURRENT_DATE, a date literal, a cast
    to a time type, date_trunc of one, or one plus or minus an interval."""
    node = node.unnest()
    if isinstance(node, (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.TimestampTrunc, exp.DateTrunc, exp.StrToDate, exp.StrToTime)):
        return True
    if isinstance(node, exp.Cast):
        return node.to.this in _TIME_TYPES
    if isinstance(node, exp.Literal):
        return node.is_string and _ISO_DATE.fullmatch(node.name) is not None
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in ("now", "to_date", "to_timestamp", "date_trunc")
    if isinstance(node, (exp.Add, exp.Sub)):  # date + interval, date - 7
        times = [p for p in (node.this, node.expression) if _is_time(p)]
        offsets = [p for p in (node.this, node.expression) if isinstance(p.unnest(), exp.Interval) or (isinstance(p.unnest(), exp.Literal) and p.unnest().is_number)]
        return len(times) == 1 and len(times) + len(offsets) == 2
    return False




def mysql_spelling(tree: exp.Expression, context: Context) -> list[Change]:
    """MySQL's `YEAR(d)` is PostgreSQL's `EXTRACT(YEAR FROM d)`, its type `double` is
    `double precision` (which rendering the tree for PostgreSQL writes)."""
    changes = []
    for node_type, part in _DATE_PARTS.items():
        nodes = list(tree.find_all(node_type))
        for node in nodes:
            node.replace(exp.Extract(this=exp.var(part), expression=node.this.copy()))
        if nodes:
            changes.append(Change("mysql_spelling", f"{part}(...)", f"EXTRACT({part} FROM ...)", "PostgreSQL's spelling"))
    if _bare_double(context.sql) and any(t.this == exp.DataType.Type.DOUBLE for t in tree.find_all(exp.DataType)):
        changes.append(Change("mysql_spelling", "double", "double precision", "PostgreSQL's spelling"))
    return changes


def _bare_double(sql: str) -> bool:
    """Whether the text writes the type `double` without `precision` (not in a string)."""
    try:
        return any(t.token_type == TokenType.DOUBLE and t.text.lower() == "double" for t in DIALECT.tokenize(sql))
    except TokenError:
        return False


_SQLITE_MODIFIER = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s+(year|month|day|hour|minute|second)s?\s*$", re.IGNORECASE)


def sqlite_dates(tree: exp.Expression, context: Context) -> list[Change]:
    """SQLite's `DATE('now', '-10 years')` (Spider-trained models write it) is an error in
    PostgreSQL, where it reads `CURRENT_DATE - INTERVAL '10 years'`."""
    changes: list[Change] = []
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
        written = sql_of(node)
        node.replace(result)
        changes.append(Change("sqlite_dates", written, sql_of(result), "SQLite's date arithmetic"))
    return changes


def zero_division(tree: exp.Expression, context: Context) -> list[Change]:
    """`x / COUNT(...)` fails the whole query when one group counts zero; NULLIF makes that
    ratio NULL (what "no ratio" means) and leaves every other value as it was."""
    changes: list[Change] = []
    for div in list(tree.find_all(exp.Div)):
        denominator = div.expression
        inner = denominator.unnest()
        while isinstance(inner, exp.Cast):
            inner = inner.this.unnest()
        if not isinstance(inner, exp.AggFunc):
            continue
        div.set("expression", exp.Nullif(this=denominator.copy(), expression=exp.Literal.number(0)))
        name = inner.sql_name()
        changes.append(Change("zero_division", f"/ {name}(...)", f"/ NULLIF({name}(...), 0)", "one group counting zero would fail the whole query"))
    return changes
